//! `flows/bindings/`: stages placed in flows at a position, in authentik's
//! `FlowStageBinding` shape. Read from the catalog snapshot; writes go to the store and
//! then rebuild the snapshot, so the next flow run sees them.

use std::collections::BTreeMap;

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::{
    BindingId, EventAction, FlowId, PolicyEngineMode, PolicyTarget, StageBinding, StageId,
};
use crate::store::{Catalog, Page, StoreError};

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate};
use super::stages::{overlay, render_summary};

/// Keys of a response the server computes; ignored in a body (see `stages::READ_ONLY`).
const READ_ONLY: &[&str] = &["pk", "policybindingmodel_ptr_id", "stage_obj"];

/// The only `invalid_response_action` the flow engine implements: an invalid answer is
/// shown the same stage again with the errors.
const RETRY: &str = "retry";

fn render(catalog: &Catalog, binding: &StageBinding) -> Value {
    json!({
        "pk": binding.id,
        "policybindingmodel_ptr_id": binding.id,
        "target": binding.flow,
        "stage": binding.stage,
        "stage_obj": catalog.stage(binding.stage).map(|stage| render_summary(catalog, stage)),
        "evaluate_on_plan": binding.evaluate_on_plan,
        "re_evaluate_policies": binding.re_evaluate_policies,
        "order": binding.order,
        "policy_engine_mode": binding.policy_engine_mode.as_str(),
        "invalid_response_action": RETRY,
    })
}

/// Every binding of every flow.
fn all_bindings(catalog: &Catalog) -> Vec<&StageBinding> {
    catalog
        .flows()
        .into_iter()
        .flat_map(|flow| catalog.bindings(flow.id))
        .collect()
}

fn find(catalog: &Catalog, id: BindingId) -> Result<StageBinding, ApiError> {
    all_bindings(catalog)
        .into_iter()
        .find(|binding| binding.id == id)
        .cloned()
        .ok_or(ApiError::NotFound)
}

#[derive(Debug, Deserialize)]
pub struct BindingFilter {
    target: Option<FlowId>,
    #[serde(rename = "flow__slug")]
    flow_slug: Option<String>,
    stage: Option<StageId>,
}

#[get("/api/v3/flows/bindings/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
    filter: Query<BindingFilter>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let slug_flow = filter
        .flow_slug
        .as_deref()
        .map(|slug| catalog.flow(slug).map(|flow| flow.id));
    let mut bindings: Vec<&StageBinding> = all_bindings(&catalog)
        .into_iter()
        .filter(|binding| filter.target.is_none_or(|target| binding.flow == target))
        .filter(|binding| filter.stage.is_none_or(|stage| binding.stage == stage))
        // An unknown slug matches nothing, as Django's filter does.
        .filter(|binding| slug_flow.is_none_or(|flow| flow == Some(binding.flow)))
        .collect();
    bindings.sort_by_key(|binding| (binding.order, binding.flow, binding.id));
    let query = params.query(&["order"]);
    if query.descending {
        bindings.reverse();
    }
    let total = bindings.len() as u64;
    let items: Vec<&StageBinding> = bindings
        .into_iter()
        .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
        .collect();
    let page = Page { items, total };
    Ok(HttpResponse::Ok().json(paginate(&params, &page, |binding| {
        render(&catalog, binding)
    })))
}

#[get("/api/v3/flows/bindings/{pk}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    pk: Path<BindingId>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let binding = find(&catalog, pk.into_inner())?;
    Ok(HttpResponse::Ok().json(render(&catalog, &binding)))
}

/// The writable fields. `target`, `stage` and `order` have no default (authentik requires
/// them), hence `Option` and the check in [`check`].
#[derive(Debug, Deserialize)]
struct BindingFields {
    target: Option<FlowId>,
    stage: Option<StageId>,
    order: Option<i32>,
    evaluate_on_plan: bool,
    re_evaluate_policies: bool,
    policy_engine_mode: PolicyEngineMode,
    invalid_response_action: String,
}

