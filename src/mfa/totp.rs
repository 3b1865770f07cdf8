//! TOTP devices (RFC 6238) with what authenticator apps expect by default: SHA-1, six
//! digits, 30-second steps. A code is accepted one step early or late (clock drift), and
//! each time step once only (RFC 6238 §5.2): the device remembers the last step used.

use rand::RngCore;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::crypto::SecretBox;
use crate::model::device::TotpData;

pub const DEFAULT_DIGITS: u32 = 6;
pub const DEFAULT_PERIOD: u64 = 30;
/// Steps accepted either side of now.
const SKEW: u16 = 1;
/// 160 bits, the size RFC 4226 recommends for the shared secret.
const SECRET_BYTES: usize = 20;

/// A new secret, base32 as authenticator apps show it.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    Secret::from(bytes.to_vec()).to_base32()
}

fn totp(
    secret_base32: &str,
    digits: u32,
    period: u64,
    account: &str,
    issuer: &str,
) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret_base32).ok()?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(u8::try_from(digits).ok()?)
        .with_secret(secret)
        .with_skew(SKEW)
        .with_step_duration(period)
        // `:` separates issuer and account in the URI; neither may contain one.
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(issuer.replace(':', "_")))
        .build()
        .ok()
}

/// The `otpauth://totp/...` URI an authenticator app scans.
pub fn provisioning_uri(
    secret_base32: &str,
    digits: u32,
    period: u64,
    account: &str,
    issuer: &str,
) -> Option<String> {
    totp(secret_base32, digits, period, account, issuer)?
        .to_url()
        .ok()
}

/// Checks `code` against the device at `unix_time`. On success returns the time step the
/// code belongs to, which the caller stores as `last_step`; a step at or before the last
/// one used is refused (the replay of a code seen once).
pub fn check(data: &TotpData, secret_box: &SecretBox, code: &str, unix_time: u64) -> Option<u64> {
    let code = code.trim();
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // authentik's clients send the code as a JSON number, which drops leading zeros.
    let code = format!("{code:0>width$}", width = data.digits as usize);
    if code.len() != data.digits as usize {
        return None;
    }
    let secret = secret_box.open(&data.secret_sealed)?;
    let step = totp(&secret, data.digits, data.period, "", "")?.check(&code, unix_time)?;
    (step > data.last_step || data.last_step == 0).then_some(step)
}

/// The code for `unix_time` (tests, and `gatehouse` tooling; never shown to users).
pub fn code_at(secret_base32: &str, digits: u32, period: u64, unix_time: u64) -> Option<String> {
    Some(
        totp(secret_base32, digits, period, "", "")?
            .generate(unix_time)
            .to_string(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn device(secret_box: &SecretBox, secret: &str) -> TotpData {
        TotpData {
            secret_sealed: secret_box.seal(secret),
            digits: DEFAULT_DIGITS,
            period: DEFAULT_PERIOD,
            last_step: 0,
        }
    }

    #[test]
    fn rfc_6238_vector_and_drift_and_replay() {
        // RFC 6238 Appendix B, SHA-1: secret "12345678901234567890", T = 59 → 94287082
        // (8 digits); the six-digit code is its last six.
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert_eq!(code_at(&secret, 8, 30, 59).unwrap(), "94287082");
        let secret_box = SecretBox::from_secret_key("test");
        let mut data = device(&secret_box, &secret);
        let now = 1_700_000_000;
        let code = code_at(&secret, 6, 30, now).unwrap();
        let step = check(&data, &secret_box, &code, now).unwrap();
        assert_eq!(step, now / 30);
        // One step late or early is fine; two is not.
        let late = code_at(&secret, 6, 30, now - 30).unwrap();
        assert!(check(&data, &secret_box, &late, now).is_some());
        let stale = code_at(&secret, 6, 30, now - 60).unwrap();
        assert!(check(&data, &secret_box, &stale, now).is_none());
        // Once used, that step and earlier ones are refused.
        data.last_step = step;
        assert!(check(&data, &secret_box, &code, now).is_none());
        assert!(check(&data, &secret_box, &late, now).is_none());
        let next = code_at(&secret, 6, 30, now + 30).unwrap();
        assert!(check(&data, &secret_box, &next, now + 30).is_some());
        // Garbage is refused without a panic.
        for junk in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            assert!(check(&data, &secret_box, junk, now).is_none(), "{junk}");
        }
    }

    #[test]
    fn codes_sent_as_numbers_lose_no_leading_zero() {
        let secret = new_secret();
        let secret_box = SecretBox::from_secret_key("test");
        let data = device(&secret_box, &secret);
        let mut time = 1_700_000_000;
        let code = loop {
            let code = code_at(&secret, 6, 30, time).unwrap();
            if code.starts_with('0') {
                break code;
            }
            time += 30;
        };
        let as_number = code.trim_start_matches('0');
        assert!(
            check(&data, &secret_box, as_number, time).is_some(),
            "{code}"
        );
    }

    #[test]
    fn provisioning_uris_carry_issuer_account_and_secret() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32);
        let uri = provisioning_uri(&secret, 6, 30, "alice", "gatehouse").unwrap();
        assert!(uri.starts_with("otpauth://totp/gatehouse:alice?"), "{uri}");
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
        assert!(uri.contains("issuer=gatehouse"), "{uri}");
    }
}
