//! `stages/all/` and one create/list/retrieve/update/delete family per stage kind at
//! authentik's paths (`stages/identification/`, `stages/prompt/stages/`, ...), all served
//! by one generic implementation parameterised by the kind's row in [`kinds::KINDS`].
//! Reads come from the catalog snapshot (the lists from the store, as the snapshot only
//! finds stages by pk); writes go to the store and then rebuild the snapshot.
//!
//! A body is `{name, ...the kind's settings}`: the settings are the serde fields of the
//! kind's struct, unknown keys are refused. A prompt stage embeds its fields (gatehouse
//! has no separate prompt objects).

mod kinds;
mod openapi;
mod validate;

use actix_web::web::{self, Data, Json, Path, Query, ServiceConfig};
use actix_web::{HttpResponse, delete, get};
use serde_json::{Map, Value, json};

use crate::model::{EventAction, PolicyTarget, Stage, StageId, StageKind};
use crate::store::{Catalog, ListQuery, Page};

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate};
use super::serialize;

pub use kinds::{KINDS, KindRoute, overlay};
pub use openapi::component_schemas;

/// Keys of a stage response that the server computes. A client that sends back an object
/// it fetched sends them too; they are ignored, as Django REST framework ignores
/// read-only fields, rather than refused as unknown.
const READ_ONLY: &[&str] = &[
    "pk",
    "component",
    "verbose_name",
    "verbose_name_plural",
    "meta_model_name",
    "flow_set",
];

/// Registers the per-kind families; `stages/all/` is registered with the attribute
/// macros. The handlers are closures because one function serves every kind.
pub fn routes(config: &mut ServiceConfig) {
    for &route in KINDS {
        config.service(
            web::resource(format!("/api/v3/stages/{}/", route.segment))
                .route(web::get().to(
                    move |state: Data<AppState>, _admin: ApiAdmin, params: Query<ListParams>| {
                        list_kind(route, state, params)
                    },
                ))
                .route(web::post().to(
                    move |state: Data<AppState>, admin: ApiAdmin, body: Json<Value>| {
                        create(route, state, admin, body)
                    },
                )),
        );
        config.service(
            web::resource(format!("/api/v3/stages/{}/{{pk}}/", route.segment))
                .route(web::get().to(
                    move |state: Data<AppState>, _admin: ApiAdmin, pk: Path<StageId>| {
                        retrieve_kind(route, state, pk)
                    },
                ))
                .route(web::put().to(
                    move |state: Data<AppState>,
                          admin: ApiAdmin,
                          pk: Path<StageId>,
                          body: Json<Value>| {
                        update(route, state, admin, pk, body, false)
                    },
                ))
                .route(web::patch().to(
                    move |state: Data<AppState>,
                          admin: ApiAdmin,
                          pk: Path<StageId>,
                          body: Json<Value>| {
                        update(route, state, admin, pk, body, true)
                    },
                ))
                .route(web::delete().to(
                    move |state: Data<AppState>, admin: ApiAdmin, pk: Path<StageId>| {
                        remove_kind(route, state, admin, pk)
                    },
                )),
        );
    }
}

/// The flows the stage is bound to, in authentik's `FlowSet` shape.
fn flow_set(catalog: &Catalog, stage: StageId) -> Vec<Value> {
    catalog
        .flows()
        .into_iter()
        .filter_map(|flow| {
            let stages: Vec<StageId> = catalog
                .bindings(flow.id)
                .iter()
                .map(|binding| binding.stage)
                .collect();
            stages
                .contains(&stage)
                .then(|| serialize::flow(flow, &stages))
        })
        .collect()
}

/// authentik's `Stage`: what every kind shares (`stages/all/`, a binding's `stage_obj`).
pub fn render_summary(catalog: &Catalog, stage: &Stage) -> Value {
    let route = kinds::route_of(&stage.kind);
    json!({
        "pk": stage.id,
        "name": stage.name,
        "component": stage.kind.component(),
        "verbose_name": route.verbose_name,
        "verbose_name_plural": format!("{}s", route.verbose_name),
        "meta_model_name": route.meta_model_name(),
        "flow_set": flow_set(catalog, stage.id),
    })
}

/// The kind's own shape: the summary and the settings side by side.
fn render(catalog: &Catalog, stage: &Stage) -> Value {
    let mut body = kinds::settings_of(&stage.kind);
    if let Value::Object(summary) = render_summary(catalog, stage) {
        body.extend(summary);
    }
    Value::Object(body)
}

