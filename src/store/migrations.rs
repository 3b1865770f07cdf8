//! Schema migrations: the numbered SQL files under `migrations/<backend>/`, embedded in the
//! binary, and the code that applies the pending ones. Every backend keeps the same
//! numbered list, so a database moved between backends (or a binary upgraded) knows which
//! steps it has taken.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// The SQLite list, in order. Adding a migration: add the file and one line here (a test
/// checks that the folder and this list agree).
const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "policies_invitations_brands",
        sql: include_str!("../../migrations/sqlite/0002_policies_invitations_brands.sql"),
    },
    Migration {
        version: 3,
        name: "email_outbox",
        sql: include_str!("../../migrations/sqlite/0003_email_outbox.sql"),
    },
    Migration {
        version: 4,
        name: "applications",
        sql: include_str!("../../migrations/sqlite/0004_applications.sql"),
    },
    Migration {
        version: 5,
        name: "certificate_keypairs",
        sql: include_str!("../../migrations/sqlite/0005_certificate_keypairs.sql"),
    },
    Migration {
        version: 6,
        name: "oauth2",
        sql: include_str!("../../migrations/sqlite/0006_oauth2.sql"),
    },
    Migration {
        version: 7,
        name: "outposts",
        sql: include_str!("../../migrations/sqlite/0007_outposts.sql"),
    },
    Migration {
        version: 8,
        name: "devices",
        sql: include_str!("../../migrations/sqlite/0008_devices.sql"),
    },
];

/// `(version, name)` of every migration this binary knows, oldest first.
pub fn known_versions() -> Vec<(u32, &'static str)> {
    SQLITE.iter().map(|m| (m.version, m.name)).collect()
}

/// Brings the database up to the newest schema this binary knows. All pending steps run
/// in one transaction (SQLite's DDL is transactional), so a failed upgrade leaves the
/// database exactly as the previous version left it, and the previous binary still runs
/// on it. Refuses a database written by a newer binary rather than guess at its schema.
pub fn apply_sqlite(conn: &mut Connection) -> Result<(), StoreError> {
    apply_list(conn, SQLITE)
}

fn apply_list(conn: &mut Connection, list: &[Migration]) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT    NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )
    .map_err(|e| migration_error("cannot create schema_migrations", &e))?;
    // IMMEDIATE takes the write lock before reading what is applied, so two processes
    // starting at once cannot both run the same steps.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| migration_error("cannot start the schema upgrade", &e))?;
    let applied = applied_versions(&tx)?;
    let newest = list.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some(&current) = applied.iter().max()
        && current > newest
    {
        return Err(StoreError::Backend(format!(
            "database schema version {current} is newer than this gatehouse binary ({}) \
             supports ({newest}); upgrade gatehouse or restore a backup",
            env!("CARGO_PKG_VERSION")
        )));
    }
    for migration in list.iter().filter(|m| !applied.contains(&m.version)) {
        apply_one(&tx, migration)?;
    }
    // Dropping the transaction on an error above rolls every step back.
    tx.commit()
        .map_err(|e| migration_error("cannot commit the schema upgrade", &e))
}

fn applied_versions(conn: &Connection) -> Result<Vec<u32>, StoreError> {
    let read = |e: rusqlite::Error| migration_error("cannot read schema_migrations", &e);
    let mut stmt = conn
        .prepare("SELECT version FROM schema_migrations")
        .map_err(read)?;
    let rows = stmt
        .query_map([], |row| row.get::<_, u32>(0))
        .map_err(read)?;
    rows.collect::<Result<Vec<u32>, _>>().map_err(read)
}

fn apply_one(tx: &Connection, migration: &Migration) -> Result<(), StoreError> {
    let label = format!(
        "migration {:04}_{} failed (the database is unchanged)",
        migration.version, migration.name
    );
    let fail = |e: rusqlite::Error| migration_error(&label, &e);
    tx.execute_batch(migration.sql).map_err(fail)?;
    tx.execute(
        "INSERT INTO schema_migrations (version, name, applied_at)
         VALUES (?1, ?2, CAST(strftime('%s', 'now') AS INTEGER))",
        (migration.version, migration.name),
    )
    .map_err(fail)?;
    Ok(())
}

fn migration_error(context: &str, error: &rusqlite::Error) -> StoreError {
    if matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    ) {
        return StoreError::Busy;
    }
    StoreError::Backend(format!("{context}: {error}"))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    /// Every file in the folder is in the list, numbered as its name says, and the list
    /// is strictly increasing: a file added without a list entry would never run.
    #[test]
    fn the_folder_and_the_list_agree() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = known_versions()
            .iter()
            .map(|(version, name)| format!("{version:04}_{name}.sql"))
            .collect();
        assert_eq!(files, listed);
        let versions: Vec<u32> = known_versions().iter().map(|(v, _)| *v).collect();
        assert!(versions.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn applying_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply_sqlite(&mut conn).unwrap();
        apply_sqlite(&mut conn).unwrap();
        let count: u32 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count as usize, SQLITE.len());
    }

    #[test]
    fn a_newer_database_is_refused_with_a_clear_message() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply_sqlite(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
            [],
        )
        .unwrap();
        let error = apply_sqlite(&mut conn).unwrap_err().to_string();
        let newest = SQLITE.last().unwrap().version;
        let expected = format!(
            "database schema version 999 is newer than this gatehouse binary ({}) supports \
             ({newest}); upgrade gatehouse or restore a backup",
            env!("CARGO_PKG_VERSION")
        );
        assert!(error.contains(&expected), "{error}");
        let still: u32 = conn
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(still, 999, "a refused database is left alone");
    }

    /// An upgrade of two steps whose second fails: the first is rolled back too, so the
    /// database is byte-for-byte what the older binary left (same tables, same rows).
    #[test]
    fn a_failed_upgrade_leaves_the_old_database_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = Connection::open(&path).unwrap();
        apply_sqlite(&mut conn).unwrap();
        conn.execute("INSERT INTO meta (key, value) VALUES ('probe', 'kept')", [])
            .unwrap();
        drop(conn);
        let before = std::fs::read(&path).unwrap();

        let newest = SQLITE.last().unwrap().version;
        let upgrade: Vec<Migration> = SQLITE
            .iter()
            .map(|m| Migration {
                version: m.version,
                name: m.name,
                sql: m.sql,
            })
            .chain([
                Migration {
                    version: newest + 1,
                    name: "adds_a_table",
                    sql: "CREATE TABLE added_by_upgrade (id INTEGER PRIMARY KEY);",
                },
                Migration {
                    version: newest + 2,
                    name: "breaks",
                    sql: "ALTER TABLE no_such_table ADD COLUMN x TEXT;",
                },
            ])
            .collect();
        let mut conn = Connection::open(&path).unwrap();
        let error = apply_list(&mut conn, &upgrade).unwrap_err().to_string();
        assert!(
            error.contains(&format!(
                "migration {:04}_breaks failed (the database is unchanged)",
                newest + 2
            )),
            "{error}"
        );
        let added: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'added_by_upgrade')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!added, "the step before the failing one is rolled back");
        let version: u32 = conn
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(version, newest);
        drop(conn);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the file is unchanged"
        );
        // And the current binary still opens it.
        apply_sqlite(&mut Connection::open(&path).unwrap()).unwrap();
    }
}
