//! Small named installation values (installation id, setup-link digest) in SQLite.

use super::SqliteTx;
use super::codec::{col, first, sql_error};
use crate::store::{MetaReads, MetaWrites, StoreResult};

impl MetaReads for SqliteTx<'_> {
    fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .map_err(sql_error)?;
        let rows = stmt.query([key]).map_err(sql_error)?;
        first(rows, |row| col(row, 0, "meta"))
    }
}

impl MetaWrites for SqliteTx<'_> {
    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut stmt| stmt.execute([key, value]))
            .map_err(sql_error)?;
        Ok(())
    }

    /// Idempotent: deleting an absent key is not an error.
    fn delete_meta(&self, key: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached("DELETE FROM meta WHERE key = ?1")
            .and_then(|mut stmt| stmt.execute([key]))
            .map_err(sql_error)?;
        Ok(())
    }
}
