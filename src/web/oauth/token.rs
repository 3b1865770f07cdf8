//! The client-facing POST endpoints: token, introspection, revocation, and the device
//! authorization endpoint. Every one parses the form itself, so that any malformed body
//! gets an OAuth JSON error rather than the framework's.

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse, get, post};

use crate::providers::oauth2::client::PresentedClient;
use crate::providers::oauth2::grants::{self, TokenRequest};
use crate::providers::oauth2::{OAuthError, device, introspect as engine};

use super::super::extract::ClientMeta;
use super::super::state::AppState;
use super::{base_url, error_response, json_response, parse_form, presented_client};

fn client_ip(http: &HttpRequest) -> Option<String> {
    ClientMeta::of(http).info().ip
}

#[post("/application/o/token/")]
pub async fn token_endpoint(state: Data<AppState>, http: HttpRequest, body: Bytes) -> HttpResponse {
    let result = async {
        let form = parse_form(&body)?;
        let client = presented_client(&http, &form)?;
        let request = TokenRequest {
            form,
            client,
            base_url: base_url(&http),
            client_ip: client_ip(&http),
        };
        grants::token(&state.oauth, &request).await
    }
    .await;
    match result {
        Ok(body) => json_response(body),
        Err(error) => error_response(&error),
    }
}

/// The client's credentials and the `token` of an introspection or revocation request.
fn client_and_token(
    http: &HttpRequest,
    body: &[u8],
) -> Result<(PresentedClient, String), OAuthError> {
    let form = parse_form(body)?;
    let client = presented_client(http, &form)?;
    let token = form
        .get("token")
        .filter(|token| !token.is_empty())
        .cloned()
        .ok_or_else(|| OAuthError::invalid_request("The token parameter is missing."))?;
    Ok((client, token))
}

#[post("/application/o/introspect/")]
pub async fn introspect(state: Data<AppState>, http: HttpRequest, body: Bytes) -> HttpResponse {
    let result = match client_and_token(&http, &body) {
        Ok((client, token)) => engine::introspect(&state.oauth, &client, &token).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(body) => json_response(body),
        Err(error) => error_response(&error),
    }
}

#[post("/application/o/revoke/")]
pub async fn revoke(state: Data<AppState>, http: HttpRequest, body: Bytes) -> HttpResponse {
    let result = match client_and_token(&http, &body) {
        Ok((client, token)) => {
            engine::revoke(&state.oauth, &client, &token, client_ip(&http).as_deref()).await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .finish(),
        Err(error) => error_response(&error),
    }
}

#[post("/application/o/device/")]
pub async fn device_authorization(
    state: Data<AppState>,
    http: HttpRequest,
    body: Bytes,
) -> HttpResponse {
    let result = parse_form(&body).and_then(|form| {
        let client = presented_client(&http, &form)?;
        device::authorize_device(
            &state.oauth,
            &client,
            form.get("scope").map(String::as_str),
            &base_url(&http),
        )
    });
    match result {
        Ok(body) => json_response(body),
        Err(error) => error_response(&error),
    }
}

/// People type the endpoint's address too; send them to the page for users.
#[get("/application/o/device/")]
pub async fn device_page_redirect(http: HttpRequest) -> HttpResponse {
    let query = http.query_string();
    let to = if query.is_empty() {
        "/device/".to_owned()
    } else {
        format!("/device/?{query}")
    };
    HttpResponse::Found()
        .insert_header(("Location", to))
        .finish()
}
