//! The `Kv` port: loss-tolerant keyed state with an expiry time. Keys live in namespaces
//! ("session", "flow", ...). Expired entries are invisible to `get`/`take` even before
//! `purge_expired` removes them. `now` is passed in so adapters never read a clock.

use crate::model::Timestamp;

use super::StoreResult;

pub trait Kv: Send + Sync + 'static {
    /// Inserts or replaces.
    fn put(
        &self,
        namespace: &str,
        key: &str,
        value: &[u8],
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    fn get(&self, namespace: &str, key: &str, now: Timestamp) -> StoreResult<Option<Vec<u8>>>;
    /// Atomic get-and-delete: of two concurrent takes of one key, exactly one sees the value.
    fn take(&self, namespace: &str, key: &str, now: Timestamp) -> StoreResult<Option<Vec<u8>>>;
    /// Returns whether a live or expired entry was removed.
    fn delete(&self, namespace: &str, key: &str) -> StoreResult<bool>;
    /// Removes every entry whose expiry is at or before `now`; returns how many.
    fn purge_expired(&self, now: Timestamp) -> StoreResult<u64>;
    /// Makes recent writes durable (called on shutdown and periodically).
    fn flush(&self) -> StoreResult<()>;
}
