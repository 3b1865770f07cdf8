//! The embedded outpost's HTTP side, at authentik's paths so the Traefik labels, Caddy
//! snippets and nginx configs written for authentik work unchanged:
//!
//! - `/outpost.goauthentik.io/auth/{traefik,caddy}`: 200 with the identity headers, or
//!   a redirect to sign in, or 403; `/auth/nginx`: 200 or 401 (`auth_request` cannot
//!   pass a redirect on; nginx's `error_page 401` sends the browser to `start`).
//! - `/outpost.goauthentik.io/{start,callback,sign_out}` on the protected host. When a
//!   reverse proxy forwards only the auth request (the shortest configs), these paths
//!   arrive through the auth endpoint and are answered there the same way.
//! - Proxy mode: every other request for a proxy-mode provider's host (`proxy_mode`).

mod cookies;
mod decide;
mod original;
mod proxy_mode;
pub mod upstream;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use crate::model::provider::OUTPOST_PATH_PREFIX;
use crate::providers::proxy::identity::Refusal;
use crate::providers::proxy::routes::{Route, Routes};
use crate::providers::proxy::signin::{self, CallbackError, NONCE_COOKIE};

use super::state::AppState;
use decide::{Decision, decide};
use original::Original;

pub use proxy_mode::proxy_mode_guard;

pub fn routes(config: &mut ServiceConfig) {
    config
        // One route per server kind: no path parameter to extract on the hot path.
        .route(
            "/outpost.goauthentik.io/auth/traefik",
            web::route().to(auth_redirecting),
        )
        .route(
            "/outpost.goauthentik.io/auth/caddy",
            web::route().to(auth_redirecting),
        )
        .route(
            "/outpost.goauthentik.io/auth/envoy",
            web::route().to(auth_redirecting),
        )
        .route(
            "/outpost.goauthentik.io/auth/nginx",
            web::route().to(auth_nginx),
        )
        .route("/outpost.goauthentik.io/start", web::route().to(start))
        .route(
            "/outpost.goauthentik.io/callback",
            web::route().to(callback),
        )
        .route(
            "/outpost.goauthentik.io/sign_out",
            web::route().to(sign_out),
        );
}

pub fn proxy_routes(config: &mut ServiceConfig) {
    proxy_mode::routes(config);
}

/// How the asking reverse proxy wants "not signed in" said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asker {
    /// Traefik, Caddy (and gatehouse's proxy mode): a redirect is passed to the browser.
    Redirects,
    /// nginx `auth_request`: only 2xx, 401 and 403 mean something.
    Nginx,
}

async fn auth_redirecting(state: Data<AppState>, request: HttpRequest) -> HttpResponse {
    auth(&state, &request, Asker::Redirects).await
}

async fn auth_nginx(state: Data<AppState>, request: HttpRequest) -> HttpResponse {
    auth(&state, &request, Asker::Nginx).await
}

async fn auth(state: &AppState, request: &HttpRequest, asker: Asker) -> HttpResponse {
    let Some(original) = Original::forwarded(request) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "The reverse proxy sent no X-Forwarded-Host (or X-Original-URL) header.",
        );
    };
    let routes = state.proxy.routes();
    let Some(route) = routes.for_host(original.host) else {
        return not_served(original.host);
    };
    // The outpost's own paths, forwarded as auth requests by the shortest configs.
    if let Some(action) = original.path().strip_prefix(OUTPOST_PATH_PREFIX) {
        match action {
            "/callback" => return finish_callback(state, request, &routes, &original).await,
            "/start" => return begin_sign_in(state, request, &routes, route, &original, true),
            "/sign_out" => return end_session(state, request, &routes, route),
            _ => {}
        }
    }
    match decide(state, request, &routes, route, &original).await {
        Decision::Pass(admitted) => {
            // Caddy 2.6 copies a header named in `copy_headers` but absent from the
            // answer as its placeholder text, so an anonymous pass (a skipped path)
            // names every identity header, empty.
            let headers = admitted
                .as_ref()
                .map_or(ANONYMOUS.as_slice(), |admitted| admitted.headers.as_slice());
            let mut response = HttpResponse::Ok();
            for (name, value) in headers {
                response.insert_header((name.clone(), value.clone()));
            }
            let mut response = response.finish();
            // An answer for the reverse proxy, not a page: no page headers to add.
            response.extensions_mut().insert(super::NotAPage);
            response
        }
        Decision::SignIn if asker == Asker::Nginx => HttpResponse::Unauthorized().finish(),
        Decision::SignIn => begin_sign_in(state, request, &routes, route, &original, false),
        Decision::Denied(message) => denied(state, request, &message),
        Decision::Failed => failed(),
    }
}

