//! Password hashing with argon2id (OWASP defaults m=19 MiB, t=2, p=1). Hashing runs on
//! the blocking pool behind a semaphore, so a login storm queues instead of allocating
//! `memory × requests`. Verifying against an unknown user still costs one full hash
//! (`verify` with `None`), so response time does not reveal whether an account exists.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::Semaphore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        PasswordParams {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    permits: Arc<Semaphore>,
    /// Verified instead when there is no real hash, so both paths cost the same.
    dummy_hash: Arc<str>,
    /// `$argon2id$v=19$m=..,t=..,p=..$`: hashes with another prefix are rehashed on login.
    current_prefix: Arc<str>,
}

impl PasswordHasher {
    pub fn new(params: PasswordParams, max_concurrent: usize) -> Result<PasswordHasher, HashError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| HashError(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let dummy_hash = hash_with(&argon, "gatehouse-dummy-password")?;
        let current_prefix = format!(
            "$argon2id$v=19$m={},t={},p={}$",
            params.memory_kib, params.iterations, params.parallelism
        );
        Ok(PasswordHasher {
            argon,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: dummy_hash.into(),
            current_prefix: current_prefix.into(),
        })
    }

    pub fn hash_blocking(&self, password: &str) -> Result<String, HashError> {
        hash_with(&self.argon, password)
    }

    /// `None` (no usable password) verifies a dummy hash and returns false.
    pub fn verify_blocking(&self, password: &str, hash: Option<&str>) -> bool {
        let (phc, real) = match hash {
            Some(hash) if PasswordHash::new(hash).is_ok() => (hash, true),
            _ => (&*self.dummy_hash, false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let matched = self
            .argon
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matched && real
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let hasher = self.clone();
        self.run_limited(move || hasher.hash_blocking(&password))
            .await
            .unwrap_or_else(|| Err(HashError("hashing task failed".into())))
    }

    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let hasher = self.clone();
        self.run_limited(move || hasher.verify_blocking(&password, hash.as_deref()))
            .await
            .unwrap_or(false)
    }

    /// Whether a stored hash was made with other parameters or another scheme.
    pub fn needs_rehash(&self, hash: &str) -> bool {
        !hash.starts_with(&*self.current_prefix)
    }

    async fn run_limited<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let _permit = self.permits.acquire().await.ok()?;
        tokio::task::spawn_blocking(work).await.ok()
    }
}

fn hash_with(argon: &Argon2<'static>, password: &str) -> Result<String, HashError> {
    argon
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        let params = PasswordParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        PasswordHasher::new(params, 2).unwrap()
    }

    #[test]
    fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = cheap();
        let hash = hasher.hash_blocking("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify_blocking("correct horse", Some(&hash)));
        assert!(!hasher.verify_blocking("wrong", Some(&hash)));
        assert!(!hasher.verify_blocking("correct horse", None));
        assert!(!hasher.verify_blocking("x", Some("not a hash")));
        assert!(!hasher.needs_rehash(&hash));
        assert!(
            PasswordHasher::new(PasswordParams::default(), 1)
                .unwrap()
                .needs_rehash(&hash)
        );
    }
}
