//! `MemoryKv`: the `Kv` port in a mutex-guarded map, for tests and throwaway runs.
//! Nothing survives the process.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::model::Timestamp;

use super::{Kv, StoreResult};

type Entries = HashMap<(String, String), (Timestamp, Vec<u8>)>;

#[derive(Default)]
pub struct MemoryKv {
    entries: Mutex<Entries>,
}

impl MemoryKv {
    pub fn new() -> MemoryKv {
        MemoryKv::default()
    }

    /// A panic elsewhere while holding the lock cannot leave the map half-updated (every
    /// update is one map call), so a poisoned lock is safe to keep using.
    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn entry_key(namespace: &str, key: &str) -> (String, String) {
    (namespace.to_owned(), key.to_owned())
}

impl Kv for MemoryKv {
    fn put(
        &self,
        namespace: &str,
        key: &str,
        value: &[u8],
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        self.entries()
            .insert(entry_key(namespace, key), (expires_at, value.to_vec()));
        Ok(())
    }

    fn get(&self, namespace: &str, key: &str, now: Timestamp) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .entries()
            .get(&entry_key(namespace, key))
            .filter(|(expires_at, _)| *expires_at > now)
            .map(|(_, value)| value.clone()))
    }

    fn take(&self, namespace: &str, key: &str, now: Timestamp) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .entries()
            .remove(&entry_key(namespace, key))
            .filter(|(expires_at, _)| *expires_at > now)
            .map(|(_, value)| value))
    }

    fn delete(&self, namespace: &str, key: &str) -> StoreResult<bool> {
        Ok(self.entries().remove(&entry_key(namespace, key)).is_some())
    }

    fn purge_expired(&self, now: Timestamp) -> StoreResult<u64> {
        let mut entries = self.entries();
        let before = entries.len();
        entries.retain(|_, (expires_at, _)| *expires_at > now);
        Ok(u64::try_from(before.saturating_sub(entries.len())).unwrap_or(u64::MAX))
    }

    fn flush(&self) -> StoreResult<()> {
        Ok(())
    }
}
