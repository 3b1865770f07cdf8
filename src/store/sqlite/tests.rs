//! SQLite-only behaviour the shared contract cannot express: refusing a newer schema,
//! reporting corrupt rows, snapshot reads beside a concurrent writer, and two stores
//! (a server and a CLI command) sharing one file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rusqlite::Connection;

use super::SqliteStore;
use crate::model::{NewUser, Timestamp, Username};
use crate::store::{StoreError, StoreExt, migrations};

fn new_user(name: &str) -> NewUser {
    NewUser::internal(Username::parse(name).unwrap(), Timestamp(1))
}

#[test]
fn a_database_from_a_newer_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let newest = migrations::known_versions().last().unwrap().0;
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, 'future', 0)",
        [newest + 1],
    )
    .unwrap();
    drop(conn);
    let Err(StoreError::Backend(message)) = SqliteStore::open(&path) else {
        panic!("a newer schema must be refused");
    };
    assert_eq!(
        message,
        format!(
            "database schema version {} is newer than this gatehouse binary ({}) supports \
             ({newest}); upgrade gatehouse or restore a backup",
            newest + 1,
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn a_corrupt_row_is_an_error_not_a_panic() {
    let store = SqliteStore::open_in_memory().unwrap();
    let user = store.write(|tx| tx.insert_user(&new_user("zoe"))).unwrap();
    {
        let conn = super::pool::lock(&store.writer);
        conn.execute("UPDATE users SET user_type = 'wizard'", [])
            .unwrap();
    }
    let result = store.read(|tx| tx.user_by_id(user.id));
    let Err(StoreError::Backend(message)) = result else {
        panic!("expected a backend error, got {result:?}");
    };
    assert!(message.starts_with("corrupt row in users"), "{message}");
}

#[test]
fn a_read_scope_keeps_its_snapshot_while_a_write_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("gatehouse.db")).unwrap();
    store
        .write(|tx| tx.insert_user(&new_user("first")))
        .unwrap();
    let (before, after) = store
        .read(|tx| {
            let before = tx.count_users()?;
            std::thread::scope(|scope| {
                scope
                    .spawn(|| store.write(|w| w.insert_user(&new_user("second"))))
                    .join()
                    .unwrap()
            })?;
            Ok((before, tx.count_users()?))
        })
        .unwrap();
    assert_eq!((before, after), (1, 1));
    assert_eq!(store.read(|tx| tx.count_users()).unwrap(), 2);
}

#[test]
fn two_stores_on_one_file_both_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    let server = SqliteStore::open(&path).unwrap();
    let cli = SqliteStore::open(&path).unwrap();
    std::thread::scope(|scope| {
        for (store, prefix) in [(&server, "server"), (&cli, "cli")] {
            scope.spawn(move || {
                for i in 0..25 {
                    let name = format!("{prefix}-{i}");
                    store.write(|tx| tx.insert_user(&new_user(&name))).unwrap();
                }
            });
        }
    });
    assert_eq!(server.read(|tx| tx.count_users()).unwrap(), 50);
    assert_eq!(cli.read(|tx| tx.count_users()).unwrap(), 50);
}
