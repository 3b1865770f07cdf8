//! Users of the directory.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Timestamp, UserId};

/// A username as accepted by the directory: 1 to 150 characters, no control characters,
/// no surrounding whitespace. Matching is case-insensitive; the stored form keeps the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, &'static str> {
        let count = raw.chars().count();
        if count == 0 {
            return Err("This field may not be blank.");
        }
        if count > 150 {
            return Err("Ensure this field has no more than 150 characters.");
        }
        if raw.trim() != raw || raw.chars().any(char::is_control) {
            return Err("Usernames cannot contain control characters or surrounding spaces.");
        }
        Ok(Username(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Username::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> String {
        value.0
    }
}

/// authentik's user types; service accounts cannot sign in interactively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    Internal,
    External,
    ServiceAccount,
    InternalServiceAccount,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Internal => "internal",
            UserType::External => "external",
            UserType::ServiceAccount => "service_account",
            UserType::InternalServiceAccount => "internal_service_account",
        }
    }

    pub fn parse(raw: &str) -> Option<UserType> {
        match raw {
            "internal" => Some(UserType::Internal),
            "external" => Some(UserType::External),
            "service_account" => Some(UserType::ServiceAccount),
            "internal_service_account" => Some(UserType::InternalServiceAccount),
            _ => None,
        }
    }

    pub fn can_sign_in_interactively(self) -> bool {
        matches!(self, UserType::Internal | UserType::External)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub uuid: Uuid,
    pub username: Username,
    pub name: String,
    pub email: String,
    pub is_active: bool,
    pub user_type: UserType,
    pub path: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub last_login: Option<Timestamp>,
    /// PHC string (argon2id); `None` means the password is unusable.
    pub password_hash: Option<String>,
    pub password_changed: Option<Timestamp>,
    pub created: Timestamp,
}

/// What is needed to create a user; the store assigns the id.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub name: String,
    pub email: String,
    pub is_active: bool,
    pub user_type: UserType,
    pub path: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub password_hash: Option<String>,
    pub created: Timestamp,
}

impl NewUser {
    pub fn internal(username: Username, created: Timestamp) -> NewUser {
        NewUser {
            username,
            name: String::new(),
            email: String::new(),
            is_active: true,
            user_type: UserType::Internal,
            path: "users".to_owned(),
            attributes: serde_json::Map::new(),
            password_hash: None,
            created,
        }
    }
}
