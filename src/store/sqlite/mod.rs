//! The SQLite `Store` adapter: one writer connection behind a mutex (SQLite allows one
//! writer at a time anyway, so queuing in-process is cheaper than spinning on
//! SQLITE_BUSY), a few reader connections that see WAL snapshots, and one file per
//! aggregate holding that aggregate's SQL. No SQLite type leaves this folder.

mod applications;
mod brands;
mod codec;
mod consents;
mod devices;
mod events;
mod flows;
mod groups;
mod invitations;
mod keypairs;
mod list;
mod meta;
mod oauth_tokens;
mod outbox;
mod outposts;
mod policies;
mod pool;
mod property_mappings;
mod providers;
#[cfg(test)]
mod tests;
mod tokens;
mod users;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, TransactionBehavior};

use super::ports::{ReadTx, Store, WriteTx};
use super::{StoreError, StoreResult, migrations};
use codec::sql_error;
use pool::ReaderPool;

/// Readers beyond this rarely help: SQLite reads are CPU-bound and short.
const READERS: usize = 4;

pub struct SqliteStore {
    writer: Mutex<Connection>,
    /// `None` for an in-memory database, where every scope shares the writer connection
    /// (a private in-memory database is visible to one connection only).
    readers: Option<ReaderPool>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut writer = pool::open_writer(path)?;
        migrations::apply_sqlite(&mut writer)?;
        // Readers open after the migrations so they never see a half-built schema.
        let readers = ReaderPool::open(path, READERS)?;
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            readers: Some(readers),
        })
    }

    /// A private, empty, migrated database that lives as long as the value (for tests).
    /// Reads and writes share one connection, so a scope must not open another scope
    /// on the same store (it would wait on itself).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let mut conn = pool::open_memory()?;
        migrations::apply_sqlite(&mut conn)?;
        Ok(SqliteStore {
            writer: Mutex::new(conn),
            readers: None,
        })
    }

    fn reader(&self) -> StoreResult<MutexGuard<'_, Connection>> {
        let conn = match &self.readers {
            Some(readers) => readers.acquire()?,
            None => pool::lock(&self.writer),
        };
        pool::end_stale_transaction(&conn)?;
        Ok(conn)
    }

    fn writer(&self) -> StoreResult<MutexGuard<'_, Connection>> {
        let conn = pool::lock(&self.writer);
        pool::end_stale_transaction(&conn)?;
        Ok(conn)
    }
}

impl Store for SqliteStore {
    fn read_scope(&self, scope: &mut dyn FnMut(&dyn ReadTx) -> StoreResult<()>) -> StoreResult<()> {
        let mut conn = self.reader()?;
        // A deferred transaction takes its WAL snapshot at the first read and keeps it, so
        // every query in the scope sees the same committed state.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(sql_error)?;
        scope(&SqliteTx { conn: &tx })?;
        tx.commit().map_err(sql_error)
    }

    fn write_scope(
        &self,
        scope: &mut dyn FnMut(&dyn WriteTx) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut conn = self.writer()?;
        // IMMEDIATE takes the write lock up front: a deferred transaction that later
        // upgrades can fail with SQLITE_BUSY mid-scope, which busy_timeout cannot retry.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        // On `Err` (returned here) or a panic (unwinding), dropping `tx` rolls back.
        scope(&SqliteTx { conn: &tx })?;
        tx.commit().map_err(sql_error)
    }

    fn check_health(&self) -> StoreResult<()> {
        let conn = self.reader()?;
        conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
            .map_err(sql_error)?;
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
}

/// The capability object handed to a scope. Its methods live next to their SQL, one file
/// per aggregate; a read scope gets it as `&dyn ReadTx`, which hides the writes.
struct SqliteTx<'c> {
    conn: &'c Connection,
}
