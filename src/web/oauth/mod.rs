//! The OAuth2/OpenID Connect wire: actix routes that parse requests into the engine's
//! types (`providers::oauth2`) and turn its outcomes into redirects, JSON and pages.

mod authorize;
mod device_page;
mod resource;
mod token;
mod well_known;

use actix_web::http::StatusCode;
use actix_web::web::ServiceConfig;
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::providers::oauth2::OAuthError;
use crate::providers::oauth2::client::PresentedClient;

use super::state::AppState;

pub fn routes(config: &mut ServiceConfig) {
    config
        .service(authorize::authorize_get)
        .service(authorize::authorize_post)
        .service(token::token_endpoint)
        .service(token::introspect)
        .service(token::revoke)
        .service(token::device_authorization)
        .service(token::device_page_redirect)
        .service(resource::userinfo_get)
        .service(resource::userinfo_post)
        .service(well_known::configuration)
        .service(well_known::jwks)
        .service(well_known::end_session_get)
        .service(well_known::end_session_post)
        .service(device_page::show)
        .service(device_page::answer)
        .service(preflight);
}

/// CORS preflight for the endpoints browser-based (public) clients call directly. They
/// carry no ambient credentials (no cookies; the client's secret or token is in the
/// request itself), so any origin may call them, as with the discovery document.
#[actix_web::route(
    "/application/o/{endpoint:(token|userinfo|revoke|introspect|device)}/",
    method = "OPTIONS"
)]
async fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header(("Access-Control-Allow-Methods", "GET, POST, OPTIONS"))
        .insert_header((
            "Access-Control-Allow-Headers",
            "authorization, content-type",
        ))
        .insert_header(("Access-Control-Max-Age", "86400"))
        .finish()
}

/// `scheme://host` as the client sees us.
fn base_url(http: &HttpRequest) -> String {
    super::extract::ClientMeta::of(http).base_url()
}

/// A JSON error as RFC 6749 §5.2 shapes it, never cached.
fn error_response(error: &OAuthError) -> HttpResponse {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = HttpResponse::build(status);
    response.insert_header(("Cache-Control", "no-store"));
    response.insert_header(("Access-Control-Allow-Origin", "*"));
    if error.code == "invalid_client" {
        response.insert_header(("WWW-Authenticate", "Basic realm=\"gatehouse\""));
    }
    response.json(error.to_json())
}

fn json_response(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .json(body)
}

/// The form of a POST, as pairs. Repeated parameters are an error (RFC 6749 §3.1).
fn parse_form(body: &[u8]) -> Result<std::collections::HashMap<String, String>, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("The request body is not a form."))?;
    let mut form = std::collections::HashMap::new();
    for (name, value) in pairs {
        if form.insert(name.clone(), value).is_some() {
            return Err(OAuthError::invalid_request(format!(
                "The {name} parameter is repeated."
            )));
        }
    }
    Ok(form)
}

/// The client's credentials: HTTP Basic (RFC 6749 §2.3.1, each part form-encoded) or the
/// form's `client_id`/`client_secret`. Using both is refused, as the RFC asks.
fn presented_client(
    http: &HttpRequest,
    form: &std::collections::HashMap<String, String>,
) -> Result<PresentedClient, OAuthError> {
    let form_id = form.get("client_id").filter(|v| !v.is_empty()).cloned();
    let form_secret = form.get("client_secret").filter(|v| !v.is_empty()).cloned();
    let basic = http
        .headers()
        .get("Authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, rest) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then(|| rest.trim().to_owned())
        });
    let Some(encoded) = basic else {
        return Ok(PresentedClient {
            client_id: form_id,
            client_secret: form_secret,
        });
    };
    if form_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "Use one client authentication method, not two.",
        ));
    }
    let decoded = STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(OAuthError::invalid_client)?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(OAuthError::invalid_client)?;
    let decode = |part: &str| -> Result<String, OAuthError> {
        url::form_urlencoded::parse(format!("v={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .ok_or_else(OAuthError::invalid_client)
    };
    let (id, secret) = (decode(id)?, decode(secret)?);
    if form_id.as_deref().is_some_and(|form_id| form_id != id) {
        return Err(OAuthError::invalid_client());
    }
    Ok(PresentedClient {
        client_id: Some(id),
        client_secret: Some(secret),
    })
}

/// A page from `message.html` (errors and notices of the protocol endpoints).
pub(crate) fn message_page(
    state: &AppState,
    http: &HttpRequest,
    status: StatusCode,
    title: &str,
    message: &str,
    link: Option<(&str, &str)>,
) -> HttpResponse {
    let brand = super::brand::page_context(&super::brand::brand_of(state, http));
    let body = state
        .templates
        .render(
            "message.html",
            json!({
                "title": title,
                "message": message,
                "is_error": !status.is_success(),
                "link": link.map(|(href, text)| json!({"href": href, "text": text})),
                "brand": brand,
            }),
        )
        .unwrap_or_else(|_| message.to_owned());
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}
