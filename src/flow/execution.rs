//! A flow execution: the plan (stages in order), the position in it, and the context the
//! stages share. Kept in the `Kv` between requests, keyed by the browser's flow key and
//! the flow slug, and dropped when the flow ends.

use serde::{Deserialize, Serialize};

use crate::crypto::sha256_hex;
use crate::model::{FlowId, StageId, Timestamp, UserId};

pub const NAMESPACE: &str = "flow";
/// An unfinished flow is forgotten after half an hour of inactivity.
pub const EXECUTION_TTL_SECS: u64 = 1800;

/// The user a flow is about. `Pretend` carries what was typed when nobody matched, so
/// the next stage looks the same as for a real account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum PendingUser {
    Known(UserId),
    Pretend(String),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FlowContext {
    pub pending_user: Option<PendingUser>,
    /// Values collected by prompt stages, by field key.
    pub prompt_data: serde_json::Map<String, serde_json::Value>,
    pub password_failures: u32,
    /// How the pending user proved who they are ("password", ...).
    pub methods: Vec<String>,
    pub next: Option<String>,
    /// Set when the flow was opened with the one-time setup link.
    pub setup_claimed: bool,
    /// The invitation this flow was opened with.
    #[serde(default)]
    pub invitation: Option<uuid::Uuid>,
    /// The email stage whose link was opened (the flow resumes past it).
    #[serde(default)]
    pub email_confirmed_for: Option<crate::model::StageId>,
    /// A second factor being enrolled, until the user confirms it.
    #[serde(default)]
    pub mfa_setup: Option<MfaSetup>,
    /// Wrong second-factor codes in this flow.
    #[serde(default)]
    pub mfa_failures: u32,
    /// The devices that validated in this flow (for the login event).
    #[serde(default)]
    pub mfa_devices: Vec<crate::model::DeviceId>,
    /// The WebAuthn ceremony the current stage started (its state waits in the Kv).
    #[serde(default)]
    pub webauthn_ceremony: Option<String>,
    /// The email device a sign-in code was sent to in this flow.
    #[serde(default)]
    pub email_code_sent: Option<crate::model::DeviceId>,
}

/// What a setup stage generated and showed (a TOTP secret, recovery codes), sealed with
/// the installation's `SecretBox`: executions sit in the Kv, and a secret must not be
/// readable there before it becomes a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfaSetup {
    pub stage: StageId,
    pub sealed: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowExecution {
    pub flow: FlowId,
    pub plan: Vec<StageId>,
    pub position: usize,
    pub context: FlowContext,
    pub started: Timestamp,
}

impl FlowContext {
    /// The pending user's id, when it is a real account.
    pub fn pending_user_id(&self) -> Option<UserId> {
        match self.pending_user {
            Some(PendingUser::Known(id)) => Some(id),
            _ => None,
        }
    }
}

impl FlowExecution {
    pub fn current_stage(&self) -> Option<StageId> {
        self.plan.get(self.position).copied()
    }
}

/// The Kv key of an execution; the browser key is hashed so the Kv never holds it.
pub fn execution_key(browser_key: &str, slug: &str) -> String {
    sha256_hex(format!("{browser_key}\0{slug}").as_bytes())
}
