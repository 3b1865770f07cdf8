//! Invitations in SQLite. The fixed data is a JSON column; the creator is a reference
//! that the database clears when the creating user is deleted.

use rusqlite::Row;
use uuid::Uuid;

use super::SqliteTx;
use super::codec::{
    col, expect_changed, first, json_col, sql_error, sql_error_ref, to_json, uuid_col,
};
use super::list::{ListSpec, list};
use crate::model::{Invitation, Timestamp, UserId};
use crate::store::{InvitationReads, InvitationWrites, ListQuery, Page, StoreResult};

macro_rules! invitation_columns {
    () => {
        "id, name, expires, single_use, fixed_data, flow, created_by, created"
    };
}

const TABLE: &str = "invitations";

const LIST: ListSpec = ListSpec {
    from: "invitations",
    columns: invitation_columns!(),
    search: &["name"],
    // Names are unique as written, but sorted ignoring (ASCII) case like the other lists;
    // an invitation name is a slug, so ASCII is all it holds in practice.
    order: &[
        ("name", "name COLLATE NOCASE"),
        ("expires", "expires"),
        ("created", "created"),
    ],
    default_order: "name COLLATE NOCASE",
    default_descending: None,
    tiebreak: "id",
};

fn decode(row: &Row<'_>) -> StoreResult<Invitation> {
    Ok(Invitation {
        id: uuid_col(row, 0, TABLE)?,
        name: col(row, 1, TABLE)?,
        expires: col::<Option<i64>>(row, 2, TABLE)?.map(Timestamp),
        single_use: col(row, 3, TABLE)?,
        fixed_data: json_col(row, 4, TABLE)?,
        flow: col(row, 5, TABLE)?,
        created_by: col::<Option<i64>>(row, 6, TABLE)?.map(UserId),
        created: Timestamp(col(row, 7, TABLE)?),
    })
}

impl InvitationReads for SqliteTx<'_> {
    fn invitation_by_id(&self, id: Uuid) -> StoreResult<Option<Invitation>> {
        let sql = concat!(
            "SELECT ",
            invitation_columns!(),
            " FROM invitations WHERE id = ?1"
        );
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let rows = stmt.query([id.to_string()]).map_err(sql_error)?;
        first(rows, decode)
    }

    fn list_invitations(&self, query: &ListQuery) -> StoreResult<Page<Invitation>> {
        list(self.conn, &LIST, query, None, decode)
    }
}

impl InvitationWrites for SqliteTx<'_> {
    fn insert_invitation(&self, invitation: &Invitation) -> StoreResult<()> {
        let fixed_data = to_json(&invitation.fixed_data)?;
        self.conn
            .prepare_cached(concat!(
                "INSERT INTO invitations (",
                invitation_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    invitation.id.to_string(),
                    invitation.name,
                    invitation.expires.map(|at| at.0),
                    invitation.single_use,
                    fixed_data,
                    invitation.flow,
                    invitation.created_by.map(|user| user.0),
                    invitation.created.0,
                ])
            })
            .map_err(sql_error_ref("created_by"))?;
        Ok(())
    }

    fn delete_invitation(&self, id: Uuid) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached("DELETE FROM invitations WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([id.to_string()]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    /// The same rule as `Invitation::is_expired`: a set expiry at or before `now`.
    fn delete_expired_invitations(&self, now: Timestamp) -> StoreResult<u64> {
        let removed = self
            .conn
            .prepare_cached("DELETE FROM invitations WHERE expires IS NOT NULL AND expires <= ?1")
            .and_then(|mut stmt| stmt.execute([now.0]))
            .map_err(sql_error)?;
        Ok(u64::try_from(removed).unwrap_or(u64::MAX))
    }
}
