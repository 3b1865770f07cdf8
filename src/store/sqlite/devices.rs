//! Authenticator devices in SQLite: the kind's data as JSON, with the class, the
//! confirmation and the WebAuthn credential id (unique) copied out for queries.

use rusqlite::Row;
use rusqlite::types::Value as SqlValue;

use super::SqliteTx;
use super::codec::{col, collect, expect_changed, json_col, sql_error, sql_error_ref, to_json};
use crate::model::{Device, DeviceData, DeviceId, Timestamp, UserId};
use crate::store::{DeviceFilter, DeviceReads, DeviceWrites, StoreResult};

const TABLE: &str = "authenticator_devices";
const COLUMNS: &str = "id, user_id, name, confirmed, created, last_updated, last_used, data_json";

fn decode(row: &Row<'_>) -> StoreResult<Device> {
    Ok(Device {
        id: DeviceId(col(row, 0, TABLE)?),
        user: UserId(col(row, 1, TABLE)?),
        name: col(row, 2, TABLE)?,
        confirmed: col(row, 3, TABLE)?,
        created: Timestamp(col(row, 4, TABLE)?),
        last_updated: Timestamp(col(row, 5, TABLE)?),
        last_used: col::<Option<i64>>(row, 6, TABLE)?.map(Timestamp),
        data: json_col(row, 7, TABLE)?,
    })
}

fn credential_id(device: &Device) -> Option<&str> {
    match &device.data {
        DeviceData::Webauthn(webauthn) => Some(webauthn.credential_id.as_str()),
        _ => None,
    }
}

impl DeviceReads for SqliteTx<'_> {
    fn device(&self, id: DeviceId) -> StoreResult<Option<Device>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM {TABLE} WHERE id = ?1"))
            .map_err(sql_error)?;
        let rows = stmt.query([id.0]).map_err(sql_error)?;
        Ok(collect(rows, decode)?.into_iter().next())
    }

    fn device_by_credential_id(&self, credential_id: &str) -> StoreResult<Option<Device>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {TABLE} WHERE credential_id = ?1"
            ))
            .map_err(sql_error)?;
        let rows = stmt.query([credential_id]).map_err(sql_error)?;
        Ok(collect(rows, decode)?.into_iter().next())
    }

    fn devices(&self, filter: DeviceFilter) -> StoreResult<Vec<Device>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {TABLE}
                 WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR class = ?2)
                   AND (?3 IS NULL OR confirmed = ?3)
                 ORDER BY id"
            ))
            .map_err(sql_error)?;
        let params = [
            filter
                .user
                .map_or(SqlValue::Null, |user| SqlValue::Integer(user.0)),
            filter.class.map_or(SqlValue::Null, |class| {
                SqlValue::Text(class.as_str().into())
            }),
            filter.confirmed.map_or(SqlValue::Null, |confirmed| {
                SqlValue::Integer(confirmed.into())
            }),
        ];
        let rows = stmt.query(params).map_err(sql_error)?;
        collect(rows, decode)
    }
}

impl DeviceWrites for SqliteTx<'_> {
    fn insert_device(&self, device: &Device) -> StoreResult<DeviceId> {
        let json = to_json(&device.data)?;
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO {TABLE} (user_id, class, name, confirmed, created, last_updated,
                                      last_used, credential_id, data_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))
            .and_then(|mut stmt| {
                stmt.execute((
                    device.user.0,
                    device.class().as_str(),
                    &device.name,
                    device.confirmed,
                    device.created.0,
                    device.last_updated.0,
                    device.last_used.map(|at| at.0),
                    credential_id(device),
                    json,
                ))
            })
            .map_err(sql_error_ref("user"))?;
        Ok(DeviceId(self.conn.last_insert_rowid()))
    }

    fn update_device(&self, device: &Device) -> StoreResult<()> {
        let json = to_json(&device.data)?;
        let changed = self
            .conn
            .prepare_cached(&format!(
                "UPDATE {TABLE} SET class = ?2, name = ?3, confirmed = ?4, last_updated = ?5,
                        last_used = ?6, credential_id = ?7, data_json = ?8
                 WHERE id = ?1"
            ))
            .and_then(|mut stmt| {
                stmt.execute((
                    device.id.0,
                    device.class().as_str(),
                    &device.name,
                    device.confirmed,
                    device.last_updated.0,
                    device.last_used.map(|at| at.0),
                    credential_id(device),
                    json,
                ))
            })
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn delete_device(&self, id: DeviceId) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached(&format!("DELETE FROM {TABLE} WHERE id = ?1"))
            .and_then(|mut stmt| stmt.execute([id.0]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }
}
