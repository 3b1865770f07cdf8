//! The mailer against a real store and a scripted transport, with time moved by hand:
//! retries, backoff, giving up, audit events and the worker's wake-up.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;

use super::*;
use crate::clock::ManualClock;
use crate::config::Settings;
use crate::model::{EventAction, OutboxEntry, OutboxStatus, OutgoingEmail, Timestamp};
use crate::store::ListQuery;

const T0: Timestamp = Timestamp(1_700_000_000);

struct Fixture {
    mailer: Mailer,
    transport: MemoryTransport,
    clock: ManualClock,
    db: Db,
    _dir: TempDir,
}

/// The store as the CLI opens it, in a fresh folder: the email module never names a
/// storage adapter, so it reaches one through the composition root.
fn db_in(dir: &TempDir) -> Db {
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    // SQLite takes an empty file as an empty database.
    std::fs::File::create(dir.path().join("gatehouse.db")).unwrap();
    Db::new(crate::app::open_store_for_cli(&settings).unwrap())
}

fn fixture_with(transport: Arc<dyn Transport>, memory: MemoryTransport) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let clock = ManualClock::starting_at(T0);
    let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let events = Events::new(db.clone(), Arc::clone(&shared_clock));
    let mailer = Mailer::new(db.clone(), shared_clock, transport, events);
    Fixture {
        mailer,
        transport: memory,
        clock,
        db,
        _dir: dir,
    }
}

fn fixture() -> Fixture {
    let memory = MemoryTransport::new();
    fixture_with(Arc::new(memory.clone()), memory)
}

fn email(to: &str) -> OutgoingEmail {
    OutgoingEmail {
        to: to.into(),
        subject: "Reset your password".into(),
        text: "text".into(),
        html: None,
    }
}

impl Fixture {
    async fn entry(&self, id: uuid::Uuid) -> OutboxEntry {
        self.db
            .read(move |tx| tx.outbox_entry(id))
            .await
            .unwrap()
            .unwrap()
    }

    async fn actions(&self) -> Vec<(EventAction, serde_json::Value)> {
        let page = self
            .db
            .read(|tx| tx.list_events(&ListQuery::default()))
            .await
            .unwrap();
        page.items
            .into_iter()
            .map(|e| (e.action, e.context))
            .collect()
    }
}

#[test]
fn backoff_doubles_from_thirty_seconds_up_to_an_hour_then_gives_up() {
    let schedule: Vec<Option<u64>> = (1..=MAX_ATTEMPTS).map(retry_delay_secs).collect();
    assert_eq!(
        schedule,
        vec![
            Some(30),
            Some(60),
            Some(120),
            Some(240),
            Some(480),
            Some(960),
            Some(1920),
            Some(3600),
            Some(3600),
            None,
        ]
    );
    assert_eq!(retry_delay_secs(u32::MAX), None);
}

#[tokio::test]
async fn a_message_that_fails_twice_is_sent_on_the_third_try() {
    let f = fixture();
    f.transport.fail_next(2);
    let id = f.mailer.enqueue(email("alice@example.com")).await.unwrap();

    assert_eq!(f.mailer.deliver_due().await, 0);
    let first = f.entry(id).await;
    assert!(first.is_retrying());
    assert_eq!(first.next_attempt_at, Timestamp(T0.0 + 30));
    assert_eq!(
        first.last_error.as_deref(),
        Some("memory transport told to fail")
    );

    // Not due yet: no attempt is made.
    f.clock.advance(29);
    assert_eq!(f.mailer.deliver_due().await, 0);
    assert_eq!(f.transport.attempts(), 1);

    f.clock.advance(1);
    assert_eq!(f.mailer.deliver_due().await, 0);
    assert_eq!(f.entry(id).await.next_attempt_at, Timestamp(T0.0 + 30 + 60));

    f.clock.advance(60);
    assert_eq!(f.mailer.deliver_due().await, 1);
    let sent = f.entry(id).await;
    assert_eq!(sent.status, OutboxStatus::Sent);
    assert_eq!(sent.attempts, 3);
    assert_eq!(sent.sent_at, Some(Timestamp(T0.0 + 90)));
    assert_eq!(f.transport.sent(), vec![email("alice@example.com")]);

    let actions = f.actions().await;
    assert_eq!(
        actions.len(),
        1,
        "retries are logged, not audited: {actions:?}"
    );
    assert_eq!(actions[0].0, EventAction::EmailSent);
    assert_eq!(actions[0].1["to"], "alice@example.com");
    assert_eq!(actions[0].1["attempts"], 3);

    // Nothing is due any more.
    f.clock.advance(86_400);
    assert_eq!(f.mailer.deliver_due().await, 0);
    assert_eq!(f.transport.attempts(), 3);
}

