//! The flow engine: every sign-in, sign-out and set-up journey is a flow of stages, planned
//! per execution and driven one challenge at a time. The engine is transport-free: a
//! `FlowRequest` (plus a parsed stage response) goes in, a `FlowOutcome` comes out, and
//! the HTML pages and the JSON executor are two renderers of the same outcome.

pub mod challenge;
pub mod engine;
pub mod execution;
pub mod headless;
#[cfg(test)]
mod journeys;
pub mod planner;
pub mod policies;
pub mod stages;

use crate::crypto::{PasswordHasher, SecretBox};
use crate::email::{EmailTemplates, Mailer};
use crate::events::Events;
use crate::session::{ActiveSession, ClientInfo, Sessions};
use crate::store::{CatalogHandle, Db, Ephemeral, StoreError};

pub use engine::FlowEngine;

/// Everything stages may use; built once in `app.rs`.
#[derive(Clone)]
pub struct FlowServices {
    pub db: Db,
    pub ephemeral: Ephemeral,
    pub catalog: CatalogHandle,
    pub sessions: Sessions,
    pub hasher: PasswordHasher,
    pub events: Events,
    pub mailer: Mailer,
    pub email_templates: EmailTemplates,
    pub policies: crate::policy::PolicyEngine,
    /// Seals second-factor secrets (TOTP) at rest.
    pub secret_box: SecretBox,
    /// WebAuthn relying parties, one per origin the browser uses.
    pub webauthn: std::sync::Arc<crate::mfa::webauthn::RelyingParties>,
}

/// One request to a flow, already parsed by a transport.
#[derive(Debug, Clone)]
pub struct FlowRequest {
    pub slug: String,
    /// The browser's flow key (a cookie); executions are keyed by it and the slug.
    pub browser_key: String,
    pub session: Option<ActiveSession>,
    pub client: ClientInfo,
    /// Where to go when the flow is done (validated as same-origin before use).
    pub next: Option<String>,
    /// The one-time setup token from the initial-setup link.
    pub setup_token: Option<String>,
    /// An invitation's id from an invite link (`?itoken=`).
    pub invitation_token: Option<String>,
    /// A token from an emailed link (`?flow_token=`) that resumes a paused flow.
    pub flow_token: Option<String>,
    /// Scheme and host the browser used (`https://auth.example.com`), for links in emails.
    pub base_url: String,
    /// What the protocol that started the flow knows (the OAuth authorize endpoint puts
    /// the application and its scopes under `application`); merged into the prompt data
    /// when the flow is planned.
    pub initial_context: serde_json::Map<String, serde_json::Value>,
    /// The protocol running this flow without a browser (`ldap`), see `headless`.
    pub headless: Option<&'static str>,
}

/// What the transport must do with the browser's session cookie.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SessionChange {
    #[default]
    Unchanged,
    /// Set the session cookie; `max_age_secs` `None` makes it a browser-session cookie.
    Started {
        token: String,
        max_age_secs: Option<u64>,
    },
    Ended,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FlowStep {
    /// A challenge in authentik's JSON shape (`component`, `flow_info`, ...).
    Challenge(serde_json::Value),
    Redirect(String),
    Denied(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowOutcome {
    pub step: FlowStep,
    pub session: SessionChange,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("flow not found")]
    FlowNotFound,
    #[error("flow misconfigured: {0}")]
    Misconfigured(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] crate::crypto::password::HashError),
    #[error(transparent)]
    Email(#[from] crate::email::SendError),
}

pub type FlowResult<T> = Result<T, FlowError>;

/// Accepts only same-origin relative paths for `?next=`, so a crafted link cannot send a
/// user who just signed in to another site (open redirect).
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let is_relative_path = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    is_relative_path.then(|| next.to_owned())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_must_be_a_same_origin_path() {
        assert_eq!(safe_next(Some("/if/admin/")), Some("/if/admin/".into()));
        assert!(safe_next(Some("/application/o/authorize/?a=b")).is_some());
        assert_eq!(safe_next(Some("https://evil.example/")), None);
        assert_eq!(safe_next(Some("//evil.example/")), None);
        assert_eq!(safe_next(Some("/\\evil.example/")), None);
        assert_eq!(safe_next(Some("/ok\r\nSet-Cookie: x")), None);
        assert_eq!(safe_next(None), None);
    }
}
