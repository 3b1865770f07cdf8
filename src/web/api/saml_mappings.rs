//! `propertymappings/provider/saml/` (and the older `propertymappings/saml/`): SAML
//! attribute mappings in authentik's `SAMLPropertyMapping` shape, for superusers. A
//! custom mapping is a Rhai expression whose value (a string, a list, anything) becomes
//! the attribute's values; it is checked to compile before it is saved. authentik's
//! default mappings are computed natively: their expression and SAML name are fixed and
//! they cannot be deleted.

use actix_web::web::{Data, Json, Path, Query, ServiceConfig};
use actix_web::{HttpResponse, routes};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::model::saml::SAML_MANAGED_PREFIX;
use crate::model::{EventAction, MappingKind, PropertyMapping, SamlMapping};
use crate::store::{Catalog, StoreError};

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::field_errors::FieldErrors;
use super::pagination::{ListParams, paginate_in_memory};

const NATIVE: &str = "This mapping is managed by gatehouse and computed natively: its \
                      expression and SAML name cannot be changed, and it cannot be deleted.";

pub fn routes(config: &mut ServiceConfig) {
    config
        .service(list)
        .service(create)
        .service(retrieve)
        .service(replace)
        .service(modify)
        .service(remove);
}

fn render(mapping: &PropertyMapping, saml: &SamlMapping) -> Value {
    json!({
        "pk": mapping.id,
        "managed": mapping.managed,
        "name": mapping.name,
        "expression": saml.expression,
        "component": "ak-property-mapping-provider-saml-form",
        "verbose_name": "SAML Provider Property Mapping",
        "verbose_name_plural": "SAML Provider Property Mappings",
        "meta_model_name": "authentik_providers_saml.samlpropertymapping",
        "saml_name": saml.saml_name,
        "friendly_name": if saml.friendly_name.is_empty() { Value::Null } else { json!(saml.friendly_name) },
    })
}

fn find(catalog: &Catalog, id: Uuid) -> Result<(PropertyMapping, SamlMapping), ApiError> {
    let mapping = catalog.property_mapping(id).ok_or(ApiError::NotFound)?;
    let saml = mapping.saml().ok_or(ApiError::NotFound)?.clone();
    Ok((mapping.clone(), saml))
}

#[derive(Debug, Default, Deserialize)]
pub struct SamlFilter {
    managed: Option<String>,
    saml_name: Option<String>,
    name: Option<String>,
}

#[routes]
#[get("/api/v3/propertymappings/provider/saml/")]
#[get("/api/v3/propertymappings/saml/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
    filter: Query<SamlFilter>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let query = params.query(&["name", "saml_name"]);
    let term = query.search.as_deref().map(str::to_lowercase);
    let mut mappings: Vec<(&PropertyMapping, &SamlMapping)> = catalog
        .property_mappings()
        .into_iter()
        .filter_map(|mapping| Some((mapping, mapping.saml()?)))
        .filter(|(mapping, _)| {
            (filter.managed.as_deref()).is_none_or(|key| mapping.managed.as_deref() == Some(key))
        })
        .filter(|(mapping, _)| {
            filter
                .name
                .as_ref()
                .is_none_or(|name| &mapping.name == name)
        })
        .filter(|(_, saml)| (filter.saml_name.as_ref()).is_none_or(|name| &saml.saml_name == name))
        .filter(|(mapping, saml)| {
            term.as_deref().is_none_or(|term| {
                mapping.name.to_lowercase().contains(term)
                    || saml.saml_name.to_lowercase().contains(term)
            })
        })
        .collect();
    if query.order_by.as_deref() == Some("saml_name") {
        mappings.sort_by(|a, b| a.1.saml_name.cmp(&b.1.saml_name));
    }
    if query.descending {
        mappings.reverse();
    }
    let body = paginate_in_memory(&params, mappings, |(mapping, saml)| render(mapping, saml));
    Ok(HttpResponse::Ok().json(body))
}

#[routes]
#[get("/api/v3/propertymappings/provider/saml/{id}/")]
#[get("/api/v3/propertymappings/saml/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (mapping, saml) = find(&state.catalog.load(), *id)?;
    Ok(HttpResponse::Ok().json(render(&mapping, &saml)))
}

#[derive(Debug, Default, Deserialize)]
pub struct SamlMappingInput {
    name: Option<String>,
    expression: Option<String>,
    saml_name: Option<String>,
    friendly_name: Option<Option<String>>,
    managed: Option<Option<String>>,
}

