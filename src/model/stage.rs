//! Stages: each kind is a struct with its settings; the kinds form one tagged enum stored
//! as a JSON column, so adding a kind adds a struct and a match arm, not a table.

use serde::{Deserialize, Serialize};

use super::{DeviceClass, GroupId, StageId};

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
    UserDelete(UserDeleteStage),
    Deny(DenyStage),
    Redirect(RedirectStage),
    Invitation(InvitationStage),
    Email(EmailStage),
    Consent(ConsentStage),
    AuthenticatorTotp(AuthenticatorTotpStage),
    AuthenticatorStatic(AuthenticatorStaticStage),
    AuthenticatorValidate(AuthenticatorValidateStage),
    AuthenticatorWebauthn(AuthenticatorWebauthnStage),
    AuthenticatorEmail(AuthenticatorEmailStage),
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
            StageKind::UserDelete(_) => "ak-stage-user-delete",
            StageKind::Deny(_) => "ak-stage-access-denied",
            StageKind::Redirect(_) => "xak-flow-redirect",
            StageKind::Invitation(_) => "ak-stage-invitation",
            StageKind::Email(_) => "ak-stage-email",
            StageKind::Consent(_) => "ak-stage-consent",
            StageKind::AuthenticatorTotp(_) => "ak-stage-authenticator-totp",
            StageKind::AuthenticatorStatic(_) => "ak-stage-authenticator-static",
            StageKind::AuthenticatorValidate(_) => "ak-stage-authenticator-validate",
            StageKind::AuthenticatorWebauthn(_) => "ak-stage-authenticator-webauthn",
            StageKind::AuthenticatorEmail(_) => "ak-stage-authenticator-email",
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
    TextArea,
    Email,
    Password,
    Number,
    Checkbox,
    #[serde(rename = "radio-button-group")]
    RadioButtonGroup,
    Dropdown,
    Date,
    #[serde(rename = "date-time")]
    DateTime,
    Hidden,
    /// Text shown to the user; no input.
    Static,
    /// A visual divider; no input.
    Separator,
}

impl PromptFieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            PromptFieldType::Text => "text",
            PromptFieldType::TextReadOnly => "text_read_only",
            PromptFieldType::TextArea => "text_area",
            PromptFieldType::Email => "email",
            PromptFieldType::Password => "password",
            PromptFieldType::Number => "number",
            PromptFieldType::Checkbox => "checkbox",
            PromptFieldType::RadioButtonGroup => "radio-button-group",
            PromptFieldType::Dropdown => "dropdown",
            PromptFieldType::Date => "date",
            PromptFieldType::DateTime => "date-time",
            PromptFieldType::Hidden => "hidden",
            PromptFieldType::Static => "static",
            PromptFieldType::Separator => "separator",
        }
    }

    /// Types that show something but collect nothing.
    pub fn is_display_only(self) -> bool {
        matches!(self, PromptFieldType::Static | PromptFieldType::Separator)
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
    /// Options of radio groups and dropdowns.
    #[serde(default)]
    pub choices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PromptStage {
    pub fields: Vec<PromptField>,
    /// Policies that check the answers (e.g. a password policy); all must pass.
    pub validation_policies: Vec<super::ids::PolicyId>,
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

/// Deletes the pending user (the unenrollment flow's last step).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserDeleteStage {}

/// Ends the flow with a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DenyStage {
    pub deny_message: String,
}

impl Default for DenyStage {
    fn default() -> Self {
        DenyStage {
            deny_message: "Access denied.".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectMode {
    #[default]
    Static,
    Flow,
}

/// Sends the browser elsewhere: a URL (`static`) or another flow (`flow`), optionally
/// carrying this flow's pending user and prompt data over (`keep_context`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RedirectStage {
    pub mode: RedirectMode,
    pub target_static: String,
    pub target_flow: Option<String>,
    pub keep_context: bool,
}

/// Lets a flow continue only with a valid invitation (`?itoken=<id>`), whose fixed data
/// pre-fills the prompts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InvitationStage {
    /// Off by default: an enrollment flow with this stage is invitation-only.
    pub continue_flow_without_invitation: bool,
}

/// Sends the pending user a link; the flow continues when it is opened (from any
/// browser). Verifies an address on enrollment, or proves ownership on recovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailStage {
    /// Set the user active once the link is opened (enrollment with verification).
    pub activate_user_on_success: bool,
    /// How long the link works, as authentik writes it ("minutes=30").
    pub token_expiry: String,
    pub subject: String,
    /// Template name under `assets/email/` (or the custom email templates folder).
    pub template: String,
}

impl Default for EmailStage {
    fn default() -> Self {
        EmailStage {
            activate_user_on_success: false,
            token_expiry: "minutes=30".to_owned(),
            subject: "gatehouse".to_owned(),
            template: "email_verification".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    #[default]
    AlwaysRequire,
    Permanent,
    Expiring,
}

/// Asks the user to agree that an application receives their data. The application and
/// what it asks for come from the flow context (`application`: `{pk, name, permissions}`),
/// put there by the protocol that started the flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsentStage {
    pub mode: ConsentMode,
    /// For `expiring`: how long a consent is remembered ("weeks=4").
    pub consent_expire_in: String,
}

impl Default for ConsentStage {
    fn default() -> Self {
        ConsentStage {
            mode: ConsentMode::AlwaysRequire,
            consent_expire_in: "weeks=4".to_owned(),
        }
    }
}

/// Digits of a TOTP code; authentik's API writes them as strings ("6", "8").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TotpDigits {
    #[default]
    #[serde(rename = "6")]
    Six,
    #[serde(rename = "8")]
    Eight,
}

impl TotpDigits {
    pub fn count(self) -> u32 {
        match self {
            TotpDigits::Six => 6,
            TotpDigits::Eight => 8,
        }
    }
}

/// Enrolls a TOTP device: shows the secret (QR code and text) and keeps it once a first
/// code proves the app has it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthenticatorTotpStage {
    /// The flow a signed-in user runs to set this up (slug), shown in their settings.
    pub configure_flow: Option<String>,
    /// The new device's name; "TOTP Device" when empty.
    pub friendly_name: Option<String>,
    pub digits: TotpDigits,
}

