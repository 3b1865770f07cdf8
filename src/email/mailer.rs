//! The mailer: the outbox's only writer and the worker loop that drains it. Every message
//! is stored before the first attempt, then sent, then marked sent or rescheduled with
//! exponential backoff, and finally marked failed, each outcome with an audit event.
//! Delivery is at least once: a crash between the relay's "250 OK" and the mark resends.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Mutex, Notify};
use uuid::Uuid;

use super::transport::{SendError, Transport};
use crate::clock::Clock;
use crate::events::Events;
use crate::model::{EventAction, OutboxEntry, OutboxStatus, OutgoingEmail, Timestamp};
use crate::store::{Db, StoreResult};

/// Attempts before an entry is given up on (the tenth failure marks it failed).
pub const MAX_ATTEMPTS: u32 = 10;
const FIRST_RETRY_SECS: u64 = 30;
const MAX_RETRY_SECS: u64 = 3600;
/// How often the worker looks for due retries when nothing wakes it.
pub const POLL_INTERVAL: Duration = Duration::from_secs(15);
/// Entries read per query; a run goes on while batches come back full.
const BATCH: u32 = 20;
/// Bounds one run, so a store that fails to record outcomes cannot spin forever.
const MAX_BATCHES_PER_RUN: usize = 50;
/// Server replies can be long; the outbox keeps what helps an administrator.
const MAX_ERROR_CHARS: usize = 1000;

/// Seconds to wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, 4 min, ...
/// capped at 1 h; `None` once `MAX_ATTEMPTS` attempts have failed.
pub fn retry_delay_secs(attempts: u32) -> Option<u64> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doublings = attempts.saturating_sub(1).min(16);
    Some(
        FIRST_RETRY_SECS
            .saturating_mul(1u64 << doublings)
            .min(MAX_RETRY_SECS),
    )
}

#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: Arc<dyn Clock>,
    transport: Arc<dyn Transport>,
    events: Events,
    /// Wakes `run_outbox` when a message is enqueued, so it goes out at once.
    wake: Notify,
    /// One delivery run at a time in this process: two overlapping runs would read the
    /// same due entries and send them twice.
    delivering: Mutex<()>,
}

