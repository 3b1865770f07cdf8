//! The engine's short-lived result cache: a policy's outcome for one binding, user,
//! client address and request fingerprint is reused for a few seconds, as authentik
//! caches policy results per binding and user. Small and in-process; the lead clears it
//! whenever configuration changes.
//!
//! The fingerprint is a SHA-256 of the policy and of everything the policy can read
//! (user, groups, headers, flow context). A weak hash would let someone who controls
//! the context (a prompt field) search offline for a weak password whose fingerprint
//! equals that of a strong one they submitted before, and reuse its passing result.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use sha2::{Digest, Sha256};

use crate::model::{PolicyBindingId, Timestamp, UserId};
use crate::policy::PolicyOutcome;

/// How long an outcome is reused.
pub(crate) const CACHE_TTL_SECS: u64 = 30;
/// Entries kept at most; when full, expired entries go, and if none have, all go.
const MAX_ENTRIES: usize = 4096;

pub(crate) type Fingerprint = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub binding: PolicyBindingId,
    pub user: Option<UserId>,
    pub client_ip: Option<IpAddr>,
    pub fingerprint: Fingerprint,
}

#[derive(Default)]
pub(crate) struct ResultCache {
    entries: Mutex<HashMap<CacheKey, (Timestamp, PolicyOutcome)>>,
}

impl ResultCache {
    pub fn get(&self, key: &CacheKey, now: Timestamp) -> Option<PolicyOutcome> {
        let entries = self.entries();
        let (expires, outcome) = entries.get(key)?;
        (*expires > now).then(|| outcome.clone())
    }

    pub fn put(&self, key: CacheKey, outcome: PolicyOutcome, now: Timestamp) {
        let mut entries = self.entries();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (expires, _)| *expires > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (now.plus_secs(CACHE_TTL_SECS), outcome));
    }

    pub fn clear(&self) {
        self.entries().clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Every change to the map is one call, so a panic elsewhere while the lock was held
    /// cannot have left it half-updated; a poisoned lock is safe to keep using.
    fn entries(&self) -> MutexGuard<'_, HashMap<CacheKey, (Timestamp, PolicyOutcome)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// SHA-256 over the given serialised parts, each length-prefixed so parts cannot run
/// into each other.
pub(crate) fn fingerprint(parts: &[&[u8]]) -> Fingerprint {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fingerprint: Fingerprint) -> CacheKey {
        CacheKey {
            binding: PolicyBindingId(uuid::Uuid::nil()),
            user: Some(UserId(1)),
            client_ip: None,
            fingerprint,
        }
    }

    #[test]
    fn entries_expire_and_stay_bounded() {
        let cache = ResultCache::default();
        let now = Timestamp(1000);
        cache.put(key([0; 32]), PolicyOutcome::pass(), now);
        assert_eq!(cache.get(&key([0; 32]), now), Some(PolicyOutcome::pass()));
        assert_eq!(cache.get(&key([1; 32]), now), None);
        assert_eq!(
            cache.get(&key([0; 32]), now.plus_secs(CACHE_TTL_SECS)),
            None
        );
        for n in 0..MAX_ENTRIES + 10 {
            cache.put(
                key(fingerprint(&[&n.to_le_bytes()])),
                PolicyOutcome::pass(),
                now,
            );
        }
        assert!(cache.len() <= MAX_ENTRIES);
        cache.clear();
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert_eq!(fingerprint(&[b"ab"]), fingerprint(&[b"ab"]));
    }
}
