//! The user portal (`/if/user/`), the admin overview (`/if/admin/`), and the small
//! redirects authentik users know (`/`, `/flows/-/default/...`, `/flows/-/cancel/`).

use actix_web::web::{Data, Query};
use actix_web::{HttpRequest, HttpResponse, get};
use serde::Deserialize;
use serde_json::json;

use std::collections::BTreeMap;

use crate::directory::access::{access_request, accessible_applications};
use crate::flow::safe_next;
use crate::model::Application;
use crate::store::ListQuery;

use super::super::brand::{authentication_flow, brand_of, invalidation_flow, page_context};
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
pub async fn root(state: Data<AppState>, http: HttpRequest, session: MaybeSession) -> HttpResponse {
    match session.0 {
        Some(_) => found("/if/user/"),
        None => found(&format!(
            "/if/flow/{}/",
            authentication_flow(&brand_of(&state, &http))
        )),
    }
}

/// The brand's flow for a purpose, as authentik's `/flows/-/default/<designation>/`.
#[get("/flows/-/default/{designation}/")]
pub async fn default_flow(
    state: Data<AppState>,
    http: HttpRequest,
    designation: actix_web::web::Path<String>,
) -> HttpResponse {
    let brand = brand_of(&state, &http);
    let slug = match designation.as_str() {
        "authentication" => Some(authentication_flow(&brand)),
        "invalidation" => Some(invalidation_flow(&brand)),
        "recovery" => brand.flow_recovery.clone(),
        "enrollment" => brand.flow_enrollment.clone(),
        "user-settings" | "user_settings" => brand.flow_user_settings.clone(),
        "unenrollment" => brand.flow_unenrollment.clone(),
        _ => None,
    };
    let Some(slug) = slug else {
        return HttpResponse::NotFound()
            .content_type("text/html; charset=utf-8")
            .body("No such flow is configured for this site.");
    };
    let query = http.query_string();
    let suffix = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    found(&format!("/if/flow/{slug}/{suffix}"))
}

/// A brand's custom CSS, from our own origin so the page CSP needs no exception.
#[get("/-/brand/{id}/custom.css")]
pub async fn brand_css(
    state: Data<AppState>,
    id: actix_web::web::Path<uuid::Uuid>,
) -> HttpResponse {
    let catalog = state.catalog.load();
    let css = catalog
        .brands()
        .into_iter()
        .find(|brand| brand.id == *id)
        .map(|brand| brand.branding_custom_css.clone())
        .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(css)
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

/// The launcher's sections: applications grouped by their `group`, named sections in
/// alphabetical order and the ungrouped ones last, each section in catalog order.
fn launcher_sections(
    catalog: &crate::store::Catalog,
    applications: &[&Application],
) -> Vec<serde_json::Value> {
    let mut sections: BTreeMap<(bool, String), Vec<serde_json::Value>> = BTreeMap::new();
    for application in applications {
        let group = application.group.trim();
        sections
            .entry((group.is_empty(), group.to_owned()))
            .or_default()
            .push(json!({
                "name": application.name,
                "slug": application.slug,
                "icon": Some(application.meta_icon.trim()).filter(|icon| !icon.is_empty()),
                "initial": application.name.chars().next().map(|c| c.to_uppercase().to_string()),
                "description": application.meta_description,
                "publisher": application.meta_publisher,
                "launch_url": catalog.launch_url(application),
                "new_tab": application.open_in_new_tab,
            }));
    }
    sections
        .into_iter()
        .map(|((_, group), apps)| json!({"title": Some(group).filter(|g| !g.is_empty()), "applications": apps}))
        .collect()
}

#[get("/if/user/")]
pub async fn user_portal(
    state: Data<AppState>,
    http: HttpRequest,
    page: PageUser,
) -> Result<HttpResponse, PageError> {
    let catalog = state.catalog.load();
    let request = access_request(&state.db, &page.user, ClientMeta::of(&http).ip).await?;
    let applications = accessible_applications(&state.policies, &catalog, &request).await;
    let user_id = page.user.id;
    let devices = state
        .db
        .read(move |tx| {
            tx.devices(crate::store::DeviceFilter {
                user: Some(user_id),
                confirmed: Some(true),
                ..crate::store::DeviceFilter::default()
            })
        })
        .await?;
    let html = state.templates.render(
        "user.html",
        json!({
            "devices": devices.iter().map(|device| json!({
                "name": device.name,
                "class": device_label(device.class()),
                "last_used": device.last_used.map(|at| at.to_rfc3339()),
            })).collect::<Vec<_>>(),
            "setup_links": setup_links(&catalog),
            "brand": page_context(&brand_of(&state, &http)),
            "title": "My applications",
            "user": {
                "username": page.user.username.as_str(),
                "name": page.user.name,
                "email": page.user.email,
            },
            "is_superuser": page.is_superuser,
            "sections": launcher_sections(&catalog, &applications),
        }),
    )?;
    Ok(html_page(html))
}

pub(super) fn device_label(class: crate::model::DeviceClass) -> &'static str {
    match class {
        crate::model::DeviceClass::Totp => "Authenticator app",
        crate::model::DeviceClass::Static => "Recovery codes",
        crate::model::DeviceClass::Webauthn => "Security key or passkey",
        crate::model::DeviceClass::Email => "Email codes",
    }
}

/// Where a user sets up second factors: every setup stage with a `configure_flow`, as
/// authentik's user settings list them.
fn setup_links(catalog: &crate::store::Catalog) -> Vec<serde_json::Value> {
    use crate::model::StageKind;
    let mut links: Vec<serde_json::Value> = Vec::new();
    for flow in catalog.flows() {
        for binding in catalog.bindings(flow.id) {
            let Some(stage) = catalog.stage(binding.stage) else {
                continue;
            };
            let (label, configure_flow) = match &stage.kind {
                StageKind::AuthenticatorTotp(settings) => {
                    ("Set up an authenticator app", &settings.configure_flow)
                }
                StageKind::AuthenticatorStatic(settings) => {
                    ("Get new recovery codes", &settings.configure_flow)
                }
                StageKind::AuthenticatorWebauthn(settings) => {
                    ("Add a passkey or security key", &settings.configure_flow)
                }
                StageKind::AuthenticatorEmail(settings) => {
                    ("Receive codes by email", &settings.configure_flow)
                }
                _ => continue,
            };
            let Some(slug) = configure_flow.as_deref() else {
                continue;
            };
            let href = format!("/if/flow/{slug}/");
            if catalog.flow(slug).is_some() && !links.iter().any(|link| link["href"] == href) {
                links.push(json!({"label": label, "href": href}));
            }
        }
    }
    links
}

#[get("/if/admin/")]
pub async fn admin_overview(
    state: Data<AppState>,
    http: HttpRequest,
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
            "brand": page_context(&brand_of(&state, &http)),
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
