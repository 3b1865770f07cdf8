//! Token introspection (RFC 7662) and revocation (RFC 7009), for authenticated clients
//! and only about their own tokens: asking about another client's token gets
//! `active: false`, and revoking it does nothing, so neither reveals that it exists.

use serde_json::{Value, json};

use crate::crypto::sha256_hex;
use crate::model::{EventAction, RefreshToken};

use super::client::{self, Client, PresentedClient};
use super::grants::{active_user, is_revoked, revoke_grant};
use super::jwt::{self, Kind};
use super::userinfo::token_user;
use super::{OAuthError, OAuthServices, ns};

/// A presented token, as far as the calling client may know it.
enum Recognised {
    /// One of this client's access tokens, signature and expiry checked (its claims).
    Access(Value),
    /// One of this client's refresh tokens, as stored (maybe used, revoked or expired).
    Refresh(RefreshToken),
    /// Not ours, not this client's, or not a token at all.
    Unknown,
}

async fn recognise(
    services: &OAuthServices,
    client: &Client,
    token: &str,
) -> Result<Recognised, OAuthError> {
    let now = services.clock.now();
    let verified = jwt::verify(
        &client.catalog,
        &services.secret_box,
        token,
        Kind::Access,
        now,
        false,
    );
    if let Ok(verified) = verified {
        return Ok(if verified.client_id == client.oauth().client_id {
            Recognised::Access(verified.claims)
        } else {
            Recognised::Unknown
        });
    }
    let hash = sha256_hex(token.as_bytes());
    let stored = services.db.read(move |tx| tx.refresh_token(&hash)).await?;
    Ok(match stored {
        Some(stored) if stored.provider == client.provider.id => Recognised::Refresh(stored),
        _ => Recognised::Unknown,
    })
}

fn inactive() -> Value {
    json!({"active": false})
}

pub async fn introspect(
    services: &OAuthServices,
    presented: &PresentedClient,
    token: &str,
) -> Result<Value, OAuthError> {
    let catalog = services.catalog.load();
    let client = client::authenticate(&catalog, &services.secret_box, presented)?;
    let now = services.clock.now();
    match recognise(services, &client, token).await? {
        Recognised::Access(claims) => {
            if is_revoked(services, &claims)? {
                return Ok(inactive());
            }
            let Ok(user_id) = token_user(services, &claims) else {
                return Ok(inactive());
            };
            let Ok((user, _)) = active_user(services, user_id).await else {
                return Ok(inactive());
            };
            let claim = |name: &str| claims.get(name).cloned().unwrap_or(Value::Null);
            Ok(json!({
                "active": true,
                "scope": claim("scope"),
                "client_id": claim("client_id"),
                "username": user.username.as_str(),
                "token_type": "Bearer",
                "exp": claim("exp"),
                "iat": claim("iat"),
                "sub": claim("sub"),
                "aud": claim("aud"),
                "iss": claim("iss"),
                "jti": claim("jti"),
            }))
        }
        Recognised::Refresh(stored) => {
            if stored.used || stored.revoked || stored.expires <= now {
                return Ok(inactive());
            }
            let Ok((user, _)) = active_user(services, stored.user).await else {
                return Ok(inactive());
            };
            Ok(json!({
                "active": true,
                "scope": stored.scopes.join(" "),
                "client_id": client.oauth().client_id,
                "username": user.username.as_str(),
                "token_type": "refresh_token",
                "exp": stored.expires.0,
                "iat": stored.created.0,
            }))
        }
        Recognised::Unknown => Ok(inactive()),
    }
}

/// Always succeeds for an authenticated client (RFC 7009 §2.2), whatever the token.
pub async fn revoke(
    services: &OAuthServices,
    presented: &PresentedClient,
    token: &str,
    client_ip: Option<&str>,
) -> Result<(), OAuthError> {
    let catalog = services.catalog.load();
    let client = client::authenticate(&catalog, &services.secret_box, presented)?;
    let now = services.clock.now();
    match recognise(services, &client, token).await? {
        Recognised::Access(claims) => {
            let jti = claims
                .get("jti")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let expires = claims.get("exp").and_then(Value::as_i64).unwrap_or(now.0);
            let ttl = u64::try_from(expires - now.0).unwrap_or(0).max(1);
            services
                .ephemeral
                .put(ns::REVOKED_TOKENS, jti, &true, ttl)?;
            record(services, &client, "access_token", client_ip).await;
        }
        Recognised::Refresh(stored) => {
            // Revoking a refresh token ends its whole grant, access tokens included
            // (RFC 7009 §2.1 lets the server do so, and it is what logging out means).
            revoke_grant(services, client.oauth(), stored.grant).await?;
            record(services, &client, "refresh_token", client_ip).await;
        }
        Recognised::Unknown => {}
    }
    Ok(())
}

async fn record(services: &OAuthServices, client: &Client, kind: &str, client_ip: Option<&str>) {
    services
        .events
        .record(
            EventAction::TokenRevoked,
            None,
            client_ip,
            json!({"application": client.application.slug, "client_id": client.oauth().client_id, "token_type": kind}),
        )
        .await;
}
