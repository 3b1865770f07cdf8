//! `/device/`: where a user enters the code a device shows (RFC 8628 §3.3), sees which
//! application asks, and allows or denies. Signed-in users only; the form carries the
//! flow pages' CSRF token.

use actix_web::http::StatusCode;
use actix_web::web::{Bytes, Data, Query};
use actix_web::{HttpRequest, HttpResponse, get, post};
use serde::Deserialize;
use serde_json::json;

use crate::crypto::constant_time_eq;
use crate::providers::oauth2::authorize::may_use;
use crate::providers::oauth2::device::{self, PendingDevice};
use crate::providers::oauth2::grants::amr;

use super::super::extract::url_encode;
use super::super::flow_http::{FlowCall, FlowParams, flow_call};
use super::super::state::AppState;
use super::super::ui::flow_pages::csrf_token;
use super::message_page;

#[derive(Debug, Default, Deserialize)]
pub struct DeviceQuery {
    code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DeviceForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    action: String,
}

fn login_redirect(state: &AppState, http: &HttpRequest, code: &str) -> HttpResponse {
    let brand = super::super::brand::brand_of(state, http);
    let here = if code.is_empty() {
        "/device/".to_owned()
    } else {
        format!("/device/?code={}", url_encode(code))
    };
    let to = super::super::brand::sign_in_url(&brand, &here);
    HttpResponse::Found()
        .insert_header(("Location", to))
        .finish()
}

fn page(
    state: &AppState,
    http: &HttpRequest,
    call: &FlowCall,
    status: StatusCode,
    code: &str,
    pending: Option<&PendingDevice>,
    error: Option<&str>,
) -> HttpResponse {
    let brand = super::super::brand::page_context(&super::super::brand::brand_of(state, http));
    let body = state.templates.render(
        "device.html",
        json!({
            "brand": brand,
            "csrf_token": csrf_token(state, &call.request.browser_key),
            "code": code,
            "application": pending.map(|p| p.client.application.name.clone()),
            "scopes": pending.map(|p| p.grant.scopes.clone()),
            "error": error,
        }),
    );
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"));
    if let Some(cookie) = &call.new_flow_cookie {
        response.cookie(cookie.clone());
    }
    match body {
        Ok(html) => response.body(html),
        Err(error) => {
            tracing::error!(%error, "device page template failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

#[get("/device/")]
pub async fn show(
    state: Data<AppState>,
    http: HttpRequest,
    query: Query<DeviceQuery>,
) -> HttpResponse {
    let code = query.code.clone().unwrap_or_default();
    let call = flow_call(&http, String::new(), &FlowParams::default());
    if call.request.session.is_none() {
        return login_redirect(&state, &http, &code);
    }
    let pending = if code.is_empty() {
        None
    } else {
        device::find_pending(&state.oauth, &code).ok().flatten()
    };
    let error =
        (!code.is_empty() && pending.is_none()).then_some("This code is unknown or has expired.");
    page(
        &state,
        &http,
        &call,
        StatusCode::OK,
        &code,
        pending.as_ref(),
        error,
    )
}

#[post("/device/")]
pub async fn answer(state: Data<AppState>, http: HttpRequest, body: Bytes) -> HttpResponse {
    let form: DeviceForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let call = flow_call(&http, String::new(), &FlowParams::default());
    let Some(session) = call.request.session.clone() else {
        return login_redirect(&state, &http, &form.code);
    };
    let expected = csrf_token(&state, &call.request.browser_key);
    if call.new_flow_cookie.is_some()
        || !constant_time_eq(form.csrf_token.as_bytes(), expected.as_bytes())
    {
        return message_page(
            &state,
            &http,
            StatusCode::BAD_REQUEST,
            "Connect a device",
            "This form expired or did not come from this site. Please go back and try again.",
            Some(("/device/", "Start again")),
        );
    }
    let pending = match device::find_pending(&state.oauth, &form.code) {
        Ok(Some(pending)) => pending,
        _ => {
            return page(
                &state,
                &http,
                &call,
                StatusCode::BAD_REQUEST,
                &form.code,
                None,
                Some("This code is unknown or has expired."),
            );
        }
    };
    if form.action == "check" {
        return page(
            &state,
            &http,
            &call,
            StatusCode::OK,
            &form.code,
            Some(&pending),
            None,
        );
    }
    let user_id = session.record.user;
    let Ok(Some(user)) = state.db.read(move |tx| tx.user_by_id(user_id)).await else {
        return login_redirect(&state, &http, &form.code);
    };
    let ip = call.request.client.ip.clone();
    let allowed = match may_use(&state.oauth, &pending.client, &user, ip.as_deref()).await {
        Ok(allowed) => allowed,
        Err(_) => return HttpResponse::InternalServerError().finish(),
    };
    let approve = form.action == "approve" && allowed;
    let app_name = pending.client.application.name.clone();
    let decided = device::decide(
        &state.oauth,
        pending,
        &user,
        session.record.created,
        amr(&session.record.methods),
        approve,
        ip.as_deref(),
    )
    .await;
    if decided.is_err() {
        return HttpResponse::InternalServerError().finish();
    }
    let (status, title, message) = match (approve, allowed) {
        (true, _) => (
            StatusCode::OK,
            "Device connected",
            format!("{app_name} may now use your account. You can return to your device."),
        ),
        (false, false) => (
            StatusCode::FORBIDDEN,
            "Access denied",
            format!("You do not have access to {app_name}."),
        ),
        (false, true) => (
            StatusCode::OK,
            "Request denied",
            "The device was not connected.".to_owned(),
        ),
    };
    message_page(
        &state,
        &http,
        status,
        title,
        &message,
        Some(("/if/user/", "Go to my applications")),
    )
}
