//! The in-process worker: periodic housekeeping. Later issues add the email outbox,
//! source sync and blueprints here.

use std::sync::Arc;
use std::time::Duration;

use crate::crypto::PasswordHasher;
use crate::email::Mailer;
use crate::store::{Db, Ephemeral, Kv};

const PURGE_EVERY: Duration = Duration::from_secs(300);
const FLUSH_EVERY: Duration = Duration::from_secs(5);
const TRIM_EVERY: Duration = Duration::from_secs(15);
/// Password work buffers are kept this long after the last hash.
const HASH_BUFFERS_IDLE: Duration = Duration::from_secs(30);

/// Purges expired ephemeral entries, makes recent ephemeral writes durable (so a power cut
/// loses at most a few seconds of sessions and flow progress), and gives idle password
/// work buffers back to the system.
use crate::metrics::global as metrics;

pub mod heartbeat;

pub async fn run(
    heartbeat: heartbeat::Heartbeat,
    ephemeral: Ephemeral,
    kv: Arc<dyn Kv>,
    db: Db,
    hasher: PasswordHasher,
    mailer: Mailer,
) {
    // The outbox runs beside the housekeeping; aborting this task stops both.
    let outbox = crate::email::run_outbox(mailer);
    tokio::pin!(outbox);
    hasher.warm_up().await;
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    let mut purge = tokio::time::interval(PURGE_EVERY);
    let mut trim = tokio::time::interval(TRIM_EVERY);
    loop {
        heartbeat.beat();
        tokio::select! {
            () = &mut outbox => {}
            _ = trim.tick() => {
                if hasher.release_idle(HASH_BUFFERS_IDLE) {
                    tracing::debug!("released idle password buffers");
                }
            }
            _ = flush.tick() => {
                let kv = Arc::clone(&kv);
                let flushed = tokio::task::spawn_blocking(move || kv.flush()).await;
                if let Ok(Err(error)) = &flushed {
                    tracing::warn!(%error, "ephemeral flush failed");
                }
                metrics().task_run("kv_flush", matches!(flushed, Ok(Ok(()))));
            }
            _ = purge.tick() => {
                let kv = Arc::clone(&kv);
                let now = ephemeral.now();
                let purged = tokio::task::spawn_blocking(move || kv.purge_expired(now)).await;
                match &purged {
                    Ok(Ok(count)) if *count > 0 => tracing::debug!(count, "purged expired entries"),
                    Ok(Err(error)) => tracing::warn!(%error, "purge failed"),
                    _ => {}
                }
                metrics().task_run("kv_purge", matches!(purged, Ok(Ok(_))));
                let stored = purge_store(&db, now).await;
                metrics().task_run("store_purge", stored);
            }
        }
    }
}

/// Removes what has expired from the relational store: refresh tokens, API tokens and app
/// passwords with an expiry, consents and invitations. Reads already ignore expired rows;
/// this keeps the tables from growing for ever.
async fn purge_store(db: &Db, now: crate::model::Timestamp) -> bool {
    let purged = db
        .write(move |tx| {
            Ok(tx.delete_expired_refresh_tokens(now)?
                + tx.delete_expired_tokens(now)?
                + tx.delete_expired_consents(now)?
                + tx.delete_expired_invitations(now)?)
        })
        .await;
    match purged {
        Ok(count) => {
            if count > 0 {
                tracing::debug!(count, "purged expired rows");
            }
            true
        }
        Err(error) => {
            tracing::warn!(%error, "purging expired rows failed");
            false
        }
    }
}
