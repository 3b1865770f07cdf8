//! Per-application OpenID endpoints: discovery, JWKS and RP-initiated logout.

use actix_web::http::StatusCode;
use actix_web::web::{Bytes, Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post};

use crate::providers::oauth2::discovery;
use crate::providers::oauth2::logout::{EndSession, EndSessionParams, end_session};

use super::super::extract::{SESSION_COOKIE, load_session};
use super::super::flow_http::base_cookie;
use super::super::state::AppState;
use super::{base_url, message_page};

fn public_json(body: serde_json::Value) -> HttpResponse {
    // Public documents: any origin may read them (browser-based clients discover too).
    HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(body)
}

fn unknown() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({"detail": "Not found."}))
}

#[get("/application/o/{slug}/.well-known/openid-configuration")]
pub async fn configuration(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
) -> HttpResponse {
    match discovery::configuration(&state.oauth, &slug, &base_url(&http)) {
        Some(body) => public_json(body),
        None => unknown(),
    }
}

#[get("/application/o/{slug}/jwks/")]
pub async fn jwks(state: Data<AppState>, slug: Path<String>) -> HttpResponse {
    match discovery::jwks(&state.oauth, &slug) {
        Some(body) => public_json(body),
        None => unknown(),
    }
}

#[get("/application/o/{slug}/end-session/")]
pub async fn end_session_get(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
    params: Query<EndSessionParams>,
) -> HttpResponse {
    finish(&state, &http, &slug, &params).await
}

#[post("/application/o/{slug}/end-session/")]
pub async fn end_session_post(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let params: EndSessionParams = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    finish(&state, &http, &slug, &params).await
}

async fn finish(
    state: &AppState,
    http: &HttpRequest,
    slug: &str,
    params: &EndSessionParams,
) -> HttpResponse {
    let session = load_session(http);
    match end_session(&state.oauth, slug, params, session.as_ref()).await {
        EndSession::Redirect { to, ended } => {
            let mut response = HttpResponse::Found();
            response.insert_header(("Location", to));
            if ended {
                let https = super::super::extract::ClientMeta::of(http).https;
                let mut cookie = base_cookie(
                    SESSION_COOKIE,
                    String::new(),
                    https,
                    state.settings.cookie_domain.clone(),
                );
                cookie.make_removal();
                response.cookie(cookie);
            }
            response.finish()
        }
        EndSession::Invalid(message) => message_page(
            state,
            http,
            StatusCode::BAD_REQUEST,
            "Sign-out request not accepted",
            &message,
            Some(("/", "Go to the start page")),
        ),
    }
}
