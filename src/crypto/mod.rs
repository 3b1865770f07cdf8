//! Cryptography the rest of the code uses through small, named functions: password
//! hashing, random secrets, digests and constant-time comparison, sealing secrets at
//! rest, and the self-signed TLS certificate.

pub mod digest;
pub mod jws;
pub mod keys;
pub mod password;
pub mod random;
pub mod secret_box;
pub mod tls;

pub use digest::{constant_time_eq, hmac_sha256_hex, sha256_hex};
pub use jws::{JwsError, verify_jwt};
pub use keys::{CertificateInfo, KeyError, SignatureScheme, SigningKey};
pub use password::{PasswordHasher, PasswordParams};
pub use random::random_token;
pub use secret_box::SecretBox;
