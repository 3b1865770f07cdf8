//! Signing in to a protected host, authentik's way: the outpost is an OAuth client of
//! the provider. The browser goes to gatehouse's authorization endpoint with the
//! provider's client id (the sign-in, policies and consent happen there, through the
//! one flow engine) and comes back to `/outpost.goauthentik.io/callback` on the
//! application's host with a code. Because the outpost runs in process the code is
//! redeemed directly, not over HTTP: single use, short-lived, and bound to the callback
//! URL and so to the host. The callback then sets the session cookie for that host (or
//! the cookie domain) and sends the browser back to where it was going.
//!
//! `state` carries the original URL, signed, and is tied to the browser by a nonce
//! cookie set when the sign-in starts: a callback link made in another browser (login
//! CSRF) does not sign anyone in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::crypto::digest::hmac_sha256;
use crate::crypto::{constant_time_eq, random_token};
use crate::model::{ProviderId, Timestamp};
use crate::providers::oauth2::grants::authorization_code::take_code;

use super::ProxyServices;
use super::cache::{self, Admitted, Digest};
use super::identity::{Refusal, Signed, admit};
use super::routes::{Route, Routes};
use super::session::{self, ProxySession};

/// How long a started sign-in may take (the pending authorization lives as long).
const STATE_TTL_SECS: i64 = 1800;
pub const NONCE_COOKIE: &str = "gatehouse_proxy_nonce";

#[derive(Debug, Serialize, Deserialize)]
struct State {
    /// Provider id.
    p: i64,
    /// Where the browser goes after signing in.
    rd: String,
    /// HMAC of the browser's nonce.
    n: String,
    /// Expiry (Unix seconds).
    e: i64,
}

/// The start of a sign-in: where to send the browser, and the nonce cookie value to set
/// (the one the browser had, if any, so sign-ins in two tabs do not disturb each other).
pub struct Start {
    pub location: String,
    pub nonce: String,
}

pub fn start(
    services: &ProxyServices,
    route: &Route,
    base_url: &str,
    return_to: &str,
    browser_nonce: Option<&str>,
) -> Start {
    let nonce = browser_nonce
        .filter(|nonce| (16..=64).contains(&nonce.len()))
        .map_or_else(|| random_token(24), str::to_owned);
    let return_to = safe_return_url(route, return_to);
    let state = State {
        p: route.provider.id.0,
        rd: return_to,
        n: nonce_mac(services, &nonce),
        e: services.oauth.clock.now().0 + STATE_TTL_SECS,
    };
    let state = seal_state(services, &state);
    let query = serde_urlencoded::to_string([
        ("client_id", route.proxy.oauth.client_id.as_str()),
        ("redirect_uri", &route.proxy.callback_url()),
        ("response_type", "code"),
        ("scope", "openid email profile ak_proxy"),
        ("state", &state),
    ])
    .unwrap_or_default();
    Start {
        location: format!("{base_url}/application/o/authorize/?{query}"),
        nonce,
    }
}

/// Only plain `http(s)` URLs on this provider's hosts (no user part, and the external
/// host's own port); anything else becomes the external host. No open redirect through
/// the sign-in.
pub fn safe_return_url(route: &Route, candidate: &str) -> String {
    let fallback = || format!("{}/", route.proxy.external_host.trim_end_matches('/'));
    let Ok(url) = url::Url::parse(candidate) else {
        return fallback();
    };
    let plain = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none();
    let on_our_host = url
        .host_str()
        .is_some_and(|host| route.returns_to(host, url.port()));
    if plain && on_our_host {
        url.to_string()
    } else {
        fallback()
    }
}

fn nonce_mac(services: &ProxyServices, nonce: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(&services.state_key, nonce.as_bytes()))
}

fn seal_state(services: &ProxyServices, state: &State) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).unwrap_or_default());
    let mac = URL_SAFE_NO_PAD.encode(hmac_sha256(&services.state_key, body.as_bytes()));
    format!("{body}.{mac}")
}

fn open_state(services: &ProxyServices, sealed: &str) -> Option<State> {
    let (body, mac) = sealed.split_once('.')?;
    let expected = URL_SAFE_NO_PAD.encode(hmac_sha256(&services.state_key, body.as_bytes()));
    if !constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()
}

/// A completed sign-in: the cookie token, the identity (already cached) and where to go.
pub struct SignedIn {
    pub token: String,
    pub max_age_secs: i64,
    pub return_to: String,
    pub admitted: std::sync::Arc<Admitted>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CallbackError {
    /// State missing, forged, expired, for another provider or another browser.
    BadState,
    /// The code is unknown, used, expired or not for this callback.
    BadCode,
    /// The callback arrived on a host the provider does not own.
    WrongHost,
    Refused(Refusal),
}

pub struct Callback<'a> {
    pub code: &'a str,
    pub state: &'a str,
    pub browser_nonce: Option<&'a str>,
    /// The host the callback request came to.
    pub host: &'a str,
}

