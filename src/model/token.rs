//! API tokens, app passwords and one-time recovery tokens.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Timestamp, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenIntent {
    Api,
    AppPassword,
    Recovery,
    Verification,
}

impl TokenIntent {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenIntent::Api => "api",
            TokenIntent::AppPassword => "app_password",
            TokenIntent::Recovery => "recovery",
            TokenIntent::Verification => "verification",
        }
    }

    pub fn parse(raw: &str) -> Option<TokenIntent> {
        match raw {
            "api" => Some(TokenIntent::Api),
            "app_password" => Some(TokenIntent::AppPassword),
            "recovery" => Some(TokenIntent::Recovery),
            "verification" => Some(TokenIntent::Verification),
            _ => None,
        }
    }
}

/// A stored token. The key itself is never stored in the clear: `key_digest` (SHA-256,
/// hex) finds the token from a presented key, and `key_sealed` (encrypted with a key
/// derived from the secret key) lets an owner view it again, as authentik's `view_key`.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub identifier: String,
    pub uuid: Uuid,
    pub user: UserId,
    pub intent: TokenIntent,
    pub description: String,
    pub expires: Option<Timestamp>,
    pub expiring: bool,
    pub managed: Option<String>,
    pub key_digest: String,
    pub key_sealed: String,
    pub created: Timestamp,
}

impl Token {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expiring && self.expires.is_some_and(|at| at <= now)
    }
}
