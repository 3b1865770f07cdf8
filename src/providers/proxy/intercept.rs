//! Intercept header auth: API clients and mobile apps that cannot follow a browser
//! sign-in send credentials in `Authorization` instead, and are admitted without a
//! redirect. Accepted: `Basic` with a username and one of that user's app passwords
//! (never the account password: it would skip the user's second factor), and `Bearer`
//! with an access token issued to this provider's client (the client credentials grant
//! at the token endpoint). An admitted header is cached for a few minutes under its
//! SHA-256, so a client sending it on every request costs one verification, not one
//! per request.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::model::Timestamp;
use crate::providers::oauth2::grants::client_credentials::app_password_user;
use crate::providers::oauth2::grants::is_revoked;
use crate::providers::oauth2::jwt::{self, Kind};
use crate::providers::oauth2::userinfo::token_user;

use super::ProxyServices;
use super::cache::{self, Admitted};
use super::identity::{Refusal, Signed, admit};
use super::routes::{Route, Routes};

/// How long an admitted header is trusted before it is checked again.
const CACHE_SECS: u64 = 300;
const HEADER_TAG: &[u8] = b"proxy-authorization";

/// `None` when the header holds no credentials we accept (the request then goes on as
/// if it had none); `Some(Err)` when they are valid but the user may not pass.
pub async fn admit_header(
    services: &ProxyServices,
    routes: &Routes,
    route: &Route,
    authorization: &str,
    base_url: &str,
) -> Option<Result<Arc<Admitted>, Refusal>> {
    let key = cache::digest(HEADER_TAG, authorization.as_bytes());
    let now = services.oauth.clock.now();
    let epoch = services.oauth.sessions.identity_epoch();
    if let Some(hit) = services.cache.get(&key, route.provider.id, now, epoch) {
        return Some(Ok(hit));
    }
    let (scheme, credentials) = authorization.trim().split_once(' ')?;
    let (user, expires, amr) = if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(credentials.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (username, password) = decoded.split_once(':')?;
        let user = app_password_user(&services.oauth, username, password)
            .await
            .ok()?;
        (user.id, now.plus_secs(CACHE_SECS), vec!["pwd".to_owned()])
    } else if scheme.eq_ignore_ascii_case("bearer") {
        let (user, token_expires) = bearer_user(services, route, credentials.trim(), now)?;
        (
            user,
            token_expires.min(now.plus_secs(CACHE_SECS)),
            Vec::new(),
        )
    } else {
        return None;
    };
    let signed = Signed {
        user,
        expires,
        auth_time: now,
        amr,
    };
    let result = admit(services, routes, route, &signed, base_url, epoch)
        .await
        .map(|admitted| {
            let admitted = Arc::new(admitted);
            services.cache.insert(key, Arc::clone(&admitted), now);
            admitted
        });
    match result {
        Err(Refusal::Gone) => None,
        other => Some(other),
    }
}

/// The user of an access token issued to this provider's client, and when it expires.
fn bearer_user(
    services: &ProxyServices,
    route: &Route,
    token: &str,
    now: Timestamp,
) -> Option<(crate::model::UserId, Timestamp)> {
    let oauth = &services.oauth;
    let catalog = oauth.catalog.load();
    let verified =
        jwt::verify(&catalog, &oauth.secret_box, token, Kind::Access, now, false).ok()?;
    if verified.client_id != route.proxy.oauth.client_id
        || is_revoked(oauth, &verified.claims).ok()?
    {
        return None;
    }
    let expires = verified
        .claims
        .get("exp")
        .and_then(serde_json::Value::as_i64)?;
    let user = token_user(oauth, &verified.claims).ok()?;
    Some((user, Timestamp(expires)))
}
