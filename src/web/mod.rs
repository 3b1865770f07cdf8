//! The HTTP side: pages, the REST API, the flow executor and health checks, wired onto
//! one actix `App`. Limits and security headers are set here for every route.

pub mod api;
pub mod brand;
pub mod error;
pub mod extract;
pub mod flow_http;
pub mod health;
pub mod oauth;
pub mod outpost;
pub mod saml;
pub mod state;
pub mod templates;
pub mod ui;

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use error::ApiError;
pub use state::AppState;

/// Security headers on every response gatehouse makes. `frame-ancestors 'none'` keeps
/// the login page out of other sites' frames (clickjacking); scripts and styles come
/// only from us. Images may come from any HTTPS site, so the launcher can show
/// application icons hosted elsewhere (an image cannot run code).
const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data: https:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// Marks a response that is not a gatehouse page: one relayed from a proxied application
/// (gatehouse's policy would break its pages) or a forward-auth answer read by a reverse
/// proxy. The page headers are left off.
#[derive(Debug, Clone, Copy)]
pub struct NotAPage;

/// Adds `SECURITY_HEADERS` where a response does not set them itself, except to
/// relayed responses.
pub async fn security_headers(
    request: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let mut response = next.call(request).await?;
    if response.response().extensions().contains::<NotAPage>() {
        return Ok(response);
    }
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        let name = actix_web::http::header::HeaderName::from_static(name);
        if !headers.contains_key(&name) {
            headers.insert(
                name,
                actix_web::http::header::HeaderValue::from_static(value),
            );
        }
    }
    Ok(response)
}

/// Routes and per-request limits; the caller adds middleware and the state.
pub fn configure(config: &mut ServiceConfig, state: Data<AppState>) {
    let body_limit = state.settings.web.max_body_bytes;
    config
        .app_data(state)
        .app_data(
            web::JsonConfig::default()
                .limit(body_limit)
                .error_handler(json_error),
        )
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PayloadConfig::new(body_limit))
        // The outpost's paths first: they answer on every host, protected ones included.
        .configure(outpost::routes)
        // Then every request for a proxy-mode host goes to its upstream.
        .configure(outpost::proxy_routes)
        .service(health::live)
        .service(health::ready)
        .service(ui::static_files::asset)
        .service(ui::portal::root)
        .service(ui::portal::default_flow)
        .service(ui::portal::brand_css)
        .service(ui::portal::cancel)
        .service(ui::portal::user_portal)
        .service(ui::devices::devices_page)
        .service(ui::portal::admin_overview)
        .service(ui::recovery::use_token)
        .service(ui::flow_pages::show)
        .service(ui::flow_pages::answer)
        .configure(oauth::routes)
        .configure(saml::routes)
        .configure(api::routes)
        .default_service(web::to(not_found));
}

fn json_error(error: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let detail = match &error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            "Request body is too large.".to_owned()
        }
        JsonPayloadError::ContentType => {
            "Unsupported media type; send application/json.".to_owned()
        }
        other => format!("JSON parse error - {other}"),
    };
    ApiError::BadRequest(detail).into()
}

fn query_error(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("Invalid query parameters - {error}")).into()
}

async fn not_found(request: HttpRequest) -> HttpResponse {
    if request.path().starts_with("/api/") {
        HttpResponse::NotFound().json(serde_json::json!({"detail": "Not found."}))
    } else {
        HttpResponse::NotFound()
            .content_type("text/html; charset=utf-8")
            .body("<!doctype html><title>Not found</title><p>Not found. <a href=\"/\">Start page</a></p>")
    }
}
