//! The in-memory side of forward-auth sessions: what a signed-in request is answered
//! with (the identity headers, rendered once), keyed by the SHA-256 of the cookie or of
//! an intercepted `Authorization` header. A hit costs a hash, a read lock and an `Arc`
//! clone; no database, no Kv. Entries carry the identity epoch they were built in and
//! are rebuilt from the Kv record and the directory when it has moved on.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use http02::header::{HeaderName, HeaderValue};

use crate::model::{ProviderId, Timestamp, UserId};

/// How many admitted identities the cache holds at most; past that, expired entries go
/// first, then arbitrary ones (they are rebuilt from the Kv on their next request).
const CAPACITY: usize = 50_000;

pub type Digest = [u8; 32];

/// An identity that passed: the headers to answer with and how long they hold.
#[derive(Debug)]
pub struct Admitted {
    pub provider: ProviderId,
    pub user: UserId,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The earlier of the session's end and the embedded JWT's expiry.
    pub valid_until: Timestamp,
    pub epoch: u64,
}

#[derive(Default)]
pub struct AdmittedCache {
    entries: RwLock<HashMap<Digest, Arc<Admitted>>>,
}

impl AdmittedCache {
    /// The entry, if it is for `provider`, still valid at `now` and built in `epoch`.
    pub fn get(
        &self,
        key: &Digest,
        provider: ProviderId,
        now: Timestamp,
        epoch: u64,
    ) -> Option<Arc<Admitted>> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(key)?;
        (entry.provider == provider && entry.valid_until > now && entry.epoch == epoch)
            .then(|| Arc::clone(entry))
    }

    pub fn insert(&self, key: Digest, admitted: Arc<Admitted>, now: Timestamp) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= CAPACITY {
            entries.retain(|_, entry| entry.valid_until > now);
            while entries.len() >= CAPACITY {
                let Some(victim) = entries.keys().next().copied() else {
                    break;
                };
                entries.remove(&victim);
            }
        }
        entries.insert(key, admitted);
    }

    pub fn remove(&self, key: &Digest) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(key);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |entries| entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub fn digest(domain: &[u8], value: &[u8]) -> Digest {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(domain);
    context.update(&[0]);
    context.update(value);
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn admitted(provider: i64, until: i64, epoch: u64) -> Arc<Admitted> {
        Arc::new(Admitted {
            provider: ProviderId(provider),
            user: UserId(1),
            headers: Vec::new(),
            valid_until: Timestamp(until),
            epoch,
        })
    }

    #[test]
    fn entries_answer_only_for_their_provider_time_and_epoch() {
        let cache = AdmittedCache::default();
        let key = digest(b"cookie", b"abc");
        cache.insert(key, admitted(1, 100, 7), Timestamp(0));
        assert!(cache.get(&key, ProviderId(1), Timestamp(99), 7).is_some());
        assert!(cache.get(&key, ProviderId(2), Timestamp(99), 7).is_none());
        assert!(cache.get(&key, ProviderId(1), Timestamp(100), 7).is_none());
        assert!(cache.get(&key, ProviderId(1), Timestamp(99), 8).is_none());
        assert_ne!(key, digest(b"header", b"abc"));
        cache.remove(&key);
        assert!(cache.is_empty());
    }
}