impl Mailer {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        transport: Arc<dyn Transport>,
        events: Events,
    ) -> Mailer {
        Mailer {
            inner: Arc::new(Inner {
                db,
                clock,
                transport,
                events,
                wake: Notify::new(),
                delivering: Mutex::new(()),
            }),
        }
    }

    /// Stores the message in the outbox and wakes the worker. Once this returns `Ok`
    /// the message survives a crash; the send itself happens in `run_outbox`.
    pub async fn enqueue(&self, email: OutgoingEmail) -> StoreResult<Uuid> {
        let entry = self.prepare(email);
        let id = entry.id;
        self.inner
            .db
            .write(move |tx| tx.enqueue_email(&entry))
            .await?;
        self.wake();
        Ok(id)
    }

    /// An outbox entry for the caller to store in its own write scope
    /// (`tx.enqueue_email(&entry)`), so the message commits with the change that caused
    /// it; call `wake()` after the commit.
    pub fn prepare(&self, email: OutgoingEmail) -> OutboxEntry {
        OutboxEntry::pending(Uuid::new_v4(), email, self.inner.clock.now())
    }

    /// Tells the worker to look at the outbox now.
    pub fn wake(&self) {
        // notify_one keeps a permit when the worker is busy, so a wake during a run
        // starts another run instead of being lost.
        self.inner.wake.notify_one();
    }

    /// Sends every due entry and records each outcome. Returns how many were sent.
    /// Storage errors are logged: the entries stay due and the next run retries them.
    pub async fn deliver_due(&self) -> usize {
        let _running = self.inner.delivering.lock().await;
        let mut sent = 0;
        for _ in 0..MAX_BATCHES_PER_RUN {
            let now = self.inner.clock.now();
            let due = match self
                .inner
                .db
                .read(move |tx| tx.outbox_due(now, BATCH))
                .await
            {
                Ok(due) => due,
                Err(error) => {
                    tracing::error!(%error, "cannot read the email outbox");
                    break;
                }
            };
            let full = due.len() >= usize::try_from(BATCH).unwrap_or(usize::MAX);
            for entry in due {
                if self.deliver_one(entry).await {
                    sent += 1;
                }
            }
            if !full {
                break;
            }
        }
        sent
    }

    /// Sends at once, bypassing the queue (for `gatehouse test-email`, where the person
    /// waiting wants the relay's answer), and records the outcome in the outbox as sent
    /// or failed. A failure is not retried: the caller has seen it.
    pub async fn send_now(&self, email: OutgoingEmail) -> Result<(), SendError> {
        let result = self.inner.transport.send(&email).await;
        let now = self.inner.clock.now();
        let mut entry = OutboxEntry::pending(Uuid::new_v4(), email, now);
        entry.attempts = 1;
        let event = match &result {
            Ok(()) => {
                entry.status = OutboxStatus::Sent;
                entry.sent_at = Some(now);
                self.sent_event(&entry)
            }
            Err(error) => {
                entry.status = OutboxStatus::Failed;
                entry.last_error = Some(clip(&error.to_string()));
                self.failed_event(&entry, &error.to_string())
            }
        };
        let stored = self
            .inner
            .db
            .write(move |tx| {
                tx.enqueue_email(&entry)?;
                tx.insert_event(&event)
            })
            .await;
        if let Err(error) = stored {
            tracing::error!(%error, "email sent now but not recorded in the outbox");
        }
        result
    }

    /// One attempt at one entry; `true` when it went out.
    async fn deliver_one(&self, entry: OutboxEntry) -> bool {
        let result = self.inner.transport.send(&entry.message()).await;
        let now = self.inner.clock.now();
        let mut entry = entry;
        entry.attempts = entry.attempts.saturating_add(1);
        let id = entry.id;
        let recorded = match &result {
            Ok(()) => {
                let event = self.sent_event(&entry);
                self.inner
                    .db
                    .write(move |tx| {
                        tx.mark_email_sent(id, now)?;
                        tx.insert_event(&event)
                    })
                    .await
            }
            Err(error) => self.record_failure(&entry, error, now).await,
        };
        if let Err(error) = recorded {
            // The entry stays due; after a success that means it is sent again.
            tracing::error!(%error, outbox_id = %id, "cannot record an email attempt");
        }
        result.is_ok()
    }

    async fn record_failure(
        &self,
        entry: &OutboxEntry,
        error: &SendError,
        now: Timestamp,
    ) -> StoreResult<()> {
        let id = entry.id;
        let message = clip(&error.to_string());
        let retry_at = if error.is_permanent() {
            None
        } else {
            retry_delay_secs(entry.attempts).map(|delay| now.plus_secs(delay))
        };
        let Some(retry_at) = retry_at else {
            let event = self.failed_event(entry, &message);
            return self
                .inner
                .db
                .write(move |tx| {
                    tx.mark_email_failed_attempt(id, &message, None)?;
                    tx.insert_event(&event)
                })
                .await;
        };
        tracing::warn!(
            outbox_id = %id,
            to = %entry.to,
            attempt = entry.attempts,
            retry_at = %retry_at.to_rfc3339(),
            error = %message,
            "email not sent; will retry"
        );
        self.inner
            .db
            .write(move |tx| tx.mark_email_failed_attempt(id, &message, Some(retry_at)))
            .await
    }

    fn sent_event(&self, entry: &OutboxEntry) -> crate::model::Event {
        self.inner.events.prepare(
            EventAction::EmailSent,
            None,
            None,
            json!({
                "outbox_id": entry.id,
                "to": entry.to,
                "subject": entry.subject,
                "attempts": entry.attempts,
            }),
        )
    }

    fn failed_event(&self, entry: &OutboxEntry, error: &str) -> crate::model::Event {
        self.inner.events.prepare(
            EventAction::EmailFailed,
            None,
            None,
            json!({
                "outbox_id": entry.id,
                "to": entry.to,
                "subject": entry.subject,
                "attempts": entry.attempts,
                "error": error,
            }),
        )
    }
}

fn clip(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}

/// The outbox worker: delivers what is due, then sleeps until a message is enqueued or
/// `POLL_INTERVAL` passes (retries become due with time, which nothing announces).
/// Runs until its task is aborted; an abort mid-send leaves the entry pending.
pub async fn run_outbox(mailer: Mailer) {
    loop {
        let sent = mailer.deliver_due().await;
        if sent > 0 {
            tracing::debug!(sent, "outbox delivered");
        }
        tokio::select! {
            () = mailer.inner.wake.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}
