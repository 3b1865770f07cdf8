//! Sealing secrets at rest (token keys now; private keys and SMTP passwords later) with
//! XChaCha20-Poly1305 under a key derived from the installation's secret key. Rotating
//! the secret key makes sealed values unreadable, as it does in authentik.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use super::digest::hmac_sha256;

const NONCE_LEN: usize = 24;

#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl SecretBox {
    pub fn from_secret_key(secret_key: &str) -> SecretBox {
        let key = hmac_sha256(secret_key.as_bytes(), b"gatehouse/field-encryption/v1");
        SecretBox {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// `None` when the value was sealed under another key or was tampered with.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::SecretBox;

    #[test]
    fn sealed_values_open_only_under_the_same_key() {
        let one = SecretBox::from_secret_key("one");
        let sealed = one.seal("token-key");
        assert_eq!(one.open(&sealed).as_deref(), Some("token-key"));
        assert_eq!(SecretBox::from_secret_key("two").open(&sealed), None);
        assert_eq!(one.open("garbage"), None);
    }
}
