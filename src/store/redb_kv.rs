//! `RedbKv`: the `Kv` port in one redb file, for a single-node install. One table; the key
//! is `namespace \0 key` and the value is the expiry (8 bytes, big-endian i64) followed by
//! the payload, so expiry is checked without decoding the payload.
//!
//! Durability: ordinary writes commit with `Durability::None` (no fsync; sessions are
//! touched on every request), and `flush` makes everything before it durable. A clean
//! close (drop) also persists pending commits: redb promotes them when the database
//! closes, which the reopen test checks. A power cut can lose writes since the last flush,
//! which the `Kv` contract allows (its state is loss-tolerant).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use redb::{Database, DatabaseError, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use crate::model::Timestamp;

use super::{Kv, StoreError, StoreResult};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

/// How long `open` waits for a handle in this process (a restarting server in tests) or
/// another process to let go of the file.
const OPEN_WAIT: Duration = Duration::from_secs(3);
const OPEN_RETRY: Duration = Duration::from_millis(50);
/// Sessions and flow states are small; the default 1 GiB cache would be wasted address
/// space.
const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Pages freed by non-durable commits are reused only after a durable one, so a durable
/// commit every so often keeps the file from growing if nobody calls `flush`.
const DURABLE_EVERY: u32 = 1024;

pub struct RedbKv {
    db: Database,
    path: PathBuf,
    writes_since_durable: AtomicU32,
}

impl RedbKv {
    /// Opens (creating if needed) the file. Waits up to three seconds if another handle
    /// still holds it, then fails naming the file.
    pub fn open(path: &Path) -> Result<RedbKv, StoreError> {
        let db = open_with_retry(path)?;
        let kv = RedbKv {
            db,
            path: path.to_path_buf(),
            writes_since_durable: AtomicU32::new(0),
        };
        // Creating the table up front lets read transactions assume it exists.
        kv.write(Durability::Immediate, |_| Ok(()))?;
        Ok(kv)
    }

    fn fail(&self, error: impl Into<redb::Error>) -> StoreError {
        StoreError::Backend(format!("{}: {}", self.path.display(), error.into()))
    }

    fn durability(&self) -> Durability {
        let count = self.writes_since_durable.fetch_add(1, Ordering::Relaxed);
        if count.wrapping_add(1) % DURABLE_EVERY == 0 {
            Durability::Immediate
        } else {
            Durability::None
        }
    }

    /// Runs `change` in one write transaction; redb serialises write transactions, which
    /// is what makes `take` atomic.
    fn write<T>(
        &self,
        durability: Durability,
        change: impl FnOnce(&mut redb::Table<'_, &[u8], &[u8]>) -> Result<T, redb::Error>,
    ) -> StoreResult<T> {
        let mut tx = self.db.begin_write().map_err(|e| self.fail(e))?;
        tx.set_durability(durability).map_err(|e| self.fail(e))?;
        let result = {
            let mut table = tx.open_table(TABLE).map_err(|e| self.fail(e))?;
            change(&mut table).map_err(|e| self.fail(e))?
        };
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(result)
    }
}

impl RedbKv {
    /// Copies every entry as one read transaction sees it into a new redb file at
    /// `target` (which must not exist yet); returns how many entries. This is how
    /// `gatehouse backup` gets the ephemeral state: redb's author says copying the file
    /// while writes are in progress is unsafe (cberner/redb#634), and the live file is
    /// locked to the server process anyway, so the server makes this copy when asked.
    pub fn snapshot_to(&self, target: &Path) -> StoreResult<u64> {
        if target.exists() {
            return Err(StoreError::Backend(format!(
                "{} already exists",
                target.display()
            )));
        }
        let copy_fail = |e: redb::Error| StoreError::Backend(format!("{}: {e}", target.display()));
        let tx = self.db.begin_read().map_err(|e| self.fail(e))?;
        let table = tx.open_table(TABLE).map_err(|e| self.fail(e))?;
        let copy = Database::create(target).map_err(|e| copy_fail(e.into()))?;
        let write = copy.begin_write().map_err(|e| copy_fail(e.into()))?;
        let mut copied: u64 = 0;
        {
            let mut into = write.open_table(TABLE).map_err(|e| copy_fail(e.into()))?;
            for entry in table.iter().map_err(|e| self.fail(e))? {
                let (key, value) = entry.map_err(|e| self.fail(e))?;
                into.insert(key.value(), value.value())
                    .map_err(|e| copy_fail(e.into()))?;
                copied = copied.saturating_add(1);
            }
        }
        write.commit().map_err(|e| copy_fail(e.into()))?;
        Ok(copied)
    }
}

fn open_with_retry(path: &Path) -> StoreResult<Database> {
    let deadline = Instant::now() + OPEN_WAIT;
    loop {
        match Database::builder().set_cache_size(CACHE_BYTES).create(path) {
            Ok(db) => return Ok(db),
            Err(DatabaseError::DatabaseAlreadyOpen) if Instant::now() < deadline => {
                std::thread::sleep(OPEN_RETRY);
            }
            Err(DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::Backend(format!(
                    "{} is in use by another gatehouse process (or another handle in this one)",
                    path.display()
                )));
            }
            Err(error) => {
                return Err(StoreError::Backend(format!(
                    "cannot open {}: {error}",
                    path.display()
                )));
            }
        }
    }
}

