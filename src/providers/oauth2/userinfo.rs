//! The UserInfo endpoint (OIDC Core §5.3): the claims of the token's scopes, for a valid,
//! unrevoked access token of an active user. Claims are computed now, so a changed
//! email or group shows up without a new sign-in.

use serde_json::{Map, Value, json};

use crate::model::UserId;

use super::grants::{active_user, is_revoked};
use super::jwt::{self, Kind};
use super::{OAuthError, OAuthServices, claims, client};

pub async fn userinfo(services: &OAuthServices, access_token: &str) -> Result<Value, OAuthError> {
    let catalog = services.catalog.load();
    let now = services.clock.now();
    let verified = jwt::verify(
        &catalog,
        &services.secret_box,
        access_token,
        Kind::Access,
        now,
        false,
    )?;
    if is_revoked(services, &verified.claims)? {
        return Err(OAuthError::invalid_token("The token was revoked."));
    }
    let client = client::find(&catalog, &verified.client_id)
        .ok_or_else(|| OAuthError::invalid_token("The client no longer exists."))?;
    let user_id = token_user(services, &verified.claims)?;
    let (user, groups) = active_user(services, user_id)
        .await
        .map_err(|_| OAuthError::invalid_token("The user is inactive or gone."))?;
    let scopes: Vec<String> = verified
        .claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split_ascii_whitespace()
        .map(str::to_owned)
        .collect();
    let oauth = client.oauth();
    let mut body: Map<String, Value> =
        claims::user_claims(&catalog, &services.policies, oauth, &scopes, &user, &groups).await;
    body.insert(
        "sub".into(),
        json!(claims::subject(oauth, &user, &services.subject_key)),
    );
    Ok(Value::Object(body))
}

/// The user an access token was issued to. `sub` may be a one-way hash, so the token
/// also carries the user's id sealed with the installation's key (`uid`): opaque to the
/// client, and no lookup table is needed to resolve it.
pub(crate) fn token_user(services: &OAuthServices, claims: &Value) -> Result<UserId, OAuthError> {
    claims
        .get("uid")
        .and_then(Value::as_str)
        .and_then(|sealed| services.secret_box.open(sealed))
        .and_then(|id| id.parse().ok())
        .map(UserId)
        .ok_or_else(|| OAuthError::invalid_token("The token names no user."))
}
