//! Forward-auth sessions as kept in the Kv: who signed in, to which provider, through
//! which gatehouse session, until when. The browser holds a random token in a cookie on
//! the application's host (or cookie domain); the Kv key is its SHA-256, as for
//! gatehouse's own sessions. The rendered identity lives in `cache`.

use serde::{Deserialize, Serialize};

use crate::model::{ProviderId, Timestamp, UserId};

use super::cache::Digest;

pub const NAMESPACE: &str = "proxy_session";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProxySession {
    pub provider: ProviderId,
    pub user: UserId,
    /// Digest of the gatehouse session the sign-in went through: ending it ends this.
    pub idp_session: Option<String>,
    pub created: Timestamp,
    pub expires: Timestamp,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
}

/// The Kv key of a session digest.
pub fn kv_key(digest: &Digest) -> String {
    crate::crypto::digest::hex_lower(digest)
}