/// Generates recovery codes, shows them once and keeps their hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthenticatorStaticStage {
    pub configure_flow: Option<String>,
    pub friendly_name: Option<String>,
    pub token_count: u32,
    pub token_length: u32,
}

impl Default for AuthenticatorStaticStage {
    fn default() -> Self {
        AuthenticatorStaticStage {
            configure_flow: None,
            friendly_name: None,
            token_count: 10,
            token_length: 10,
        }
    }
}

/// What the validation stage does for a user without a device of the allowed classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotConfiguredAction {
    #[default]
    Skip,
    Deny,
    /// Enroll now, through one of `configuration_stages`.
    Configure,
}

/// WebAuthn user verification (PIN, biometrics), as the WebAuthn spec names the levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    Required,
    #[default]
    Preferred,
    Discouraged,
}

/// Asks for a second factor from one of the user's devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthenticatorValidateStage {
    pub device_classes: Vec<DeviceClass>,
    pub not_configured_action: NotConfiguredAction,
    /// Setup stages offered when the action is `configure` (the user picks one when
    /// there are several).
    pub configuration_stages: Vec<StageId>,
    /// Skip the stage in a browser that passed it this recently ("hours=12");
    /// "seconds=0" asks every time.
    pub last_auth_threshold: String,
    pub webauthn_user_verification: UserVerification,
}

impl Default for AuthenticatorValidateStage {
    fn default() -> Self {
        AuthenticatorValidateStage {
            device_classes: vec![
                DeviceClass::Totp,
                DeviceClass::Webauthn,
                DeviceClass::Static,
            ],
            not_configured_action: NotConfiguredAction::Skip,
            configuration_stages: Vec::new(),
            last_auth_threshold: "seconds=0".to_owned(),
            webauthn_user_verification: UserVerification::Preferred,
        }
    }
}

/// WebAuthn resident keys (discoverable credentials), as the WebAuthn spec names the levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidentKeyRequirement {
    Discouraged,
    #[default]
    Preferred,
    Required,
}

/// Which authenticators a WebAuthn registration asks for (`None`: either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebauthnAttachment {
    /// Built into the device (Touch ID, Windows Hello, a phone).
    #[serde(rename = "platform")]
    Platform,
    /// A roaming security key (USB, NFC, Bluetooth).
    #[serde(rename = "cross-platform")]
    CrossPlatform,
}

/// Enrolls a passkey or security key (authentik's WebAuthn setup stage).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthenticatorWebauthnStage {
    pub configure_flow: Option<String>,
    /// The new device's name; "Passkey" or "Security key" when empty.
    pub friendly_name: Option<String>,
    pub user_verification: UserVerification,
    pub authenticator_attachment: Option<WebauthnAttachment>,
    pub resident_key_requirement: ResidentKeyRequirement,
    /// Ask for a direct attestation and refuse authenticators that send none (gatehouse's
    /// addition; authentik restricts by device type instead).
    pub require_attestation: bool,
}

/// Enrolls an email address as a second factor, confirmed by a code sent to it; the
/// validation stage then sends a new code at each sign-in. Mail goes through the global
/// SMTP settings (`use_global_settings` is always on in gatehouse).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthenticatorEmailStage {
    pub configure_flow: Option<String>,
    pub friendly_name: Option<String>,
    pub use_global_settings: bool,
    pub subject: String,
    /// How long a code works ("minutes=10").
    pub token_expiry: String,
    /// Template name under `assets/email/` (or the custom email templates folder).
    pub template: String,
}

impl Default for AuthenticatorEmailStage {
    fn default() -> Self {
        AuthenticatorEmailStage {
            configure_flow: None,
            friendly_name: None,
            use_global_settings: true,
            subject: "Your sign-in code".to_owned(),
            token_expiry: "minutes=10".to_owned(),
            template: "email_otp".to_owned(),
        }
    }
}
