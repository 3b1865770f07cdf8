//! API tokens, app passwords and recovery tokens in SQLite. Only the key's digest and
//! its sealed form are stored (see `model::token`).

use rusqlite::Row;
use rusqlite::types::Value;

use super::SqliteTx;
use super::codec::{col, enum_col, expect_changed, first, sql_error, sql_error_ref, uuid_col};
use super::list::{Filter, ListSpec, list};
use crate::model::{Timestamp, Token, TokenIntent, UserId};
use crate::store::{ListQuery, Page, StoreResult, TokenReads, TokenWrites};

macro_rules! token_columns {
    () => {
        "identifier, uuid, user_id, intent, description, expires, expiring, managed, \
         key_digest, key_sealed, created"
    };
}

const TABLE: &str = "tokens";

const LIST: ListSpec = ListSpec {
    from: "tokens",
    columns: token_columns!(),
    search: &["identifier", "description"],
    order: &[
        ("identifier", "identifier"),
        ("expires", "expires"),
        ("created", "created"),
    ],
    default_order: "identifier",
    default_descending: None,
    tiebreak: "identifier",
};

fn decode(row: &Row<'_>) -> StoreResult<Token> {
    Ok(Token {
        identifier: col(row, 0, TABLE)?,
        uuid: uuid_col(row, 1, TABLE)?,
        user: UserId(col(row, 2, TABLE)?),
        intent: enum_col(row, 3, TABLE, TokenIntent::parse)?,
        description: col(row, 4, TABLE)?,
        expires: col::<Option<i64>>(row, 5, TABLE)?.map(Timestamp),
        expiring: col(row, 6, TABLE)?,
        managed: col(row, 7, TABLE)?,
        key_digest: col(row, 8, TABLE)?,
        key_sealed: col(row, 9, TABLE)?,
        created: Timestamp(col(row, 10, TABLE)?),
    })
}

impl SqliteTx<'_> {
    fn one_token(&self, sql: &str, param: &str) -> StoreResult<Option<Token>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let rows = stmt.query([param]).map_err(sql_error)?;
        first(rows, decode)
    }
}

impl TokenReads for SqliteTx<'_> {
    fn token_by_identifier(&self, identifier: &str) -> StoreResult<Option<Token>> {
        self.one_token(
            concat!(
                "SELECT ",
                token_columns!(),
                " FROM tokens WHERE identifier = ?1"
            ),
            identifier,
        )
    }

    fn token_by_key_digest(&self, digest: &str) -> StoreResult<Option<Token>> {
        self.one_token(
            concat!(
                "SELECT ",
                token_columns!(),
                " FROM tokens WHERE key_digest = ?1"
            ),
            digest,
        )
    }

    fn list_tokens(&self, query: &ListQuery, owner: Option<UserId>) -> StoreResult<Page<Token>> {
        let filter = owner.map(|owner| Filter {
            condition: "user_id = ?",
            value: Value::Integer(owner.0),
        });
        list(self.conn, &LIST, query, filter, decode)
    }
}

impl TokenWrites for SqliteTx<'_> {
    /// An unknown owner is `Conflict("user")`.
    fn insert_token(&self, token: &Token) -> StoreResult<()> {
        self.conn
            .prepare_cached(concat!(
                "INSERT INTO tokens (",
                token_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    token.identifier,
                    token.uuid.to_string(),
                    token.user.0,
                    token.intent.as_str(),
                    token.description,
                    token.expires.map(|at| at.0),
                    token.expiring,
                    token.managed,
                    token.key_digest,
                    token.key_sealed,
                    token.created.0,
                ])
            })
            .map_err(sql_error_ref("user"))?;
        Ok(())
    }

    fn delete_token(&self, identifier: &str) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached("DELETE FROM tokens WHERE identifier = ?1")
            .and_then(|mut stmt| stmt.execute([identifier]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    /// The same rule as `Token::is_expired`: only expiring tokens with a past expiry.
    fn delete_expired_tokens(&self, now: Timestamp) -> StoreResult<u64> {
        let removed = self
            .conn
            .prepare_cached(
                "DELETE FROM tokens WHERE expiring = 1 AND expires IS NOT NULL AND expires <= ?1",
            )
            .and_then(|mut stmt| stmt.execute([now.0]))
            .map_err(sql_error)?;
        Ok(u64::try_from(removed).unwrap_or(u64::MAX))
    }
}
