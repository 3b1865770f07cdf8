//! Translation between SQLite and the model: driver errors to `StoreError`, and column
//! values to model fields. A value that does not decode is reported as a corrupt row,
//! never a panic, so one bad row cannot take a request (or the server) down.

use std::str::FromStr;

use rusqlite::types::FromSql;
use rusqlite::{ErrorCode, Row, Rows, ffi};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::store::{StoreError, StoreResult};

/// The general mapping. A broken uniqueness rule names the column the API would name
/// (the adapter's lowercased `*_key` columns report their source field).
pub(super) fn sql_error(error: rusqlite::Error) -> StoreError {
    let Some(code) = error.sqlite_error() else {
        return StoreError::Backend(error.to_string());
    };
    match code.code {
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Busy,
        ErrorCode::ConstraintViolation => match code.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                StoreError::Conflict(unique_field(&error.to_string()))
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::Conflict("reference".into()),
            _ => StoreError::Backend(error.to_string()),
        },
        _ => StoreError::Backend(error.to_string()),
    }
}

/// Like `sql_error`, but a foreign-key failure becomes `Conflict(reference)`: SQLite does
/// not say which reference failed, the call site knows what it pointed at.
pub(super) fn sql_error_ref(reference: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |error| {
        if is_foreign_key(&error) {
            StoreError::Conflict(reference.to_owned())
        } else {
            sql_error(error)
        }
    }
}

pub(super) fn is_foreign_key(error: &rusqlite::Error) -> bool {
    error
        .sqlite_error()
        .is_some_and(|code| code.extended_code == ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

/// "UNIQUE constraint failed: users.username_key" → "username".
fn unique_field(message: &str) -> String {
    let columns = message
        .split_once("constraint failed: ")
        .map_or(message, |(_, rest)| rest);
    let first = columns.split(',').next().unwrap_or(columns).trim();
    let column = first.rsplit_once('.').map_or(first, |(_, column)| column);
    column.strip_suffix("_key").unwrap_or(column).to_owned()
}

/// Turns a statement's affected-row count into `NotFound` when nothing matched.
pub(super) fn expect_changed(changed: usize) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(super) fn corrupt(table: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("corrupt row in {table}: {detail}"))
}

/// One column, with any type mismatch reported as corruption of `table`.
pub(super) fn col<T: FromSql>(row: &Row<'_>, index: usize, table: &str) -> StoreResult<T> {
    row.get(index).map_err(|e| corrupt(table, e))
}

pub(super) fn uuid_col(row: &Row<'_>, index: usize, table: &str) -> StoreResult<Uuid> {
    let text: String = col(row, index, table)?;
    Uuid::parse_str(&text).map_err(|e| corrupt(table, format!("bad uuid {text:?}: {e}")))
}

/// A uuid-backed id newtype (`GroupId`, `FlowId`, ...).
pub(super) fn id_col<T: FromStr>(row: &Row<'_>, index: usize, table: &str) -> StoreResult<T> {
    let text: String = col(row, index, table)?;
    text.parse()
        .map_err(|_| corrupt(table, format!("bad id {text:?}")))
}

pub(super) fn opt_id_col<T: FromStr>(
    row: &Row<'_>,
    index: usize,
    table: &str,
) -> StoreResult<Option<T>> {
    let text: Option<String> = col(row, index, table)?;
    text.map(|text| {
        text.parse()
            .map_err(|_| corrupt(table, format!("bad id {text:?}")))
    })
    .transpose()
}

/// A TEXT column holding JSON.
pub(super) fn json_col<T: DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
    table: &str,
) -> StoreResult<T> {
    let text: String = col(row, index, table)?;
    serde_json::from_str(&text).map_err(|e| corrupt(table, format!("bad JSON: {e}")))
}

/// A TEXT column holding an enum's `as_str()` name.
pub(super) fn enum_col<T>(
    row: &Row<'_>,
    index: usize,
    table: &str,
    parse: fn(&str) -> Option<T>,
) -> StoreResult<T> {
    let text: String = col(row, index, table)?;
    parse(&text).ok_or_else(|| corrupt(table, format!("unknown value {text:?}")))
}

pub(super) fn to_json(value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("cannot encode: {e}")))
}

/// Decodes every row of a query.
pub(super) fn collect<T>(
    mut rows: Rows<'_>,
    decode: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        items.push(decode(row)?);
    }
    Ok(items)
}

/// Decodes the first row of a query, if any.
pub(super) fn first<T>(
    mut rows: Rows<'_>,
    decode: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    rows.next().map_err(sql_error)?.map(decode).transpose()
}

/// SQLite integers are signed; counts and offsets beyond i64 are clamped, not wrapped.
pub(super) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::unique_field;

    #[test]
    fn unique_messages_name_the_api_field() {
        assert_eq!(
            unique_field("UNIQUE constraint failed: users.username_key"),
            "username"
        );
        assert_eq!(
            unique_field("UNIQUE constraint failed: tokens.identifier"),
            "identifier"
        );
        assert_eq!(
            unique_field("UNIQUE constraint failed: group_members.group_id, group_members.user_id"),
            "group_id"
        );
    }
}
