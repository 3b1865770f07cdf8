//! `/application/o/userinfo/` (GET and POST): the bearer token from the Authorization
//! header, or from the form of a POST (RFC 6750 §2.2).

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse, get, post};

use crate::providers::oauth2::{OAuthError, userinfo};

use super::super::state::AppState;

fn bearer(http: &HttpRequest) -> Option<String> {
    let value = http.headers().get("Authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

async fn answer(state: &AppState, token: Option<String>) -> HttpResponse {
    let result = match token {
        Some(token) => userinfo::userinfo(&state.oauth, &token).await,
        None => Err(OAuthError::invalid_request("No access token was sent.")),
    };
    match result {
        Ok(body) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .json(body),
        Err(error) => {
            let challenge = if error.code == "invalid_request" {
                "Bearer realm=\"gatehouse\"".to_owned()
            } else {
                format!(
                    "Bearer realm=\"gatehouse\", error=\"{}\", error_description=\"{}\"",
                    error.code, error.description
                )
            };
            let status = if error.code == "server_error" {
                500
            } else {
                401
            };
            HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status)
                    .unwrap_or(actix_web::http::StatusCode::UNAUTHORIZED),
            )
            .insert_header(("WWW-Authenticate", challenge))
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .json(error.to_json())
        }
    }
}

#[get("/application/o/userinfo/")]
pub async fn userinfo_get(state: Data<AppState>, http: HttpRequest) -> HttpResponse {
    answer(&state, bearer(&http)).await
}

#[post("/application/o/userinfo/")]
pub async fn userinfo_post(state: Data<AppState>, http: HttpRequest, body: Bytes) -> HttpResponse {
    let from_form = || {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .ok()?
            .into_iter()
            .find(|(name, _)| name == "access_token")
            .map(|(_, value)| value)
    };
    answer(&state, bearer(&http).or_else(from_form)).await
}
