//! Opening and configuring SQLite connections, and the small pool of readers.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::codec::sql_error;
use crate::store::{StoreError, StoreResult};

/// How long a connection waits for another process's lock before reporting `Busy`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const STATEMENT_CACHE: usize = 64;

fn flags() -> OpenFlags {
    // NO_MUTEX: each connection is used by one thread at a time (behind our own mutex), so
    // SQLite's internal locking would be pure overhead.
    OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(sql_error)?;
    // NORMAL under WAL: a power cut may lose the last commits but never corrupts.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql_error)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

pub(super) fn open_writer(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(path, flags()).map_err(|e| open_error(path, &e))?;
    configure(&conn)?;
    // WAL lets readers keep their snapshot while the writer commits; the mode is stored
    // in the file, so setting it once from the writer covers every connection.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "{} does not support WAL (journal mode stayed {mode})",
            path.display()
        )));
    }
    Ok(conn)
}

pub(super) fn open_memory() -> StoreResult<Connection> {
    let conn = Connection::open_in_memory().map_err(sql_error)?;
    configure(&conn)?;
    Ok(conn)
}

fn open_error(path: &Path, error: &rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("cannot open {}: {error}", path.display()))
}

/// Takes a mutex even if a scope panicked while holding it: the connection itself is
/// still sound (the panic rolled its transaction back), so one panic must not brick the
/// store.
pub(super) fn lock(mutex: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Defence in depth after a panic: if a transaction somehow survived, end it before the
/// next scope begins its own.
pub(super) fn end_stale_transaction(conn: &Connection) -> StoreResult<()> {
    if conn.is_autocommit() {
        return Ok(());
    }
    conn.execute_batch("ROLLBACK").map_err(sql_error)
}

pub(super) struct ReaderPool {
    slots: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl ReaderPool {
    pub(super) fn open(path: &Path, size: usize) -> StoreResult<ReaderPool> {
        let mut slots = Vec::with_capacity(size);
        for _ in 0..size.max(1) {
            let conn =
                Connection::open_with_flags(path, flags()).map_err(|e| open_error(path, &e))?;
            configure(&conn)?;
            // Readers never write; this turns a bug into an error instead of a second
            // writer competing for the lock.
            conn.pragma_update(None, "query_only", true)
                .map_err(sql_error)?;
            slots.push(Mutex::new(conn));
        }
        Ok(ReaderPool {
            slots,
            next: AtomicUsize::new(0),
        })
    }

    /// A free reader if there is one, else waits for the next in turn.
    pub(super) fn acquire(&self) -> StoreResult<MutexGuard<'_, Connection>> {
        let count = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for offset in 0..count {
            let Some(slot) = self.slots.get(start.wrapping_add(offset) % count) else {
                continue;
            };
            match slot.try_lock() {
                Ok(guard) => return Ok(guard),
                Err(TryLockError::Poisoned(poisoned)) => return Ok(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.slots
            .get(start.checked_rem(count).unwrap_or(0))
            .map(lock)
            .ok_or_else(|| StoreError::Backend("the SQLite reader pool is empty".into()))
    }
}
