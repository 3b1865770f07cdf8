//! `propertymappings/provider/scope/` (authentik 2024.8 and later) and the older
//! `propertymappings/scope/` path: OAuth scope mappings in authentik's `ScopeMapping`
//! shape, for superusers. Custom mappings are Rhai expressions, checked to compile with
//! the policy engine's sandboxed compiler before they are saved. The managed mappings of
//! the standard scopes (`openid`, `email`, `profile`, `offline_access`) are computed
//! natively, so their expression and scope cannot change and they cannot be deleted;
//! their name and consent description can.

use actix_web::web::{Data, Json, Path, Query, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse, routes};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::model::property_mapping::MANAGED_PREFIX;
use crate::model::{EventAction, MappingKind, PropertyMapping, ScopeMapping};
use crate::store::{Catalog, StoreError};

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::field_errors::FieldErrors;
use super::nullable::present;
use super::pagination::{ListParams, paginate_in_memory};

const NAME_TAKEN: &str = "Property Mapping with this name already exists.";
const MANAGED_TAKEN: &str = "Property Mapping with this managed key already exists.";
const NATIVE: &str = "This mapping is managed by gatehouse and its claims are computed \
                      natively: its expression and scope cannot be changed, and it cannot \
                      be deleted. Create a mapping of your own for other claims.";

pub fn routes(config: &mut ServiceConfig) {
    config
        .service(list)
        .service(create)
        .service(retrieve)
        .service(replace)
        .service(modify)
        .service(remove);
}

fn render(mapping: &PropertyMapping, scope: &ScopeMapping) -> Value {
    json!({
        "pk": mapping.id,
        "managed": mapping.managed,
        "name": mapping.name,
        "expression": scope.expression,
        "component": "ak-property-mapping-provider-scope-form",
        "verbose_name": "Scope Mapping",
        "verbose_name_plural": "Scope Mappings",
        "meta_model_name": "authentik_providers_oauth2.scopemapping",
        "scope_name": scope.scope_name,
        "description": scope.description,
    })
}

/// The filters, read from the raw query because `managed` may repeat
/// (`?managed=a&managed=b`, as authentik's clients send a list).
#[derive(Debug, Default)]
struct MappingFilter {
    managed: Vec<String>,
    managed_isnull: Option<bool>,
    name: Option<String>,
    scope_name: Option<String>,
}

impl MappingFilter {
    fn parse(query: &str) -> Result<MappingFilter, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|error| ApiError::BadRequest(format!("Invalid query parameters - {error}")))?;
        let mut filter = MappingFilter::default();
        for (key, value) in pairs {
            match key.as_str() {
                "managed" => filter.managed.push(value),
                "managed__isnull" => filter.managed_isnull = Some(value == "true"),
                "name" => filter.name = Some(value),
                "scope_name" => filter.scope_name = Some(value),
                _ => {}
            }
        }
        Ok(filter)
    }

    fn admits(&self, mapping: &PropertyMapping, scope: &ScopeMapping) -> bool {
        let managed = mapping.managed.as_deref();
        (self.managed.is_empty()
            || managed.is_some_and(|key| self.managed.iter().any(|m| m == key)))
            && self
                .managed_isnull
                .is_none_or(|isnull| managed.is_none() == isnull)
            && self.name.as_ref().is_none_or(|name| &mapping.name == name)
            && (self.scope_name.as_ref()).is_none_or(|name| &scope.scope_name == name)
    }
}

fn matches_search(mapping: &PropertyMapping, scope: &ScopeMapping, search: Option<&str>) -> bool {
    let Some(term) = search else {
        return true;
    };
    let term = term.to_lowercase();
    [&mapping.name, &scope.scope_name, &scope.description]
        .iter()
        .any(|field| field.to_lowercase().contains(&term))
}

