//! Invitations: a link that lets someone enrol, optionally once, until a date, with data
//! fixed by the admin (for example the email address or the group to join).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Timestamp, UserId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: Uuid,
    pub name: String,
    pub expires: Option<Timestamp>,
    /// Deleted when used.
    pub single_use: bool,
    /// Copied into the flow's prompt data when the invitation is used (e.g.
    /// `{"email": "a@example.com", "groups": ["family"]}`).
    pub fixed_data: serde_json::Map<String, serde_json::Value>,
    /// The enrollment flow it is for; `None` = any flow with an invitation stage.
    pub flow: Option<String>,
    pub created_by: Option<UserId>,
    pub created: Timestamp,
}

impl Invitation {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}
