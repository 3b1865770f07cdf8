//! Minting and checking the provider's JWTs: RFC 9068 access tokens (`typ: at+jwt`) and
//! OpenID Connect id tokens, signed with the provider's key held in memory. Only our own
//! keys verify anything here, and `alg: none` never passes (see `crypto::jws`).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::crypto::{SecretBox, SigningKey, verify_jwt};
use crate::model::{KeyType, OAuth2Provider, Timestamp};
use crate::store::Catalog;

use super::OAuthError;

/// The managed key a provider without its own signs with (RS256: every client knows it).
pub const DEFAULT_KEY_MANAGED: &str = "goauthentik.io/crypto/self-signed";

/// The key the provider signs with now.
pub fn signing_key(
    catalog: &Catalog,
    secret_box: &SecretBox,
    provider: &OAuth2Provider,
) -> Result<Arc<SigningKey>, OAuthError> {
    let id = match provider.signing_key {
        Some(id) => Some(id),
        None => catalog
            .keypairs()
            .into_iter()
            .find(|pair| pair.managed.as_deref() == Some(DEFAULT_KEY_MANAGED))
            .map(|pair| pair.id),
    };
    id.and_then(|id| catalog.signing_key(id, secret_box))
        .ok_or_else(|| {
            tracing::error!("oauth: the provider's signing key is missing or cannot be opened");
            OAuthError::server_error()
        })
}

/// The public keys a client may see tokens signed with: the current key and retired
/// keys whose tokens may still be alive.
pub fn provider_jwks(
    catalog: &Catalog,
    secret_box: &SecretBox,
    provider: &OAuth2Provider,
    now: Timestamp,
) -> Vec<Value> {
    let mut keys = Vec::new();
    if let Ok(current) = signing_key(catalog, secret_box, provider) {
        keys.push(current.public_jwk());
    }
    for retired in live_retired_keys(catalog, provider, now) {
        if let Some(jwk) = retired_jwk(retired) {
            if !keys.iter().any(|key| key.get("kid") == jwk.get("kid")) {
                keys.push(jwk);
            }
        }
    }
    keys
}

/// The one public key with this `kid` among those `provider_jwks` lists. Only the
/// matching retired certificate is parsed: userinfo and introspection verify with it
/// on every call.
fn key_with_kid(
    catalog: &Catalog,
    secret_box: &SecretBox,
    provider: &OAuth2Provider,
    now: Timestamp,
    kid: &str,
) -> Option<Value> {
    if let Ok(current) = signing_key(catalog, secret_box, provider) {
        if current.kid() == kid {
            return Some(current.public_jwk());
        }
    }
    live_retired_keys(catalog, provider, now)
        .find(|pair| pair.kid == kid)
        .and_then(retired_jwk)
}

fn live_retired_keys<'c>(
    catalog: &'c Catalog,
    provider: &'c OAuth2Provider,
    now: Timestamp,
) -> impl Iterator<Item = &'c crate::model::CertificateKeyPair> {
    provider
        .retired_keys
        .iter()
        .filter(move |key| key.until > now)
        .filter_map(|retired| catalog.keypair(retired.key))
}

fn retired_jwk(pair: &crate::model::CertificateKeyPair) -> Option<Value> {
    crate::crypto::keys::inspect_certificate(&pair.certificate_pem)
        .ok()
        .map(|info| info.jwk)
}

/// Everything that goes into one token response.
pub struct TokenClaims<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub subject: &'a str,
    pub scopes: &'a [String],
    /// The user's claims for the scopes.
    pub user_claims: &'a Map<String, Value>,
    pub auth_time: Timestamp,
    pub now: Timestamp,
    pub expires: Timestamp,
    /// The family id shared by every token of one authorization.
    pub grant: Uuid,
    pub nonce: Option<&'a str>,
    /// How the user authenticated (`pwd`, ...), for `amr`.
    pub amr: &'a [String],
    /// The user's id, sealed: resource endpoints resolve the user from it.
    pub sealed_user: &'a str,
}

pub struct Minted {
    pub access_token: String,
    pub id_token: Option<String>,
}

