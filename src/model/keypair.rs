//! Certificate-key pairs: an X.509 certificate, optionally with its private key sealed at
//! rest, used to sign tokens (OIDC) and later assertions (SAML) and served to clients as
//! JWKs. The private key never appears here in clear text.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Timestamp;

/// The key algorithms gatehouse signs with. The wire names are authentik's
/// (`rsa`, `ecdsa`, `ed25519`); `ecdsa` means P-256, the only curve JWS ES256 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    Rsa,
    #[serde(rename = "ecdsa")]
    EcP256,
    Ed25519,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::EcP256 => "ecdsa",
            KeyType::Ed25519 => "ed25519",
        }
    }

    pub fn parse(text: &str) -> Option<KeyType> {
        match text {
            "rsa" => Some(KeyType::Rsa),
            "ecdsa" => Some(KeyType::EcP256),
            "ed25519" => Some(KeyType::Ed25519),
            _ => None,
        }
    }

    /// The JWS `alg` a key of this type signs with.
    pub fn jws_alg(self) -> &'static str {
        match self {
            KeyType::Rsa => "RS256",
            KeyType::EcP256 => "ES256",
            KeyType::Ed25519 => "EdDSA",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateKeyPair {
    pub id: Uuid,
    pub name: String,
    pub certificate_pem: String,
    /// The private key (PKCS#8 PEM) sealed with the installation's `SecretBox`; `None`
    /// for a certificate kept only to verify others' signatures.
    pub key_sealed: Option<String>,
    pub key_type: KeyType,
    /// Stable key id for JWS headers and JWKS: derived from the public key, so it
    /// survives renames and re-imports of the same key.
    pub kid: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// Set on pairs gatehouse created and maintains itself (authentik's `managed`).
    pub managed: Option<String>,
    pub created: Timestamp,
}

impl CertificateKeyPair {
    pub fn has_key(&self) -> bool {
        self.key_sealed.is_some()
    }
}
