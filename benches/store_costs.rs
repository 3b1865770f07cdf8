//! What the storage steps of one token issuance cost, measured alone: a SQLite write
//! transaction through the `Db` facade (the refresh token insert), the user-and-groups
//! read, a bare `spawn_blocking` hop (every `Db` call makes one), and a redb put and take
//! (the authorization code). `cargo bench --bench store_costs`; figures, not pass/fail.
//! Read beside `benches/oauth_tokens.rs`: together they say where an exchange's time goes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
use std::sync::Arc;
use std::time::Instant;

use gatehouse::model::{NewUser, ProviderId, RefreshToken, Timestamp, Username};
use gatehouse::store::redb_kv::RedbKv;
use gatehouse::store::sqlite::SqliteStore;
use gatehouse::store::{Db, Kv, StoreExt};

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("g.db")).unwrap());
    let user = store
        .write(|tx| {
            tx.insert_user(&NewUser::internal(
                Username::parse("u").unwrap(),
                Timestamp(0),
            ))
        })
        .unwrap();
    let db = Db::new(store.clone());
    let n = 3000;
    let t = Instant::now();
    for i in 0..n {
        let token = RefreshToken {
            token_hash: format!("{i:064}"),
            grant: uuid::Uuid::new_v4(),
            provider: ProviderId(1),
            user: user.id,
            scopes: vec!["openid".into()],
            auth_time: Timestamp(0),
            expires: Timestamp(99_999_999_999),
            created: Timestamp(0),
            used: false,
            revoked: false,
        };
        db.write(move |tx| tx.insert_refresh_token(&token))
            .await
            .unwrap();
    }
    println!(
        "sqlite write tx via Db: {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let id = user.id;
    let t = Instant::now();
    for _ in 0..n {
        db.read(move |tx| {
            let u = tx.user_by_id(id)?;
            let g = tx.groups_of_user(id)?;
            Ok((u, g))
        })
        .await
        .unwrap();
    }
    println!(
        "sqlite read user+groups via Db: {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        tokio::task::spawn_blocking(|| 1).await.unwrap();
    }
    println!(
        "spawn_blocking hop: {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let kv = RedbKv::open(&dir.path().join("e.redb")).unwrap();
    let t = Instant::now();
    for i in 0..n {
        kv.put(
            "ns",
            &format!("{i:064}"),
            &[0u8; 300],
            Timestamp(99_999_999_999),
        )
        .unwrap();
    }
    println!(
        "redb put: {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for i in 0..n {
        kv.take("ns", &format!("{i:064}"), Timestamp(0)).unwrap();
    }
    println!(
        "redb take: {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
