//! Providers in SQLite: each stored whole as JSON, with the name and the OAuth client id
//! copied out so the database keeps them unique. The integer id is the row's own
//! (authentik's providers have integer keys); the JSON copy of it is not trusted.

use rusqlite::Row;

use super::SqliteTx;
use super::codec::{col, collect, expect_changed, json_col, sql_error, to_json};
use crate::model::{Provider, ProviderId, ProviderKind};
use crate::store::{ProviderReads, ProviderWrites, StoreResult};

fn decode(row: &Row<'_>) -> StoreResult<Provider> {
    let mut provider: Provider = json_col(row, 1, "providers")?;
    provider.id = ProviderId(col(row, 0, "providers")?);
    Ok(provider)
}

fn kind_name(provider: &Provider) -> &'static str {
    match provider.kind {
        ProviderKind::OAuth2(_) => "oauth2",
        ProviderKind::Proxy(_) => "proxy",
        ProviderKind::Ldap(_) => "ldap",
        ProviderKind::Saml(_) => "saml",
    }
}

impl ProviderReads for SqliteTx<'_> {
    fn all_providers(&self) -> StoreResult<Vec<Provider>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, provider_json FROM providers ORDER BY name, id")
            .map_err(sql_error)?;
        let rows = stmt.query([]).map_err(sql_error)?;
        collect(rows, decode)
    }
}

impl ProviderWrites for SqliteTx<'_> {
    fn insert_provider(&self, provider: &Provider) -> StoreResult<ProviderId> {
        let json = to_json(provider)?;
        self.conn
            .prepare_cached(
                "INSERT INTO providers (name, kind, client_id, provider_json)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut stmt| {
                stmt.execute((
                    &provider.name,
                    kind_name(provider),
                    provider.client_id(),
                    json,
                ))
            })
            .map_err(sql_error)?;
        Ok(ProviderId(self.conn.last_insert_rowid()))
    }

    fn update_provider(&self, provider: &Provider) -> StoreResult<()> {
        let json = to_json(provider)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE providers SET name = ?2, kind = ?3, client_id = ?4, provider_json = ?5
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute((
                    provider.id.0,
                    &provider.name,
                    kind_name(provider),
                    provider.client_id(),
                    json,
                ))
            })
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn delete_provider(&self, id: ProviderId) -> StoreResult<()> {
        // Applications keep existing without their provider, as in authentik.
        self.conn
            .prepare_cached(
                "UPDATE applications SET app_json = json_set(app_json, '$.provider', json('null'))
                 WHERE json_extract(app_json, '$.provider') = ?1",
            )
            .and_then(|mut stmt| stmt.execute([id.0]))
            .map_err(sql_error)?;
        // Outposts stop serving it (the list is a JSON array of ids).
        self.conn
            .prepare_cached(
                "UPDATE outposts SET outpost_json = json_set(outpost_json, '$.providers',
                     json((SELECT json_group_array(value)
                           FROM json_each(outpost_json, '$.providers') WHERE value != ?1)))
                 WHERE EXISTS (SELECT 1 FROM json_each(outpost_json, '$.providers')
                               WHERE value = ?1)",
            )
            .and_then(|mut stmt| stmt.execute([id.0]))
            .map_err(sql_error)?;
        self.conn
            .prepare_cached("DELETE FROM oauth_refresh_tokens WHERE provider_id = ?1")
            .and_then(|mut stmt| stmt.execute([id.0]))
            .map_err(sql_error)?;
        let changed = self
            .conn
            .prepare_cached("DELETE FROM providers WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([id.0]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }
}
