//! Email through a real SMTP server (aiosmtpd): the `test-email` command beside a live
//! server, and the outbox delivering, retrying and recording HTML mail.

use std::process::{Command, Output};
use std::sync::Arc;

use gatehouse::clock::{Clock, ManualClock};
use gatehouse::config::{EmailSettings, Settings};
use gatehouse::email::{EmailContext, EmailTemplates, EmailUser, Mailer, SmtpTransport};
use gatehouse::events::Events;
use gatehouse::model::{EventAction, OutboxEntry, OutboxStatus, Timestamp};
use gatehouse::store::{Db, ListQuery, StoreExt};

use tempfile::TempDir;

use crate::harness::TestServer;
use crate::harness::smtp::{SmtpSink, free_port};

const FROM: &str = "gatehouse@example.org";

async fn test_email(server: &TestServer, port: u16, to: &str) -> Output {
    let dir = server.dir.path().to_path_buf();
    let to = to.to_owned();
    // Off the runtime thread, so the server keeps answering while the command runs.
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["test-email", &to])
            .env_clear()
            .env("GATEHOUSE_DATA_DIR", dir)
            .env("GATEHOUSE_EMAIL__HOST", "127.0.0.1")
            .env("GATEHOUSE_EMAIL__PORT", port.to_string())
            .env("GATEHOUSE_EMAIL__FROM", format!("Gatehouse <{FROM}>"))
            .env("GATEHOUSE_EMAIL__TIMEOUT", "5")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn outbox(server: &TestServer) -> Vec<OutboxEntry> {
    let store = gatehouse::app::open_store_for_cli(&server.settings).unwrap();
    store
        .read(|tx| tx.list_outbox(&ListQuery::default()))
        .unwrap()
        .items
}

fn event_actions(server: &TestServer) -> Vec<EventAction> {
    let store = gatehouse::app::open_store_for_cli(&server.settings).unwrap();
    let events = store
        .read(|tx| tx.list_events(&ListQuery::default()))
        .unwrap();
    events.items.into_iter().map(|event| event.action).collect()
}

#[tokio::test]
async fn test_email_is_delivered_beside_a_live_server() {
    let server = TestServer::spawn().await;
    let sink = SmtpSink::start();
    let output = test_email(&server, sink.port, "someone@example.com").await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "sent");

    let message = sink.wait_for(1).await.remove(0);
    assert_eq!(message.header("To").as_deref(), Some("someone@example.com"));
    assert_eq!(
        message.header("From").as_deref(),
        Some(format!("Gatehouse <{FROM}>").as_str())
    );
    assert_eq!(
        message.header("Subject").as_deref(),
        Some("Test email from gatehouse")
    );
    assert_eq!(message.header("X-MailFrom").as_deref(), Some(FROM));
    assert!(message.raw.contains("This is a test email from gatehouse."));

    let entries = outbox(&server);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status, OutboxStatus::Sent);
    assert_eq!(entries[0].to, "someone@example.com");
    assert!(event_actions(&server).contains(&EventAction::EmailSent));
    // The server still answers: the command never touched its ephemeral store.
    let live = reqwest::get(server.url("/-/health/live/")).await.unwrap();
    assert_eq!(live.status(), 204);
}

#[tokio::test]
async fn test_email_reports_an_unreachable_server_in_one_line() {
    let server = TestServer::spawn().await;
    let closed = free_port();
    let output = test_email(&server, closed, "someone@example.com").await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("gatehouse: "), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).trim().is_empty());

    let entries = outbox(&server);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status, OutboxStatus::Failed);
    assert!(entries[0].last_error.is_some());
    assert!(event_actions(&server).contains(&EventAction::EmailFailed));
}

fn smtp_settings(port: u16) -> EmailSettings {
    EmailSettings {
        host: "127.0.0.1".into(),
        port,
        from: FROM.into(),
        timeout_secs: 5,
        ..EmailSettings::default()
    }
}

/// A mailer sending through real SMTP, on a database of its own: a running server's
/// outbox worker would pick up (and race for) entries in the server's database.
struct Standalone {
    mailer: Mailer,
    db: Db,
    clock: ManualClock,
    _dir: TempDir,
}

fn standalone_mailer(port: u16) -> Standalone {
    let dir = TempDir::new().unwrap();
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    // SQLite takes an empty file as an empty database; opening it migrates it.
    std::fs::File::create(dir.path().join("gatehouse.db")).unwrap();
    let db = Db::new(gatehouse::app::open_store_for_cli(&settings).unwrap());
    let clock = ManualClock::starting_at(Timestamp(1_700_000_000));
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let transport = SmtpTransport::new(&smtp_settings(port)).unwrap();
    let events = Events::new(db.clone(), Arc::clone(&shared));
    Standalone {
        mailer: Mailer::new(db.clone(), shared, Arc::new(transport), events),
        db,
        clock,
        _dir: dir,
    }
}

fn password_reset() -> gatehouse::model::OutgoingEmail {
    let context = EmailContext {
        user: EmailUser {
            username: "alice".into(),
            name: "Alice".into(),
            email: "alice@example.com".into(),
        },
        url: Some("http://localhost:9000/if/flow/recovery/?token=abc&x=1".into()),
        expires_minutes: Some(30),
        title: "Example ID".into(),
    };
    EmailTemplates::new(None)
        .render("password_reset", &context)
        .unwrap()
        .to("alice@example.com")
}

#[tokio::test]
async fn the_outbox_keeps_mail_until_the_relay_comes_back() {
    let port = free_port();
    let standalone = standalone_mailer(port);
    let (mailer, db, clock) = (&standalone.mailer, &standalone.db, &standalone.clock);

    // The relay is down: the message waits in the outbox instead of being lost.
    let id = mailer.enqueue(password_reset()).await.unwrap();
    assert_eq!(mailer.deliver_due().await, 0);
    let waiting = db
        .read(move |tx| tx.outbox_entry(id))
        .await
        .unwrap()
        .unwrap();
    assert!(waiting.is_retrying(), "{waiting:?}");

    let sink = SmtpSink::start_on(port);
    assert_eq!(mailer.deliver_due().await, 0, "not due before its backoff");
    clock.advance(30);
    assert_eq!(mailer.deliver_due().await, 1);

    let message = sink.wait_for(1).await.remove(0);
    assert_eq!(
        message.header("Subject").as_deref(),
        Some("Reset your password for Example ID")
    );
    assert!(
        message
            .header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{}",
        message.raw
    );
    assert!(message.raw.contains("text/html"));
    // The HTML part carries the link escaped (quoted-printable may wrap it, so look
    // for the escaped ampersand only).
    assert!(message.raw.contains("&amp;x=3D1") || message.raw.contains("&amp;x=1"));
    let sent = db
        .read(move |tx| tx.outbox_entry(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sent.status, OutboxStatus::Sent);
    assert_eq!(sent.attempts, 2);
}