/// Signs the access token and, when `openid` was granted, the id token.
pub fn mint(
    key: &SigningKey,
    claims: &TokenClaims<'_>,
    include_claims_in_id_token: bool,
) -> Result<Minted, OAuthError> {
    let jti = Uuid::new_v4().simple().to_string();
    let mut access = claims.user_claims.clone();
    access.extend(
        json!({
            "iss": claims.issuer,
            "sub": claims.subject,
            "aud": claims.client_id,
            "exp": claims.expires.0,
            "iat": claims.now.0,
            "auth_time": claims.auth_time.0,
            "jti": jti,
            "client_id": claims.client_id,
            "scope": claims.scopes.join(" "),
            "grant_id": claims.grant.simple().to_string(),
            "uid": claims.sealed_user,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    let mut header = Map::new();
    header.insert("typ".into(), json!("at+jwt"));
    let access_token = key
        .sign_jwt(&header, &Value::Object(access))
        .map_err(|_| OAuthError::server_error())?;
    let id_token = if claims.scopes.iter().any(|scope| scope == "openid") {
        let mut id = if include_claims_in_id_token {
            claims.user_claims.clone()
        } else {
            Map::new()
        };
        id.extend(
            json!({
                "iss": claims.issuer,
                "sub": claims.subject,
                "aud": claims.client_id,
                "exp": claims.expires.0,
                "iat": claims.now.0,
                "auth_time": claims.auth_time.0,
                "at_hash": token_hash(key.key_type(), &access_token),
                "amr": claims.amr,
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        );
        if let Some(nonce) = claims.nonce {
            id.insert("nonce".into(), json!(nonce));
        }
        Some(
            key.sign_jwt(&Map::new(), &Value::Object(id))
                .map_err(|_| OAuthError::server_error())?,
        )
    } else {
        None
    };
    Ok(Minted {
        access_token,
        id_token,
    })
}

/// OIDC Core §3.1.3.6: the left half of the hash of the token, with the hash of the
/// signature algorithm (SHA-256 for RS256/ES256, SHA-512 for Ed25519).
fn token_hash(key_type: KeyType, token: &str) -> String {
    let digest = match key_type {
        KeyType::Rsa | KeyType::EcP256 => {
            ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        }
        KeyType::Ed25519 => ring::digest::digest(&ring::digest::SHA512, token.as_bytes()),
    };
    let bytes = digest.as_ref();
    URL_SAFE_NO_PAD.encode(bytes.get(..bytes.len() / 2).unwrap_or_default())
}

/// The JOSE header and the claims of a compact JWS, unverified: only to learn which
/// client (and so which keys) to verify it with.
fn peek(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let header = parts.next()?;
    let claims = parts.next()?;
    let decode = |part: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    Some((decode(header)?, decode(claims)?))
}

/// A verified token of ours: its claims and the provider it was issued for.
pub struct Verified {
    pub claims: Value,
    pub client_id: String,
}

/// Which kind of token the caller expects; an id token is never accepted as an access
/// token (both carry the client as audience).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Access,
    Id,
}

/// Checks signature (against the issuing provider's keys), kind and, unless
/// `allow_expired`, expiry.
pub fn verify(
    catalog: &Catalog,
    secret_box: &SecretBox,
    token: &str,
    kind: Kind,
    now: Timestamp,
    allow_expired: bool,
) -> Result<Verified, OAuthError> {
    let invalid = || OAuthError::invalid_token("The token is invalid or expired.");
    let (header, unverified) = peek(token).ok_or_else(invalid)?;
    let is_access = header.get("typ").and_then(Value::as_str) == Some("at+jwt");
    if is_access != (kind == Kind::Access) {
        return Err(invalid());
    }
    let client_id = unverified
        .get("aud")
        .and_then(Value::as_str)
        .ok_or_else(invalid)?;
    let provider = catalog
        .provider_by_client_id(client_id)
        .and_then(|provider| provider.oauth2())
        .ok_or_else(invalid)?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or_else(invalid)?;
    let key = key_with_kid(catalog, secret_box, provider, now, kid).ok_or_else(invalid)?;
    let claims = verify_jwt(token, std::slice::from_ref(&key)).map_err(|_| invalid())?;
    let expires = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(invalid)?;
    if !allow_expired && expires <= now.0 {
        return Err(invalid());
    }
    Ok(Verified {
        claims,
        client_id: client_id.to_owned(),
    })
}
