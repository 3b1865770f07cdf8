//! The policy engine: decides whether a request may go on (into a flow, to a stage, to an
//! application) by evaluating the policy bindings of a target, as authentik does. It owns
//! the evaluation rules (order, negation, modes, timeouts, failure results, caching), one
//! file per policy kind under `kinds/`, and the reputation scores used against brute
//! force. It is transport-free and storage-free: callers resolve bindings and policies
//! (from the catalog) and the request (user, groups, client IP, flow context) and hand
//! them in; the only state it touches is the reputation scores in the `Kv`. GeoIP
//! databases are handed in already loaded (`geoip_db.rs`) and only read.

mod cache;
pub mod engine;
pub mod geoip_db;
pub mod kinds;
pub mod reputation;
mod result;

#[cfg(test)]
mod tests;

pub use engine::{PolicyEngine, PolicyRequest};
pub use geoip_db::{GeoipDatabases, GeoipDb, GeoipDbError, GeoipDbKind};
pub use reputation::{Reputation, ReputationSettings};
pub use result::{BindingOutcome, PolicyResult};

use crate::model::UserId;

/// What one policy concluded, before the binding's negation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyOutcome {
    pub passing: bool,
    /// Shown to the user (authentik's `PolicyResult.messages`).
    pub messages: Vec<String>,
    pub effects: Vec<PolicyEffect>,
}

impl PolicyOutcome {
    pub fn pass() -> PolicyOutcome {
        PolicyOutcome {
            passing: true,
            ..PolicyOutcome::default()
        }
    }

    pub fn fail(message: impl Into<String>) -> PolicyOutcome {
        PolicyOutcome {
            passing: false,
            messages: vec![message.into()],
            effects: Vec::new(),
        }
    }
}

/// A change a policy asks for but does not make itself (the engine is storage-free); the
/// caller applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyEffect {
    /// authentik's password expiry policy (with `deny_only` off) makes the expired
    /// password unusable, so the user has to go through recovery.
    MarkPasswordUnusable(UserId),
}

/// Why a policy could not be evaluated; the binding's `failure_result` applies.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("the bound policy does not exist")]
    PolicyMissing,
    #[error("expression error: {0}")]
    Expression(String),
    #[error("expression must return a boolean (true or false), got {0}")]
    NotBoolean(String),
    #[error("policy needs {0}, which the request does not have")]
    MissingInput(&'static str),
    /// A GeoIP database is not configured, or has no answer for the address (authentik
    /// raises here too, so the binding's `failure_result` decides).
    #[error("GeoIP: {0}")]
    Geoip(String),
    #[error("policy did not finish within {0} s")]
    Timeout(u64),
    #[error("policy evaluation failed: {0}")]
    Internal(String),
}
