//! Recovery codes (authentik's static tokens): a set of single-use codes shown once. Only
//! their SHA-256 is stored, so a copy of the database does not reveal them; a code is
//! removed when used. Codes are random enough (50 bits) that a fast hash is sufficient.

use crate::crypto::digest::sha256_hex;
use crate::crypto::random::random_alphanumeric;
use crate::model::device::StaticData;

pub const DEFAULT_COUNT: usize = 10;
pub const DEFAULT_LENGTH: usize = 10;

/// New codes, and the data that stores their hashes.
pub fn generate(count: usize, length: usize) -> (Vec<String>, StaticData) {
    let codes: Vec<String> = (0..count.clamp(1, 50))
        .map(|_| random_alphanumeric(length.clamp(8, 32)))
        .collect();
    let code_hashes = codes.iter().map(|code| hash(code)).collect();
    (codes, StaticData { code_hashes })
}

/// The stored form of codes generated earlier (shown first, kept on confirmation).
pub fn hashes(codes: &[&str]) -> StaticData {
    StaticData {
        code_hashes: codes.iter().map(|code| hash(code)).collect(),
    }
}

fn hash(code: &str) -> String {
    // Typed codes may come with spaces or dashes from a printout.
    let normalized: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    sha256_hex(normalized.as_bytes())
}

/// Spends `code`: returns whether it was one of the unused codes (and removes it).
pub fn spend(data: &mut StaticData, code: &str) -> bool {
    let presented = hash(code);
    let mut found = None;
    for (index, stored) in data.code_hashes.iter().enumerate() {
        // Compare every entry, so the time taken does not say which one matched.
        if crate::crypto::constant_time_eq(stored.as_bytes(), presented.as_bytes()) {
            found = Some(index);
        }
    }
    match found {
        Some(index) => {
            data.code_hashes.remove(index);
            true
        }
        None => false,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn codes_work_once_and_tolerate_formatting() {
        let (codes, mut data) = generate(DEFAULT_COUNT, DEFAULT_LENGTH);
        assert_eq!(codes.len(), 10);
        assert_eq!(data.code_hashes.len(), 10);
        let first = codes.first().cloned().unwrap_or_default();
        let spaced = format!(" {}-{} ", &first[..5], &first[5..]);
        assert!(spend(&mut data, &spaced));
        assert!(!spend(&mut data, &first), "a code works once");
        assert!(!spend(&mut data, "not-a-code"));
        assert_eq!(data.code_hashes.len(), 9);
    }
}
