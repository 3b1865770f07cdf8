//! Password hashing with argon2id (OWASP defaults m=19 MiB, t=2, p=1).
//!
//! Memory is the cost that matters on a 512 MB machine, so it is managed here rather than
//! left to argon2's per-call allocation: at most `max_concurrent` hashes run at once (a
//! semaphore; a login storm queues instead of allocating `19 MiB × requests`), each in a
//! work buffer taken from a small pool. Warm buffers make back-to-back logins cheap (no
//! page faults on 19 MiB); `release_idle` drops them after a quiet spell so an idle
//! server returns to its baseline (see `allocate_blocks` for why that really frees them).
//!
//! Verifying against an unknown user still costs one full hash (`verify` with `None`), so
//! response time does not reveal whether an account exists.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use super::digest::constant_time_eq;

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

/// Reusable argon2 work buffers, all of the configured size.
struct BlockPool {
    free: Mutex<Vec<Vec<Block>>>,
    last_used: Mutex<Instant>,
}

impl BlockPool {
    fn take(&self, blocks: usize) -> Vec<Block> {
        *self.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        let pooled = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match pooled {
            Some(buffer) if buffer.len() == blocks => buffer,
            _ => allocate_blocks(blocks),
        }
    }

    fn give_back(&self, buffer: Vec<Block>, pooled_size: usize) {
        if buffer.len() == pooled_size {
            self.free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(buffer);
        }
    }
}

/// A work buffer that is always a mapping of its own, so dropping it gives the memory back
/// to the system at once. glibc maps allocations above its mmap threshold separately, but
/// raises that threshold (up to 32 MiB) after such a block is freed, after which a 19 MiB
/// buffer would land in a per-thread arena and stay resident forever. Asking for more
/// address space than 32 MiB keeps every buffer above the threshold; only the pages argon2
/// touches become resident.
fn allocate_blocks(blocks: usize) -> Vec<Block> {
    const OWN_MAPPING_BLOCKS: usize = 33 * 1024;
    let mut buffer = Vec::with_capacity(blocks.max(OWN_MAPPING_BLOCKS));
    buffer.resize(blocks, Block::default());
    buffer
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    pool: Arc<BlockPool>,
    /// Verified instead when there is no real hash, so both paths cost the same. Made on
    /// first need (or by `warm_up`), not at start, to keep start-up fast.
    dummy_hash: Arc<OnceLock<String>>,
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
        let current_prefix = format!(
            "$argon2id$v=19$m={},t={},p={}$",
            params.memory_kib, params.iterations, params.parallelism
        );
        Ok(PasswordHasher {
            params: argon_params,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            pool: Arc::new(BlockPool {
                free: Mutex::new(Vec::new()),
                last_used: Mutex::new(Instant::now()),
            }),
            dummy_hash: Arc::new(OnceLock::new()),
            current_prefix: current_prefix.into(),
        })
    }

    pub fn hash_blocking(&self, password: &str) -> Result<String, HashError> {
        let salt = Salt::generate();
        let output = self.compute(&self.params, password.as_bytes(), salt.as_ref())?;
        let phc = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| HashError(e.to_string()))?,
            salt: Some(salt),
            hash: Some(Output::new(&output).map_err(|e| HashError(e.to_string()))?),
        };
        Ok(phc.to_string())
    }

    /// `None` (no usable password) verifies a dummy hash and returns false.
    pub fn verify_blocking(&self, password: &str, hash: Option<&str>) -> bool {
        let real = hash.and_then(|hash| PasswordHash::new(hash).ok());
        let is_real = real.is_some();
        let parsed = match real {
            Some(parsed) => parsed,
            None => match PasswordHash::new(self.dummy_hash()) {
                Ok(parsed) => parsed,
                Err(_) => return false,
            },
        };
        self.matches(password, &parsed) && is_real
    }

    fn matches(&self, password: &str, phc: &PasswordHash) -> bool {
        let algorithm = match phc.algorithm.as_str() {
            "argon2id" => Algorithm::Argon2id,
            "argon2i" => Algorithm::Argon2i,
            "argon2d" => Algorithm::Argon2d,
            _ => return false,
        };
        let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
            return false;
        };
        let decimal = |name: &str| phc.params.get_decimal(name);
        let (Some(m), Some(t), Some(p)) = (decimal("m"), decimal("t"), decimal("p")) else {
            return false;
        };
        let Ok(params) = Params::new(m, t, p, Some(expected.len())) else {
            return false;
        };
        match self.compute_with(algorithm, &params, password.as_bytes(), salt.as_ref()) {
            Ok(output) => constant_time_eq(&output, expected.as_bytes()),
            Err(_) => false,
        }
    }

    fn compute(&self, params: &Params, password: &[u8], salt: &[u8]) -> Result<Vec<u8>, HashError> {
        self.compute_with(Algorithm::Argon2id, params, password, salt)
    }

    fn compute_with(
        &self,
        algorithm: Algorithm,
        params: &Params,
        password: &[u8],
        salt: &[u8],
    ) -> Result<Vec<u8>, HashError> {
        let argon = Argon2::new(algorithm, Version::V0x13, params.clone());
        let mut output = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
        let mut blocks = self.pool.take(params.block_count());
        let result = argon.hash_password_into_with_memory(password, salt, &mut output, &mut blocks);
        self.pool.give_back(blocks, self.params.block_count());
        result.map_err(|e| HashError(e.to_string()))?;
        Ok(output)
    }

    fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            self.hash_blocking("gatehouse-dummy-password")
                .unwrap_or_default()
        })
    }

    /// Makes the dummy hash now, off the start-up path.
    pub async fn warm_up(&self) {
        let hasher = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = hasher.dummy_hash();
        })
        .await;
    }

    /// Frees pooled work buffers when no hash ran for `idle`.
    pub fn release_idle(&self, idle: Duration) -> bool {
        let last = *self
            .pool
            .last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if last.elapsed() < idle {
            return false;
        }
        let mut free = self.pool.free.lock().unwrap_or_else(|e| e.into_inner());
        let had_any = !free.is_empty();
        free.clear();
        free.shrink_to_fit();
        had_any
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use argon2::PasswordHasher as _;

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
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
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

    #[test]
    fn hashes_from_the_reference_implementation_verify() {
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(128, 2, 1, None).unwrap(),
        )
        .hash_password(b"imported")
        .unwrap()
        .to_string();
        let hasher = cheap();
        assert!(hasher.verify_blocking("imported", Some(&reference)));
        assert!(!hasher.verify_blocking("other", Some(&reference)));
        assert!(
            hasher.needs_rehash(&reference),
            "other parameters are upgraded at login"
        );
        // And ours verify with the reference implementation.
        let ours = hasher.hash_blocking("ours").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        use argon2::PasswordVerifier as _;
        assert!(Argon2::default().verify_password(b"ours", &parsed).is_ok());
    }

    #[test]
    fn idle_buffers_are_released() {
        let hasher = cheap();
        hasher.hash_blocking("a").unwrap();
        assert!(!hasher.release_idle(Duration::from_secs(60)));
        assert!(hasher.release_idle(Duration::ZERO));
    }
}
