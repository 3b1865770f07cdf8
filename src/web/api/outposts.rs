//! `outposts/instances/` in authentik's shape. gatehouse runs one outpost, the embedded
//! one, inside the server: admins assign proxy providers to it and set its
//! configuration (`authentik_host`, the URL browsers reach gatehouse at). Outposts that
//! would run elsewhere (docker, kubernetes) are not supported, so creating one is
//! refused with the reason, and the embedded one cannot be deleted.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::model::{EventAction, Outpost, OutpostType, ProviderId, ProxyMode};
use crate::store::Catalog;

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::field_errors::FieldErrors;
use super::pagination::{ListParams, paginate_in_memory};

/// How often authentik's outposts refresh their configuration; the embedded one reads
/// the catalog snapshot directly, so this is informational.
const REFRESH_INTERVAL_SECS: u64 = 300;

fn render(catalog: &Catalog, outpost: &Outpost) -> Value {
    let providers: Vec<ProviderId> = outpost
        .providers
        .iter()
        .copied()
        .filter(|id| catalog.provider(*id).is_some())
        .collect();
    let providers_obj: Vec<Value> = providers
        .iter()
        .filter_map(|id| catalog.provider(*id))
        .map(|provider| super::providers::summary(catalog, provider))
        .collect();
    json!({
        "pk": outpost.id,
        "name": outpost.name,
        "type": outpost.kind,
        "providers": providers,
        "providers_obj": providers_obj,
        "service_connection": null,
        "service_connection_obj": null,
        "refresh_interval_s": REFRESH_INTERVAL_SECS,
        "token_identifier": format!("ak-outpost-{}-api", outpost.id),
        "config": outpost.config,
        "managed": outpost.managed,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct OutpostFilter {
    name: Option<String>,
    managed: Option<String>,
    #[serde(rename = "providers__isnull")]
    providers_isnull: Option<bool>,
}

#[get("/api/v3/outposts/instances/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
    filter: Query<OutpostFilter>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let search = params
        .query(&["name"])
        .search
        .map(|term| term.to_lowercase());
    let outposts: Vec<&Outpost> = catalog
        .outposts()
        .iter()
        .filter(|outpost| {
            search
                .as_deref()
                .is_none_or(|term| outpost.name.to_lowercase().contains(term))
        })
        .filter(|outpost| {
            filter
                .name
                .as_ref()
                .is_none_or(|name| &outpost.name == name)
        })
        .filter(|outpost| {
            (filter.managed.as_deref())
                .is_none_or(|managed| outpost.managed.as_deref() == Some(managed))
        })
        .filter(|outpost| {
            filter
                .providers_isnull
                .is_none_or(|empty| outpost.providers.is_empty() == empty)
        })
        .collect();
    Ok(
        HttpResponse::Ok().json(paginate_in_memory(&params, outposts, |outpost| {
            render(&catalog, outpost)
        })),
    )
}

#[get("/api/v3/outposts/instances/default_settings/")]
pub async fn default_settings(_admin: ApiAdmin) -> HttpResponse {
    HttpResponse::Ok().json(json!({"config": crate::model::outpost::default_config()}))
}

fn find(catalog: &Catalog, id: &str) -> Result<Outpost, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    catalog
        .outposts()
        .iter()
        .find(|outpost| outpost.id == id)
        .cloned()
        .ok_or(ApiError::NotFound)
}

#[get("/api/v3/outposts/instances/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let outpost = find(&catalog, &id)?;
    Ok(HttpResponse::Ok().json(render(&catalog, &outpost)))
}

#[derive(Debug, Default, Deserialize)]
pub struct OutpostInput {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    providers: Option<Vec<i64>>,
    config: Option<Map<String, Value>>,
    service_connection: Option<Value>,
}

#[post("/api/v3/outposts/instances/")]
pub async fn create(_admin: ApiAdmin) -> Result<HttpResponse, ApiError> {
    Err(ApiError::BadRequest(
        "gatehouse runs only its embedded outpost, inside the server; assign providers to it \
         instead of creating another."
            .into(),
    ))
}

