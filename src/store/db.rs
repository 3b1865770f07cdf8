//! `Db`: the async door to the `Store`. Every scope runs on the blocking pool so SQLite
//! never stalls the async executor; a panic inside a scope is re-raised in the caller.

use std::sync::Arc;

use super::{ReadTx, Store, StoreError, StoreExt, StoreResult, WriteTx};

#[derive(Clone)]
pub struct Db {
    store: Arc<dyn Store>,
}

impl Db {
    pub fn new(store: Arc<dyn Store>) -> Db {
        Db { store }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn read<T, F>(&self, scope: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn ReadTx) -> StoreResult<T> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        run_blocking(move || store.read(scope)).await
    }

    pub async fn write<T, F>(&self, scope: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn WriteTx) -> StoreResult<T> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        run_blocking(move || store.write(scope)).await
    }

    pub async fn check_health(&self) -> StoreResult<()> {
        let store = Arc::clone(&self.store);
        run_blocking(move || store.check_health()).await
    }
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join_error) if join_error.is_panic() => {
            std::panic::resume_unwind(join_error.into_panic())
        }
        Err(_) => Err(StoreError::Backend("storage task cancelled".into())),
    }
}