fn entry_key(namespace: &str, key: &str) -> StoreResult<Vec<u8>> {
    // A NUL inside the namespace would let one namespace read another's keys.
    if namespace.contains('\0') {
        return Err(StoreError::Backend(format!(
            "invalid Kv namespace {namespace:?}"
        )));
    }
    let mut bytes = Vec::with_capacity(namespace.len() + 1 + key.len());
    bytes.extend_from_slice(namespace.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(key.as_bytes());
    Ok(bytes)
}

fn encode(value: &[u8], expires_at: Timestamp) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + value.len());
    bytes.extend_from_slice(&expires_at.0.to_be_bytes());
    bytes.extend_from_slice(value);
    bytes
}

/// Splits a stored value; a value too short to hold an expiry counts as expired, so a
/// damaged entry is never served.
fn decode(stored: &[u8]) -> (Timestamp, &[u8]) {
    match stored.split_first_chunk::<8>() {
        Some((expiry, payload)) => (Timestamp(i64::from_be_bytes(*expiry)), payload),
        None => (Timestamp(i64::MIN), &[]),
    }
}

fn live(stored: &[u8], now: Timestamp) -> Option<Vec<u8>> {
    let (expires_at, payload) = decode(stored);
    (expires_at > now).then(|| payload.to_vec())
}

impl Kv for RedbKv {
    fn put(
        &self,
        namespace: &str,
        key: &str,
        value: &[u8],
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let key = entry_key(namespace, key)?;
        let stored = encode(value, expires_at);
        self.write(self.durability(), |table| {
            table.insert(key.as_slice(), stored.as_slice())?;
            Ok(())
        })
    }

    fn get(&self, namespace: &str, key: &str, now: Timestamp) -> StoreResult<Option<Vec<u8>>> {
        let key = entry_key(namespace, key)?;
        let tx = self.db.begin_read().map_err(|e| self.fail(e))?;
        let table = tx.open_table(TABLE).map_err(|e| self.fail(e))?;
        let found = table.get(key.as_slice()).map_err(|e| self.fail(e))?;
        Ok(found.and_then(|guard| live(guard.value(), now)))
    }

    fn take(&self, namespace: &str, key: &str, now: Timestamp) -> StoreResult<Option<Vec<u8>>> {
        let key = entry_key(namespace, key)?;
        self.write(self.durability(), |table| {
            let removed = table.remove(key.as_slice())?;
            Ok(removed.and_then(|guard| live(guard.value(), now)))
        })
    }

    fn delete(&self, namespace: &str, key: &str) -> StoreResult<bool> {
        let key = entry_key(namespace, key)?;
        self.write(self.durability(), |table| {
            Ok(table.remove(key.as_slice())?.is_some())
        })
    }

    fn purge_expired(&self, now: Timestamp) -> StoreResult<u64> {
        self.write(self.durability(), |table| {
            let mut removed: u64 = 0;
            table.retain(|_, stored| {
                let keep = decode(stored).0 > now;
                if !keep {
                    removed = removed.saturating_add(1);
                }
                keep
            })?;
            Ok(removed)
        })
    }

    fn flush(&self) -> StoreResult<()> {
        // An empty durable commit makes every earlier non-durable commit durable too.
        self.write(Durability::Immediate, |_| Ok(()))?;
        self.writes_since_durable.store(0, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn open_waits_for_the_previous_handle_to_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let first = RedbKv::open(&path).unwrap();
        first.put("session", "s", b"v", Timestamp(100)).unwrap();
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        let second = RedbKv::open(&path).unwrap();
        closer.join().unwrap();
        assert!(second.get("session", "s", Timestamp(0)).unwrap().is_some());
    }

    #[test]
    fn open_gives_up_on_a_file_that_stays_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let _held = RedbKv::open(&path).unwrap();
        let started = Instant::now();
        let Err(StoreError::Backend(message)) = RedbKv::open(&path) else {
            panic!("a held file must not open twice");
        };
        assert!(started.elapsed() >= OPEN_WAIT);
        assert!(
            message.contains("is in use by another gatehouse process"),
            "{message}"
        );
    }

    #[test]
    fn a_short_value_reads_as_expired() {
        assert_eq!(decode(b"abc").0, Timestamp(i64::MIN));
        let stored = encode(b"payload", Timestamp(42));
        assert_eq!(decode(&stored), (Timestamp(42), &b"payload"[..]));
    }
}
