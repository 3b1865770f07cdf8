//! The `Transport` port: something that takes a rendered message and delivers it (or
//! says why not). The SMTP adapter lives in `smtp.rs`; `MemoryTransport` here records
//! messages for tests and can be told to fail.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use crate::model::OutgoingEmail;

/// Why a message was not delivered. Only `InvalidMessage` is final: everything else
/// may work on a later try (a server back up, settings fixed and the server restarted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The message itself can never be sent (the recipient is not an address, ...).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The transport cannot be built from the settings (a bad `email.from`, TLS set-up).
    #[error("email settings: {0}")]
    Configuration(String),
    /// The server was unreachable, timed out or refused the message.
    #[error("{0}")]
    Delivery(String),
}

impl SendError {
    /// Retrying cannot help: the outbox gives up at once instead of after ten tries.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::InvalidMessage(_))
    }
}

/// The future a `Transport` returns; boxed so the trait stays object-safe.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// Delivers one message. Implementations apply their own timeouts: the outbox awaits
/// them one at a time.
pub trait Transport: Send + Sync + 'static {
    fn send<'a>(&'a self, message: &'a OutgoingEmail) -> SendFuture<'a>;
}

/// Keeps every delivered message in memory, for tests. `fail_next(n)` makes the next
/// `n` sends fail with a `Delivery` error, to exercise the retry path.
#[derive(Clone, Default)]
pub struct MemoryTransport {
    state: Arc<Mutex<MemoryState>>,
}

#[derive(Default)]
struct MemoryState {
    sent: Vec<OutgoingEmail>,
    failures_left: u32,
    attempts: u32,
}

impl MemoryTransport {
    pub fn new() -> MemoryTransport {
        MemoryTransport::default()
    }

    pub fn fail_next(&self, count: u32) {
        self.lock().failures_left = count;
    }

    /// Messages delivered so far, oldest first.
    pub fn sent(&self) -> Vec<OutgoingEmail> {
        self.lock().sent.clone()
    }

    /// Every send call, failed ones included.
    pub fn attempts(&self) -> u32 {
        self.lock().attempts
    }

    // A panic while holding the lock cannot leave the state half-written (every update
    // is one assignment or push), so a poisoned lock is safe to keep using.
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Transport for MemoryTransport {
    fn send<'a>(&'a self, message: &'a OutgoingEmail) -> SendFuture<'a> {
        let result = {
            let mut state = self.lock();
            state.attempts = state.attempts.saturating_add(1);
            if state.failures_left > 0 {
                state.failures_left -= 1;
                Err(SendError::Delivery("memory transport told to fail".into()))
            } else {
                state.sent.push(message.clone());
                Ok(())
            }
        };
        Box::pin(std::future::ready(result))
    }
}