/// The identity headers with empty values, for passes without a user.
static ANONYMOUS: std::sync::LazyLock<Vec<(HeaderName, HeaderValue)>> =
    std::sync::LazyLock::new(|| {
        crate::providers::proxy::identity::HEADER_NAMES
            .iter()
            .map(|name| (HeaderName::from_static(name), HeaderValue::from_static("")))
            .collect()
    });

/// `/outpost.goauthentik.io/start?rd=…` on the protected host (nginx's `error_page`).
async fn start(state: Data<AppState>, request: HttpRequest) -> HttpResponse {
    let Some(original) = Original::direct(&request) else {
        return plain(StatusCode::BAD_REQUEST, "No Host header.");
    };
    let routes = state.proxy.routes();
    let Some(route) = routes.for_host(original.host) else {
        return not_served(original.host);
    };
    begin_sign_in(&state, &request, &routes, route, &original, true)
}

async fn callback(state: Data<AppState>, request: HttpRequest) -> HttpResponse {
    let Some(original) = Original::direct(&request) else {
        return plain(StatusCode::BAD_REQUEST, "No Host header.");
    };
    let routes = state.proxy.routes();
    finish_callback(&state, &request, &routes, &original).await
}

async fn sign_out(state: Data<AppState>, request: HttpRequest) -> HttpResponse {
    let Some(original) = Original::direct(&request) else {
        return plain(StatusCode::BAD_REQUEST, "No Host header.");
    };
    let routes = state.proxy.routes();
    let Some(route) = routes.for_host(original.host) else {
        return not_served(original.host);
    };
    end_session(&state, &request, &routes, route)
}

/// Where browsers reach gatehouse: the embedded outpost's `authentik_host` (or
/// `authentik_host_browser`), else in domain mode the provider's external host (which
/// is gatehouse's own there).
fn browser_base(routes: &Routes, route: &Route) -> Option<String> {
    if let Some(base) = routes
        .outpost()
        .and_then(|outpost| outpost.browser_base_url())
    {
        return Some(base.to_owned());
    }
    (route.mode() == crate::model::ProxyMode::ForwardDomain)
        .then(|| route.proxy.external_host.trim_end_matches('/').to_owned())
}

/// Sends the browser to sign in, returning to the original URL (or to `rd` when the
/// request is `start` itself).
fn begin_sign_in(
    state: &AppState,
    request: &HttpRequest,
    routes: &Routes,
    route: &Route,
    original: &Original<'_>,
    is_start: bool,
) -> HttpResponse {
    let Some(base) = browser_base(routes, route) else {
        tracing::error!(provider = %route.provider.name, "proxy: the embedded outpost has no authentik_host; cannot send browsers to sign in");
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "gatehouse does not know its own public URL: set authentik_host in the embedded \
             outpost's configuration (API: outposts/instances/) to the URL browsers reach \
             gatehouse at.",
        );
    };
    let return_to = if is_start {
        let rd = query_param(original.query(), "rd").unwrap_or_default();
        if rd.starts_with('/') && !rd.starts_with("//") {
            format!("{}://{}{rd}", original.scheme, original.host)
        } else {
            rd
        }
    } else {
        original.url()
    };
    let start = signin::start(
        &state.proxy,
        route,
        &base,
        &return_to,
        cookies::value(request, NONCE_COOKIE),
    );
    HttpResponse::Found()
        .insert_header(("Location", start.location))
        .insert_header(("Cache-Control", "no-store"))
        .cookie(cookies::for_route(route, NONCE_COOKIE, start.nonce, 1800))
        .finish()
}

