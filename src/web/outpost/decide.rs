//! One decision for forward auth and proxy mode: pass (with the identity, or without
//! for a skipped path), sign in, or refuse. Cookie first — the hot path — then
//! intercepted `Authorization` credentials.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;

use crate::providers::proxy::cache::Admitted;
use crate::providers::proxy::identity::Refusal;
use crate::providers::proxy::routes::{Route, Routes};
use crate::providers::proxy::{intercept, signin};

use super::super::state::AppState;
use super::cookies;
use super::original::Original;

pub enum Decision {
    Pass(Option<Arc<Admitted>>),
    SignIn,
    Denied(String),
    Failed,
}

pub async fn decide(
    state: &AppState,
    request: &HttpRequest,
    routes: &Routes,
    route: &Route,
    original: &Original<'_>,
) -> Decision {
    let decision = decide_uncounted(state, request, routes, route, original).await;
    crate::metrics::global().forward_auth(match &decision {
        Decision::Pass(_) => "allow",
        Decision::SignIn => "sign_in",
        Decision::Denied(_) => "deny",
        Decision::Failed => "error",
    });
    decision
}

async fn decide_uncounted(
    state: &AppState,
    request: &HttpRequest,
    routes: &Routes,
    route: &Route,
    original: &Original<'_>,
) -> Decision {
    if route.skips(original.path()) {
        return Decision::Pass(None);
    }
    let base = || {
        super::browser_base(routes, route)
            .unwrap_or_else(|| format!("{}://{}", original.scheme, original.host))
    };
    if let Some(token) = cookies::value(request, &route.cookie_name) {
        match signin::identity_of_cookie(&state.proxy, routes, route, token, &base).await {
            Ok(admitted) => return Decision::Pass(Some(admitted)),
            Err(Refusal::Gone) => {}
            Err(Refusal::Denied(message)) => return Decision::Denied(message),
            Err(Refusal::Failed) => return Decision::Failed,
        }
    }
    if route.proxy.intercept_header_auth {
        if let Some(header) = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
        {
            match intercept::admit_header(&state.proxy, routes, route, header, &base()).await {
                Some(Ok(admitted)) => return Decision::Pass(Some(admitted)),
                Some(Err(Refusal::Denied(message))) => return Decision::Denied(message),
                Some(Err(Refusal::Failed)) => return Decision::Failed,
                Some(Err(Refusal::Gone)) | None => {}
            }
        }
    }
    Decision::SignIn
}
