//! `/api/v3/flows/executor/<slug>/`: the same flows as JSON challenges in authentik's
//! executor protocol, so scripts written for authentik drive gatehouse unchanged.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post};
use serde_json::{Map, Value};

use crate::flow::challenge::{access_denied, redirect};
use crate::flow::{FlowOutcome, FlowStep};

use super::super::error::ApiError;
use super::super::flow_http::{FlowCall, FlowParams, apply_cookies, flow_call};
use super::super::state::AppState;

#[get("/api/v3/flows/executor/{slug}/")]
pub async fn current(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
    params: Query<FlowParams>,
) -> Result<HttpResponse, ApiError> {
    let call = flow_call(&http, slug.into_inner(), &params);
    let outcome = state.flows.current(&call.request).await?;
    Ok(respond(&state, &call, outcome))
}

#[post("/api/v3/flows/executor/{slug}/")]
pub async fn answer(
    state: Data<AppState>,
    http: HttpRequest,
    slug: Path<String>,
    params: Query<FlowParams>,
    body: Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let call = flow_call(&http, slug.into_inner(), &params);
    let outcome = state.flows.submit(&call.request, body.into_inner()).await?;
    Ok(respond(&state, &call, outcome))
}

fn respond(state: &AppState, call: &FlowCall, outcome: FlowOutcome) -> HttpResponse {
    let body = match outcome.step {
        FlowStep::Challenge(challenge) => challenge,
        FlowStep::Redirect(to) => redirect(&to),
        FlowStep::Denied(message) => access_denied(&message),
    };
    let mut response = HttpResponse::Ok();
    apply_cookies(&mut response, call, &outcome.session, state);
    response
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}
