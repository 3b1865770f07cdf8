//! API authentication: `Authorization: Bearer <token key>` (an API token) or the browser
//! session. Cookie-authenticated writes must come from our own origin (CSRF).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest};

use crate::crypto::sha256_hex;
use crate::model::{TokenIntent, User};

use super::super::error::ApiError;
use super::{load_session, state_of};

/// Any authenticated API caller.
pub struct ApiCaller {
    pub user: User,
    pub is_superuser: bool,
    /// The token identifier when authenticated by token.
    pub token: Option<String>,
    /// Where the call came from, for audit events.
    pub client_ip: Option<String>,
}

/// A superuser API caller.
pub struct ApiAdmin(pub ApiCaller);

enum Credential {
    Token(String),
    Session(crate::model::UserId),
}

fn credential(request: &HttpRequest) -> Result<Credential, ApiError> {
    if let Some(header) = request.headers().get("authorization") {
        let value = header.to_str().map_err(|_| ApiError::Unauthenticated)?;
        let (scheme, key) = value.split_once(' ').ok_or(ApiError::Unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("bearer") || key.trim().is_empty() {
            return Err(ApiError::Unauthenticated);
        }
        return Ok(Credential::Token(key.trim().to_owned()));
    }
    let session = load_session(request).ok_or(ApiError::Unauthenticated)?;
    if !is_safe_method(request.method()) && !is_same_origin(request) {
        return Err(ApiError::Forbidden);
    }
    Ok(Credential::Session(session.record.user))
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Browsers send `Origin` (or `Sec-Fetch-Site`) with cross-site writes; either must say
/// the request comes from this site.
fn is_same_origin(request: &HttpRequest) -> bool {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, origin_host)| origin_host == host),
        (None, _) => true,
        _ => false,
    }
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiCaller, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let credential = credential(request);
        let state = state_of(request);
        let client_ip = super::ClientMeta::of(request).ip.map(|ip| ip.to_string());
        Box::pin(async move {
            let credential = credential?;
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let now = state.clock.now();
            let found = state
                .db
                .read(move |tx| {
                    let (user_id, token) = match credential {
                        Credential::Session(user) => (user, None),
                        Credential::Token(key) => {
                            let digest = sha256_hex(key.as_bytes());
                            match tx.token_by_key_digest(&digest)? {
                                Some(token)
                                    if token.intent == TokenIntent::Api
                                        && !token.is_expired(now) =>
                                {
                                    (token.user, Some(token.identifier))
                                }
                                _ => return Ok(None),
                            }
                        }
                    };
                    let Some(user) = tx.user_by_id(user_id)? else {
                        return Ok(None);
                    };
                    let is_superuser = crate::directory::is_superuser(tx, user_id)?;
                    Ok(Some(ApiCaller {
                        user,
                        is_superuser,
                        token,
                        client_ip,
                    }))
                })
                .await?;
            match found {
                Some(caller) if caller.user.is_active => Ok(caller),
                _ => Err(ApiError::Unauthenticated),
            }
        })
    }
}

impl FromRequest for ApiAdmin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiAdmin, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = ApiCaller::from_request(request, payload);
        Box::pin(async move {
            let caller = caller.await?;
            if caller.is_superuser {
                Ok(ApiAdmin(caller))
            } else {
                Err(ApiError::Forbidden)
            }
        })
    }
}
