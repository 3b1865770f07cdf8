//! The `cached` bind mode (authentik's name): a bind that ran the flow successfully is
//! remembered for `TTL`, so the same DN with the same password binds again without the
//! flow and without argon2 — what a NAS or mail server that binds for every request
//! needs. An entry is dropped when the identity epoch moves (any change to users,
//! groups, tokens or access rules, a password change, a sign-out) and after `TTL`. The
//! password is kept only as an HMAC under a key made at start, compared in constant
//! time. The second factor is proven by the flow run that filled the entry; later binds
//! in the window need only the password, as a cached session would.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::crypto::constant_time_eq;
use crate::crypto::digest::hmac_sha256;
use crate::model::ProviderId;

use super::bind::Proven;

pub const TTL: Duration = Duration::from_secs(600);
/// Entries beyond this are not added (a flood of distinct users cannot grow memory).
const MAX_ENTRIES: usize = 10_000;

struct Cached {
    secret_mac: [u8; 32],
    epoch: u64,
    until: Instant,
    proven: Proven,
}

pub struct BindCache {
    key: [u8; 32],
    entries: Mutex<HashMap<(ProviderId, String), Cached>>,
}

impl Default for BindCache {
    fn default() -> Self {
        BindCache {
            key: rand::random(),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl BindCache {
    /// The remembered bind of `username` when `secret` is the password it used and
    /// nothing changed since.
    pub fn get(
        &self,
        provider: ProviderId,
        username: &str,
        secret: &str,
        epoch: u64,
    ) -> Option<Proven> {
        let mac = hmac_sha256(&self.key, secret.as_bytes());
        let mut entries = self.entries.lock().ok()?;
        let key = (provider, username.to_lowercase());
        let cached = entries.get(&key)?;
        if cached.epoch != epoch || cached.until <= Instant::now() {
            entries.remove(&key);
            return None;
        }
        constant_time_eq(&cached.secret_mac, &mac).then(|| cached.proven.clone())
    }

    pub fn put(
        &self,
        provider: ProviderId,
        username: &str,
        secret: &str,
        epoch: u64,
        proven: &Proven,
    ) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let now = Instant::now();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, cached| cached.epoch == epoch && cached.until > now);
            if entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        entries.insert(
            (provider, username.to_lowercase()),
            Cached {
                secret_mac: hmac_sha256(&self.key, secret.as_bytes()),
                epoch,
                until: now + TTL,
                proven: proven.clone(),
            },
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::UserId;

    #[test]
    fn a_hit_needs_the_same_password_and_epoch() {
        let cache = BindCache::default();
        let provider = ProviderId(1);
        let proven = Proven {
            user: UserId(3),
            username: "Ada".into(),
            groups: Vec::new(),
        };
        cache.put(provider, "Ada", "secret", 7, &proven);
        assert_eq!(cache.get(provider, "ada", "secret", 7), Some(proven));
        assert_eq!(cache.get(provider, "ada", "Secret", 7), None);
        assert_eq!(cache.get(ProviderId(2), "ada", "secret", 7), None);
        // The epoch moved: the entry is gone for good.
        assert_eq!(cache.get(provider, "ada", "secret", 8), None);
        assert!(cache.entries.lock().unwrap().is_empty());
    }
}
