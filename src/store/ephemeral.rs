//! `Ephemeral`: typed JSON values in the `Kv` with lifetimes measured by the injected clock.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clock::Clock;
use crate::model::Timestamp;

use super::{Kv, StoreError, StoreResult};

#[derive(Clone)]
pub struct Ephemeral {
    kv: Arc<dyn Kv>,
    clock: Arc<dyn Clock>,
}

impl Ephemeral {
    pub fn new(kv: Arc<dyn Kv>, clock: Arc<dyn Clock>) -> Ephemeral {
        Ephemeral { kv, clock }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn kv(&self) -> &Arc<dyn Kv> {
        &self.kv
    }

    pub fn put<T: Serialize>(
        &self,
        namespace: &str,
        key: &str,
        value: &T,
        ttl_secs: u64,
    ) -> StoreResult<()> {
        self.put_until(namespace, key, value, self.now().plus_secs(ttl_secs))
    }

    pub fn put_until<T: Serialize>(
        &self,
        namespace: &str,
        key: &str,
        value: &T,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.kv.put(namespace, key, &bytes, expires_at)
    }

    /// A value that no longer decodes (written by an older version) counts as absent.
    pub fn get<T: DeserializeOwned>(&self, namespace: &str, key: &str) -> StoreResult<Option<T>> {
        let bytes = self.kv.get(namespace, key, self.now())?;
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    pub fn take<T: DeserializeOwned>(&self, namespace: &str, key: &str) -> StoreResult<Option<T>> {
        let bytes = self.kv.take(namespace, key, self.now())?;
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    pub fn delete(&self, namespace: &str, key: &str) -> StoreResult<bool> {
        self.kv.delete(namespace, key)
    }
}