#[routes]
#[get("/api/v3/propertymappings/provider/scope/")]
#[get("/api/v3/propertymappings/scope/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
    http: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let filter = MappingFilter::parse(http.query_string())?;
    let query = params.query(&["name", "scope_name"]);
    let catalog = state.catalog.load();
    let mut mappings: Vec<(&PropertyMapping, &ScopeMapping)> = catalog
        .property_mappings()
        .into_iter()
        .filter_map(|mapping| Some((mapping, mapping.scope()?)))
        .filter(|(mapping, scope)| filter.admits(mapping, scope))
        .filter(|(mapping, scope)| matches_search(mapping, scope, query.search.as_deref()))
        .collect();
    if query.order_by.as_deref() == Some("scope_name") {
        mappings.sort_by(|a, b| (&a.1.scope_name, &a.0.name).cmp(&(&b.1.scope_name, &b.0.name)));
    }
    if query.descending {
        mappings.reverse();
    }
    let body = paginate_in_memory(&params, mappings, |(mapping, scope)| render(mapping, scope));
    Ok(HttpResponse::Ok().json(body))
}

fn find(catalog: &Catalog, id: Uuid) -> Result<(PropertyMapping, ScopeMapping), ApiError> {
    let mapping = catalog.property_mapping(id).ok_or(ApiError::NotFound)?;
    let scope = mapping.scope().ok_or(ApiError::NotFound)?.clone();
    Ok((mapping.clone(), scope))
}

#[routes]
#[get("/api/v3/propertymappings/provider/scope/{id}/")]
#[get("/api/v3/propertymappings/scope/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (mapping, scope) = find(&state.catalog.load(), *id)?;
    Ok(HttpResponse::Ok().json(render(&mapping, &scope)))
}

/// Writable fields (authentik's `ScopeMappingRequest`); echoed read-only ones are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct MappingInput {
    #[serde(default, deserialize_with = "present")]
    managed: Option<Option<String>>,
    name: Option<String>,
    expression: Option<String>,
    scope_name: Option<String>,
    description: Option<String>,
}

/// RFC 6749 §3.3: a scope token is one or more of %x21 / %x23-5B / %x5D-7E.
fn is_scope_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| matches!(byte, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// Applies `input`, collecting every field error. `full` is a create or a PUT.
fn apply(
    state: &AppState,
    catalog: &Catalog,
    mapping: &mut PropertyMapping,
    input: MappingInput,
    full: bool,
) -> Result<(), ApiError> {
    let mut errors = FieldErrors::default();
    for (field, given) in [
        ("name", &input.name),
        ("expression", &input.expression),
        ("scope_name", &input.scope_name),
    ] {
        if full && given.is_none() {
            errors.add(field, "This field is required.");
        }
    }
    if let Some(name) = input.name.as_deref().map(str::trim) {
        if name.is_empty() {
            errors.add("name", "This field may not be blank.");
        } else if (catalog.property_mappings().iter())
            .any(|other| other.name == name && other.id != mapping.id)
        {
            errors.add("name", NAME_TAKEN);
        }
        mapping.name = name.to_owned();
    }
    if let Some(managed) = input.managed {
        let managed = managed
            .map(|key| key.trim().to_owned())
            .filter(|key| !key.is_empty());
        if let Some(managed) = errors.check("managed", managed_key(mapping, managed)) {
            mapping.managed = managed;
        }
    }
    let native = mapping.standard().is_some();
    let MappingKind::Scope(scope) = &mut mapping.kind else {
        // `find` hands out scope mappings only.
        return Err(ApiError::NotFound);
    };
    if let Some(scope_name) = input.scope_name.map(|name| name.trim().to_owned()) {
        if native && scope_name != scope.scope_name {
            errors.add("scope_name", NATIVE);
        } else if !is_scope_token(&scope_name) {
            errors.add(
                "scope_name",
                "A scope name is one word of printable characters, without spaces, quotes or backslashes (RFC 6749 \u{a7}3.3).",
            );
        }
        scope.scope_name = scope_name;
    }
    if let Some(expression) = input.expression {
        let checked = expression_check(state, native, &scope.expression, &expression);
        errors.check("expression", checked);
        scope.expression = expression;
    }
    if let Some(description) = input.description {
        scope.description = description;
    }
    errors.finish()
}

/// A new `managed` key: a built-in mapping keeps its own, and the built-in keys are
/// gatehouse's alone.
fn managed_key(
    mapping: &PropertyMapping,
    managed: Option<String>,
) -> Result<Option<String>, String> {
    if mapping.standard().is_some() {
        return if managed == mapping.managed {
            Ok(managed)
        } else {
            Err(NATIVE.to_owned())
        };
    }
    if managed
        .as_deref()
        .is_some_and(|key| key.starts_with(MANAGED_PREFIX))
    {
        return Err("This key is reserved for gatehouse's built-in scope mappings.".to_owned());
    }
    Ok(managed)
}

/// A built-in mapping keeps its documented expression; a custom one must compile.
fn expression_check(
    state: &AppState,
    native: bool,
    current: &str,
    expression: &str,
) -> Result<(), String> {
    if native {
        return if expression == current {
            Ok(())
        } else {
            Err(NATIVE.to_owned())
        };
    }
    if expression.trim().is_empty() {
        return Err("This field may not be blank.".to_owned());
    }
    state
        .policies
        .check_expression(expression)
        .map_err(|message| format!("Expression does not compile: {message}"))
}

fn conflict(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(field) if field == "name" => ApiError::field("name", NAME_TAKEN),
        StoreError::Conflict(field) if field == "managed" => {
            ApiError::field("managed", MANAGED_TAKEN)
        }
        other => other.into(),
    }
}