fn is_kind(stage: &Stage, route: &KindRoute) -> bool {
    kinds::route_of(&stage.kind).tag == route.tag
}

/// The stages `keep` accepts, searched by name, ordered by name (`?ordering=-name` for
/// the reverse), one page of them.
async fn list_stages(
    state: &AppState,
    params: &ListParams,
    keep: impl Fn(&Stage) -> bool,
) -> Result<HttpResponse, ApiError> {
    let query = params.query(&["name"]);
    let search = query.search.as_deref().map(str::to_lowercase);
    let mut stages: Vec<Stage> = state
        .db
        .read(|tx| tx.all_stages())
        .await?
        .into_iter()
        .filter(|stage| keep(stage))
        .filter(|stage| match &search {
            Some(text) => stage.name.to_lowercase().contains(text),
            None => true,
        })
        .collect();
    stages.sort_by(|a, b| a.name.cmp(&b.name));
    if query.descending {
        stages.reverse();
    }
    let page = page_of(stages, &query);
    let catalog = state.catalog.load();
    Ok(HttpResponse::Ok().json(paginate(params, &page, |stage| render(&catalog, stage))))
}

fn page_of<T>(items: Vec<T>, query: &ListQuery) -> Page<T> {
    let total = items.len() as u64;
    let items = items
        .into_iter()
        .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
        .collect();
    Page { items, total }
}

#[get("/api/v3/stages/all/")]
pub async fn list_all(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    list_stages(&state, &params, |_| true).await
}

#[get("/api/v3/stages/all/{pk}/")]
pub async fn retrieve_all(
    state: Data<AppState>,
    _admin: ApiAdmin,
    pk: Path<StageId>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let stage = catalog.stage(pk.into_inner()).ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(render(&catalog, stage)))
}

#[delete("/api/v3/stages/all/{pk}/")]
pub async fn remove_all(
    state: Data<AppState>,
    admin: ApiAdmin,
    pk: Path<StageId>,
) -> Result<HttpResponse, ApiError> {
    let stage = state
        .catalog
        .load()
        .stage(pk.into_inner())
        .cloned()
        .ok_or(ApiError::NotFound)?;
    remove(&state, &admin, stage).await
}

async fn list_kind(
    route: &'static KindRoute,
    state: Data<AppState>,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    list_stages(&state, &params, |stage| is_kind(stage, route)).await
}

/// The stage at `pk` if it is of the route's kind: another kind's pk is not found here,
/// as authentik looks it up in the kind's own table.
fn stage_of_kind(state: &AppState, route: &KindRoute, pk: StageId) -> Result<Stage, ApiError> {
    state
        .catalog
        .load()
        .stage(pk)
        .filter(|stage| is_kind(stage, route))
        .cloned()
        .ok_or(ApiError::NotFound)
}

async fn retrieve_kind(
    route: &'static KindRoute,
    state: Data<AppState>,
    pk: Path<StageId>,
) -> Result<HttpResponse, ApiError> {
    let stage = stage_of_kind(&state, route, pk.into_inner())?;
    Ok(HttpResponse::Ok().json(render(&state.catalog.load(), &stage)))
}

async fn remove_kind(
    route: &'static KindRoute,
    state: Data<AppState>,
    admin: ApiAdmin,
    pk: Path<StageId>,
) -> Result<HttpResponse, ApiError> {
    let stage = stage_of_kind(&state, route, pk.into_inner())?;
    remove(&state, &admin, stage).await
}

/// Deletes the stage. Like authentik, which cascades, a stage still bound to flows is
/// deleted with its bindings (the store cascades them); in the same transaction the
/// policy bindings on those stage bindings go too (they would guard nothing), and an
/// identification stage that used it as its password stage stops doing so (authentik's
/// `SET_NULL`).
async fn remove(
    state: &AppState,
    admin: &ApiAdmin,
    stage: Stage,
) -> Result<HttpResponse, ApiError> {
    let id = stage.id;
    state
        .db
        .write(move |tx| {
            let bindings: Vec<_> = tx
                .all_bindings()?
                .into_iter()
                .filter(|binding| binding.stage == id)
                .map(|binding| PolicyTarget::StageBinding(binding.id))
                .collect();
            for policy_binding in tx.all_policy_bindings()? {
                if bindings.contains(&policy_binding.target) {
                    tx.delete_policy_binding(policy_binding.id)?;
                }
            }
            for mut other in tx.all_stages()? {
                let changed = match &mut other.kind {
                    StageKind::Identification(settings) if settings.password_stage == Some(id) => {
                        settings.password_stage = None;
                        true
                    }
                    StageKind::AuthenticatorValidate(settings)
                        if settings.configuration_stages.contains(&id) =>
                    {
                        settings.configuration_stages.retain(|stage| *stage != id);
                        true
                    }
                    _ => false,
                };
                if changed {
                    tx.update_stage(&other)?;
                }
            }
            tx.delete_stage(id)
        })
        .await?;
    state.configuration_changed().await?;
    record(state, admin, EventAction::ModelDeleted, &stage).await;
    Ok(HttpResponse::NoContent().finish())
}

