//! A consistent copy of the live SQLite database with SQLite's online backup API, safe
//! while the server writes (WAL: the copy reads one snapshot and never blocks writers).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

/// Copies `source` into a new file `target`; returns the copy's schema version (the
/// newest applied migration).
pub fn copy_database(source: &Path, target: &Path) -> anyhow::Result<u32> {
    let from = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", source.display()))?;
    from.busy_timeout(Duration::from_secs(10))?;
    let mut into =
        Connection::open(target).with_context(|| format!("cannot create {}", target.display()))?;
    {
        let backup = Backup::new(&from, &mut into)?;
        // All pages in one step: one read transaction, so the copy is one snapshot (a
        // step at a time would restart whenever another process writes).
        let mut attempts = 0u32;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked if attempts < 200 => {
                    attempts = attempts.saturating_add(1);
                    std::thread::sleep(Duration::from_millis(50));
                }
                StepResult::Busy | StepResult::Locked => {
                    anyhow::bail!("{} stayed locked for 10 s", source.display())
                }
                _ => anyhow::bail!("unexpected result from the SQLite backup step"),
            }
        }
    }
    // A single self-contained file: no -wal beside the copy.
    into.pragma_update(None, "journal_mode", "DELETE")?;
    let check: String = into.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
    if check != "ok" {
        anyhow::bail!("the copied database fails SQLite's quick_check: {check}");
    }
    let schema_version: u32 = into
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .context("the database has no schema_migrations table")?;
    into.close()
        .map_err(|(_, error)| error)
        .context("closing the copy")?;
    Ok(schema_version)
}
