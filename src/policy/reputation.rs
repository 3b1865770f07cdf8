//! Reputation: brute-force protection scores per client IP and per username, kept in the
//! `Kv` (namespaces `rep_ip`, `rep_user`). It owns the scoring rules only; the stages
//! decide when to record a failure or a success, and the reputation policy reads scores.
//!
//! The numbers follow authentik's defaults (`reputation.lower_limit` = -5,
//! `reputation.upper_limit` = 5, `reputation.expiry` = 86400 s): a failed login is -1, a
//! successful one +1, clamped to [-5, 5], forgotten a day after the last change. authentik
//! has no decay; gatehouse adds one so a lock-out ends by itself: a score moves one point
//! back toward 0 for every `decay_secs` (300 s) since its last change, computed on read.
//! With the defaults, five failures lock a username or IP out (threshold -5) and one more
//! attempt is allowed every five minutes after that.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::crypto::sha256_hex;
use crate::model::Timestamp;
use crate::store::{Ephemeral, StoreResult};

pub const NAMESPACE_IP: &str = "rep_ip";
pub const NAMESPACE_USER: &str = "rep_user";
/// authentik's default threshold for its reputation policy.
pub const DEFAULT_THRESHOLD: i64 = -5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReputationSettings {
    pub lower_limit: i64,
    pub upper_limit: i64,
    /// Seconds per point of decay toward 0; 0 turns decay off.
    pub decay_secs: u64,
    /// Seconds an untouched score is kept.
    pub expiry_secs: u64,
}

impl Default for ReputationSettings {
    fn default() -> Self {
        ReputationSettings {
            lower_limit: -5,
            upper_limit: 5,
            decay_secs: 300,
            expiry_secs: 86_400,
        }
    }
}

/// What is stored per key: the score as of `updated`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct StoredScore {
    score: i64,
    updated: Timestamp,
}

#[derive(Clone)]
pub struct Reputation {
    ephemeral: Ephemeral,
    settings: ReputationSettings,
    /// Serialises read-modify-write in this process so two concurrent failures both
    /// count. Across nodes the Kv is loss-tolerant by contract; a lost point is harmless.
    update_lock: Arc<Mutex<()>>,
}

impl Reputation {
    pub fn new(ephemeral: Ephemeral) -> Reputation {
        Reputation::with_settings(ephemeral, ReputationSettings::default())
    }

    pub fn with_settings(ephemeral: Ephemeral, settings: ReputationSettings) -> Reputation {
        Reputation {
            ephemeral,
            settings,
            update_lock: Arc::new(Mutex::new(())),
        }
    }

    pub fn settings(&self) -> ReputationSettings {
        self.settings
    }

    /// A failed login (wrong password, unknown user): -1 for the username and the IP.
    pub fn record_failure(&self, username: &str, ip: Option<IpAddr>) -> StoreResult<()> {
        self.change(username, ip, -1)
    }

    /// A successful login: +1 for the username and the IP (authentik's `login` signal).
    pub fn record_success(&self, username: &str, ip: Option<IpAddr>) -> StoreResult<()> {
        self.change(username, ip, 1)
    }

    /// The IP's current score; an unknown IP (or a Kv error) scores 0.
    pub fn score_ip(&self, ip: IpAddr) -> i64 {
        self.current(NAMESPACE_IP, &ip_key(ip))
    }

    /// The username's current score (case-insensitive); unknown scores 0.
    pub fn score_username(&self, username: &str) -> i64 {
        self.current(NAMESPACE_USER, &username_key(username))
    }

    /// Whether the username or the IP is at or below `threshold` (e.g. -5). Stages use
    /// this directly to refuse a password attempt before checking it.
    pub fn is_locked_out(&self, username: &str, ip: Option<IpAddr>, threshold: i64) -> bool {
        let user_locked = !username.is_empty() && self.score_username(username) <= threshold;
        let ip_locked = ip.is_some_and(|ip| self.score_ip(ip) <= threshold);
        user_locked || ip_locked
    }

    /// Forgets both scores (an admin "unlock").
    pub fn reset(&self, username: &str, ip: Option<IpAddr>) -> StoreResult<()> {
        self.ephemeral
            .delete(NAMESPACE_USER, &username_key(username))?;
        if let Some(ip) = ip {
            self.ephemeral.delete(NAMESPACE_IP, &ip_key(ip))?;
        }
        Ok(())
    }

    fn change(&self, username: &str, ip: Option<IpAddr>, delta: i64) -> StoreResult<()> {
        let _guard = self
            .update_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !username.is_empty() {
            self.add(NAMESPACE_USER, &username_key(username), delta)?;
        }
        if let Some(ip) = ip {
            self.add(NAMESPACE_IP, &ip_key(ip), delta)?;
        }
        Ok(())
    }

    fn add(&self, namespace: &str, key: &str, delta: i64) -> StoreResult<()> {
        let now = self.ephemeral.now();
        let stored = self.ephemeral.get::<StoredScore>(namespace, key)?;
        let before = stored.map_or(0, |stored| self.decayed(stored, now));
        let score = before
            .saturating_add(delta)
            .clamp(self.settings.lower_limit, self.settings.upper_limit);
        // A success at the upper limit changes nothing but the timestamp: skip the write
        // (it is on every sign-in and LDAP bind). The score then decays from the last
        // real change, and the next success puts it back.
        if stored.is_some_and(|stored| stored.score == score && before == score) {
            return Ok(());
        }
        let stored = StoredScore {
            score,
            updated: now,
        };
        self.ephemeral
            .put(namespace, key, &stored, self.settings.expiry_secs)
    }

