//! Outgoing email as the domain sees it: a message to send, and its row in the durable
//! outbox (status, attempts, when to try next). How it is rendered or sent lives in
//! `crate::email`; this file holds data only.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Timestamp;

/// One message, already rendered. `html` is an optional alternative to `text`; the plain
/// part is always there so every mail client can show something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// Where an outbox entry stands. A `Pending` entry with `attempts > 0` has failed at
/// least once and is waiting for its next try ("retrying").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    Sent,
    /// Given up after the last allowed attempt (or a message that can never be sent).
    Failed,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<OutboxStatus> {
        match raw {
            "pending" => Some(OutboxStatus::Pending),
            "sent" => Some(OutboxStatus::Sent),
            "failed" => Some(OutboxStatus::Failed),
            _ => None,
        }
    }
}

/// A message in the outbox. It is stored before the first delivery attempt, so a crash
/// between "decided to send" and "sent" leaves it pending rather than lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: Uuid,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub status: OutboxStatus,
    /// Delivery attempts made so far (successful or not).
    pub attempts: u32,
    /// A pending entry is due once the clock reaches this.
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created: Timestamp,
    pub sent_at: Option<Timestamp>,
}

impl OutboxEntry {
    /// A fresh entry, due at once.
    pub fn pending(id: Uuid, email: OutgoingEmail, now: Timestamp) -> OutboxEntry {
        OutboxEntry {
            id,
            to: email.to,
            subject: email.subject,
            text: email.text,
            html: email.html,
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created: now,
            sent_at: None,
        }
    }

    /// The message this entry carries.
    pub fn message(&self) -> OutgoingEmail {
        OutgoingEmail {
            to: self.to.clone(),
            subject: self.subject.clone(),
            text: self.text.clone(),
            html: self.html.clone(),
        }
    }

    /// Pending after at least one failed attempt.
    pub fn is_retrying(&self) -> bool {
        self.status == OutboxStatus::Pending && self.attempts > 0
    }
}

#[cfg(test)]
mod tests {
    use super::OutboxStatus;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in [
            OutboxStatus::Pending,
            OutboxStatus::Sent,
            OutboxStatus::Failed,
        ] {
            assert_eq!(OutboxStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OutboxStatus::parse("queued"), None);
    }
}
