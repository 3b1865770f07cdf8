//! Property mappings in SQLite: each stored whole as JSON, with the name and the
//! managed key copied out to stay unique.

use rusqlite::Row;
use uuid::Uuid;

use super::SqliteTx;
use super::codec::{collect, expect_changed, json_col, sql_error, to_json};
use crate::model::PropertyMapping;
use crate::store::{PropertyMappingReads, PropertyMappingWrites, StoreResult};

fn decode(row: &Row<'_>) -> StoreResult<PropertyMapping> {
    json_col(row, 0, "property_mappings")
}

fn mapping_params(
    mapping: &PropertyMapping,
) -> StoreResult<(String, String, Option<String>, String)> {
    Ok((
        mapping.id.to_string(),
        mapping.name.clone(),
        mapping.managed.clone(),
        to_json(mapping)?,
    ))
}

impl PropertyMappingReads for SqliteTx<'_> {
    fn all_property_mappings(&self) -> StoreResult<Vec<PropertyMapping>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT mapping_json FROM property_mappings ORDER BY name")
            .map_err(sql_error)?;
        let rows = stmt.query([]).map_err(sql_error)?;
        collect(rows, decode)
    }
}

impl PropertyMappingWrites for SqliteTx<'_> {
    fn insert_property_mapping(&self, mapping: &PropertyMapping) -> StoreResult<()> {
        let params = mapping_params(mapping)?;
        self.conn
            .prepare_cached(
                "INSERT INTO property_mappings (id, name, managed, mapping_json)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut stmt| stmt.execute(params))
            .map_err(sql_error)?;
        Ok(())
    }

    fn update_property_mapping(&self, mapping: &PropertyMapping) -> StoreResult<()> {
        let params = mapping_params(mapping)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE property_mappings SET name = ?2, managed = ?3, mapping_json = ?4
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn delete_property_mapping(&self, id: Uuid) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached("DELETE FROM property_mappings WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([id.to_string()]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }
}
