//! OAuth refresh tokens in SQLite: one row per token, keyed by its SHA-256; the grant
//! column ties a family together so one statement revokes it.

use rusqlite::Row;
use rusqlite::types::Value;

use super::SqliteTx;
use super::codec::{col, collect, first, sql_error, sql_error_ref, to_json, uuid_col};
use super::list::{Filter, ListSpec, list_where};
use crate::model::{ProviderId, RefreshToken, Timestamp, UserId};
use crate::store::{
    ListQuery, OAuthTokenReads, OAuthTokenWrites, Page, RefreshTokenFilter, StoreError, StoreResult,
};

const TABLE: &str = "oauth_refresh_tokens";
const COLUMNS: &str = "token_hash, grant_id, provider_id, user_id, scopes, auth_time, expires, \
                       created, used, revoked";

/// The list joins the owner and the provider for search, so its columns are qualified.
const LIST: ListSpec = ListSpec {
    from: "oauth_refresh_tokens t JOIN users u ON u.id = t.user_id \
           LEFT JOIN providers p ON p.id = t.provider_id",
    columns: "t.token_hash, t.grant_id, t.provider_id, t.user_id, t.scopes, t.auth_time, \
              t.expires, t.created, t.used, t.revoked",
    search: &["u.username_key", "p.name"],
    order: &[
        ("created", "t.created"),
        ("expires", "t.expires"),
        ("provider", "t.provider_id"),
    ],
    default_order: "t.created",
    default_descending: Some(true),
    tiebreak: "t.token_hash",
};

fn decode(row: &Row<'_>) -> StoreResult<RefreshToken> {
    let scopes: String = col(row, 4, TABLE)?;
    Ok(RefreshToken {
        token_hash: col(row, 0, TABLE)?,
        grant: uuid_col(row, 1, TABLE)?,
        provider: ProviderId(col(row, 2, TABLE)?),
        user: UserId(col(row, 3, TABLE)?),
        scopes: serde_json::from_str(&scopes)
            .map_err(|e| StoreError::Backend(format!("corrupt row in {TABLE}: {e}")))?,
        auth_time: Timestamp(col(row, 5, TABLE)?),
        expires: Timestamp(col(row, 6, TABLE)?),
        created: Timestamp(col(row, 7, TABLE)?),
        used: col(row, 8, TABLE)?,
        revoked: col(row, 9, TABLE)?,
    })
}

impl OAuthTokenReads for SqliteTx<'_> {
    fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {TABLE} WHERE token_hash = ?1"
            ))
            .map_err(sql_error)?;
        let rows = stmt.query([token_hash]).map_err(sql_error)?;
        first(rows, decode)
    }

    fn refresh_tokens_of_user(&self, user: UserId) -> StoreResult<Vec<RefreshToken>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {TABLE} WHERE user_id = ?1 ORDER BY created DESC, token_hash"
            ))
            .map_err(sql_error)?;
        let rows = stmt.query([user.0]).map_err(sql_error)?;
        collect(rows, decode)
    }

    fn list_refresh_tokens(
        &self,
        query: &ListQuery,
        filter: RefreshTokenFilter,
    ) -> StoreResult<Page<RefreshToken>> {
        let user = filter.user.map(|user| Filter {
            condition: "t.user_id = ?",
            value: Value::Integer(user.0),
        });
        let provider = filter.provider.map(|provider| Filter {
            condition: "t.provider_id = ?",
            value: Value::Integer(provider.0),
        });
        let filters = user.into_iter().chain(provider).collect();
        list_where(self.conn, &LIST, query, filters, decode)
    }

    fn refresh_tokens_by_hash_prefix(&self, prefix: &str) -> StoreResult<Vec<RefreshToken>> {
        // A range on the primary key: every text starting with `prefix` sorts from it up
        // to (not including) it followed by the highest character.
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {TABLE} WHERE token_hash >= ?1 AND token_hash < ?2 \
                 ORDER BY token_hash"
            ))
            .map_err(sql_error)?;
        let upper = format!("{prefix}{}", char::MAX);
        let rows = stmt.query([prefix, &upper]).map_err(sql_error)?;
        collect(rows, decode)
    }
}

impl OAuthTokenWrites for SqliteTx<'_> {
    fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        let scopes = to_json(&token.scopes)?;
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO {TABLE} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    token.token_hash,
                    token.grant.to_string(),
                    token.provider.0,
                    token.user.0,
                    scopes,
                    token.auth_time.0,
                    token.expires.0,
                    token.created.0,
                    token.used,
                    token.revoked,
                ])
            })
            .map_err(sql_error_ref("user"))?;
        Ok(())
    }

    fn use_refresh_token(&self, token_hash: &str) -> StoreResult<bool> {
        let changed = self
            .conn
            .prepare_cached(&format!(
                "UPDATE {TABLE} SET used = 1 WHERE token_hash = ?1 AND used = 0"
            ))
            .and_then(|mut stmt| stmt.execute([token_hash]))
            .map_err(sql_error)?;
        Ok(changed == 1)
    }

    fn revoke_grant(&self, grant: uuid::Uuid) -> StoreResult<u64> {
        let changed = self
            .conn
            .prepare_cached(&format!(
                "UPDATE {TABLE} SET revoked = 1 WHERE grant_id = ?1 AND revoked = 0"
            ))
            .and_then(|mut stmt| stmt.execute([grant.to_string()]))
            .map_err(sql_error)?;
        Ok(changed as u64)
    }

    fn delete_expired_refresh_tokens(&self, now: Timestamp) -> StoreResult<u64> {
        let changed = self
            .conn
            .prepare_cached(&format!("DELETE FROM {TABLE} WHERE expires <= ?1"))
            .and_then(|mut stmt| stmt.execute([now.0]))
            .map_err(sql_error)?;
        Ok(changed as u64)
    }
}
