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
            let (x, y) = match (
                public_key.first(),
                public_key.get(1..33),
                public_key.get(33..65),
            ) {
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
    /// ring's key pair signs; the DER is kept for the one scheme ring cannot sign with
    /// (RSA with SHA-1, which the `rsa` crate does when an admin chooses it for SAML).
    Rsa(RsaKeyPair, RsaPrivateDer),
    EcP256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

enum RsaPrivateDer {
    Pkcs8(Vec<u8>),
    Pkcs1(Vec<u8>),
}

/// Signature schemes for the protocols that name them separately from the key (XML
/// signatures and SAML's redirect binding). ECDSA signatures come out as the fixed-size
/// `r || s` those protocols use, not DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// Legacy: only when an admin explicitly chooses SHA-1.
    RsaPkcs1Sha1,
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    EcdsaP256Sha256,
}

/// DigestInfo prefix of a SHA-1 hash in a PKCS#1 v1.5 signature (RFC 8017, section 9.2).
const SHA1_DIGEST_INFO: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];

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
                let der = RsaPrivateDer::Pkcs8(key.secret_pkcs8_der().to_vec());
                (Signer::Rsa(pair, der), public)
            }
            (KeyType::Rsa, PrivateKeyDer::Pkcs1(key)) => {
                let pair = RsaKeyPair::from_der(key.secret_pkcs1_der()).map_err(rejected)?;
                let public = pair.public().as_ref().to_vec();
                let der = RsaPrivateDer::Pkcs1(key.secret_pkcs1_der().to_vec());
                (Signer::Rsa(pair, der), public)
            }
            (KeyType::EcP256, PrivateKeyDer::Pkcs8(key)) => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    key.secret_pkcs8_der(),
                    &SystemRandom::new(),
                )
                .map_err(rejected)?;
                let public = ring::signature::KeyPair::public_key(&pair)
                    .as_ref()
                    .to_vec();
                (Signer::EcP256(pair), public)
            }
            (KeyType::Ed25519, PrivateKeyDer::Pkcs8(key)) => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.secret_pkcs8_der())
                    .map_err(rejected)?;
                let public = ring::signature::KeyPair::public_key(&pair)
                    .as_ref()
                    .to_vec();
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
    pub fn from_keypair(
        keypair: &CertificateKeyPair,
        secret_box: &SecretBox,
    ) -> Option<SigningKey> {
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
        let signing_input = format!("{}.{}", encode(&Value::Object(header))?, encode(claims)?);
        let signature = self.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", b64(&signature)))
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(pair, _) => {
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

    /// Signs `message` with a scheme the caller names (XML-DSig's SignatureMethod, SAML's
    /// SigAlg). `Sign` when the scheme does not fit the key (ECDSA with an RSA key, any
    /// scheme with Ed25519).
    pub fn sign_with(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        let ring_rsa = |pair: &RsaKeyPair, padding: &'static dyn signature::RsaEncoding| {
            let mut signature = vec![0u8; pair.public().modulus_len()];
            pair.sign(padding, &rng, message, &mut signature)
                .map_err(|_| KeyError::Sign)?;
            Ok(signature)
        };
        match (&self.signer, scheme) {
            (Signer::Rsa(pair, _), SignatureScheme::RsaPkcs1Sha256) => {
                ring_rsa(pair, &signature::RSA_PKCS1_SHA256)
            }
            (Signer::Rsa(pair, _), SignatureScheme::RsaPkcs1Sha384) => {
                ring_rsa(pair, &signature::RSA_PKCS1_SHA384)
            }
            (Signer::Rsa(pair, _), SignatureScheme::RsaPkcs1Sha512) => {
                ring_rsa(pair, &signature::RSA_PKCS1_SHA512)
            }
            (Signer::Rsa(_, der), SignatureScheme::RsaPkcs1Sha1) => rsa_sha1_sign(der, message),
            (Signer::EcP256(pair), SignatureScheme::EcdsaP256Sha256) => pair
                .sign(&rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| KeyError::Sign),
            _ => Err(KeyError::Sign),
        }
    }
}

