//! The user portal (`/if/user/`), the admin overview (`/if/admin/`), and the small
//! redirects authentik users know (`/`, `/flows/-/default/...`, `/flows/-/cancel/`).

use actix_web::web::{Data, Query};
use actix_web::{HttpRequest, HttpResponse, get};
use serde::Deserialize;
use serde_json::json;

use crate::flow::safe_next;
use crate::store::ListQuery;

use super::super::error::PageError;
use super::super::extract::{ClientMeta, MaybeSession, PageUser};
use super::super::flow_http::{FLOW_COOKIE, base_cookie};
use super::super::state::AppState;

fn found(to: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("Location", to))
        .finish()
}

#[get("/")]
pub async fn root(session: MaybeSession) -> HttpResponse {
    match session.0 {
        Some(_) => found("/if/user/"),
        None => found("/if/flow/default-authentication-flow/"),
    }
}

#[get("/flows/-/default/authentication/")]
pub async fn default_authentication(http: HttpRequest) -> HttpResponse {
    let query = http.query_string();
    let suffix = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    found(&format!("/if/flow/default-authentication-flow/{suffix}"))
}

#[get("/flows/-/default/invalidation/")]
pub async fn default_invalidation() -> HttpResponse {
    found("/if/flow/default-invalidation-flow/")
}

#[derive(Deserialize)]
pub struct CancelParams {
    next: Option<String>,
}

/// Forgets every flow in progress in this browser by giving it a new flow key.
#[get("/flows/-/cancel/")]
pub async fn cancel(http: HttpRequest, params: Query<CancelParams>) -> HttpResponse {
    let client = ClientMeta::of(&http);
    let mut cookie = base_cookie(FLOW_COOKIE, String::new(), client.https, None);
    cookie.make_removal();
    let to = safe_next(params.next.as_deref()).unwrap_or_else(|| "/".into());
    HttpResponse::Found()
        .cookie(cookie)
        .insert_header(("Location", to))
        .finish()
}

#[get("/if/user/")]
pub async fn user_portal(state: Data<AppState>, page: PageUser) -> Result<HttpResponse, PageError> {
    let html = state.templates.render(
        "user.html",
        json!({
            "title": "My applications",
            "user": {
                "username": page.user.username.as_str(),
                "name": page.user.name,
                "email": page.user.email,
            },
            "is_superuser": page.is_superuser,
        }),
    )?;
    Ok(html_page(html))
}

#[get("/if/admin/")]
pub async fn admin_overview(
    state: Data<AppState>,
    page: PageUser,
) -> Result<HttpResponse, PageError> {
    if !page.is_superuser {
        return Ok(found("/if/user/"));
    }
    let (users, groups, events) = state
        .db
        .read(|tx| {
            let recent = ListQuery {
                limit: 20,
                ..ListQuery::default()
            };
            Ok((
                tx.count_users()?,
                tx.list_groups(&ListQuery {
                    limit: 1,
                    ..ListQuery::default()
                })?
                .total,
                tx.list_events(&recent)?.items,
            ))
        })
        .await?;
    let events: Vec<_> = events
        .iter()
        .map(|event| {
            json!({
                "created": event.created.to_rfc3339(),
                "action": event.action.as_str(),
                "user": event.user.as_ref().map(|user| user.username.clone()),
                "client_ip": event.client_ip,
            })
        })
        .collect();
    let html = state.templates.render(
        "admin.html",
        json!({
            "title": "Admin",
            "counts": {"users": users, "groups": groups, "flows": state.catalog.load().flows().len()},
            "events": events,
            "version": env!("CARGO_PKG_VERSION"),
            "storage": state.db.store().backend_name(),
        }),
    )?;
    Ok(html_page(html))
}

fn html_page(html: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(html)
}