/// What a body is laid over to create or replace.
fn defaults() -> Map<String, Value> {
    let mut base = Map::new();
    base.insert("target".into(), Value::Null);
    base.insert("stage".into(), Value::Null);
    base.insert("order".into(), Value::Null);
    base.insert("evaluate_on_plan".into(), json!(true));
    base.insert("re_evaluate_policies".into(), json!(false));
    base.insert("policy_engine_mode".into(), json!("any"));
    base.insert("invalid_response_action".into(), json!(RETRY));
    base
}

/// What a body is laid over to patch.
fn current(binding: &StageBinding) -> Map<String, Value> {
    let mut base = defaults();
    base.insert("target".into(), json!(binding.flow));
    base.insert("stage".into(), json!(binding.stage));
    base.insert("order".into(), json!(binding.order));
    base.insert("evaluate_on_plan".into(), json!(binding.evaluate_on_plan));
    base.insert(
        "re_evaluate_policies".into(),
        json!(binding.re_evaluate_policies),
    );
    base.insert(
        "policy_engine_mode".into(),
        json!(binding.policy_engine_mode.as_str()),
    );
    base
}

/// The binding the body describes, its references checked against the catalog. `id` is
/// the binding's own (new, or the one being changed).
fn parse(
    catalog: &Catalog,
    id: BindingId,
    base: &Map<String, Value>,
    body: Value,
) -> Result<StageBinding, ApiError> {
    let Value::Object(mut changes) = body else {
        return Err(ApiError::field(
            "non_field_errors",
            "Invalid data. Expected a dictionary.",
        ));
    };
    for key in READ_ONLY {
        changes.remove(*key);
    }
    let fields: BindingFields = overlay(base, changes, |merged| {
        serde_json::from_value(Value::Object(merged))
    })?;
    check(catalog, id, fields)
}

fn check(
    catalog: &Catalog,
    id: BindingId,
    fields: BindingFields,
) -> Result<StageBinding, ApiError> {
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |field: &str, message: &str| {
        errors
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
    };
    let known_flow = |flow: FlowId| catalog.flows().iter().any(|known| known.id == flow);
    match fields.target {
        None => add("target", "This field is required."),
        Some(flow) if !known_flow(flow) => add("target", "No flow with this pk."),
        Some(_) => {}
    }
    match fields.stage {
        None => add("stage", "This field is required."),
        Some(stage) if catalog.stage(stage).is_none() => add("stage", "No stage with this pk."),
        Some(_) => {}
    }
    if fields.order.is_none() {
        add("order", "This field is required.");
    }
    if fields.invalid_response_action != RETRY {
        add(
            "invalid_response_action",
            "Only \"retry\" is supported: an invalid answer shows the stage again.",
        );
    }
    let (Some(flow), Some(stage), Some(order), true) =
        (fields.target, fields.stage, fields.order, errors.is_empty())
    else {
        return Err(ApiError::Invalid(errors));
    };
    // authentik's unique_together: the same stage twice at one position is a mistake.
    let taken = catalog
        .bindings(flow)
        .iter()
        .any(|other| other.id != id && other.stage == stage && other.order == order);
    if taken {
        return Err(ApiError::field(
            "non_field_errors",
            "The fields target, stage, order must make a unique set.",
        ));
    }
    Ok(StageBinding {
        id,
        flow,
        stage,
        order,
        evaluate_on_plan: fields.evaluate_on_plan,
        re_evaluate_policies: fields.re_evaluate_policies,
        policy_engine_mode: fields.policy_engine_mode,
    })
}

/// A flow or stage deleted between the check and the write.
fn reference_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(what) if what == "flow" => {
            ApiError::field("target", "No flow with this pk.")
        }
        StoreError::Conflict(what) if what == "stage" => {
            ApiError::field("stage", "No stage with this pk.")
        }
        other => other.into(),
    }
}

async fn record(state: &AppState, admin: &ApiAdmin, action: EventAction, binding: &StageBinding) {
    state
        .events
        .record(
            action,
            Some(&admin.0.user),
            None,
            json!({"model": "flow_stage_binding", "pk": binding.id,
                   "target": binding.flow, "stage": binding.stage, "order": binding.order}),
        )
        .await;
}