async fn finish_callback(
    state: &AppState,
    request: &HttpRequest,
    routes: &Routes,
    original: &Original<'_>,
) -> HttpResponse {
    let query = original.query();
    if let Some(error) = query_param(query, "error") {
        let message = match error.as_str() {
            "access_denied" => "You do not have access to this application.".to_owned(),
            other => format!("The sign-in did not complete ({other})."),
        };
        return denied(state, request, &message);
    }
    let (Some(code), Some(sealed_state)) =
        (query_param(query, "code"), query_param(query, "state"))
    else {
        return plain(
            StatusCode::BAD_REQUEST,
            "The callback needs code and state.",
        );
    };
    let Some(route) = routes.for_host(original.host) else {
        return not_served(original.host);
    };
    let base = browser_base(routes, route)
        .unwrap_or_else(|| super::extract::ClientMeta::of(request).base_url());
    let outcome = signin::callback(
        &state.proxy,
        routes,
        &signin::Callback {
            code: &code,
            state: &sealed_state,
            browser_nonce: cookies::value(request, NONCE_COOKIE),
            host: original.host,
        },
        &base,
    )
    .await;
    match outcome {
        Ok(signed_in) => {
            // The state names the provider; in domain mode that is the one whose
            // cookie domain holds this host.
            let session_route = routes
                .by_provider(signed_in.admitted.provider)
                .unwrap_or(route);
            HttpResponse::Found()
                .insert_header(("Location", signed_in.return_to))
                .insert_header(("Cache-Control", "no-store"))
                .cookie(cookies::for_route(
                    session_route,
                    &session_route.cookie_name,
                    signed_in.token,
                    signed_in.max_age_secs,
                ))
                .cookie(cookies::removal(session_route, NONCE_COOKIE))
                .finish()
        }
        Err(CallbackError::Refused(Refusal::Denied(message))) => denied(state, request, &message),
        Err(CallbackError::Refused(Refusal::Failed)) => failed(),
        Err(error) => {
            tracing::info!(?error, host = original.host, "proxy: callback refused");
            let retry = route.proxy.external_host.clone();
            super::oauth::message_page(
                state,
                request,
                StatusCode::BAD_REQUEST,
                "Sign-in link no longer valid",
                "This sign-in link has expired, was already used, or was opened in another \
                 browser.",
                Some((&retry, "Try again")),
            )
        }
    }
}

fn end_session(
    state: &AppState,
    request: &HttpRequest,
    routes: &Routes,
    route: &Route,
) -> HttpResponse {
    if let Some(token) = cookies::value(request, &route.cookie_name) {
        signin::sign_out(&state.proxy, token);
    }
    let mut response = match browser_base(routes, route) {
        Some(base) => {
            let mut response = HttpResponse::Found();
            response.insert_header(("Location", format!("{base}/")));
            response
        }
        None => HttpResponse::Ok(),
    };
    response
        .insert_header(("Cache-Control", "no-store"))
        .cookie(cookies::removal(route, &route.cookie_name))
        .content_type("text/plain; charset=utf-8")
        .body("Signed out.")
}

fn query_param(query: &str, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn denied(state: &AppState, request: &HttpRequest, message: &str) -> HttpResponse {
    super::oauth::message_page(
        state,
        request,
        StatusCode::FORBIDDEN,
        "Access denied",
        message,
        None,
    )
}

fn failed() -> HttpResponse {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "gatehouse could not check this request right now; try again shortly.",
    )
}

fn not_served(host: &str) -> HttpResponse {
    tracing::info!(host, "proxy: no provider serves this host");
    plain(
        StatusCode::NOT_FOUND,
        &format!(
            "No proxy provider for {host} is assigned to gatehouse's embedded outpost \
             (check the provider's external host and the outpost's providers)."
        ),
    )
}

fn plain(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(message.to_owned())
}
