//! Verifying JWS compact tokens against a set of public JWKs (our own JWKS, for
//! `id_token_hint` and tests). Deliberately strict: the key is chosen by `kid`, the
//! header's `alg` must be the one that key type signs with, and `none` never passes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlg(String),
    #[error("no key with this kid")]
    UnknownKey,
    #[error("the algorithm does not match the key")]
    AlgMismatch,
    #[error("bad signature")]
    BadSignature,
}

fn decode(part: &str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwsError::Malformed)
}

fn jwk_bytes(jwk: &Value, field: &str) -> Result<Vec<u8>, JwsError> {
    jwk.get(field)
        .and_then(Value::as_str)
        .ok_or(JwsError::AlgMismatch)
        .and_then(|text| decode(text).map_err(|_| JwsError::AlgMismatch))
}

/// Checks the signature and returns the claims. Expiry and audience are the caller's
/// business: they differ per use.
pub fn verify_jwt(token: &str, jwks: &[Value]) -> Result<Value, JwsError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header: Value =
        serde_json::from_slice(&decode(header_b64)?).map_err(|_| JwsError::Malformed)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("none");
    if !matches!(alg, "RS256" | "ES256" | "EdDSA") {
        return Err(JwsError::UnsupportedAlg(alg.to_owned()));
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(JwsError::UnknownKey)?;
    let jwk = jwks
        .iter()
        .find(|jwk| jwk.get("kid").and_then(Value::as_str) == Some(kid))
        .ok_or(JwsError::UnknownKey)?;
    if jwk
        .get("alg")
        .and_then(Value::as_str)
        .is_some_and(|key_alg| key_alg != alg)
    {
        return Err(JwsError::AlgMismatch);
    }
    let kty = jwk.get("kty").and_then(Value::as_str);
    let crv = jwk.get("crv").and_then(Value::as_str);
    let signature = decode(signature_b64)?;
    let message = format!("{header_b64}.{claims_b64}");
    let message = message.as_bytes();
    let verified = match (alg, kty, crv) {
        ("RS256", Some("RSA"), _) => RsaPublicKeyComponents {
            n: jwk_bytes(jwk, "n")?,
            e: jwk_bytes(jwk, "e")?,
        }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, &signature),
        ("ES256", Some("EC"), Some("P-256")) => {
            let mut point = vec![4u8];
            point.extend(jwk_bytes(jwk, "x")?);
            point.extend(jwk_bytes(jwk, "y")?);
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, &signature)
        }
        ("EdDSA", Some("OKP"), Some("Ed25519")) => {
            UnparsedPublicKey::new(&signature::ED25519, jwk_bytes(jwk, "x")?)
                .verify(message, &signature)
        }
        _ => return Err(JwsError::AlgMismatch),
    };
    verified.map_err(|_| JwsError::BadSignature)?;
    serde_json::from_slice(&decode(claims_b64)?).map_err(|_| JwsError::Malformed)
}
