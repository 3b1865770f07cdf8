//! Certificate-key pairs: generating a key with a self-signed certificate, importing a
//! PEM certificate and key (checked to belong together), reading what the API shows about
//! a certificate, and the in-memory `SigningKey` that signs JWS with it.
//!
//! ring does the signing (it is already linked for TLS); the `rsa` crate only generates
//! RSA keys, which ring cannot; x509-parser reads certificates.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use rustls::pki_types::PrivateKeyDer;
use serde_json::{Map, Value, json};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::SecretBox;
use crate::model::{CertificateKeyPair, KeyType, Timestamp};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("private key: {0}")]
    PrivateKey(String),
    #[error("the private key does not belong to the certificate")]
    Mismatch,
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("signing failed")]
    Sign,
}

/// What the API and the store need to know about a certificate.
#[derive(Debug, Clone)]
pub struct CertificateInfo {
    pub key_type: KeyType,
    /// SHA-256 of the SubjectPublicKeyInfo DER, hex, first 32 digits.
    pub kid: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub subject: String,
    /// Colon-separated lowercase hex, as authentik shows fingerprints.
    pub fingerprint_sha256: String,
    pub fingerprint_sha1: String,
    /// The public key as a JWK (RFC 7517/7518/8037), with `kid`, `alg` and `use`.
    pub jwk: Value,
    /// The raw public key as the private key's owner reports it (RSAPublicKey DER, the
    /// uncompressed EC point, or the Ed25519 bytes), for matching an imported key.
    public_key: Vec<u8>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// DER integers carry a leading zero when the top bit is set; JWK wants the bare value.
fn unsigned(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

fn certificate_der(pem: &str) -> Result<Vec<u8>, KeyError> {
    let mut reader = pem.as_bytes();
    let first = rustls_pemfile::certs(&mut reader)
        .next()
        .ok_or_else(|| KeyError::Certificate("no PEM certificate found".into()))?
        .map_err(|e| KeyError::Certificate(e.to_string()))?;
    Ok(first.as_ref().to_vec())
}

/// Reads a PEM certificate (the first one, should the PEM hold a chain).
pub fn inspect_certificate(pem: &str) -> Result<CertificateInfo, KeyError> {
    let der = certificate_der(pem)?;
    let (_, cert) =
        X509Certificate::from_der(&der).map_err(|e| KeyError::Certificate(e.to_string()))?;
    let spki = cert.public_key();
    let algorithm = &spki.algorithm.algorithm;
    let key_type = if *algorithm == OID_PKCS1_RSAENCRYPTION {
        KeyType::Rsa
    } else if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().map(|any| any.data);
        if curve != Some(OID_EC_P256.as_bytes()) {
            return Err(KeyError::Certificate(
                "only the P-256 elliptic curve is supported".into(),
            ));
        }
        KeyType::EcP256
    } else if *algorithm == OID_SIG_ED25519 {
        KeyType::Ed25519
    } else {
        return Err(KeyError::Certificate(format!(
            "unsupported key algorithm {algorithm}"
        )));
    };
    let kid = hex(ring::digest::digest(&ring::digest::SHA256, spki.raw).as_ref())
        .chars()
        .take(32)
        .collect::<String>();
    let public_key = spki.subject_public_key.data.to_vec();
    let mut jwk = match (key_type, spki.parsed()) {
        (KeyType::Rsa, Ok(PublicKey::RSA(rsa))) => json!({
            "kty": "RSA",
            "n": b64(unsigned(rsa.modulus)),
            "e": b64(unsigned(rsa.exponent)),
        }),
        (KeyType::EcP256, _) => {
            // An uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
            let (x, y) = match (public_key.first(), public_key.get(1..33), public_key.get(33..65)) {
                (Some(4), Some(x), Some(y)) if public_key.len() == 65 => (x, y),
                _ => {
                    return Err(KeyError::Certificate(
                        "EC public key is not an uncompressed P-256 point".into(),
                    ));
                }
            };
            json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})
        }
        (KeyType::Ed25519, _) if public_key.len() == 32 => {
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&public_key)})
        }
        _ => return Err(KeyError::Certificate("unreadable public key".into())),
    };
    if let Value::Object(map) = &mut jwk {
        map.insert("kid".into(), json!(kid));
        map.insert("alg".into(), json!(key_type.jws_alg()));
        map.insert("use".into(), json!("sig"));
    }
    let fingerprint = |alg| colon_hex(ring::digest::digest(alg, &der).as_ref());
    Ok(CertificateInfo {
        key_type,
        kid,
        not_before: Timestamp(cert.validity().not_before.timestamp()),
        not_after: Timestamp(cert.validity().not_after.timestamp()),
        subject: cert.subject().to_string(),
        fingerprint_sha256: fingerprint(&ring::digest::SHA256),
        fingerprint_sha1: fingerprint(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
        jwk,
        public_key,
    })
}

