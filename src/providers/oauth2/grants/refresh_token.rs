//! The refresh token grant with rotation: every refresh marks the presented token used
//! and issues the next one in its family. A used token presented again means two
//! parties hold the family (RFC 9700 §4.14.2): the whole family is revoked.

use serde_json::{Value, json};

use crate::crypto::sha256_hex;
use crate::model::EventAction;

use super::super::client;
use super::super::{OAuthError, OAuthServices};
use super::{Issue, TokenRequest, active_user, issue, revoke_grant};

pub async fn refresh(
    services: &OAuthServices,
    request: &TokenRequest,
) -> Result<Value, OAuthError> {
    let catalog = services.catalog.load();
    let client = client::authenticate(&catalog, &services.secret_box, &request.client)?;
    let presented = request.required("refresh_token")?;
    let hash = sha256_hex(presented.as_bytes());
    let lookup = hash.clone();
    let invalid = || OAuthError::invalid_grant("The refresh token is invalid, expired or revoked.");
    let stored = services
        .db
        .read(move |tx| tx.refresh_token(&lookup))
        .await?
        .filter(|token| token.provider == client.provider.id)
        .ok_or_else(invalid)?;
    let now = services.clock.now();
    if stored.revoked || stored.expires <= now {
        return Err(invalid());
    }
    // A refresh may narrow the scopes, never widen them (RFC 6749 §6); checked before the
    // token is spent, so a refused request leaves it usable.
    let scopes = match request.field("scope") {
        None => stored.scopes.clone(),
        Some(asked) => {
            let asked: Vec<String> = asked.split_ascii_whitespace().map(str::to_owned).collect();
            if let Some(extra) = asked.iter().find(|scope| !stored.scopes.contains(scope)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    format!("The scope {extra} was not granted originally."),
                ));
            }
            asked
        }
    };
    let lifetimes = client
        .oauth()
        .lifetimes()
        .map_err(|_| OAuthError::server_error())?;
    let family_ttl = lifetimes.refresh.max(lifetimes.access);
    let claimed = {
        let hash = hash.clone();
        services
            .db
            .write(move |tx| tx.use_refresh_token(&hash))
            .await?
    };
    if stored.used || !claimed {
        revoke_grant(services, stored.grant, family_ttl).await?;
        tracing::warn!(client_id = %client.oauth().client_id, "oauth: refresh token reused; its family is revoked");
        services
            .events
            .record(
                EventAction::SuspiciousRequest,
                None,
                request.client_ip.as_deref(),
                json!({"reason": "refresh token reused", "client_id": client.oauth().client_id}),
            )
            .await;
        return Err(invalid());
    }
    let (user, groups) = active_user(services, stored.user).await?;
    issue(
        services,
        request,
        Issue {
            client: &client,
            user: &user,
            groups: &groups,
            scopes: &scopes,
            auth_time: stored.auth_time,
            nonce: None,
            grant: stored.grant,
            amr: &[],
            refresh: true,
            event: EventAction::TokenRefreshed,
        },
    )
    .await
}