fn apply(
    state: &AppState,
    catalog: &Catalog,
    mapping: &mut PropertyMapping,
    input: SamlMappingInput,
    full: bool,
) -> Result<(), ApiError> {
    let mut errors = FieldErrors::default();
    for (field, given) in [
        ("name", input.name.is_some()),
        ("expression", input.expression.is_some()),
        ("saml_name", input.saml_name.is_some()),
    ] {
        if full && !given {
            errors.add(field, "This field is required.");
        }
    }
    if let Some(name) = input.name.as_deref().map(str::trim) {
        if name.is_empty() {
            errors.add("name", "This field may not be blank.");
        } else if (catalog.property_mappings().iter())
            .any(|other| other.name == name && other.id != mapping.id)
        {
            errors.add("name", "Property Mapping with this name already exists.");
        }
        mapping.name = name.to_owned();
    }
    let native = mapping.standard_saml().is_some();
    if let Some(Some(key)) = &input.managed {
        if !native && key.starts_with(SAML_MANAGED_PREFIX) {
            errors.add(
                "managed",
                "This key is reserved for gatehouse's default SAML mappings.",
            );
        } else if !native {
            mapping.managed = Some(key.clone());
        }
    }
    let MappingKind::Saml(saml) = &mut mapping.kind else {
        return Err(ApiError::NotFound);
    };
    if let Some(name) = input.saml_name.map(|name| name.trim().to_owned()) {
        if native && name != saml.saml_name {
            errors.add("saml_name", NATIVE);
        } else if name.is_empty() {
            errors.add("saml_name", "This field may not be blank.");
        }
        saml.saml_name = name;
    }
    if let Some(friendly) = input.friendly_name {
        saml.friendly_name = friendly.unwrap_or_default().trim().to_owned();
    }
    if let Some(expression) = input.expression {
        let checked = if native {
            (expression == saml.expression)
                .then_some(())
                .ok_or_else(|| NATIVE.to_owned())
        } else if expression.trim().is_empty() {
            Err("This field may not be blank.".to_owned())
        } else {
            // Checked as it runs: wrapped into a one-claim map (see providers::saml).
            state
                .policies
                .check_expression(&format!("#{{ value: {{\n{expression}\n}} }}"))
                .map_err(|message| format!("Expression does not compile: {message}"))
        };
        errors.check("expression", checked);
        saml.expression = expression;
    }
    errors.finish()
}

fn conflict(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(field) if field == "name" => {
            ApiError::field("name", "Property Mapping with this name already exists.")
        }
        other => other.into(),
    }
}

async fn audit(state: &AppState, admin: &ApiAdmin, action: EventAction, mapping: &PropertyMapping) {
    state
        .audit(
            &admin.0,
            action,
            json!({"model": "samlpropertymapping", "pk": mapping.id, "name": mapping.name}),
        )
        .await;
}

#[routes]
#[post("/api/v3/propertymappings/provider/saml/")]
#[post("/api/v3/propertymappings/saml/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<SamlMappingInput>,
) -> Result<HttpResponse, ApiError> {
    let mut mapping = PropertyMapping {
        id: Uuid::new_v4(),
        name: String::new(),
        managed: None,
        kind: MappingKind::Saml(SamlMapping {
            saml_name: String::new(),
            friendly_name: String::new(),
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
    let (mapping, saml) = find(&state.catalog.load(), mapping.id)?;
    Ok(HttpResponse::Created().json(render(&mapping, &saml)))
}

async fn update(
    state: &AppState,
    admin: &ApiAdmin,
    id: Uuid,
    input: SamlMappingInput,
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
    let (mapping, saml) = find(&state.catalog.load(), id)?;
    Ok(HttpResponse::Ok().json(render(&mapping, &saml)))
}

#[routes]
#[put("/api/v3/propertymappings/provider/saml/{id}/")]
#[put("/api/v3/propertymappings/saml/{id}/")]
pub async fn replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
    input: Json<SamlMappingInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, *id, input.into_inner(), true).await
}

#[routes]
#[patch("/api/v3/propertymappings/provider/saml/{id}/")]
#[patch("/api/v3/propertymappings/saml/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
    input: Json<SamlMappingInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, *id, input.into_inner(), false).await
}

#[routes]
#[delete("/api/v3/propertymappings/provider/saml/{id}/")]
#[delete("/api/v3/propertymappings/saml/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (mapping, _) = find(&state.catalog.load(), *id)?;
    if mapping.standard_saml().is_some() {
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
