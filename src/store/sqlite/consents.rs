//! Remembered consents in SQLite: one row per user and application (a unique rule), the
//! agreed permissions as a JSON list. They go with their user (ON DELETE CASCADE).

use rusqlite::Row;
use rusqlite::types::Value;
use uuid::Uuid;

use super::SqliteTx;
use super::codec::{
    col, collect, expect_changed, first, json_col, sql_error, sql_error_ref, to_json, uuid_col,
};
use super::list::{Filter, ListSpec, list_where};
use crate::model::{Consent, Timestamp, UserId};
use crate::store::{ConsentFilter, ConsentReads, ConsentWrites, ListQuery, Page, StoreResult};

macro_rules! consent_columns {
    () => {
        "id, user_id, application, permissions, expires"
    };
}

const TABLE: &str = "consents";

/// The list joins the user for search, so its columns are qualified.
const LIST: ListSpec = ListSpec {
    from: "consents c JOIN users u ON u.id = c.user_id",
    columns: "c.id, c.user_id, c.application, c.permissions, c.expires",
    search: &["u.username_key"],
    order: &[("application", "c.application"), ("expires", "c.expires")],
    default_order: "c.application",
    default_descending: None,
    tiebreak: "c.id",
};

fn decode(row: &Row<'_>) -> StoreResult<Consent> {
    Ok(Consent {
        id: uuid_col(row, 0, TABLE)?,
        user: UserId(col(row, 1, TABLE)?),
        application: uuid_col(row, 2, TABLE)?,
        permissions: json_col(row, 3, TABLE)?,
        expires: col::<Option<i64>>(row, 4, TABLE)?.map(Timestamp),
    })
}

impl ConsentReads for SqliteTx<'_> {
    fn consent(&self, user: UserId, application: Uuid) -> StoreResult<Option<Consent>> {
        let sql = concat!(
            "SELECT ",
            consent_columns!(),
            " FROM consents WHERE user_id = ?1 AND application = ?2"
        );
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let rows = stmt
            .query(rusqlite::params![user.0, application.to_string()])
            .map_err(sql_error)?;
        first(rows, decode)
    }

    fn consents_of_user(&self, user: UserId) -> StoreResult<Vec<Consent>> {
        let sql = concat!(
            "SELECT ",
            consent_columns!(),
            " FROM consents WHERE user_id = ?1 ORDER BY application"
        );
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let rows = stmt.query([user.0]).map_err(sql_error)?;
        collect(rows, decode)
    }

    fn list_consents(
        &self,
        query: &ListQuery,
        filter: ConsentFilter,
    ) -> StoreResult<Page<Consent>> {
        let user = filter.user.map(|user| Filter {
            condition: "c.user_id = ?",
            value: Value::Integer(user.0),
        });
        let application = filter.application.map(|application| Filter {
            condition: "c.application = ?",
            value: Value::Text(application.to_string()),
        });
        let filters = user.into_iter().chain(application).collect();
        list_where(self.conn, &LIST, query, filters, decode)
    }

    fn consents_by_id_prefix(&self, prefix: &str) -> StoreResult<Vec<Consent>> {
        // A range on the primary key: every text starting with `prefix` sorts from it up
        // to (not including) it followed by the highest character.
        let sql = concat!(
            "SELECT ",
            consent_columns!(),
            " FROM consents WHERE id >= ?1 AND id < ?2 ORDER BY id"
        );
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let upper = format!("{prefix}{}", char::MAX);
        let rows = stmt.query([prefix, &upper]).map_err(sql_error)?;
        collect(rows, decode)
    }
}

impl ConsentWrites for SqliteTx<'_> {
    fn upsert_consent(&self, consent: &Consent) -> StoreResult<()> {
        let permissions = to_json(&consent.permissions)?;
        // The id is replaced too, so what was written is exactly what reads return.
        self.conn
            .prepare_cached(concat!(
                "INSERT INTO consents (",
                consent_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (user_id, application) DO UPDATE SET
                    id = excluded.id, permissions = excluded.permissions,
                    expires = excluded.expires"
            ))
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    consent.id.to_string(),
                    consent.user.0,
                    consent.application.to_string(),
                    permissions,
                    consent.expires.map(|at| at.0),
                ])
            })
            .map_err(sql_error_ref("user"))?;
        Ok(())
    }

    fn delete_consent(&self, id: Uuid) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached("DELETE FROM consents WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([id.to_string()]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn delete_expired_consents(&self, now: Timestamp) -> StoreResult<u64> {
        let removed = self
            .conn
            .prepare_cached("DELETE FROM consents WHERE expires IS NOT NULL AND expires <= ?1")
            .and_then(|mut stmt| stmt.execute([now.0]))
            .map_err(sql_error)?;
        Ok(u64::try_from(removed).unwrap_or(u64::MAX))
    }
}
