//! Groups and memberships in SQLite. Queries alias the table as `g` so the same column
//! list serves the plain reads and the membership join in `users.rs`.

use rusqlite::Row;

use super::SqliteTx;
use super::codec::{
    col, collect, expect_changed, first, id_col, is_foreign_key, json_col, opt_id_col, sql_error,
    sql_error_ref, to_json,
};
use super::list::{ListSpec, list};
use crate::model::{Group, GroupId, NewGroup, UserId};
use crate::store::{GroupReads, GroupWrites, ListQuery, Page, StoreError, StoreResult};

macro_rules! group_columns {
    () => {
        "g.id, g.num_pk, g.name, g.parent, g.is_superuser, g.attributes"
    };
}

pub(super) const GROUP_COLUMNS_G: &str = group_columns!();

const TABLE: &str = "groups";

const LIST: ListSpec = ListSpec {
    from: "groups g",
    columns: group_columns!(),
    search: &["g.name_key"],
    order: &[
        ("name", "g.name_key"),
        ("num_pk", "g.num_pk"),
        ("is_superuser", "g.is_superuser"),
    ],
    default_order: "g.name_key",
    default_descending: None,
    tiebreak: "g.num_pk",
};

pub(super) fn decode(row: &Row<'_>) -> StoreResult<Group> {
    Ok(Group {
        id: id_col(row, 0, TABLE)?,
        num_pk: col(row, 1, TABLE)?,
        name: col(row, 2, TABLE)?,
        parent: opt_id_col(row, 3, TABLE)?,
        is_superuser: col(row, 4, TABLE)?,
        attributes: json_col(row, 5, TABLE)?,
    })
}

fn fold(name: &str) -> String {
    name.to_lowercase()
}

impl GroupReads for SqliteTx<'_> {
    fn group_by_id(&self, id: GroupId) -> StoreResult<Option<Group>> {
        let sql = concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups g WHERE g.id = ?1"
        );
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let rows = stmt.query([id.to_string()]).map_err(sql_error)?;
        first(rows, decode)
    }

    /// Case-insensitive, as the unique rule on names is.
    fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>> {
        let sql = concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups g WHERE g.name_key = ?1"
        );
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let rows = stmt.query([fold(name)]).map_err(sql_error)?;
        first(rows, decode)
    }

    fn list_groups(&self, query: &ListQuery) -> StoreResult<Page<Group>> {
        list(self.conn, &LIST, query, None, decode)
    }

    fn all_groups(&self) -> StoreResult<Vec<Group>> {
        let sql = concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups g ORDER BY g.name_key"
        );
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let rows = stmt.query([]).map_err(sql_error)?;
        collect(rows, decode)
    }

    fn members_of_group(&self, id: GroupId) -> StoreResult<Vec<UserId>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT user_id FROM group_members WHERE group_id = ?1 ORDER BY user_id",
            )
            .map_err(sql_error)?;
        let rows = stmt.query([id.to_string()]).map_err(sql_error)?;
        collect(rows, |row| Ok(UserId(col(row, 0, "group_members")?)))
    }
}

impl GroupWrites for SqliteTx<'_> {
    fn insert_group(&self, new: &NewGroup) -> StoreResult<Group> {
        let attributes = to_json(&new.attributes)?;
        let num_pk: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO groups (id, name, name_key, parent, is_superuser, attributes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING num_pk",
            )
            .and_then(|mut stmt| {
                stmt.query_row(
                    rusqlite::params![
                        new.id.to_string(),
                        new.name,
                        fold(&new.name),
                        new.parent.map(|parent| parent.to_string()),
                        new.is_superuser,
                        attributes,
                    ],
                    |row| row.get(0),
                )
            })
            .map_err(sql_error_ref("parent"))?;
        Ok(Group {
            id: new.id,
            num_pk,
            name: new.name.clone(),
            parent: new.parent,
            is_superuser: new.is_superuser,
            attributes: new.attributes.clone(),
        })
    }

    fn update_group(&self, group: &Group) -> StoreResult<()> {
        let attributes = to_json(&group.attributes)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE groups SET name = ?2, name_key = ?3, parent = ?4, is_superuser = ?5,
                    attributes = ?6
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    group.id.to_string(),
                    group.name,
                    fold(&group.name),
                    group.parent.map(|parent| parent.to_string()),
                    group.is_superuser,
                    attributes,
                ])
            })
            .map_err(sql_error_ref("parent"))?;
        expect_changed(changed)
    }

    /// Children keep existing with no parent (ON DELETE SET NULL); memberships go.
    fn delete_group(&self, id: GroupId) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached("DELETE FROM groups WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([id.to_string()]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    /// An unknown group or user is `NotFound` (the API answers 404 for either).
    fn add_member(&self, group: GroupId, user: UserId) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?1, ?2)",
            )
            .and_then(|mut stmt| stmt.execute(rusqlite::params![group.to_string(), user.0]))
            .map_err(|error| {
                if is_foreign_key(&error) {
                    StoreError::NotFound
                } else {
                    sql_error(error)
                }
            })?;
        Ok(())
    }

    fn remove_member(&self, group: GroupId, user: UserId) -> StoreResult<()> {
        self.conn
            .prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2")
            .and_then(|mut stmt| stmt.execute(rusqlite::params![group.to_string(), user.0]))
            .map_err(sql_error)?;
        Ok(())
    }
}
