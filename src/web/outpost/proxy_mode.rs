//! Proxy mode: gatehouse is the reverse proxy for a provider's external host. Every
//! request for that host (but the outpost's own paths, routed before this) is decided
//! like a forward-auth request and, when it passes, forwarded to the internal host with
//! the identity headers added.

use actix_web::guard::GuardContext;
use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Payload, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use super::super::state::AppState;
use super::decide::{Decision, decide};
use super::original::Original;

pub fn routes(config: &mut ServiceConfig) {
    config.service(
        web::scope("")
            .guard(actix_web::guard::fn_guard(proxy_mode_guard))
            .default_service(web::to(serve)),
    );
}

/// Whether the request is for the external host of a proxy-mode provider.
pub fn proxy_mode_guard(context: &GuardContext<'_>) -> bool {
    let Some(state) = context.app_data::<Data<AppState>>() else {
        return false;
    };
    let headers = &context.head().headers;
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get("host"))
        .and_then(|value| value.to_str().ok());
    let Some(host) = host else {
        return false;
    };
    state.proxy.routes().proxies_host(host).is_some()
}

async fn serve(state: Data<AppState>, request: HttpRequest, payload: Payload) -> HttpResponse {
    let Some(original) = Original::direct(&request) else {
        return super::plain(StatusCode::BAD_REQUEST, "No Host header.");
    };
    let routes = state.proxy.routes();
    let Some(route) = routes.proxies_host(original.host) else {
        return super::not_served(original.host);
    };
    match decide(&state, &request, &routes, route, &original).await {
        Decision::Pass(admitted) => {
            let headers = admitted.as_ref().map_or(&[][..], |a| a.headers.as_slice());
            let mut response = state
                .upstreams
                .forward(
                    &route.proxy.internal_host,
                    route.proxy.internal_host_ssl_validation,
                    &request,
                    payload,
                    headers,
                )
                .await;
            response.extensions_mut().insert(super::super::NotAPage);
            response
        }
        Decision::SignIn => {
            super::begin_sign_in(&state, &request, &routes, route, &original, false)
        }
        Decision::Denied(message) => super::denied(&state, &request, &message),
        Decision::Failed => super::failed(),
    }
}
