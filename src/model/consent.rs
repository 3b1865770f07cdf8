//! Remembered consent: a user agreed that an application may receive some data.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Timestamp, UserId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    pub id: Uuid,
    pub user: UserId,
    /// The application's id (its UUID).
    pub application: Uuid,
    /// What was agreed to (scope names); a request for more asks again.
    pub permissions: Vec<String>,
    /// `None` = remembered permanently.
    pub expires: Option<Timestamp>,
}
