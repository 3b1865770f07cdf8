//! The background worker's heartbeat: it beats on every tick (every few seconds), and the
//! readiness check reports the service unready when the beats stop — a stuck worker
//! means sessions are no longer flushed and emails no longer sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long without a beat counts as stalled: many ticks (`FLUSH_EVERY` is 5 s).
pub const STALLED_AFTER: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Heartbeat {
    started: Instant,
    /// Milliseconds since `started` at the last beat.
    last: Arc<AtomicU64>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            started: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Release);
    }

    /// Time since the last beat (or since creation, before the first).
    pub fn age(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Acquire));
        self.started.elapsed().saturating_sub(last)
    }

    pub fn stalled(&self) -> bool {
        self.age() > STALLED_AFTER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_resets_the_age() {
        let heartbeat = Heartbeat::default();
        std::thread::sleep(Duration::from_millis(20));
        assert!(heartbeat.age() >= Duration::from_millis(20));
        heartbeat.beat();
        assert!(heartbeat.age() < Duration::from_millis(20));
        assert!(!heartbeat.stalled());
    }
}
