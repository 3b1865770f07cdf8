//! One-time codes sent by email (authentik's email authenticator): six digits, kept in
//! the `Kv` as a SHA-256 only, for a short time, spent by the first correct answer. A
//! code survives a few wrong guesses only; after that a new one must be sent.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::crypto::{constant_time_eq, sha256_hex};
use crate::model::{Timestamp, UserId};
use crate::store::{Ephemeral, StoreResult};

pub const NAMESPACE: &str = "mfa_email_code";
/// How long a code works unless the stage says otherwise.
pub const DEFAULT_TTL_SECS: u64 = 600;
/// Wrong answers one code survives.
const MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingCode {
    code_hash: String,
    attempts: u32,
    expires: Timestamp,
}

/// A new six-digit code.
pub fn new_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// The Kv key of the code sent to `address` for `user`; the address is hashed so the Kv
/// holds no address.
fn key(user: UserId, address: &str) -> String {
    sha256_hex(format!("{}\0{}", user.0, address.trim().to_lowercase()).as_bytes())
}

fn hash(user: UserId, code: &str) -> String {
    let code = code.trim();
    // authentik's clients send the code as a JSON number, which drops leading zeros.
    let code = if !code.is_empty() && code.len() < 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        format!("{code:0>6}")
    } else {
        code.to_owned()
    };
    sha256_hex(format!("{}\0{code}", user.0).as_bytes())
}

/// Keeps `code` as the one to expect from `user` for `address`, replacing any earlier one.
pub fn remember(
    ephemeral: &Ephemeral,
    user: UserId,
    address: &str,
    code: &str,
    ttl_secs: u64,
) -> StoreResult<()> {
    let expires = ephemeral.now().plus_secs(ttl_secs.max(60));
    let pending = PendingCode {
        code_hash: hash(user, code),
        attempts: 0,
        expires,
    };
    ephemeral.put_until(NAMESPACE, &key(user, address), &pending, expires)
}

/// Whether `code` is the one sent to `address`; a right code is spent, a wrong one
/// counts, and too many wrong ones drop the code.
pub fn check(ephemeral: &Ephemeral, user: UserId, address: &str, code: &str) -> StoreResult<bool> {
    let key = key(user, address);
    let Some(mut pending) = ephemeral.get::<PendingCode>(NAMESPACE, &key)? else {
        return Ok(false);
    };
    let presented = hash(user, code);
    if constant_time_eq(presented.as_bytes(), pending.code_hash.as_bytes()) {
        // Taken, so two requests racing with one code cannot both pass.
        return Ok(ephemeral.take::<PendingCode>(NAMESPACE, &key)?.is_some());
    }
    pending.attempts += 1;
    if pending.attempts >= MAX_ATTEMPTS {
        ephemeral.delete(NAMESPACE, &key)?;
    } else {
        ephemeral.put_until(NAMESPACE, &key, &pending, pending.expires)?;
    }
    Ok(false)
}

/// `alice@example.com` → `a***@example.com`, as a challenge shows where a code went.
pub fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, ManualClock, SystemClock};
    use crate::store::memory_kv::MemoryKv;

    #[test]
    fn a_code_works_once_for_a_while_and_survives_few_guesses() {
        let clock = ManualClock::starting_at(SystemClock.now());
        let ephemeral = Ephemeral::new(Arc::new(MemoryKv::new()), Arc::new(clock.clone()));
        let user = UserId(7);
        let code = new_code();
        assert_eq!(code.len(), 6);
        remember(&ephemeral, user, "a@example.com", &code, 600).unwrap();
        assert!(!check(&ephemeral, user, "a@example.com", "not it").unwrap());
        assert!(!check(&ephemeral, UserId(8), "a@example.com", &code).unwrap());
        assert!(check(&ephemeral, user, "A@example.com ", &code).unwrap());
        assert!(
            !check(&ephemeral, user, "a@example.com", &code).unwrap(),
            "spent"
        );

        remember(&ephemeral, user, "a@example.com", &code, 600).unwrap();
        clock.advance(601);
        assert!(
            !check(&ephemeral, user, "a@example.com", &code).unwrap(),
            "expired"
        );

        remember(&ephemeral, user, "a@example.com", &code, 600).unwrap();
        for _ in 0..MAX_ATTEMPTS {
            assert!(!check(&ephemeral, user, "a@example.com", "000000x").unwrap());
        }
        assert!(
            !check(&ephemeral, user, "a@example.com", &code).unwrap(),
            "dropped"
        );
        assert_eq!(mask("alice@example.com"), "a***@example.com");
    }
}
