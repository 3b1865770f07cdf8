//! The reference for password sign-in latency: one raw argon2id verify with the same
//! parameters gatehouse uses by default (OWASP: m=19 MiB, t=2, p=1), measured in the same
//! session as `benches/appliance.py`, which subtracts it from the login time.
//!
//! Prints one JSON line: `{"argon2_verify_ms_median": ..., "samples": ...}`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Instant;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

fn main() {
    let memory_kib = env_u32("ARGON2_MEMORY_KIB", 19_456);
    let iterations = env_u32("ARGON2_ITERATIONS", 2);
    let samples = env_u32("ARGON2_SAMPLES", 30) as usize;
    let argon = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(memory_kib, iterations, 1, None).unwrap(),
    );
    let hash = argon
        .hash_password(b"benchmark password")
        .unwrap()
        .to_string();
    let parsed = PasswordHash::new(&hash).unwrap();
    if std::env::var_os("ARGON2_SERVE").is_some() {
        serve(&argon, &parsed);
        return;
    }
    let mut timings: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            argon
                .verify_password(b"benchmark password", &parsed)
                .unwrap();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let cold = median(&mut timings);
    // The same verify into one reused buffer: the floor for any server, which is what
    // gatehouse's buffer pool approaches during a burst of logins.
    let expected = parsed.hash.unwrap();
    let salt = parsed.salt.unwrap();
    let mut blocks = vec![argon2::Block::default(); argon.params().block_count()];
    let mut warm: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            let mut out = vec![0u8; expected.len()];
            argon
                .hash_password_into_with_memory(
                    b"benchmark password",
                    salt.as_ref(),
                    &mut out,
                    &mut blocks,
                )
                .unwrap();
            assert_eq!(out.as_slice(), expected.as_bytes());
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let warm = median(&mut warm);
    println!(
        "{{\"argon2_verify_ms_median\": {cold:.3}, \"argon2_verify_warm_buffer_ms_median\": {warm:.3}, \"samples\": {samples}, \"memory_kib\": {memory_kib}, \"iterations\": {iterations}}}"
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One warm-buffer verify per line read from stdin, its time in ms printed back: lets a
/// load script interleave raw verifies with sign-ins, so both see the same machine.
fn serve(argon: &Argon2<'_>, parsed: &PasswordHash) {
    use std::io::{BufRead, Write};
    let (salt, expected) = (parsed.salt.unwrap(), parsed.hash.unwrap());
    let mut blocks = vec![argon2::Block::default(); argon.params().block_count()];
    let stdout = std::io::stdout();
    for _ in std::io::stdin().lock().lines() {
        let start = Instant::now();
        let mut out = vec![0u8; expected.len()];
        argon
            .hash_password_into_with_memory(
                b"benchmark password",
                salt.as_ref(),
                &mut out,
                &mut blocks,
            )
            .unwrap();
        let mut stdout = stdout.lock();
        writeln!(stdout, "{:.3}", start.elapsed().as_secs_f64() * 1000.0).unwrap();
        stdout.flush().unwrap();
    }
}

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