/// Redeems the code and starts the session. `route_of` finds the provider's route
/// (the state names it).
pub async fn callback(
    services: &ProxyServices,
    routes: &Routes,
    callback: &Callback<'_>,
    base_url: &str,
) -> Result<SignedIn, CallbackError> {
    let now = services.oauth.clock.now();
    let state = open_state(services, callback.state).ok_or(CallbackError::BadState)?;
    let nonce_ok = callback.browser_nonce.is_some_and(|nonce| {
        constant_time_eq(nonce_mac(services, nonce).as_bytes(), state.n.as_bytes())
    });
    if state.e <= now.0 || !nonce_ok {
        return Err(CallbackError::BadState);
    }
    let route = routes
        .by_provider(ProviderId(state.p))
        .ok_or(CallbackError::BadState)?;
    let (name, port) = super::routes::split_host(callback.host);
    if !name.eq_ignore_ascii_case(&route.hostname)
        || (port.is_some() && route.port.is_some() && port != route.port)
    {
        return Err(CallbackError::WrongHost);
    }
    let grant = take_code(&services.oauth, callback.code)
        .ok()
        .flatten()
        .ok_or(CallbackError::BadCode)?;
    if grant.provider != route.provider.id || grant.redirect_uri != route.proxy.callback_url() {
        return Err(CallbackError::BadCode);
    }
    let lifetime = route
        .proxy
        .oauth
        .lifetimes()
        .map(|l| l.access)
        .unwrap_or(86_400);
    let record = ProxySession {
        provider: route.provider.id,
        user: grant.user,
        idp_session: grant.session.clone(),
        created: now,
        expires: now.plus_secs(lifetime),
        auth_time: grant.auth_time,
        amr: grant.amr.clone(),
    };
    let epoch = services.oauth.sessions.identity_epoch();
    let admitted = admit(services, routes, route, &signed(&record), base_url, epoch)
        .await
        .map_err(CallbackError::Refused)?;
    let token = random_token(32);
    let key = cache::digest(COOKIE_DOMAIN_TAG, token.as_bytes());
    services
        .oauth
        .ephemeral
        .put_until(
            session::NAMESPACE,
            &session::kv_key(&key),
            &record,
            record.expires,
        )
        .map_err(|error| {
            tracing::error!(%error, "proxy: storing the session failed");
            CallbackError::Refused(Refusal::Failed)
        })?;
    let admitted = std::sync::Arc::new(admitted);
    services
        .cache
        .insert(key, std::sync::Arc::clone(&admitted), now);
    Ok(SignedIn {
        token,
        max_age_secs: i64::try_from(lifetime).unwrap_or(i64::MAX),
        return_to: safe_return_url(route, &state.rd),
        admitted,
    })
}

/// Domain separation for cache keys made from session cookies.
pub const COOKIE_DOMAIN_TAG: &[u8] = b"proxy-cookie";

pub fn signed(record: &ProxySession) -> Signed {
    Signed {
        user: record.user,
        expires: record.expires,
        auth_time: record.auth_time,
        amr: record.amr.clone(),
    }
}

/// Ends the session behind a cookie and the gatehouse session it came from. Returns
/// whether there was one.
pub fn sign_out(services: &ProxyServices, token: &str) -> bool {
    let key = cache::digest(COOKIE_DOMAIN_TAG, token.as_bytes());
    services.cache.remove(&key);
    let ephemeral = &services.oauth.ephemeral;
    let Ok(Some(record)) =
        ephemeral.take::<ProxySession>(session::NAMESPACE, &session::kv_key(&key))
    else {
        return false;
    };
    if let Some(digest) = &record.idp_session {
        if let Err(error) = services.oauth.sessions.revoke_digest(digest) {
            tracing::error!(%error, "proxy: ending the gatehouse session failed");
        }
    }
    true
}

/// The identity behind a session cookie: from the cache when fresh, else rebuilt from
/// the Kv record (after a restart, or when users, groups or rules changed).
pub async fn identity_of_cookie(
    services: &ProxyServices,
    routes: &Routes,
    route: &Route,
    token: &str,
    base_url: &dyn Fn() -> String,
) -> Result<std::sync::Arc<Admitted>, Refusal> {
    let key: Digest = cache::digest(COOKIE_DOMAIN_TAG, token.as_bytes());
    let now = services.oauth.clock.now();
    let epoch = services.oauth.sessions.identity_epoch();
    if let Some(hit) = services.cache.get(&key, route.provider.id, now, epoch) {
        return Ok(hit);
    }
    rebuild(services, routes, route, &key, &base_url(), now, epoch).await
}

async fn rebuild(
    services: &ProxyServices,
    routes: &Routes,
    route: &Route,
    key: &Digest,
    base_url: &str,
    now: Timestamp,
    epoch: u64,
) -> Result<std::sync::Arc<Admitted>, Refusal> {
    let ephemeral = &services.oauth.ephemeral;
    let kv_key = session::kv_key(key);
    let record = ephemeral
        .get::<ProxySession>(session::NAMESPACE, &kv_key)
        .map_err(|_| Refusal::Failed)?
        .filter(|record| record.provider == route.provider.id && record.expires > now)
        .ok_or(Refusal::Gone)?;
    let ended = match &record.idp_session {
        Some(digest) => services
            .oauth
            .sessions
            .was_ended(digest)
            .map_err(|_| Refusal::Failed)?,
        None => false,
    };
    if ended {
        let _ = ephemeral.delete(session::NAMESPACE, &kv_key);
        services.cache.remove(key);
        return Err(Refusal::Gone);
    }
    let admitted = admit(services, routes, route, &signed(&record), base_url, epoch).await;
    match admitted {
        Ok(admitted) => {
            let admitted = std::sync::Arc::new(admitted);
            services
                .cache
                .insert(*key, std::sync::Arc::clone(&admitted), now);
            Ok(admitted)
        }
        Err(Refusal::Gone) => {
            let _ = ephemeral.delete(session::NAMESPACE, &kv_key);
            services.cache.remove(key);
            Err(Refusal::Gone)
        }
        Err(other) => Err(other),
    }
}
