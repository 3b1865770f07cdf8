//! `/if/user/devices/`: a user's second factors, to rename and remove, and new recovery
//! codes. The page is rendered here; its buttons call the devices API
//! (`/api/v3/authenticators/…`, with the session) from `assets/static/devices.js`, so
//! the rules (ownership, a recent sign-in before removing a device or replacing codes)
//! live in one place.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get};
use serde_json::json;

use crate::model::{Device, DeviceClass};
use crate::store::DeviceFilter;

use super::super::brand::{authentication_flow, brand_of, page_context};
use super::super::error::PageError;
use super::super::extract::PageUser;
use super::super::state::AppState;

/// The class's segment in the devices API path.
fn api_segment(class: DeviceClass) -> &'static str {
    class.as_str()
}

fn render(device: &Device) -> serde_json::Value {
    json!({
        "pk": device.id,
        "api": format!("/api/v3/authenticators/{}/{}/", api_segment(device.class()), device.id),
        "name": device.name,
        "class": super::portal::device_label(device.class()),
        "is_static": device.class() == DeviceClass::Static,
        "created": device.created.to_rfc3339(),
        "last_used": device.last_used.map(|at| at.to_rfc3339()),
    })
}

#[get("/if/user/devices/")]
pub async fn devices_page(
    state: Data<AppState>,
    http: HttpRequest,
    page: PageUser,
) -> Result<HttpResponse, PageError> {
    let user = page.user.id;
    let devices = state
        .db
        .read(move |tx| {
            tx.devices(DeviceFilter {
                user: Some(user),
                confirmed: Some(true),
                ..DeviceFilter::default()
            })
        })
        .await?;
    let brand = brand_of(&state, &http);
    let sign_in_again = format!(
        "/if/flow/{}/?next=%2Fif%2Fuser%2Fdevices%2F",
        authentication_flow(&brand)
    );
    let html = state.templates.render(
        "devices.html",
        json!({
            "brand": page_context(&brand),
            "title": "Second factors",
            "devices": devices.iter().map(render).collect::<Vec<_>>(),
            "sign_in_again": sign_in_again,
            "is_superuser": page.is_superuser,
        }),
    )?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(html))
}