/// A freshly generated key (PKCS#8 PEM) and its self-signed certificate.
pub struct GeneratedPair {
    pub certificate_pem: String,
    pub private_key_pem: String,
}

impl fmt::Debug for GeneratedPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedPair")
            .field("certificate_pem", &self.certificate_pem)
            .finish_non_exhaustive()
    }
}

fn generate_key(key_type: KeyType) -> Result<rcgen::KeyPair, KeyError> {
    let failed = |e: &dyn fmt::Display| KeyError::Generate(e.to_string());
    match key_type {
        KeyType::Rsa => {
            use rsa::pkcs8::{EncodePrivateKey, LineEnding};
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                .map_err(|e| failed(&e))?;
            let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| failed(&e))?;
            rcgen::KeyPair::from_pem(&pem).map_err(|e| failed(&e))
        }
        KeyType::EcP256 => {
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| failed(&e))
        }
        KeyType::Ed25519 => {
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| failed(&e))
        }
    }
}

/// A new key of `key_type` with a self-signed certificate for `common_name` (and the
/// given DNS names), valid from a day before `now` (clock skew) for `validity_days`.
pub fn generate(
    key_type: KeyType,
    common_name: &str,
    subject_alt_names: &[String],
    validity_days: u32,
    now: Timestamp,
) -> Result<GeneratedPair, KeyError> {
    let failed = |e: rcgen::Error| KeyError::Generate(e.to_string());
    let key = generate_key(key_type)?;
    let mut params = rcgen::CertificateParams::new(subject_alt_names.to_vec()).map_err(failed)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "gatehouse");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, "Self-signed");
    let start = time::OffsetDateTime::from_unix_timestamp(now.0)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    params.not_before = start - time::Duration::days(1);
    params.not_after = start + time::Duration::days(i64::from(validity_days.max(1)));
    let cert = params.self_signed(&key).map_err(failed)?;
    Ok(GeneratedPair {
        certificate_pem: cert.pem(),
        private_key_pem: key.serialize_pem(),
    })
}

/// Builds the stored pair: checks the certificate (and that the key belongs to it) and
/// seals the key. The key PEM is kept as given (PKCS#8, or PKCS#1 for RSA).
pub fn build_keypair(
    name: &str,
    certificate_pem: &str,
    private_key_pem: Option<&str>,
    secret_box: &SecretBox,
    managed: Option<String>,
    now: Timestamp,
) -> Result<CertificateKeyPair, KeyError> {
    let info = inspect_certificate(certificate_pem)?;
    if let Some(key) = private_key_pem {
        SigningKey::from_pem(certificate_pem, key)?;
    }
    Ok(CertificateKeyPair {
        id: uuid::Uuid::new_v4(),
        name: name.to_owned(),
        certificate_pem: certificate_pem.trim().to_owned() + "\n",
        key_sealed: private_key_pem.map(|key| secret_box.seal(key.trim())),
        key_type: info.key_type,
        kid: info.kid,
        not_before: info.not_before,
        not_after: info.not_after,
        managed,
        created: now,
    })
}

enum Signer {
    Rsa(RsaKeyPair),
    EcP256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key ready to sign, with its certificate's public JWK. Built once per
/// catalog snapshot; the clear key lives only in here.
pub struct SigningKey {
    key_type: KeyType,
    kid: String,
    jwk: Value,
    signer: Signer,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_type", &self.key_type)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn private_key_der(pem: &str) -> Result<PrivateKeyDer<'static>, KeyError> {
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|e| KeyError::PrivateKey(e.to_string()))?
        .ok_or_else(|| KeyError::PrivateKey("no PEM private key found".into()))
}

