//! Users in SQLite. Case-insensitive matching goes through `username_key` and `email_key`,
//! which hold the values lowercased here in Rust (Unicode-aware, unlike SQLite's
//! `lower()`), so "ÄDMIN" and "ädmin" are the same account on every backend.

use rusqlite::Row;
use rusqlite::types::Value;

use super::SqliteTx;
use super::codec::{
    col, collect, corrupt, enum_col, expect_changed, first, json_col, sql_error, to_json, to_u64,
    uuid_col,
};
use super::groups::{self, GROUP_COLUMNS_G};
use super::list::{ListSpec, list};
use crate::model::{Group, NewUser, Timestamp, User, UserId, UserType, Username};
use crate::store::{ListQuery, Page, StoreResult, UserReads, UserWrites};

macro_rules! user_columns {
    () => {
        "id, uuid, username, name, email, is_active, user_type, path, attributes, \
         last_login, password_hash, password_changed, created"
    };
}

const TABLE: &str = "users";

const LIST: ListSpec = ListSpec {
    from: "users",
    columns: user_columns!(),
    search: &["username_key", "name", "email_key"],
    order: &[
        ("pk", "id"),
        ("username", "username_key"),
        ("name", "name"),
        ("email", "email_key"),
        ("last_login", "last_login"),
    ],
    default_order: "id",
    default_descending: None,
    tiebreak: "id",
};

fn decode(row: &Row<'_>) -> StoreResult<User> {
    let username: String = col(row, 2, TABLE)?;
    let username = Username::parse(&username)
        .map_err(|e| corrupt(TABLE, format!("username {username:?}: {e}")))?;
    Ok(User {
        id: UserId(col(row, 0, TABLE)?),
        uuid: uuid_col(row, 1, TABLE)?,
        username,
        name: col(row, 3, TABLE)?,
        email: col(row, 4, TABLE)?,
        is_active: col(row, 5, TABLE)?,
        user_type: enum_col(row, 6, TABLE, UserType::parse)?,
        path: col(row, 7, TABLE)?,
        attributes: json_col(row, 8, TABLE)?,
        last_login: col::<Option<i64>>(row, 9, TABLE)?.map(Timestamp),
        password_hash: col(row, 10, TABLE)?,
        password_changed: col::<Option<i64>>(row, 11, TABLE)?.map(Timestamp),
        created: Timestamp(col(row, 12, TABLE)?),
    })
}

fn fold(text: &str) -> String {
    text.to_lowercase()
}

impl SqliteTx<'_> {
    fn one_user(&self, sql: &str, param: Value) -> StoreResult<Option<User>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        let rows = stmt.query([param]).map_err(sql_error)?;
        first(rows, decode)
    }
}

impl UserReads for SqliteTx<'_> {
    fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.one_user(
            concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?1"),
            Value::Integer(id.0),
        )
    }

    fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.one_user(
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE username_key = ?1"
            ),
            Value::Text(fold(username)),
        )
    }

    fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        // Many accounts have no email; "" must never pick one of them.
        if email.trim().is_empty() {
            return Ok(None);
        }
        self.one_user(
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE email_key = ?1 ORDER BY id LIMIT 1"
            ),
            Value::Text(fold(email)),
        )
    }

    fn list_users(&self, query: &ListQuery) -> StoreResult<Page<User>> {
        list(self.conn, &LIST, query, None, decode)
    }

    fn count_users(&self) -> StoreResult<u64> {
        let count: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM users")
            .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
            .map_err(sql_error)?;
        Ok(to_u64(count))
    }

    fn groups_of_user(&self, id: UserId) -> StoreResult<Vec<Group>> {
        let sql = format!(
            "SELECT {GROUP_COLUMNS_G} FROM groups g \
             JOIN group_members m ON m.group_id = g.id \
             WHERE m.user_id = ?1 ORDER BY g.name_key"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(sql_error)?;
        let rows = stmt.query([id.0]).map_err(sql_error)?;
        collect(rows, groups::decode)
    }
}

impl UserWrites for SqliteTx<'_> {
    fn insert_user(&self, new: &NewUser) -> StoreResult<User> {
        let uuid = uuid::Uuid::new_v4();
        // A user created with a password has "changed" it at creation.
        let password_changed = new.password_hash.as_ref().map(|_| new.created);
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO users (uuid, username, username_key, name, email, email_key,
                    is_active, user_type, path, attributes, password_hash, password_changed,
                    created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 RETURNING id",
            )
            .map_err(sql_error)?;
        let id: i64 = stmt
            .query_row(
                rusqlite::params![
                    uuid.to_string(),
                    new.username.as_str(),
                    fold(new.username.as_str()),
                    new.name,
                    new.email,
                    fold(&new.email),
                    new.is_active,
                    new.user_type.as_str(),
                    new.path,
                    to_json(&new.attributes)?,
                    new.password_hash,
                    password_changed.map(|at| at.0),
                    new.created.0,
                ],
                |row| row.get(0),
            )
            .map_err(sql_error)?;
        Ok(User {
            id: UserId(id),
            uuid,
            username: new.username.clone(),
            name: new.name.clone(),
            email: new.email.clone(),
            is_active: new.is_active,
            user_type: new.user_type,
            path: new.path.clone(),
            attributes: new.attributes.clone(),
            last_login: None,
            password_hash: new.password_hash.clone(),
            password_changed,
            created: new.created,
        })
    }

    fn update_user(&self, user: &User) -> StoreResult<()> {
        let attributes = to_json(&user.attributes)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE users SET username = ?2, username_key = ?3, name = ?4, email = ?5,
                    email_key = ?6, is_active = ?7, user_type = ?8, path = ?9, attributes = ?10
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    user.id.0,
                    user.username.as_str(),
                    fold(user.username.as_str()),
                    user.name,
                    user.email,
                    fold(&user.email),
                    user.is_active,
                    user.user_type.as_str(),
                    user.path,
                    attributes,
                ])
            })
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn set_password_hash(
        &self,
        id: UserId,
        hash: Option<&str>,
        changed: Timestamp,
    ) -> StoreResult<()> {
        let count = self
            .conn
            .prepare_cached(
                "UPDATE users SET password_hash = ?2, password_changed = ?3 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(rusqlite::params![id.0, hash, changed.0]))
            .map_err(sql_error)?;
        expect_changed(count)
    }

    fn set_last_login(&self, id: UserId, at: Timestamp) -> StoreResult<()> {
        let count = self
            .conn
            .prepare_cached("UPDATE users SET last_login = ?2 WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute(rusqlite::params![id.0, at.0]))
            .map_err(sql_error)?;
        expect_changed(count)
    }

    fn delete_user(&self, id: UserId) -> StoreResult<()> {
        // Memberships and tokens go with the user (ON DELETE CASCADE).
        let count = self
            .conn
            .prepare_cached("DELETE FROM users WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([id.0]))
            .map_err(sql_error)?;
        expect_changed(count)
    }
}