async fn record(state: &AppState, admin: &ApiAdmin, action: EventAction, stage: &Stage) {
    let kind = kinds::route_of(&stage.kind).tag;
    state
        .events
        .record(
            action,
            Some(&admin.0.user),
            None,
            json!({"model": "stage", "kind": kind, "pk": stage.id, "name": stage.name}),
        )
        .await;
}

/// The body as an object without the read-only keys.
fn changes_of(body: Json<Value>) -> Result<Map<String, Value>, ApiError> {
    match body.into_inner() {
        Value::Object(mut changes) => {
            for key in READ_ONLY {
                changes.remove(*key);
            }
            Ok(changes)
        }
        _ => Err(ApiError::field(
            "non_field_errors",
            "Invalid data. Expected a dictionary.",
        )),
    }
}

/// Takes `name` out of the body: required to create or replace, optional to patch.
fn take_name(changes: &mut Map<String, Value>, required: bool) -> Result<Option<String>, ApiError> {
    match changes.remove("name") {
        None if required => Err(ApiError::field("name", "This field is required.")),
        None => Ok(None),
        Some(Value::String(name)) if !name.trim().is_empty() => Ok(Some(name.trim().to_owned())),
        Some(Value::String(_)) => Err(ApiError::field("name", "This field may not be blank.")),
        Some(_) => Err(ApiError::field("name", "Not a valid string.")),
    }
}

/// Name and settings, with the errors of both reported together.
async fn parse(
    state: &AppState,
    route: &KindRoute,
    base: &Map<String, Value>,
    mut changes: Map<String, Value>,
    name_required: bool,
) -> Result<(Option<String>, StageKind), ApiError> {
    let name = take_name(&mut changes, name_required);
    let kind = match kinds::kind_from(route, base, changes) {
        Ok(mut kind) => validate::validate(state, &mut kind).await.map(|()| kind),
        Err(error) => Err(error),
    };
    match (name, kind) {
        (Ok(name), Ok(kind)) => Ok((name, kind)),
        (Err(ApiError::Invalid(mut first)), Err(ApiError::Invalid(second))) => {
            first.extend(second);
            Err(ApiError::Invalid(first))
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    }
}

async fn create(
    route: &'static KindRoute,
    state: Data<AppState>,
    admin: ApiAdmin,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let changes = changes_of(body)?;
    let (name, kind) = parse(&state, route, &route.default_settings(), changes, true).await?;
    let stage = Stage {
        id: StageId::random(),
        // `parse` refused a body without a name, so this is always the given one.
        name: name.unwrap_or_default(),
        kind,
    };
    let saved = stage.clone();
    state.db.write(move |tx| tx.insert_stage(&saved)).await?;
    state.configuration_changed().await?;
    record(&state, &admin, EventAction::ModelCreated, &stage).await;
    Ok(HttpResponse::Created().json(render(&state.catalog.load(), &stage)))
}

/// PUT replaces: settings left out return to their defaults. PATCH changes only what
/// the body names.
async fn update(
    route: &'static KindRoute,
    state: Data<AppState>,
    admin: ApiAdmin,
    pk: Path<StageId>,
    body: Json<Value>,
    partial: bool,
) -> Result<HttpResponse, ApiError> {
    let current = stage_of_kind(&state, route, pk.into_inner())?;
    let changes = changes_of(body)?;
    let base = if partial {
        kinds::settings_of(&current.kind)
    } else {
        route.default_settings()
    };
    let (name, kind) = parse(&state, route, &base, changes, !partial).await?;
    let stage = Stage {
        id: current.id,
        name: name.unwrap_or(current.name),
        kind,
    };
    let saved = stage.clone();
    state.db.write(move |tx| tx.update_stage(&saved)).await?;
    state.configuration_changed().await?;
    record(&state, &admin, EventAction::ModelUpdated, &stage).await;
    Ok(HttpResponse::Ok().json(render(&state.catalog.load(), &stage)))
}
