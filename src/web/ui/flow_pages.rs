//! `/if/flow/<slug>/`: flows as server-rendered pages. Plain HTML forms, no JavaScript
//! needed; every POST carries a CSRF token bound to the browser's flow cookie.

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post};
use serde_json::{Map, Value, json};

use crate::crypto::{constant_time_eq, hmac_sha256_hex};
use crate::flow::challenge::access_denied;
use crate::flow::{FlowOutcome, FlowStep};

use super::super::error::PageError;
use super::super::flow_http::{FlowCall, FlowParams, apply_cookies, flow_call};
use super::super::state::AppState;

#[get("/if/flow/{slug}/")]
pub async fn show(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
    params: Query<FlowParams>,
) -> Result<HttpResponse, PageError> {
    let call = flow_call(&http, slug.into_inner(), &params);
    if let Some(login) = login_first(&state, &http, &call) {
        return Ok(login);
    }
    let outcome = state.flows.current(&call.request).await?;
    render(&state, &http, &call, outcome, false)
}

/// A flow for signed-in users, opened by someone who is not signed in: sign in first and
/// come back, rather than a dead end.
fn login_first(state: &AppState, http: &HttpRequest, call: &FlowCall) -> Option<HttpResponse> {
    use crate::model::FlowAuthentication;
    if call.request.session.is_some() {
        return None;
    }
    let catalog = state.catalog.load();
    let flow = catalog.flow(&call.request.slug)?;
    let needs_login = matches!(
        flow.authentication,
        FlowAuthentication::RequireAuthenticated | FlowAuthentication::RequireSuperuser
    );
    if !needs_login {
        return None;
    }
    let here = http
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let to = super::super::brand::sign_in_url(&super::super::brand::brand_of(state, http), here);
    Some(
        HttpResponse::Found()
            .insert_header(("Location", to))
            .finish(),
    )
}

#[post("/if/flow/{slug}/")]
pub async fn answer(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
    params: Query<FlowParams>,
    body: actix_web::web::Bytes,
) -> Result<HttpResponse, PageError> {
    let call = flow_call(&http, slug.into_inner(), &params);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::BadRequest("The form could not be read.".into()))?;
    let mut response = Map::new();
    for (key, value) in pairs {
        response.insert(key, Value::String(value));
    }
    let presented = response
        .remove("csrf_token")
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default();
    let expected = csrf_token(&state, &call.request.browser_key);
    if call.new_flow_cookie.is_some()
        || !constant_time_eq(presented.as_bytes(), expected.as_bytes())
    {
        state
            .events
            .record(
                crate::model::EventAction::SuspiciousRequest,
                None,
                call.request.client.ip.as_deref(),
                json!({"reason": "flow form without a valid CSRF token", "flow": call.request.slug}),
            )
            .await;
        return Err(PageError::BadRequest(
            "This form expired or did not come from this site. Please go back and try again."
                .into(),
        ));
    }
    let outcome = state.flows.submit(&call.request, response).await?;
    render(&state, &http, &call, outcome, true)
}

pub fn csrf_token(state: &AppState, browser_key: &str) -> String {
    hmac_sha256_hex(&state.csrf_key, format!("csrf\0{browser_key}").as_bytes())
}

fn render(
    state: &AppState,
    http: &HttpRequest,
    call: &FlowCall,
    outcome: FlowOutcome,
    after_post: bool,
) -> Result<HttpResponse, PageError> {
    let (challenge, status) = match outcome.step {
        FlowStep::Redirect(to) => {
            let mut response = if after_post {
                HttpResponse::SeeOther()
            } else {
                HttpResponse::Found()
            };
            apply_cookies(&mut response, call, &outcome.session, state);
            return Ok(response.insert_header(("Location", to)).finish());
        }
        FlowStep::Challenge(challenge) => (challenge, actix_web::http::StatusCode::OK),
        FlowStep::Denied(message) => (
            access_denied(&message),
            actix_web::http::StatusCode::FORBIDDEN,
        ),
    };
    let action_url = http
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    let page = page_extras(&challenge);
    let html = state.templates.render(
        "flow.html",
        json!({
            "page": page,
            "challenge": challenge,
            "title": "gatehouse",
            "csrf_token": csrf_token(state, &call.request.browser_key),
            "action_url": action_url,
            "restart_url": format!("/flows/-/cancel/?next={}", super::super::extract::url_encode(http.path())),
            "brand": super::super::brand::page_context(&super::super::brand::brand_of(state, http)),
        }),
    )?;
    let mut response = HttpResponse::build(status);
    apply_cookies(&mut response, call, &outcome.session, state);
    Ok(response
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(html))
}

/// What a page shows beyond the challenge: the TOTP setup's QR code (inline SVG, drawn
/// here so the secret never reaches a QR service) and its key for typing by hand, both
/// read from the challenge's `config_url` (the JSON executor sends the URI only).
fn page_extras(challenge: &Value) -> Value {
    if challenge.get("component").and_then(Value::as_str) != Some("ak-stage-authenticator-totp") {
        return json!({});
    }
    let config_url = challenge
        .get("config_url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let query = |key: &str| {
        url::Url::parse(config_url).ok().and_then(|url| {
            url.query_pairs()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.into_owned())
        })
    };
    // The SVG is embedded in HTML: drop the XML declaration before `<svg`.
    let qr_svg = crate::mfa::qr::svg(config_url).and_then(|svg| {
        svg.find("<svg")
            .map(|start| svg.get(start..).unwrap_or_default().to_owned())
    });
    json!({
        "qr_svg": qr_svg,
        "secret": query("secret"),
        "digits": query("digits").unwrap_or_else(|| "6".to_owned()),
    })
}
