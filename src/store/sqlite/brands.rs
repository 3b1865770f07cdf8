//! Brands in SQLite: each brand stored whole as JSON, with its lowercased domain and its
//! default flag copied out so the database enforces one brand per domain and at most one
//! default brand (a partial unique index).

use rusqlite::Row;
use uuid::Uuid;

use super::SqliteTx;
use super::codec::{collect, expect_changed, json_col, sql_error, to_json};
use crate::model::Brand;
use crate::store::{BrandReads, BrandWrites, StoreError, StoreResult};

fn decode(row: &Row<'_>) -> StoreResult<Brand> {
    json_col(row, 0, "brands")
}

fn fold(domain: &str) -> String {
    domain.to_lowercase()
}

/// The partial index reports its column, `is_default`; the API field is `default`.
fn brand_error(error: rusqlite::Error) -> StoreError {
    match sql_error(error) {
        StoreError::Conflict(field) if field == "is_default" => {
            StoreError::Conflict("default".into())
        }
        other => other,
    }
}

/// The columns in the order of the statements below (?1..?5).
fn brand_params(brand: &Brand) -> StoreResult<(String, String, String, bool, String)> {
    Ok((
        brand.id.to_string(),
        brand.domain.clone(),
        fold(&brand.domain),
        brand.default,
        to_json(brand)?,
    ))
}

impl BrandReads for SqliteTx<'_> {
    fn all_brands(&self) -> StoreResult<Vec<Brand>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT brand_json FROM brands ORDER BY domain_key")
            .map_err(sql_error)?;
        let rows = stmt.query([]).map_err(sql_error)?;
        collect(rows, decode)
    }
}

impl BrandWrites for SqliteTx<'_> {
    fn insert_brand(&self, brand: &Brand) -> StoreResult<()> {
        let params = brand_params(brand)?;
        self.conn
            .prepare_cached(
                "INSERT INTO brands (id, domain, domain_key, is_default, brand_json)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| stmt.execute(params))
            .map_err(brand_error)?;
        Ok(())
    }

    fn update_brand(&self, brand: &Brand) -> StoreResult<()> {
        let params = brand_params(brand)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE brands SET domain = ?2, domain_key = ?3, is_default = ?4,
                    brand_json = ?5
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params))
            .map_err(brand_error)?;
        expect_changed(changed)
    }

    fn delete_brand(&self, id: Uuid) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached("DELETE FROM brands WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([id.to_string()]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }
}
