//! The email outbox in SQLite (`email_outbox`, migration 0003): storing messages before
//! they are sent, finding the due ones, and recording each attempt's outcome. Retry
//! policy (how long to wait, when to give up) is the mailer's, not this file's.

use rusqlite::Row;
use uuid::Uuid;

use super::SqliteTx;
use super::codec::{col, collect, enum_col, expect_changed, first, sql_error, uuid_col};
use super::list::{ListSpec, list};
use crate::model::{OutboxEntry, OutboxStatus, Timestamp};
use crate::store::{ListQuery, OutboxReads, OutboxWrites, Page, StoreResult};

macro_rules! outbox_columns {
    () => {
        "id, recipient, subject, body_text, body_html, status, attempts, next_attempt_at, \
         last_error, created, sent_at"
    };
}

const TABLE: &str = "email_outbox";

const LIST: ListSpec = ListSpec {
    from: "email_outbox",
    columns: outbox_columns!(),
    search: &["recipient", "subject", "status"],
    order: &[
        ("created", "created"),
        ("next_attempt_at", "next_attempt_at"),
        ("status", "status"),
        ("to", "recipient"),
    ],
    default_order: "created",
    default_descending: Some(true),
    // rowid follows insertion, so entries of the same second keep their order.
    tiebreak: "rowid",
};

fn decode(row: &Row<'_>) -> StoreResult<OutboxEntry> {
    Ok(OutboxEntry {
        id: uuid_col(row, 0, TABLE)?,
        to: col(row, 1, TABLE)?,
        subject: col(row, 2, TABLE)?,
        text: col(row, 3, TABLE)?,
        html: col(row, 4, TABLE)?,
        status: enum_col(row, 5, TABLE, OutboxStatus::parse)?,
        attempts: col(row, 6, TABLE)?,
        next_attempt_at: Timestamp(col(row, 7, TABLE)?),
        last_error: col(row, 8, TABLE)?,
        created: Timestamp(col(row, 9, TABLE)?),
        sent_at: col::<Option<i64>>(row, 10, TABLE)?.map(Timestamp),
    })
}

impl OutboxReads for SqliteTx<'_> {
    fn outbox_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(concat!(
                "SELECT ",
                outbox_columns!(),
                " FROM email_outbox WHERE status = 'pending' AND next_attempt_at <= ?1 \
                 ORDER BY next_attempt_at, created, rowid LIMIT ?2"
            ))
            .map_err(sql_error)?;
        let rows = stmt.query((now.0, limit)).map_err(sql_error)?;
        collect(rows, decode)
    }

    fn outbox_entry(&self, id: Uuid) -> StoreResult<Option<OutboxEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(concat!(
                "SELECT ",
                outbox_columns!(),
                " FROM email_outbox WHERE id = ?1"
            ))
            .map_err(sql_error)?;
        let rows = stmt.query([id.to_string()]).map_err(sql_error)?;
        first(rows, decode)
    }

    fn list_outbox(&self, query: &ListQuery) -> StoreResult<Page<OutboxEntry>> {
        list(self.conn, &LIST, query, None, decode)
    }
}

impl OutboxWrites for SqliteTx<'_> {
    fn enqueue_email(&self, entry: &OutboxEntry) -> StoreResult<()> {
        self.conn
            .prepare_cached(concat!(
                "INSERT INTO email_outbox (",
                outbox_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    entry.id.to_string(),
                    entry.to,
                    entry.subject,
                    entry.text,
                    entry.html,
                    entry.status.as_str(),
                    entry.attempts,
                    entry.next_attempt_at.0,
                    entry.last_error,
                    entry.created.0,
                    entry.sent_at.map(|at| at.0),
                ])
            })
            .map_err(sql_error)?;
        Ok(())
    }

    fn mark_email_sent(&self, id: Uuid, at: Timestamp) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE email_outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1 \
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute((id.to_string(), at.0)))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn mark_email_failed_attempt(
        &self,
        id: Uuid,
        error: &str,
        next_attempt_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        // Giving up keeps the old next_attempt_at: it then records when the last
        // scheduled try was, which is more useful than a made-up value.
        let changed = match next_attempt_at {
            Some(at) => self
                .conn
                .prepare_cached(
                    "UPDATE email_outbox SET attempts = attempts + 1, last_error = ?2, \
                     next_attempt_at = ?3 WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute((id.to_string(), error, at.0))),
            None => self
                .conn
                .prepare_cached(
                    "UPDATE email_outbox SET attempts = attempts + 1, last_error = ?2, \
                     status = 'failed' WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute((id.to_string(), error))),
        }
        .map_err(sql_error)?;
        expect_changed(changed)
    }
}
