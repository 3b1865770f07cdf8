//! Providers in SQLite: each stored whole as JSON, with the name and the OAuth client id
//! copied out so the database keeps them unique.

use rusqlite::Row;
use uuid::Uuid;

use super::SqliteTx;
use super::codec::{collect, expect_changed, json_col, sql_error, to_json};
use crate::model::{Provider, ProviderKind};
use crate::store::{ProviderReads, ProviderWrites, StoreResult};

fn decode(row: &Row<'_>) -> StoreResult<Provider> {
    json_col(row, 0, "providers")
}

fn kind_name(provider: &Provider) -> &'static str {
    match provider.kind {
        ProviderKind::OAuth2(_) => "oauth2",
    }
}

/// The columns in the order of the statements below (?1..?5).
fn provider_params(
    provider: &Provider,
) -> StoreResult<(String, String, &'static str, Option<String>, String)> {
    Ok((
        provider.id.to_string(),
        provider.name.clone(),
        kind_name(provider),
        provider.client_id().map(str::to_owned),
        to_json(provider)?,
    ))
}

impl ProviderReads for SqliteTx<'_> {
    fn all_providers(&self) -> StoreResult<Vec<Provider>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT provider_json FROM providers ORDER BY name")
            .map_err(sql_error)?;
        let rows = stmt.query([]).map_err(sql_error)?;
        collect(rows, decode)
    }
}

impl ProviderWrites for SqliteTx<'_> {
    fn insert_provider(&self, provider: &Provider) -> StoreResult<()> {
        let params = provider_params(provider)?;
        self.conn
            .prepare_cached(
                "INSERT INTO providers (id, name, kind, client_id, provider_json)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| stmt.execute(params))
            .map_err(sql_error)?;
        Ok(())
    }

    fn update_provider(&self, provider: &Provider) -> StoreResult<()> {
        let params = provider_params(provider)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE providers SET name = ?2, kind = ?3, client_id = ?4, provider_json = ?5
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn delete_provider(&self, id: Uuid) -> StoreResult<()> {
        let id = id.to_string();
        // Applications keep existing without their provider, as in authentik.
        self.conn
            .prepare_cached(
                "UPDATE applications SET app_json = json_set(app_json, '$.provider', json('null'))
                 WHERE json_extract(app_json, '$.provider') = ?1",
            )
            .and_then(|mut stmt| stmt.execute([&id]))
            .map_err(sql_error)?;
        self.conn
            .prepare_cached("DELETE FROM oauth_refresh_tokens WHERE provider_id = ?1")
            .and_then(|mut stmt| stmt.execute([&id]))
            .map_err(sql_error)?;
        let changed = self
            .conn
            .prepare_cached("DELETE FROM providers WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([&id]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }
}
