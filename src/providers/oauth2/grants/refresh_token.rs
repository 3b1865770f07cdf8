//! The refresh token grant with rotation: every refresh marks the presented token used
//! and issues the next one in its family. A used token presented again means two
//! parties hold the family (RFC 9700 §4.14.2): the whole family is revoked.

use serde_json::{Value, json};

use crate::crypto::sha256_hex;
use crate::model::EventAction;

use super::super::client::{self, Client};
use super::super::{OAuthError, OAuthServices};
use super::{Issue, TokenRequest, issue_spending, revoke_grant};

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
    if stored.used {
        return Err(reused(services, &client, stored.grant, request).await);
    }
    let issued = issue_spending(
        services,
        request,
        Issue {
            client: &client,
            user: stored.user,
            scopes: &scopes,
            auth_time: stored.auth_time,
            nonce: None,
            grant: stored.grant,
            amr: &[],
            refresh: true,
            spends: Some(hash.clone()),
            event: EventAction::TokenRefreshed,
        },
    )
    .await;
    match issued? {
        Some(body) => Ok(body),
        // Another request spent it between our read and our write: reuse as well.
        None => Err(reused(services, &client, stored.grant, request).await),
    }
}

/// Reuse of a spent refresh token: the family is revoked and the event says why.
async fn reused(
    services: &OAuthServices,
    client: &Client,
    grant: uuid::Uuid,
    request: &TokenRequest,
) -> OAuthError {
    if let Err(error) = revoke_grant(services, client.oauth(), grant).await {
        return error;
    }
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
    OAuthError::invalid_grant("The refresh token is invalid, expired or revoked.")
}