#[tokio::test]
async fn the_tenth_failure_gives_up_with_an_audit_event() {
    let f = fixture();
    f.transport.fail_next(u32::MAX);
    let id = f.mailer.enqueue(email("bob@example.com")).await.unwrap();
    for attempt in 1..=MAX_ATTEMPTS {
        assert_eq!(f.mailer.deliver_due().await, 0);
        assert_eq!(f.transport.attempts(), attempt);
        if let Some(delay) = retry_delay_secs(attempt) {
            f.clock.advance(i64::try_from(delay).unwrap());
        }
    }
    let failed = f.entry(id).await;
    assert_eq!(failed.status, OutboxStatus::Failed);
    assert_eq!(failed.attempts, MAX_ATTEMPTS);

    f.clock.advance(86_400);
    assert_eq!(f.mailer.deliver_due().await, 0);
    assert_eq!(
        f.transport.attempts(),
        MAX_ATTEMPTS,
        "a failed entry is left alone"
    );
    let actions = f.actions().await;
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].0, EventAction::EmailFailed);
    assert_eq!(actions[0].1["error"], "memory transport told to fail");
}

/// Fails every message as undeliverable by nature.
struct RejectingTransport;

impl Transport for RejectingTransport {
    fn send<'a>(&'a self, _message: &'a OutgoingEmail) -> SendFuture<'a> {
        Box::pin(std::future::ready(Err(SendError::InvalidMessage(
            "recipient \"x\": missing domain".into(),
        ))))
    }
}

#[tokio::test]
async fn a_permanent_error_gives_up_at_once() {
    let f = fixture_with(Arc::new(RejectingTransport), MemoryTransport::new());
    let id = f.mailer.enqueue(email("x")).await.unwrap();
    assert_eq!(f.mailer.deliver_due().await, 0);
    let failed = f.entry(id).await;
    assert_eq!(failed.status, OutboxStatus::Failed);
    assert_eq!(failed.attempts, 1);
    assert_eq!(f.actions().await[0].0, EventAction::EmailFailed);
}

#[tokio::test]
async fn send_now_records_the_outcome_either_way() {
    let f = fixture();
    f.mailer.send_now(email("ok@example.com")).await.unwrap();
    f.transport.fail_next(1);
    let error = f.mailer.send_now(email("down@example.com")).await;
    assert!(matches!(error, Err(SendError::Delivery(_))));

    let page =
        f.db.read(|tx| tx.list_outbox(&ListQuery::default()))
            .await
            .unwrap();
    let outcomes: Vec<(&str, OutboxStatus, u32)> = page
        .items
        .iter()
        .map(|e| (e.to.as_str(), e.status, e.attempts))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("down@example.com", OutboxStatus::Failed, 1),
            ("ok@example.com", OutboxStatus::Sent, 1),
        ]
    );
    // Neither is picked up by the worker later.
    f.clock.advance(86_400);
    assert_eq!(f.mailer.deliver_due().await, 0);
    assert_eq!(f.transport.attempts(), 2);
    let actions: Vec<EventAction> = f.actions().await.into_iter().map(|a| a.0).collect();
    assert_eq!(
        actions,
        vec![EventAction::EmailFailed, EventAction::EmailSent]
    );
}

#[tokio::test]
async fn an_enqueued_message_wakes_the_worker() {
    let f = fixture();
    let worker = tokio::spawn(run_outbox(f.mailer.clone()));
    // Let the worker finish its first (empty) run and go to sleep.
    tokio::time::sleep(Duration::from_millis(50)).await;
    f.mailer.enqueue(email("carol@example.com")).await.unwrap();
    // Far less than POLL_INTERVAL: only the wake-up can explain a delivery this fast.
    let delivered = tokio::time::timeout(Duration::from_secs(5), async {
        while f.transport.sent().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    worker.abort();
    assert!(delivered.is_ok(), "the worker did not wake up");
}

#[tokio::test]
async fn a_prepared_entry_commits_with_the_callers_scope() {
    let f = fixture();
    let entry = f.mailer.prepare(email("dave@example.com"));
    let id = entry.id;
    let rolled_back =
        f.db.write(move |tx| {
            tx.enqueue_email(&entry)?;
            Err::<(), _>(crate::store::StoreError::Conflict("username".into()))
        })
        .await;
    assert!(rolled_back.is_err());
    assert!(
        f.db.read(move |tx| tx.outbox_entry(id))
            .await
            .unwrap()
            .is_none(),
        "the message rolls back with the change that caused it"
    );
}
