//! Stages: each kind is a struct with its settings; the kinds form one tagged enum stored
//! as a JSON column, so adding a kind adds a struct and a match arm, not a table.

use serde::{Deserialize, Serialize};

use super::{GroupId, StageId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub id: StageId,
    pub name: String,
    pub kind: StageKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StageKind {
    Identification(IdentificationStage),
    Password(PasswordStage),
    Prompt(PromptStage),
    UserWrite(UserWriteStage),
    UserLogin(UserLoginStage),
    UserLogout(UserLogoutStage),
}

impl StageKind {
    /// authentik's component name for the stage's challenge.
    pub fn component(&self) -> &'static str {
        match self {
            StageKind::Identification(_) => "ak-stage-identification",
            StageKind::Password(_) => "ak-stage-password",
            StageKind::Prompt(_) => "ak-stage-prompt",
            StageKind::UserWrite(_) => "ak-stage-user-write",
            StageKind::UserLogin(_) => "ak-stage-user-login",
            StageKind::UserLogout(_) => "ak-stage-user-logout",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserField {
    Username,
    Email,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentificationStage {
    pub user_fields: Vec<UserField>,
    pub case_insensitive_matching: bool,
    /// Carry on to the password stage with a placeholder when nobody matches, so the
    /// answer never tells whether an account exists.
    pub pretend_user_exists: bool,
    /// When set, the password field is shown on the identification step itself and
    /// checked with this password stage's settings.
    pub password_stage: Option<StageId>,
    pub enrollment_flow: Option<String>,
    pub recovery_flow: Option<String>,
}

impl Default for IdentificationStage {
    fn default() -> Self {
        IdentificationStage {
            user_fields: vec![UserField::Username, UserField::Email],
            case_insensitive_matching: true,
            pretend_user_exists: true,
            password_stage: None,
            enrollment_flow: None,
            recovery_flow: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordStage {
    pub failed_attempts_before_cancel: u32,
}

impl Default for PasswordStage {
    fn default() -> Self {
        PasswordStage {
            failed_attempts_before_cancel: 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptFieldType {
    Text,
    TextReadOnly,
    Email,
    Password,
    Number,
    Checkbox,
    Hidden,
}

impl PromptFieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            PromptFieldType::Text => "text",
            PromptFieldType::TextReadOnly => "text_read_only",
            PromptFieldType::Email => "email",
            PromptFieldType::Password => "password",
            PromptFieldType::Number => "number",
            PromptFieldType::Checkbox => "checkbox",
            PromptFieldType::Hidden => "hidden",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptField {
    pub field_key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: PromptFieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub placeholder: String,
    #[serde(default)]
    pub initial_value: String,
    #[serde(default)]
    pub order: i32,
    #[serde(default)]
    pub sub_text: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PromptStage {
    pub fields: Vec<PromptField>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserCreationMode {
    #[default]
    CreateWhenRequired,
    AlwaysCreate,
    NeverCreate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserWriteStage {
    pub user_creation_mode: UserCreationMode,
    pub create_users_as_inactive: bool,
    pub create_users_group: Option<GroupId>,
    pub user_path_template: String,
}

impl Default for UserWriteStage {
    fn default() -> Self {
        UserWriteStage {
            user_creation_mode: UserCreationMode::CreateWhenRequired,
            create_users_as_inactive: false,
            create_users_group: None,
            user_path_template: "users".to_owned(),
        }
    }
}

/// Durations are written as authentik writes them ("hours=8;minutes=30", "seconds=0").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserLoginStage {
    /// "seconds=0": the cookie lasts until the browser closes (server-side expiry still
    /// applies).
    pub session_duration: String,
    /// Extra lifetime when the user ticks "remember me"; "seconds=0" hides the option.
    pub remember_me_offset: String,
    pub terminate_other_sessions: bool,
}

impl Default for UserLoginStage {
    fn default() -> Self {
        UserLoginStage {
            session_duration: "seconds=0".to_owned(),
            remember_me_offset: "seconds=0".to_owned(),
            terminate_other_sessions: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserLogoutStage {}

/// Parses authentik's timedelta strings: `days=1;hours=2;minutes=3;seconds=4;weeks=1`.
pub fn parse_timedelta(text: &str) -> Result<u64, String> {
    let mut total: u64 = 0;
    for part in text
        .split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let (unit, amount) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not unit=amount"))?;
        let amount: f64 = amount
            .trim()
            .parse()
            .map_err(|_| format!("'{amount}' is not a number"))?;
        if !(amount.is_finite() && amount >= 0.0) {
            return Err(format!("'{part}' must be a positive amount"));
        }
        let unit_secs = match unit.trim() {
            "weeks" => 604_800.0,
            "days" => 86_400.0,
            "hours" => 3_600.0,
            "minutes" => 60.0,
            "seconds" => 1.0,
            "microseconds" | "milliseconds" => 0.0,
            other => return Err(format!("unknown unit '{other}'")),
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let secs = (amount * unit_secs) as u64;
        total = total.saturating_add(secs);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_timedelta;

    #[test]
    fn timedelta_strings_parse_as_authentik_writes_them() {
        assert_eq!(parse_timedelta("seconds=0"), Ok(0));
        assert_eq!(parse_timedelta("hours=1;minutes=30"), Ok(5400));
        assert_eq!(parse_timedelta("days=30"), Ok(2_592_000));
        assert!(parse_timedelta("fortnights=1").is_err());
        assert!(parse_timedelta("hours").is_err());
    }
}