#[routes]
#[post("/api/v3/propertymappings/provider/scope/")]
#[post("/api/v3/propertymappings/scope/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<MappingInput>,
) -> Result<HttpResponse, ApiError> {
    let mut mapping = PropertyMapping {
        id: Uuid::new_v4(),
        name: String::new(),
        managed: None,
        kind: MappingKind::Scope(ScopeMapping {
            scope_name: String::new(),
            description: String::new(),
            expression: String::new(),
        }),
    };
    apply(
        &state,
        &state.catalog.load(),
        &mut mapping,
        input.into_inner(),
        true,
    )?;
    let saved = mapping.clone();
    state
        .db
        .write(move |tx| tx.insert_property_mapping(&saved))
        .await
        .map_err(conflict)?;
    state.configuration_changed().await?;
    audit(&state, &admin, EventAction::ModelCreated, &mapping).await;
    let (mapping, scope) = find(&state.catalog.load(), mapping.id)?;
    Ok(HttpResponse::Created().json(render(&mapping, &scope)))
}

async fn audit(state: &AppState, admin: &ApiAdmin, action: EventAction, mapping: &PropertyMapping) {
    let scope_name = mapping.scope().map(|scope| scope.scope_name.as_str());
    state
        .audit(
            &admin.0,
            action,
            json!({"model": "scopemapping", "pk": mapping.id, "name": mapping.name, "scope_name": scope_name}),
        )
        .await;
}

async fn update(
    state: &AppState,
    admin: &ApiAdmin,
    id: Uuid,
    input: MappingInput,
    full: bool,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let (mut mapping, _) = find(&catalog, id)?;
    apply(state, &catalog, &mut mapping, input, full)?;
    let saved = mapping.clone();
    state
        .db
        .write(move |tx| tx.update_property_mapping(&saved))
        .await
        .map_err(conflict)?;
    state.configuration_changed().await?;
    audit(state, admin, EventAction::ModelUpdated, &mapping).await;
    let (mapping, scope) = find(&state.catalog.load(), id)?;
    Ok(HttpResponse::Ok().json(render(&mapping, &scope)))
}

#[routes]
#[put("/api/v3/propertymappings/provider/scope/{id}/")]
#[put("/api/v3/propertymappings/scope/{id}/")]
pub async fn replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
    input: Json<MappingInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, *id, input.into_inner(), true).await
}

#[routes]
#[patch("/api/v3/propertymappings/provider/scope/{id}/")]
#[patch("/api/v3/propertymappings/scope/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
    input: Json<MappingInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, *id, input.into_inner(), false).await
}

#[routes]
#[delete("/api/v3/propertymappings/provider/scope/{id}/")]
#[delete("/api/v3/propertymappings/scope/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (mapping, _) = find(&state.catalog.load(), *id)?;
    if mapping.standard().is_some() {
        return Err(ApiError::BadRequest(NATIVE.to_owned()));
    }
    let mapping_id = mapping.id;
    state
        .db
        .write(move |tx| tx.delete_property_mapping(mapping_id))
        .await?;
    state.configuration_changed().await?;
    audit(&state, &admin, EventAction::ModelDeleted, &mapping).await;
    Ok(HttpResponse::NoContent().finish())
}
