//! Signed-in sessions, kept in the `Kv` so they survive restarts. The browser holds a
//! random token; the Kv key is its SHA-256, so a copy of the Kv file alone cannot be
//! replayed as cookies. Each session has an absolute expiry and an idle timeout; the
//! idle clock is pushed forward at most once a minute to keep reads cheap.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::crypto::{random_token, sha256_hex};
use crate::model::{Timestamp, UserId};
use crate::store::{Ephemeral, StoreResult};

const NAMESPACE: &str = "session";
/// Session digest → marker, for sessions ended on purpose (sign-out, revocation): what
/// was signed in through them (forward-auth sessions) ends too. Kept as long as such a
/// dependent session may live.
const ENDED_NAMESPACE: &str = "session_ended";
const ENDED_MARKER_SECS: u64 = 31 * 86_400;
/// How stale `last_seen` may get before a request writes it back.
const TOUCH_INTERVAL_SECS: i64 = 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user: UserId,
    pub created: Timestamp,
    pub expires_at: Timestamp,
    pub last_seen: Timestamp,
    pub idle_timeout_secs: u64,
    pub client_ip: Option<String>,
    pub user_agent: String,
    /// How the user proved who they are ("password", "token", ...).
    pub methods: Vec<String>,
}

/// A session found from a presented token.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    /// The Kv key (SHA-256 of the token); identifies the session without revealing it.
    pub digest: String,
    pub record: SessionRecord,
}

/// What the caller knows about the client when a session starts.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: String,
}

#[derive(Clone)]
pub struct Sessions {
    ephemeral: Ephemeral,
    idle_timeout_secs: u64,
    absolute_timeout_secs: u64,
    /// Bumped whenever a user, group, token, password or access rule changes: the
    /// LDAP directory views and remembered binds compare it and rebuild.
    directory_epoch: Arc<AtomicU64>,
    /// Bumped whenever a session is ended on purpose (every sign-in ends the previous
    /// session, so this moves far more often; the directory does not care).
    sessions_ended: Arc<AtomicU64>,
}

impl Sessions {
    pub fn new(ephemeral: Ephemeral, idle_timeout_secs: u64, absolute_timeout_secs: u64) -> Self {
        Sessions {
            ephemeral,
            idle_timeout_secs,
            absolute_timeout_secs,
            directory_epoch: Arc::new(AtomicU64::new(0)),
            sessions_ended: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves when anything a signed-in identity depends on changes (the directory, or
    /// a session ended): caches of derived identities (forward auth) compare it.
    pub fn identity_epoch(&self) -> u64 {
        self.directory_epoch()
            .wrapping_add(self.sessions_ended.load(Ordering::Acquire))
    }

    /// Moves when users, groups, tokens, passwords or access rules change.
    pub fn directory_epoch(&self) -> u64 {
        self.directory_epoch.load(Ordering::Acquire)
    }

    /// Call after a change to users, groups, tokens, passwords or access rules.
    pub fn identity_changed(&self) {
        self.directory_epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether the session with this digest was ended on purpose (not merely expired).
    pub fn was_ended(&self, digest: &str) -> StoreResult<bool> {
        Ok(self
            .ephemeral
            .get::<bool>(ENDED_NAMESPACE, digest)?
            .is_some())
    }

    /// Starts a session and returns the token for the cookie. `lifetime_secs` (from the
    /// login stage) shortens or extends the absolute expiry; `None` uses the default.
    pub fn create(
        &self,
        user: UserId,
        client: &ClientInfo,
        lifetime_secs: Option<u64>,
        methods: Vec<String>,
    ) -> StoreResult<(String, SessionRecord)> {
        let now = self.ephemeral.now();
        let token = random_token(32);
        let record = SessionRecord {
            user,
            created: now,
            expires_at: now.plus_secs(lifetime_secs.unwrap_or(self.absolute_timeout_secs)),
            last_seen: now,
            idle_timeout_secs: self.idle_timeout_secs,
            client_ip: client.ip.clone(),
            user_agent: client.user_agent.chars().take(256).collect(),
            methods,
        };
        self.save(&sha256_hex(token.as_bytes()), &record)?;
        Ok((token, record))
    }

    /// The live session for a token, if any; refreshes the idle clock when due.
    pub fn lookup(&self, token: &str) -> StoreResult<Option<ActiveSession>> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let digest = sha256_hex(token.as_bytes());
        let Some(mut record) = self.ephemeral.get::<SessionRecord>(NAMESPACE, &digest)? else {
            return Ok(None);
        };
        let now = self.ephemeral.now();
        let idle_deadline = record.last_seen.plus_secs(record.idle_timeout_secs);
        if record.expires_at <= now || idle_deadline <= now {
            self.ephemeral.delete(NAMESPACE, &digest)?;
            return Ok(None);
        }
        if now.0 - record.last_seen.0 >= TOUCH_INTERVAL_SECS {
            record.last_seen = now;
            self.save(&digest, &record)?;
        }
        Ok(Some(ActiveSession { digest, record }))
    }

    pub fn revoke_token(&self, token: &str) -> StoreResult<bool> {
        self.revoke_digest(&sha256_hex(token.as_bytes()))
    }

    pub fn revoke_digest(&self, digest: &str) -> StoreResult<bool> {
        self.ephemeral
            .put(ENDED_NAMESPACE, digest, &true, ENDED_MARKER_SECS)?;
        let removed = self.ephemeral.delete(NAMESPACE, digest)?;
        self.sessions_ended.fetch_add(1, Ordering::AcqRel);
        Ok(removed)
    }

    fn save(&self, digest: &str, record: &SessionRecord) -> StoreResult<()> {
        let idle_deadline = record.last_seen.plus_secs(record.idle_timeout_secs);
        let expires = idle_deadline.min(record.expires_at);
        self.ephemeral.put_until(NAMESPACE, digest, record, expires)
    }
}