#[post("/api/v3/flows/bindings/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let binding = parse(
        &state.catalog.load(),
        BindingId::random(),
        &defaults(),
        body.into_inner(),
    )?;
    let saved = binding.clone();
    state
        .db
        .write(move |tx| tx.insert_binding(&saved))
        .await
        .map_err(reference_error)?;
    state.configuration_changed().await?;
    record(&state, &admin, EventAction::ModelCreated, &binding).await;
    Ok(HttpResponse::Created().json(render(&state.catalog.load(), &binding)))
}

async fn update(
    state: Data<AppState>,
    admin: ApiAdmin,
    pk: Path<BindingId>,
    body: Json<Value>,
    partial: bool,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let existing = find(&catalog, pk.into_inner())?;
    let base = if partial {
        current(&existing)
    } else {
        defaults()
    };
    let binding = parse(&catalog, existing.id, &base, body.into_inner())?;
    let saved = binding.clone();
    state
        .db
        .write(move |tx| tx.update_binding(&saved))
        .await
        .map_err(reference_error)?;
    state.configuration_changed().await?;
    record(&state, &admin, EventAction::ModelUpdated, &binding).await;
    Ok(HttpResponse::Ok().json(render(&state.catalog.load(), &binding)))
}

/// Replaces the binding: `evaluate_on_plan` and the other optional fields left out
/// return to their defaults.
#[put("/api/v3/flows/bindings/{pk}/")]
pub async fn replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    pk: Path<BindingId>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    update(state, admin, pk, body, false).await
}

#[patch("/api/v3/flows/bindings/{pk}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    pk: Path<BindingId>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    update(state, admin, pk, body, true).await
}

/// Removes the stage from the flow (the stage itself stays). The policy bindings on the
/// binding go in the same transaction: they would guard nothing.
#[delete("/api/v3/flows/bindings/{pk}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    pk: Path<BindingId>,
) -> Result<HttpResponse, ApiError> {
    let binding = find(&state.catalog.load(), pk.into_inner())?;
    let gone = binding.clone();
    state
        .db
        .write(move |tx| {
            let target = PolicyTarget::StageBinding(gone.id);
            for policy_binding in tx.all_policy_bindings()? {
                if policy_binding.target == target {
                    tx.delete_policy_binding(policy_binding.id)?;
                }
            }
            tx.delete_binding(&gone)
        })
        .await?;
    state.configuration_changed().await?;
    record(&state, &admin, EventAction::ModelDeleted, &binding).await;
    Ok(HttpResponse::NoContent().finish())
}

/// `FlowStageBinding` and `FlowStageBindingRequest` for the OpenAPI description.
pub fn component_schemas() -> Map<String, Value> {
    let writable = json!({
        "target": {"type": "string", "format": "uuid"},
        "stage": {"type": "string", "format": "uuid"},
        "order": {"type": "integer"},
        "evaluate_on_plan": {"type": "boolean"},
        "re_evaluate_policies": {"type": "boolean"},
        "policy_engine_mode": {"type": "string", "enum": ["any", "all"]},
        "invalid_response_action": {"type": "string", "enum": [RETRY]},
    });
    let mut response = writable.clone();
    if let Value::Object(properties) = &mut response {
        properties.insert(
            "pk".into(),
            json!({"type": "string", "format": "uuid", "readOnly": true}),
        );
        properties.insert(
            "policybindingmodel_ptr_id".into(),
            json!({"type": "string", "format": "uuid", "readOnly": true}),
        );
        properties.insert(
            "stage_obj".into(),
            json!({"allOf": [{"$ref": "#/components/schemas/Stage"}], "readOnly": true}),
        );
    }
    let mut schemas = Map::new();
    schemas.insert(
        "FlowStageBinding".into(),
        json!({"type": "object", "required": ["pk", "target", "stage", "order"], "properties": response}),
    );
    schemas.insert(
        "FlowStageBindingRequest".into(),
        json!({"type": "object", "required": ["target", "stage", "order"], "properties": writable,
               "additionalProperties": false}),
    );
    schemas
}
