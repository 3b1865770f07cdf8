//! `flows/instances/`: flows from the catalog snapshot (no database read to list them);
//! writes go to the store and then rebuild the snapshot.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpResponse, delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::{
    EventAction, Flow, FlowAuthentication, FlowDesignation, FlowId, PolicyEngineMode,
};
use crate::store::Catalog;

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate_in_memory};
use super::serialize;

fn render(catalog: &Catalog, flow: &Flow) -> Value {
    let stages: Vec<_> = catalog
        .bindings(flow.id)
        .iter()
        .map(|binding| binding.stage)
        .collect();
    serialize::flow(flow, &stages)
}

#[get("/api/v3/flows/instances/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let query = params.query(&["slug", "name", "designation"]);
    let search = query.search.as_deref().map(str::to_lowercase);
    let mut flows: Vec<&Flow> = catalog
        .flows()
        .into_iter()
        .filter(|flow| match &search {
            Some(text) => {
                flow.slug.to_lowercase().contains(text) || flow.name.to_lowercase().contains(text)
            }
            None => true,
        })
        .collect();
    match query.order_by.as_deref() {
        Some("name") => flows.sort_by(|a, b| a.name.cmp(&b.name)),
        Some("designation") => flows.sort_by_key(|flow| flow.designation.as_str()),
        _ => {}
    }
    if query.descending {
        flows.reverse();
    }
    Ok(
        HttpResponse::Ok().json(paginate_in_memory(&params, flows, |flow| {
            render(&catalog, flow)
        })),
    )
}

#[get("/api/v3/flows/instances/{slug}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    slug: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let flow = catalog.flow(&slug).ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(render(&catalog, flow)))
}

#[derive(Debug, Deserialize)]
pub struct FlowInput {
    name: String,
    slug: String,
    title: String,
    designation: String,
    authentication: Option<String>,
    layout: Option<String>,
}

#[post("/api/v3/flows/instances/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<FlowInput>,
) -> Result<HttpResponse, ApiError> {
    let input = input.into_inner();
    let slug_ok = !input.slug.is_empty()
        && input.slug.len() <= 50
        && input
            .slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !slug_ok {
        return Err(ApiError::field(
            "slug",
            "Enter a valid slug of letters, digits, '-' or '_'.",
        ));
    }
    let designation = FlowDesignation::parse(&input.designation).ok_or_else(|| {
        ApiError::field(
            "designation",
            format!("\"{}\" is not a valid choice.", input.designation),
        )
    })?;
    let authentication = match input.authentication.as_deref() {
        None => FlowAuthentication::None,
        Some(raw) => FlowAuthentication::parse(raw).ok_or_else(|| {
            ApiError::field(
                "authentication",
                format!("\"{raw}\" is not a valid choice."),
            )
        })?,
    };
    let flow = Flow {
        id: FlowId::random(),
        slug: input.slug,
        name: input.name,
        title: input.title,
        designation,
        authentication,
        layout: input.layout.unwrap_or_else(|| "stacked".into()),
        policy_engine_mode: PolicyEngineMode::Any,
    };
    let saved = flow.clone();
    state.db.write(move |tx| tx.insert_flow(&saved)).await?;
    state.catalog.reload(&state.db).await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelCreated,
            json!({"model": "flow", "slug": flow.slug}),
        )
        .await;
    Ok(HttpResponse::Created().json(render(&state.catalog.load(), &flow)))
}

#[delete("/api/v3/flows/instances/{slug}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    slug: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let flow = state
        .catalog
        .load()
        .flow(&slug)
        .cloned()
        .ok_or(ApiError::NotFound)?;
    let id = flow.id;
    state.db.write(move |tx| tx.delete_flow(id)).await?;
    state.catalog.reload(&state.db).await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelDeleted,
            json!({"model": "flow", "slug": flow.slug}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}
