//! The authorization code grant: codes are minted by the authorization endpoint, kept in
//! the Kv under their SHA-256 for the provider's code lifetime, and taken atomically here
//! (single use). A code presented a second time is an attack or a bug either way: the
//! tokens issued for it are revoked (RFC 6749 §4.1.2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::digest::hmac_sha256;
use crate::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::model::{EventAction, ProviderId, Timestamp, UserId};

use super::super::client::{self, Client};
use super::super::{OAuthError, OAuthServices, ns};
use super::{Issue, TokenRequest, issue};

/// What a code stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    pub provider: ProviderId,
    pub user: UserId,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    /// PKCE S256 challenge, when the client sent one.
    pub code_challenge: Option<String>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    /// The family id the tokens of this code will share.
    pub grant: Uuid,
    /// The digest of the gatehouse session that approved it: forward-auth sessions
    /// started from the code end when that session does.
    #[serde(default)]
    pub session: Option<String>,
}

/// Takes (single use) the grant a code stands for, for in-process redemption by the
/// proxy provider's callback; `None` for an unknown, expired or used code.
pub fn take_code(services: &OAuthServices, code: &str) -> Result<Option<CodeGrant>, OAuthError> {
    Ok(services
        .ephemeral
        .take::<CodeGrant>(ns::CODES, &sha256_hex(code.as_bytes()))?)
}

/// Mints a code for `grant`, valid for `ttl_secs`. The family id of the tokens it will
/// yield is derived from the code itself (keyed, so only we can), which is what lets a
/// replayed code find and revoke them without a "used codes" table.
pub fn issue_code(
    services: &OAuthServices,
    mut grant: CodeGrant,
    ttl_secs: u64,
) -> Result<String, OAuthError> {
    let code = random_token(32);
    grant.grant = family_of(services, &code);
    services
        .ephemeral
        .put(ns::CODES, &sha256_hex(code.as_bytes()), &grant, ttl_secs)?;
    Ok(code)
}

fn family_of(services: &OAuthServices, code: &str) -> Uuid {
    let mac = hmac_sha256(
        &services.subject_key,
        format!("oauth-code-family\0{code}").as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(mac.get(..16).unwrap_or(&[0u8; 16]));
    Uuid::from_bytes(bytes)
}

/// RFC 7636 §4.6 with S256: BASE64URL(SHA256(verifier)) == challenge. The verifier's
/// own syntax (43–128 unreserved characters) is checked first.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    well_formed && constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

pub async fn exchange(
    services: &OAuthServices,
    request: &TokenRequest,
) -> Result<serde_json::Value, OAuthError> {
    let catalog = services.catalog.load();
    let client = client::authenticate(&catalog, &services.secret_box, &request.client)?;
    let code = request.required("code")?;
    let code_hash = sha256_hex(code.as_bytes());
    let Some(grant) = services
        .ephemeral
        .take::<CodeGrant>(ns::CODES, &code_hash)?
    else {
        return Err(replayed_or_unknown(services, &client, code).await);
    };
    if grant.provider != client.provider.id {
        return Err(OAuthError::invalid_grant(
            "The code was issued to another client.",
        ));
    }
    if request.field("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "The redirect_uri does not match the authorization request.",
        ));
    }
    match (&grant.code_challenge, request.field("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
        (Some(_), _) => {
            return Err(OAuthError::invalid_grant(
                "The code_verifier does not match.",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "A code_verifier was sent but the authorization request had no code_challenge.",
            ));
        }
        (None, None) => {}
    }
    issue(
        services,
        request,
        Issue {
            client: &client,
            user: grant.user,
            scopes: &grant.scopes,
            auth_time: grant.auth_time,
            nonce: grant.nonce.as_deref(),
            grant: grant.grant,
            amr: &grant.amr,
            refresh: true,
            spends: None,
            event: EventAction::TokenIssued,
        },
    )
    .await
}

/// An unknown code is `invalid_grant`; a code that was exchanged before also revokes
/// the family it started (found by the family id derived from the code).
async fn replayed_or_unknown(services: &OAuthServices, client: &Client, code: &str) -> OAuthError {
    match super::revoke_grant(services, client.oauth(), family_of(services, code)).await {
        Ok(0) => {}
        Ok(_) => {
            tracing::warn!(client_id = %client.oauth().client_id, "oauth: authorization code replayed; its tokens are revoked");
            services
                .events
                .record(
                    EventAction::SuspiciousRequest,
                    None,
                    None,
                    serde_json::json!({"reason": "authorization code replayed", "client_id": client.oauth().client_id}),
                )
                .await;
        }
        Err(error) => return error,
    }
    OAuthError::invalid_grant("The code is invalid, expired or already used.")
}

#[cfg(test)]
mod tests {
    use super::pkce_matches;

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
        assert!(!pkce_matches("short", challenge));
    }
}
