//! Certificate-key pairs in SQLite: one row per pair, the private key kept sealed as the
//! caller hands it over (this layer never sees a clear key).

use rusqlite::Row;
use uuid::Uuid;

use super::SqliteTx;
use super::codec::{col, collect, enum_col, expect_changed, sql_error, uuid_col};
use crate::model::{CertificateKeyPair, KeyType, Timestamp};
use crate::store::{KeypairReads, KeypairWrites, StoreResult};

const TABLE: &str = "certificate_keypairs";

fn decode(row: &Row<'_>) -> StoreResult<CertificateKeyPair> {
    Ok(CertificateKeyPair {
        id: uuid_col(row, 0, TABLE)?,
        name: col(row, 1, TABLE)?,
        certificate_pem: col(row, 2, TABLE)?,
        key_sealed: col(row, 3, TABLE)?,
        key_type: enum_col(row, 4, TABLE, KeyType::parse)?,
        kid: col(row, 5, TABLE)?,
        not_before: Timestamp(col(row, 6, TABLE)?),
        not_after: Timestamp(col(row, 7, TABLE)?),
        managed: col(row, 8, TABLE)?,
        created: Timestamp(col(row, 9, TABLE)?),
    })
}

impl KeypairReads for SqliteTx<'_> {
    fn all_keypairs(&self) -> StoreResult<Vec<CertificateKeyPair>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, name, certificate_pem, key_sealed, key_type, kid, not_before,
                        not_after, managed, created
                 FROM certificate_keypairs ORDER BY name, id",
            )
            .map_err(sql_error)?;
        let rows = stmt.query([]).map_err(sql_error)?;
        collect(rows, decode)
    }
}

impl KeypairWrites for SqliteTx<'_> {
    fn insert_keypair(&self, keypair: &CertificateKeyPair) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO certificate_keypairs (id, name, certificate_pem, key_sealed,
                    key_type, kid, not_before, not_after, managed, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    keypair.id.to_string(),
                    keypair.name,
                    keypair.certificate_pem,
                    keypair.key_sealed,
                    keypair.key_type.as_str(),
                    keypair.kid,
                    keypair.not_before.0,
                    keypair.not_after.0,
                    keypair.managed,
                    keypair.created.0,
                ])
            })
            .map_err(sql_error)?;
        Ok(())
    }

    fn update_keypair(&self, id: Uuid, name: &str) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached("UPDATE certificate_keypairs SET name = ?2 WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute((id.to_string(), name)))
            .map_err(sql_error)?;
        expect_changed(changed)
    }

    fn delete_keypair(&self, id: Uuid) -> StoreResult<()> {
        let changed = self
            .conn
            .prepare_cached("DELETE FROM certificate_keypairs WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([id.to_string()]))
            .map_err(sql_error)?;
        expect_changed(changed)
    }
}