/// RSA PKCS#1 v1.5 with SHA-1 through the `rsa` crate (ring signs SHA-1 with nothing).
/// The key is decoded for each signature: SHA-1 is a rare legacy choice, not a hot path.
fn rsa_sha1_sign(der: &RsaPrivateDer, message: &[u8]) -> Result<Vec<u8>, KeyError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let key = match der {
        RsaPrivateDer::Pkcs8(der) => {
            rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|e| e.to_string())
        }
        RsaPrivateDer::Pkcs1(der) => {
            rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(|e| e.to_string())
        }
    }
    .map_err(KeyError::PrivateKey)?;
    let hash = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, message);
    let padding = rsa::Pkcs1v15Sign {
        hash_len: Some(hash.as_ref().len()),
        prefix: SHA1_DIGEST_INFO.to_vec().into_boxed_slice(),
    };
    // With an RNG the private operation is blinded.
    key.sign_with_rng(&mut rsa::rand_core::OsRng, padding, hash.as_ref())
        .map_err(|_| KeyError::Sign)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::crypto::jws::{JwsError, verify_jwt};

    const NOW: Timestamp = Timestamp(1_700_000_000);

    fn pair(key_type: KeyType) -> (GeneratedPair, SigningKey) {
        let generated = generate(
            key_type,
            "test signing key",
            &["auth.example.com".into()],
            30,
            NOW,
        )
        .unwrap();
        let key =
            SigningKey::from_pem(&generated.certificate_pem, &generated.private_key_pem).unwrap();
        (generated, key)
    }

    fn b64_json(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn every_key_type_signs_and_verifies_with_its_jwk() {
        let claims = json!({"sub": "42", "aud": "client", "exp": 1_700_000_600});
        for (key_type, alg) in [
            (KeyType::Rsa, "RS256"),
            (KeyType::EcP256, "ES256"),
            (KeyType::Ed25519, "EdDSA"),
        ] {
            let (generated, key) = pair(key_type);
            assert_eq!(key.alg(), alg);
            let mut extra = Map::new();
            extra.insert("typ".into(), json!("at+jwt"));
            extra.insert("alg".into(), json!("none"));
            let token = key.sign_jwt(&extra, &claims).unwrap();
            let header = b64_json(token.split('.').next().unwrap());
            assert_eq!(
                header,
                json!({"alg": alg, "kid": key.kid(), "typ": "at+jwt"}),
                "header_extra cannot override alg"
            );
            assert_eq!(verify_jwt(&token, &[key.public_jwk()]).unwrap(), claims);

            let info = inspect_certificate(&generated.certificate_pem).unwrap();
            assert_eq!(info.key_type, key_type);
            assert_eq!(info.kid, key.kid());
            assert_eq!(info.kid.len(), 32);
            assert_eq!(info.not_before, Timestamp(NOW.0 - 86_400));
            assert_eq!(info.not_after, Timestamp(NOW.0 + 30 * 86_400));
            assert!(
                info.subject.contains("CN=test signing key"),
                "{}",
                info.subject
            );
            assert_eq!(info.fingerprint_sha256.len(), 32 * 3 - 1);
            assert_eq!(info.fingerprint_sha1.len(), 20 * 3 - 1);

            // A tampered payload or signature fails; so does another key with our kid.
            let parts: Vec<&str> = token.split('.').collect();
            let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"1"}"#);
            let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
            assert_eq!(
                verify_jwt(&forged, &[key.public_jwk()]),
                Err(JwsError::BadSignature)
            );
            let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
            signature[0] ^= 1;
            let flipped = format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                URL_SAFE_NO_PAD.encode(&signature)
            );
            assert_eq!(
                verify_jwt(&flipped, &[key.public_jwk()]),
                Err(JwsError::BadSignature)
            );
            assert_eq!(verify_jwt(&token, &[]), Err(JwsError::UnknownKey));
        }
    }

    #[test]
    fn jwks_have_the_rfc_shapes() {
        let (_, ec) = pair(KeyType::EcP256);
        let jwk = ec.public_jwk();
        let mut names: Vec<&String> = jwk.as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["y"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );

        let (_, ed) = pair(KeyType::Ed25519);
        let jwk = ed.public_jwk();
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["alg"], "EdDSA");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert!(jwk.get("y").is_none());
    }

    #[test]
    fn sign_with_named_schemes_verifies_with_ring() {
        let message = b"signed info";
        let (rsa_pair, rsa) = pair(KeyType::Rsa);
        let der = certificate_der(&rsa_pair.certificate_pem).unwrap();
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let public = cert.public_key().subject_public_key.data.to_vec();
        for (scheme, verifier) in [
            (
                SignatureScheme::RsaPkcs1Sha1,
                &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            ),
            (
                SignatureScheme::RsaPkcs1Sha256,
                &signature::RSA_PKCS1_2048_8192_SHA256,
            ),
            (
                SignatureScheme::RsaPkcs1Sha512,
                &signature::RSA_PKCS1_2048_8192_SHA512,
            ),
        ] {
            let sig = rsa.sign_with(scheme, message).unwrap();
            signature::UnparsedPublicKey::new(verifier, &public)
                .verify(message, &sig)
                .unwrap();
        }
        assert_eq!(
            rsa.sign_with(SignatureScheme::EcdsaP256Sha256, message),
            Err(KeyError::Sign)
        );

        let (ec_pair, ec) = pair(KeyType::EcP256);
        let info = inspect_certificate(&ec_pair.certificate_pem).unwrap();
        let sig = ec
            .sign_with(SignatureScheme::EcdsaP256Sha256, message)
            .unwrap();
        assert_eq!(sig.len(), 64, "r || s");
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &info.public_key)
            .verify(message, &sig)
            .unwrap();
        assert_eq!(
            ec.sign_with(SignatureScheme::RsaPkcs1Sha256, message),
            Err(KeyError::Sign)
        );
        let (_, ed) = pair(KeyType::Ed25519);
        assert_eq!(
            ed.sign_with(SignatureScheme::EcdsaP256Sha256, message),
            Err(KeyError::Sign)
        );
    }

    #[test]
    fn rsa_jwk_has_modulus_and_exponent() {
        let (_, rsa) = pair(KeyType::Rsa);
        let jwk = rsa.public_jwk();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["e"], "AQAB");
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256, "2048-bit modulus without a leading zero");
    }

    #[test]
    fn alg_none_and_wrong_algs_are_rejected() {
        let (_, ec) = pair(KeyType::EcP256);
        let (_, ed) = pair(KeyType::Ed25519);
        let claims = json!({"sub": "42"});
        let header = |alg: &str, kid: &str| {
            URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": kid}).to_string())
        };
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let unsigned = format!("{}.{body}.", header("none", ec.kid()));
        assert_eq!(
            verify_jwt(&unsigned, &[ec.public_jwk()]),
            Err(JwsError::UnsupportedAlg("none".into()))
        );
        let hs = format!("{}.{body}.c2ln", header("HS256", ec.kid()));
        assert!(matches!(
            verify_jwt(&hs, &[ec.public_jwk()]),
            Err(JwsError::UnsupportedAlg(_))
        ));
        // An EdDSA signature presented as ES256 for the Ed25519 key's kid.
        let token = ed.sign_jwt(&Map::new(), &claims).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let relabelled = format!("{}.{}.{}", header("ES256", ed.kid()), parts[1], parts[2]);
        assert_eq!(
            verify_jwt(&relabelled, &[ed.public_jwk()]),
            Err(JwsError::AlgMismatch)
        );
        let mut keyless = ed.public_jwk();
        keyless.as_object_mut().unwrap().remove("alg");
        assert_eq!(
            verify_jwt(&relabelled, &[keyless]),
            Err(JwsError::AlgMismatch)
        );
        assert_eq!(
            verify_jwt("a.b", &[ed.public_jwk()]),
            Err(JwsError::Malformed)
        );
    }

    #[test]
    fn imports_check_that_key_and_certificate_belong_together() {
        let (one, _) = pair(KeyType::EcP256);
        let (two, _) = pair(KeyType::EcP256);
        let (ed, _) = pair(KeyType::Ed25519);
        let secret_box = SecretBox::from_secret_key("test");
        assert_eq!(
            build_keypair(
                "mixed",
                &one.certificate_pem,
                Some(&two.private_key_pem),
                &secret_box,
                None,
                NOW
            )
            .unwrap_err(),
            KeyError::Mismatch
        );
        assert!(matches!(
            SigningKey::from_pem(&one.certificate_pem, &ed.private_key_pem),
            Err(KeyError::PrivateKey(_))
        ));
        assert!(matches!(
            build_keypair("bad", "not a pem", None, &secret_box, None, NOW),
            Err(KeyError::Certificate(_))
        ));
        assert!(matches!(
            SigningKey::from_pem(&one.certificate_pem, "garbage"),
            Err(KeyError::PrivateKey(_))
        ));

        let pair = build_keypair(
            "good",
            &one.certificate_pem,
            Some(&one.private_key_pem),
            &secret_box,
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(pair.key_type, KeyType::EcP256);
        assert!(!pair.key_sealed.as_deref().unwrap().contains("PRIVATE KEY"));
        let key = SigningKey::from_keypair(&pair, &secret_box).unwrap();
        assert_eq!(key.kid(), pair.kid);
        assert!(SigningKey::from_keypair(&pair, &SecretBox::from_secret_key("other")).is_none());

        let certificate_only =
            build_keypair("cert", &ed.certificate_pem, None, &secret_box, None, NOW).unwrap();
        assert_eq!(certificate_only.key_type, KeyType::Ed25519);
        assert!(SigningKey::from_keypair(&certificate_only, &secret_box).is_none());
    }
}