    /// Reads never fail the caller: a Kv outage must not lock everybody out, so it reads
    /// as a neutral score (and is logged).
    fn current(&self, namespace: &str, key: &str) -> i64 {
        match self.ephemeral.get::<StoredScore>(namespace, key) {
            Ok(stored) => stored.map_or(0, |stored| self.decayed(stored, self.ephemeral.now())),
            Err(error) => {
                tracing::warn!(%error, namespace, "reputation score unreadable; using 0");
                0
            }
        }
    }

    /// The stored score moved toward 0 by one point per elapsed `decay_secs`.
    fn decayed(&self, stored: StoredScore, now: Timestamp) -> i64 {
        let Ok(decay_secs) = i64::try_from(self.settings.decay_secs) else {
            return stored.score;
        };
        if decay_secs == 0 {
            return stored.score;
        }
        let elapsed = now.0.saturating_sub(stored.updated.0).max(0);
        let steps = elapsed / decay_secs;
        if stored.score < 0 {
            stored.score.saturating_add(steps).min(0)
        } else {
            stored.score.saturating_sub(steps).max(0)
        }
    }
}

/// IPv4 addresses count one by one. IPv6 addresses count by their /64: a single
/// subscriber usually holds a whole /64 and could otherwise take a fresh address for
/// every attempt (RFC 6177 recommends /64 or larger per site; /64 is the smallest).
fn ip_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
    }
}

/// Usernames are hashed so the Kv never holds the names people typed (which are sometimes
/// passwords typed into the wrong field).
fn username_key(username: &str) -> String {
    sha256_hex(username.trim().to_lowercase().as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::memory_kv::MemoryKv;

    fn reputation() -> (Reputation, ManualClock) {
        let clock = ManualClock::starting_at(Timestamp(1_700_000_000));
        let ephemeral = Ephemeral::new(Arc::new(MemoryKv::new()), Arc::new(clock.clone()));
        (Reputation::new(ephemeral), clock)
    }

    fn ip() -> IpAddr {
        "192.0.2.7".parse().unwrap()
    }

    #[test]
    fn failures_lower_both_scores_down_to_the_limit() {
        let (reputation, _clock) = reputation();
        for _ in 0..3 {
            reputation.record_failure("Alice", Some(ip())).unwrap();
        }
        assert_eq!(reputation.score_username("alice"), -3);
        assert_eq!(reputation.score_ip(ip()), -3);
        assert!(!reputation.is_locked_out("alice", Some(ip()), DEFAULT_THRESHOLD));
        for _ in 0..5 {
            reputation.record_failure("ALICE", Some(ip())).unwrap();
        }
        assert_eq!(reputation.score_username("alice"), -5);
        assert!(reputation.is_locked_out("alice", None, DEFAULT_THRESHOLD));
        assert!(reputation.is_locked_out("bob", Some(ip()), DEFAULT_THRESHOLD));
        assert!(!reputation.is_locked_out("bob", None, DEFAULT_THRESHOLD));
    }

    #[test]
    fn ipv6_clients_count_by_their_64_prefix() {
        let (reputation, _clock) = reputation();
        let first: IpAddr = "2001:db8:1:2::10".parse().unwrap();
        let sibling: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::10".parse().unwrap();
        reputation.record_failure("", Some(first)).unwrap();
        assert_eq!(reputation.score_ip(sibling), -1);
        assert_eq!(reputation.score_ip(other), 0);
        // An IPv4 client seen through an IPv6 socket is the IPv4 client.
        reputation
            .record_failure("", Some("::ffff:192.0.2.7".parse().unwrap()))
            .unwrap();
        assert_eq!(reputation.score_ip(ip()), -1);
    }

    #[test]
    fn successes_raise_the_score_up_to_five() {
        let (reputation, _clock) = reputation();
        for _ in 0..8 {
            reputation.record_success("carol", None).unwrap();
        }
        assert_eq!(reputation.score_username("carol"), 5);
        reputation.record_failure("carol", None).unwrap();
        assert_eq!(reputation.score_username("carol"), 4);
    }

    #[test]
    fn scores_decay_toward_zero_with_time() {
        let (reputation, clock) = reputation();
        for _ in 0..5 {
            reputation.record_failure("dave", Some(ip())).unwrap();
        }
        assert!(reputation.is_locked_out("dave", None, DEFAULT_THRESHOLD));
        clock.advance(299);
        assert_eq!(reputation.score_username("dave"), -5);
        clock.advance(1);
        assert_eq!(reputation.score_username("dave"), -4);
        assert!(!reputation.is_locked_out("dave", Some(ip()), DEFAULT_THRESHOLD));
        // A failure now counts from the decayed score, and restarts the decay period.
        reputation.record_failure("dave", None).unwrap();
        assert_eq!(reputation.score_username("dave"), -5);
        clock.advance(10 * 300);
        assert_eq!(reputation.score_username("dave"), 0);
        assert_eq!(reputation.score_ip(ip()), 0);
    }

    #[test]
    fn scores_expire_after_a_day_and_can_be_reset() {
        let (reputation, clock) = reputation();
        let settings = ReputationSettings {
            decay_secs: 0,
            ..ReputationSettings::default()
        };
        let no_decay = Reputation::with_settings(reputation.ephemeral.clone(), settings);
        no_decay.record_failure("erin", Some(ip())).unwrap();
        clock.advance(86_399);
        assert_eq!(no_decay.score_username("erin"), -1);
        clock.advance(1);
        assert_eq!(no_decay.score_username("erin"), 0);
        no_decay.record_failure("erin", Some(ip())).unwrap();
        no_decay.reset("Erin", Some(ip())).unwrap();
        assert_eq!(no_decay.score_username("erin"), 0);
        assert_eq!(no_decay.score_ip(ip()), 0);
    }
}
