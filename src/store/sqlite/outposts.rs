//! Outposts in SQLite: stored whole as JSON, with the name and the `managed` marker
//! copied out so the database keeps them unique.

use rusqlite::Row;
use uuid::Uuid;

use super::SqliteTx;
use super::codec::{collect, expect_changed, json_col, sql_error, to_json};
use crate::model::Outpost;
use crate::store::{OutpostReads, OutpostWrites, StoreResult};

fn decode(row: &Row<'_>) -> StoreResult<Outpost> {
    json_col(row, 0, "outposts")
}

impl OutpostReads for SqliteTx<'_> {
    fn all_outposts(&self) -> StoreResult<Vec<Outpost>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT outpost_json FROM outposts ORDER BY name, id")
            .map_err(sql_error)?;
        let rows = stmt.query([]).map_err(sql_error)?;
        collect(rows, decode)
    }
}

impl OutpostWrites for SqliteTx<'_> {
    fn insert_outpost(&self, outpost: &Outpost) -> StoreResult<()> {
        let json = to_json(outpost)?;
        self.conn
            .prepare_cached(
                "INSERT INTO outposts (id, name, managed, outpost_json) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut stmt| {
                stmt.execute((
                    outpost.id.to_string(),
                    &outpost.name,
                    &outpost.managed,
                    json,
                ))
            })
            .map_err(sql_error)?;
        Ok(())
    }

    fn update_outpost(&self, outpost: &Outpost) -> StoreResult<()> {
        let json = to_json(outpost)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE outposts SET name = ?2, managed = ?3, outpost_json = ?4 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute((
                    outpost.id.to_string(),
                    &outpost.name,
                    &outpost.managed,
                    json,
                ))
            })
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn delete_outpost(&self, id: Uuid) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached("DELETE FROM outposts WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([id.to_string()]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }
}
