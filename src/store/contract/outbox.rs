//! Contract cases for the email outbox: what is due and when, and how each attempt's
//! outcome is recorded.

use uuid::Uuid;

use super::{StoreFixture, T0, conflict_on, query};
use crate::model::{OutboxEntry, OutboxStatus, OutgoingEmail, Timestamp};
use crate::store::{Store, StoreError, StoreExt};

fn entry(to: &str, created: Timestamp) -> OutboxEntry {
    let email = OutgoingEmail {
        to: to.to_owned(),
        subject: format!("Hello {to}"),
        text: "plain body".into(),
        html: Some("<p>html body</p>".into()),
    };
    OutboxEntry::pending(Uuid::new_v4(), email, created)
}

fn enqueue(store: &dyn Store, entry: &OutboxEntry) {
    let entry = entry.clone();
    store.write(|tx| tx.enqueue_email(&entry)).unwrap();
}

fn due_ids(store: &dyn Store, now: Timestamp) -> Vec<Uuid> {
    store
        .read(|tx| tx.outbox_due(now, 100))
        .unwrap()
        .into_iter()
        .map(|entry| entry.id)
        .collect()
}

fn read_entry(store: &dyn Store, id: Uuid) -> OutboxEntry {
    store.read(|tx| tx.outbox_entry(id)).unwrap().unwrap()
}

pub(super) fn outbox_enqueued_entries_are_due(f: &mut StoreFixture) {
    let store = f.store();
    let first = entry("a@example.com", T0);
    let second = entry("b@example.com", Timestamp(T0.0 + 1));
    enqueue(store, &second);
    enqueue(store, &first);

    assert_eq!(read_entry(store, first.id), first);
    assert_eq!(
        store.read(|tx| tx.outbox_entry(Uuid::new_v4())).unwrap(),
        None
    );
    // Longest waiting first, and the limit is honoured.
    let now = Timestamp(T0.0 + 5);
    assert_eq!(due_ids(store, now), vec![first.id, second.id]);
    let limited = store.read(|tx| tx.outbox_due(now, 1)).unwrap();
    assert_eq!(limited, vec![first.clone()]);

    assert_eq!(
        conflict_on(store.write(|tx| tx.enqueue_email(&first))),
        "id"
    );
}

pub(super) fn outbox_entries_are_not_due_before_their_time(f: &mut StoreFixture) {
    let store = f.store();
    let mut later = entry("later@example.com", T0);
    later.next_attempt_at = Timestamp(T0.0 + 60);
    enqueue(store, &later);
    assert!(due_ids(store, T0).is_empty());
    assert!(due_ids(store, Timestamp(T0.0 + 59)).is_empty());
    assert_eq!(due_ids(store, Timestamp(T0.0 + 60)), vec![later.id]);
}

pub(super) fn outbox_sent_entries_are_not_due(f: &mut StoreFixture) {
    let store = f.store();
    let mail = entry("sent@example.com", T0);
    enqueue(store, &mail);
    let at = Timestamp(T0.0 + 2);
    store.write(|tx| tx.mark_email_sent(mail.id, at)).unwrap();

    assert!(due_ids(store, Timestamp(T0.0 + 3600)).is_empty());
    let read = read_entry(store, mail.id);
    assert_eq!(read.status, OutboxStatus::Sent);
    assert_eq!(read.sent_at, Some(at));
    assert_eq!(read.attempts, 1);

    // Recorded already sent (as a send-now does): never due either.
    let mut direct = entry("direct@example.com", T0);
    direct.status = OutboxStatus::Sent;
    direct.attempts = 1;
    direct.sent_at = Some(T0);
    enqueue(store, &direct);
    assert!(due_ids(store, Timestamp(T0.0 + 3600)).is_empty());
    assert_eq!(read_entry(store, direct.id), direct);

    assert!(matches!(
        store.write(|tx| tx.mark_email_sent(Uuid::new_v4(), at)),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn outbox_failed_attempt_reschedules(f: &mut StoreFixture) {
    let store = f.store();
    let mail = entry("retry@example.com", T0);
    enqueue(store, &mail);
    let retry_at = Timestamp(T0.0 + 30);
    store
        .write(|tx| tx.mark_email_failed_attempt(mail.id, "connection refused", Some(retry_at)))
        .unwrap();

    let read = read_entry(store, mail.id);
    assert_eq!(read.status, OutboxStatus::Pending);
    assert!(read.is_retrying());
    assert_eq!(read.attempts, 1);
    assert_eq!(read.next_attempt_at, retry_at);
    assert_eq!(read.last_error.as_deref(), Some("connection refused"));
    assert!(due_ids(store, Timestamp(T0.0 + 29)).is_empty());
    assert_eq!(due_ids(store, retry_at), vec![mail.id]);

    // A later success keeps the count of every attempt.
    store
        .write(|tx| tx.mark_email_sent(mail.id, Timestamp(T0.0 + 31)))
        .unwrap();
    assert_eq!(read_entry(store, mail.id).attempts, 2);

    assert!(matches!(
        store.write(|tx| tx.mark_email_failed_attempt(Uuid::new_v4(), "x", None)),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn outbox_giving_up_marks_failed(f: &mut StoreFixture) {
    let store = f.store();
    let mail = entry("bounce@example.com", T0);
    enqueue(store, &mail);
    store
        .write(|tx| {
            tx.mark_email_failed_attempt(mail.id, "first", Some(Timestamp(T0.0 + 30)))?;
            tx.mark_email_failed_attempt(mail.id, "550 no such user", None)
        })
        .unwrap();

    let read = read_entry(store, mail.id);
    assert_eq!(read.status, OutboxStatus::Failed);
    assert!(!read.is_retrying());
    assert_eq!(read.attempts, 2);
    assert_eq!(read.last_error.as_deref(), Some("550 no such user"));
    assert_eq!(read.sent_at, None);
    assert!(due_ids(store, Timestamp(T0.0 + 86_400)).is_empty());
}

pub(super) fn outbox_lists_newest_first(f: &mut StoreFixture) {
    let store = f.store();
    let old = entry("old@example.com", T0);
    let new = entry("new@example.com", Timestamp(T0.0 + 10));
    // Same second as `new`, inserted later: insertion order breaks the tie.
    let newest = entry("newest@example.com", Timestamp(T0.0 + 10));
    for mail in [&old, &new, &newest] {
        enqueue(store, mail);
    }
    store.write(|tx| tx.mark_email_sent(old.id, T0)).unwrap();

    let page = store
        .read(|tx| tx.list_outbox(&query(None, None, false)))
        .unwrap();
    let ids: Vec<Uuid> = page.items.iter().map(|entry| entry.id).collect();
    assert_eq!(ids, vec![newest.id, new.id, old.id]);
    assert_eq!(page.total, 3);

    let found = store
        .read(|tx| tx.list_outbox(&query(Some("NEW@"), None, false)))
        .unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(found.items[0].id, new.id);

    let sent = store
        .read(|tx| tx.list_outbox(&query(Some("sent"), None, false)))
        .unwrap();
    assert_eq!(
        sent.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![old.id]
    );

    let by_recipient = store
        .read(|tx| tx.list_outbox(&query(None, Some("to"), false)))
        .unwrap();
    assert_eq!(by_recipient.items[0].id, new.id);
}
