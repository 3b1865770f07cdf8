//! `core/brands/`: the look and the default flows per domain, in authentik's shape (flow
//! fields carry flow pks; gatehouse keeps slugs and maps between them through the
//! catalog). `current/` answers anyone with the brand of the requested host.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::model::{Brand, EventAction};
use crate::store::Catalog;

use super::super::brand::brand_of;
use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate_in_memory};

fn flow_pk(catalog: &Catalog, slug: &Option<String>) -> Value {
    slug.as_deref()
        .and_then(|slug| catalog.flow(slug))
        .map_or(Value::Null, |flow| json!(flow.id))
}

fn render(catalog: &Catalog, brand: &Brand) -> Value {
    json!({
        "brand_uuid": brand.id,
        "domain": brand.domain,
        "default": brand.default,
        "branding_title": brand.branding_title,
        "branding_logo": brand.branding_logo,
        "branding_favicon": brand.branding_favicon,
        "branding_custom_css": brand.branding_custom_css,
        "flow_authentication": flow_pk(catalog, &brand.flow_authentication),
        "flow_invalidation": flow_pk(catalog, &brand.flow_invalidation),
        "flow_recovery": flow_pk(catalog, &brand.flow_recovery),
        "flow_unenrollment": flow_pk(catalog, &brand.flow_unenrollment),
        "flow_user_settings": flow_pk(catalog, &brand.flow_user_settings),
        "flow_device_code": null,
        "default_application": null,
        "web_certificate": null,
        "attributes": {},
    })
}

#[get("/api/v3/core/brands/current/")]
pub async fn current(state: Data<AppState>, http: HttpRequest) -> HttpResponse {
    let brand = brand_of(&state, &http);
    let catalog = state.catalog.load();
    let mut body = render(&catalog, &brand);
    if let Value::Object(map) = &mut body {
        map.insert("matched_domain".into(), json!(brand.domain));
        map.insert("ui_footer_links".into(), json!([]));
        map.insert("ui_theme".into(), json!("automatic"));
        map.insert(
            "flow_enrollment".into(),
            flow_pk(&catalog, &brand.flow_enrollment),
        );
    }
    HttpResponse::Ok().json(body)
}

#[get("/api/v3/core/brands/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let body = paginate_in_memory(&params, catalog.brands(), |brand| render(&catalog, brand));
    Ok(HttpResponse::Ok().json(body))
}

#[get("/api/v3/core/brands/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let brand = catalog
        .brands()
        .into_iter()
        .find(|brand| brand.id == *id)
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(render(&catalog, brand)))
}

/// Writable fields; flows are given by pk (or slug, for convenience).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandInput {
    domain: Option<String>,
    default: Option<bool>,
    branding_title: Option<String>,
    branding_logo: Option<String>,
    branding_favicon: Option<String>,
    branding_custom_css: Option<String>,
    flow_authentication: Option<Option<String>>,
    flow_invalidation: Option<Option<String>>,
    flow_recovery: Option<Option<String>>,
    flow_enrollment: Option<Option<String>>,
    flow_user_settings: Option<Option<String>>,
    flow_unenrollment: Option<Option<String>>,
}

fn resolve_flow(
    catalog: &Catalog,
    field: &str,
    value: &Option<String>,
) -> Result<Option<String>, ApiError> {
    let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let found = catalog
        .flows()
        .into_iter()
        .find(|flow| flow.slug == value || flow.id.to_string() == value)
        .ok_or_else(|| ApiError::field(field, "No flow with this pk or slug."))?;
    Ok(Some(found.slug.clone()))
}

fn apply(catalog: &Catalog, brand: &mut Brand, input: BrandInput) -> Result<(), ApiError> {
    if let Some(domain) = input.domain {
        let domain = domain.trim().to_lowercase();
        if domain.is_empty() {
            return Err(ApiError::field("domain", "This field may not be blank."));
        }
        brand.domain = domain;
    }
    if let Some(default) = input.default {
        brand.default = default;
    }
    let texts = [
        (input.branding_title, &mut brand.branding_title),
        (input.branding_logo, &mut brand.branding_logo),
        (input.branding_favicon, &mut brand.branding_favicon),
        (input.branding_custom_css, &mut brand.branding_custom_css),
    ];
    for (value, slot) in texts {
        if let Some(value) = value {
            *slot = value;
        }
    }
    let flows = [
        (
            "flow_authentication",
            input.flow_authentication,
            &mut brand.flow_authentication,
        ),
        (
            "flow_invalidation",
            input.flow_invalidation,
            &mut brand.flow_invalidation,
        ),
        (
            "flow_recovery",
            input.flow_recovery,
            &mut brand.flow_recovery,
        ),
        (
            "flow_enrollment",
            input.flow_enrollment,
            &mut brand.flow_enrollment,
        ),
        (
            "flow_user_settings",
            input.flow_user_settings,
            &mut brand.flow_user_settings,
        ),
        (
            "flow_unenrollment",
            input.flow_unenrollment,
            &mut brand.flow_unenrollment,
        ),
    ];
    for (field, value, slot) in flows {
        if let Some(value) = value {
            *slot = resolve_flow(catalog, field, &value)?;
        }
    }
    Ok(())
}

#[post("/api/v3/core/brands/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<BrandInput>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let mut brand = Brand::new("", false);
    if input.domain.is_none() {
        return Err(ApiError::field("domain", "This field is required."));
    }
    apply(&catalog, &mut brand, input.into_inner())?;
    let saved = brand.clone();
    state.db.write(move |tx| tx.insert_brand(&saved)).await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelCreated,
            json!({"model": "brand", "domain": brand.domain}),
        )
        .await;
    Ok(HttpResponse::Created().json(render(&state.catalog.load(), &brand)))
}

#[patch("/api/v3/core/brands/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
    input: Json<BrandInput>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let mut brand = catalog
        .brands()
        .into_iter()
        .find(|brand| brand.id == *id)
        .cloned()
        .ok_or(ApiError::NotFound)?;
    apply(&catalog, &mut brand, input.into_inner())?;
    let saved = brand.clone();
    state.db.write(move |tx| tx.update_brand(&saved)).await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelUpdated,
            json!({"model": "brand", "domain": brand.domain}),
        )
        .await;
    Ok(HttpResponse::Ok().json(render(&state.catalog.load(), &brand)))
}

#[delete("/api/v3/core/brands/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.db.write(move |tx| tx.delete_brand(id)).await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelDeleted,
            json!({"model": "brand", "pk": id}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}