fn apply(catalog: &Catalog, outpost: &mut Outpost, input: &OutpostInput) -> Result<(), ApiError> {
    let mut errors = FieldErrors::default();
    if let Some(name) = input.name.as_deref().map(str::trim) {
        let taken = catalog
            .outposts()
            .iter()
            .any(|other| other.name == name && other.id != outpost.id);
        if name.is_empty() {
            errors.add("name", "This field may not be blank.");
        } else if taken {
            errors.add("name", "Outpost with this name already exists.");
        } else {
            outpost.name = name.to_owned();
        }
    }
    if let Some(kind) = &input.kind {
        let parsed: Result<OutpostType, _> = serde_json::from_value(json!(kind));
        match parsed {
            Ok(kind) if kind == outpost.kind => {}
            _ => errors.add("type", "The embedded outpost's type cannot change."),
        }
    }
    if input
        .service_connection
        .as_ref()
        .is_some_and(|value| !value.is_null())
    {
        errors.add(
            "service_connection",
            "Not supported: the embedded outpost runs inside gatehouse.",
        );
    }
    if let Some(ids) = &input.providers {
        let mut providers = Vec::with_capacity(ids.len());
        for id in ids {
            match catalog.provider(ProviderId(*id)) {
                // The embedded outpost serves every kind an outpost can serve.
                Some(provider) if provider.proxy().is_some() || provider.ldap().is_some() => {
                    providers.push(ProviderId(*id));
                }
                Some(_) => errors.add(
                    "providers",
                    format!(
                        "Provider {id} is not served by outposts (proxy and LDAP providers are)."
                    ),
                ),
                None => errors.add(
                    "providers",
                    format!("Invalid pk \"{id}\" - object does not exist."),
                ),
            }
        }
        providers.dedup();
        outpost.providers = providers;
    }
    if let Some(config) = &input.config {
        for key in ["authentik_host", "authentik_host_browser"] {
            if let Some(value) = config.get(key) {
                let text = value.as_str().unwrap_or_default().trim();
                let valid = text.is_empty()
                    || url::Url::parse(text).is_ok_and(|url| {
                        matches!(url.scheme(), "http" | "https") && url.host_str().is_some()
                    });
                if !valid {
                    errors.add(
                        "config",
                        format!("{key} must be an http:// or https:// URL."),
                    );
                }
            }
        }
        outpost.config = config.clone();
    }
    errors.finish()?;
    warn_without_host(catalog, outpost);
    Ok(())
}

/// Forward auth cannot send browsers to sign in without knowing gatehouse's URL; say so
/// in the log when a configuration needs it (the endpoint explains it too).
fn warn_without_host(catalog: &Catalog, outpost: &Outpost) {
    let needs_host = outpost.providers.iter().any(|id| {
        catalog
            .provider(*id)
            .and_then(|provider| provider.proxy())
            .is_some_and(|proxy| proxy.mode != ProxyMode::ForwardDomain)
    });
    if needs_host && outpost.browser_base_url().is_none() {
        tracing::warn!(outpost = %outpost.name, "outpost has proxy providers but no authentik_host: forward auth cannot redirect browsers to sign in");
    }
}

async fn update(
    state: &AppState,
    admin: &ApiAdmin,
    id: &str,
    input: &OutpostInput,
) -> Result<HttpResponse, ApiError> {
    let mut outpost;
    {
        let catalog = state.catalog.load();
        outpost = find(&catalog, id)?;
        apply(&catalog, &mut outpost, input)?;
    }
    let saved = outpost.clone();
    state.db.write(move |tx| tx.update_outpost(&saved)).await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelUpdated,
            json!({"model": "outpost", "pk": outpost.id, "name": outpost.name, "providers": outpost.providers}),
        )
        .await;
    let catalog = state.catalog.load();
    Ok(HttpResponse::Ok().json(render(&catalog, &outpost)))
}

#[put("/api/v3/outposts/instances/{id}/")]
pub async fn replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<String>,
    body: Json<OutpostInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, &id, &body).await
}

#[patch("/api/v3/outposts/instances/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<String>,
    body: Json<OutpostInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, &id, &body).await
}

#[delete("/api/v3/outposts/instances/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let outpost = find(&state.catalog.load(), &id)?;
    if outpost.is_embedded() {
        return Err(ApiError::BadRequest(
            "The embedded outpost cannot be deleted; remove its providers instead.".into(),
        ));
    }
    let pk = outpost.id;
    state.db.write(move |tx| tx.delete_outpost(pk)).await?;
    state.configuration_changed().await?;
    Ok(HttpResponse::NoContent().finish())
}
