//! Audit events: every security decision leaves one, with who, from where and what.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Timestamp, UserId};

/// authentik's event action names where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventAction {
    Login,
    LoginFailed,
    Logout,
    PasswordSet,
    ModelCreated,
    ModelUpdated,
    ModelDeleted,
    SecretView,
    SetupCompleted,
    RecoveryLinkCreated,
    SuspiciousRequest,
    ConfigurationError,
    InvitationUsed,
    PolicyException,
    UserWrite,
    EmailSent,
    /// An outbox message was given up on (after its last retry).
    EmailFailed,
    /// A user let an application sign them in (OAuth authorize, later SAML).
    AuthorizeApplication,
    /// Tokens handed to a client (code exchange, client credentials, device code).
    TokenIssued,
    TokenRefreshed,
    /// A client or a reuse detector revoked tokens.
    TokenRevoked,
    /// An application refused a user (its policies said no).
    AccessDenied,
    /// A user agreed that an application receives their data.
    ConsentGiven,
    /// A user enrolled a second factor (TOTP app, recovery codes, security key, ...).
    DeviceAdded,
    /// A second factor was deleted (by its user or an admin).
    DeviceRemoved,
    /// A second factor was presented and accepted.
    MfaSucceeded,
    /// A wrong or replayed second-factor code.
    MfaFailed,
}

impl EventAction {
    /// The action in authentik's vocabulary, for its API clients (which accept no other
    /// names): gatehouse's own actions are authentik's `custom_` kind, the precise name
    /// travelling in the event's context as `action`.
    pub fn authentik_name(self) -> &'static str {
        match self {
            EventAction::SetupCompleted
            | EventAction::RecoveryLinkCreated
            | EventAction::EmailFailed
            | EventAction::TokenIssued
            | EventAction::TokenRefreshed
            | EventAction::TokenRevoked
            | EventAction::AccessDenied
            | EventAction::ConsentGiven
            | EventAction::DeviceAdded
            | EventAction::DeviceRemoved
            | EventAction::MfaSucceeded
            | EventAction::MfaFailed => "custom_",
            other => other.as_str(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Login => "login",
            EventAction::LoginFailed => "login_failed",
            EventAction::Logout => "logout",
            EventAction::PasswordSet => "password_set",
            EventAction::ModelCreated => "model_created",
            EventAction::ModelUpdated => "model_updated",
            EventAction::ModelDeleted => "model_deleted",
            EventAction::SecretView => "secret_view",
            EventAction::SetupCompleted => "setup_completed",
            EventAction::RecoveryLinkCreated => "recovery_link_created",
            EventAction::SuspiciousRequest => "suspicious_request",
            EventAction::ConfigurationError => "configuration_error",
            EventAction::InvitationUsed => "invitation_used",
            EventAction::PolicyException => "policy_exception",
            EventAction::UserWrite => "user_write",
            EventAction::EmailSent => "email_sent",
            EventAction::EmailFailed => "email_failed",
            EventAction::AuthorizeApplication => "authorize_application",
            EventAction::TokenIssued => "token_issued",
            EventAction::TokenRefreshed => "token_refreshed",
            EventAction::TokenRevoked => "token_revoked",
            EventAction::AccessDenied => "access_denied",
            EventAction::ConsentGiven => "consent_given",
            EventAction::DeviceAdded => "device_added",
            EventAction::DeviceRemoved => "device_removed",
            EventAction::MfaSucceeded => "mfa_succeeded",
            EventAction::MfaFailed => "mfa_failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventUser {
    pub pk: UserId,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: Uuid,
    pub action: EventAction,
    pub user: Option<EventUser>,
    pub client_ip: Option<String>,
    pub context: serde_json::Value,
    pub created: Timestamp,
}
