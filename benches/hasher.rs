//! gatehouse's own password hasher (pooled buffers) against a raw argon2id verify into a
//! reused buffer, interleaved sample by sample: this VM's timings drift by tens of
//! percent between runs, so only measurements taken side by side are compared.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Instant;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use gatehouse::crypto::{PasswordHasher, PasswordParams};

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn millis(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let hasher = PasswordHasher::new(PasswordParams::default(), 2).unwrap();
    let hash = hasher.hash_blocking("benchmark password").unwrap();
    let parsed = PasswordHash::new(&hash).unwrap();
    let (salt, expected) = (parsed.salt.unwrap(), parsed.hash.unwrap());
    let raw = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).unwrap(),
    );
    let mut blocks = vec![argon2::Block::default(); raw.params().block_count()];
    let (mut raw_times, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        let start = Instant::now();
        let mut out = [0u8; 32];
        raw.hash_password_into_with_memory(
            b"benchmark password",
            salt.as_ref(),
            &mut out,
            &mut blocks,
        )
        .unwrap();
        assert_eq!(&out[..], expected.as_bytes());
        raw_times.push(millis(start));
        let start = Instant::now();
        assert!(hasher.verify_blocking("benchmark password", Some(&hash)));
        ours.push(millis(start));
    }
    let (raw_ms, ours_ms) = (median(&mut raw_times), median(&mut ours));
    println!(
        "{{\"raw_verify_ms_median\": {raw_ms:.3}, \"gatehouse_verify_ms_median\": {ours_ms:.3}, \"overhead_ms\": {:.3}}}",
        ours_ms - raw_ms
    );
}
