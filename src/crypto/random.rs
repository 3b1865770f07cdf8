//! Random secrets from the operating system's generator.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// `bytes` random bytes, base64url without padding (32 bytes → 43 characters).
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// Random characters from an unambiguous alphabet, for keys users may type.
pub fn random_alphanumeric(length: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..length)
        .map(|_| {
            let index = (rng.next_u32() as usize) % ALPHABET.len();
            ALPHABET.get(index).copied().map(char::from).unwrap_or('x')
        })
        .collect()
}