impl SigningKey {
    /// Pairs a PEM private key with its PEM certificate; `Mismatch` when the key is not
    /// the certificate's.
    pub fn from_pem(certificate_pem: &str, private_key_pem: &str) -> Result<SigningKey, KeyError> {
        let info = inspect_certificate(certificate_pem)?;
        let der = private_key_der(private_key_pem)?;
        let rejected = |e: ring::error::KeyRejected| KeyError::PrivateKey(e.to_string());
        let wrong_kind = || {
            KeyError::PrivateKey(format!(
                "expected an unencrypted PKCS#8 {} key (\"BEGIN PRIVATE KEY\")",
                info.key_type.as_str()
            ))
        };
        let (signer, public): (Signer, Vec<u8>) = match (info.key_type, &der) {
            (KeyType::Rsa, PrivateKeyDer::Pkcs8(key)) => {
                let pair = RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()).map_err(rejected)?;
                let public = pair.public().as_ref().to_vec();
                (Signer::Rsa(pair), public)
            }
            (KeyType::Rsa, PrivateKeyDer::Pkcs1(key)) => {
                let pair = RsaKeyPair::from_der(key.secret_pkcs1_der()).map_err(rejected)?;
                let public = pair.public().as_ref().to_vec();
                (Signer::Rsa(pair), public)
            }
            (KeyType::EcP256, PrivateKeyDer::Pkcs8(key)) => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    key.secret_pkcs8_der(),
                    &SystemRandom::new(),
                )
                .map_err(rejected)?;
                let public = ring::signature::KeyPair::public_key(&pair).as_ref().to_vec();
                (Signer::EcP256(pair), public)
            }
            (KeyType::Ed25519, PrivateKeyDer::Pkcs8(key)) => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.secret_pkcs8_der())
                    .map_err(rejected)?;
                let public = ring::signature::KeyPair::public_key(&pair).as_ref().to_vec();
                (Signer::Ed25519(pair), public)
            }
            _ => return Err(wrong_kind()),
        };
        if public != info.public_key {
            return Err(KeyError::Mismatch);
        }
        Ok(SigningKey {
            key_type: info.key_type,
            kid: info.kid,
            jwk: info.jwk,
            signer,
        })
    }

    /// Opens the pair's sealed key; `None` without a key or when it cannot be unsealed
    /// (the secret key changed) or read.
    pub fn from_keypair(keypair: &CertificateKeyPair, secret_box: &SecretBox) -> Option<SigningKey> {
        let pem = secret_box.open(keypair.key_sealed.as_deref()?)?;
        match SigningKey::from_pem(&keypair.certificate_pem, &pem) {
            Ok(key) => Some(key),
            Err(error) => {
                tracing::warn!(keypair = %keypair.name, %error, "stored private key is unusable");
                None
            }
        }
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// `RS256`, `ES256` or `EdDSA`.
    pub fn alg(&self) -> &'static str {
        self.key_type.jws_alg()
    }

    /// The public key as a JWK with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// A JWS compact serialization of `claims`. The header has `alg`, `kid` and `typ`
    /// (`JWT` unless `header_extra` says otherwise, e.g. `at+jwt`); `header_extra`
    /// cannot override `alg` or `kid`.
    pub fn sign_jwt(
        &self,
        header_extra: &Map<String, Value>,
        claims: &Value,
    ) -> Result<String, KeyError> {
        let mut header = Map::new();
        header.insert("typ".into(), json!("JWT"));
        for (name, value) in header_extra {
            header.insert(name.clone(), value.clone());
        }
        header.insert("alg".into(), json!(self.alg()));
        header.insert("kid".into(), json!(self.kid));
        let encode = |value: &Value| {
            serde_json::to_vec(value)
                .map(|bytes| b64(&bytes))
                .map_err(|_| KeyError::Sign)
        };
        let signing_input = format!(
            "{}.{}",
            encode(&Value::Object(header))?,
            encode(claims)?
        );
        let signature = self.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", b64(&signature)))
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Sign)?;
                Ok(signature)
            }
            Signer::EcP256(pair) => pair
                .sign(&rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| KeyError::Sign),
            Signer::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}
