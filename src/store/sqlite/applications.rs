//! Applications in SQLite: each application stored whole as JSON, with its slug copied
//! out so the database keeps slugs unique, and its lowercased name for the list order.

use rusqlite::Row;
use uuid::Uuid;

use super::SqliteTx;
use super::codec::{collect, expect_changed, json_col, sql_error, to_json};
use crate::model::Application;
use crate::store::{ApplicationReads, ApplicationWrites, StoreResult};

fn decode(row: &Row<'_>) -> StoreResult<Application> {
    json_col(row, 0, "applications")
}

/// The columns in the order of the statements below (?1..?4).
fn application_params(application: &Application) -> StoreResult<(String, String, String, String)> {
    Ok((
        application.id.to_string(),
        application.slug.clone(),
        application.name.to_lowercase(),
        to_json(application)?,
    ))
}

impl ApplicationReads for SqliteTx<'_> {
    fn all_applications(&self) -> StoreResult<Vec<Application>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT app_json FROM applications ORDER BY name_key, slug")
            .map_err(sql_error)?;
        let rows = stmt.query([]).map_err(sql_error)?;
        collect(rows, decode)
    }
}

impl ApplicationWrites for SqliteTx<'_> {
    fn insert_application(&self, application: &Application) -> StoreResult<()> {
        let params = application_params(application)?;
        self.conn
            .prepare_cached(
                "INSERT INTO applications (id, slug, name_key, app_json)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut stmt| stmt.execute(params))
            .map_err(sql_error)?;
        Ok(())
    }

    fn update_application(&self, application: &Application) -> StoreResult<()> {
        let params = application_params(application)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE applications SET slug = ?2, name_key = ?3, app_json = ?4
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn delete_application(&self, id: Uuid) -> StoreResult<()> {
        let id = id.to_string();
        // Bindings first, in the same transaction: a binding left behind would guard an
        // application that no longer exists (and reappear if the id were ever reused).
        self.conn
            .prepare_cached(
                "DELETE FROM policy_bindings WHERE target_kind = 'application' AND target_id = ?1",
            )
            .and_then(|mut stmt| stmt.execute([&id]))
            .map_err(sql_error)?;
        // Consents given to it go too: they name an application that no longer exists.
        self.conn
            .prepare_cached("DELETE FROM consents WHERE application = ?1")
            .and_then(|mut stmt| stmt.execute([&id]))
            .map_err(sql_error)?;
        let changed = self
            .conn
            .prepare_cached("DELETE FROM applications WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([&id]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }
}
