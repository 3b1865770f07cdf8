//! `providers/oauth2/` and `providers/all/`, in authentik's shapes, for superusers.
//! Reads come from the catalog snapshot; writes go to the store, rebuild the snapshot
//! and are audited. A confidential client's secret is generated unless given, sealed at
//! rest, and shown to admins in clear (as authentik does).

mod checks;
mod input;
mod ldap;
mod multipart;
mod proxy;
mod render;
mod saml;
mod saml_input;
mod setup_urls;

use actix_web::web::{Data, Json, Path, Query, ServiceConfig};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::{EventAction, Provider, ProviderId};
use crate::store::{Catalog, ListQuery, StoreError};

use super::super::error::ApiError;
use super::super::extract::{ApiAdmin, ClientMeta};
use super::super::state::AppState;
use super::pagination::{ListParams, paginate_in_memory};
use input::{CLIENT_ID_TAKEN, Context, NAME_TAKEN, ProviderInput, Write};

pub use proxy::render_proxy;
pub use render::summary;

pub fn routes(config: &mut ServiceConfig) {
    config
        .service(list_all)
        .service(retrieve_any)
        .service(remove_any)
        .service(list)
        .service(create)
        .service(setup_urls_of)
        .service(retrieve)
        .service(replace)
        .service(modify)
        .service(remove)
        .configure(proxy::routes)
        .configure(ldap::routes)
        .configure(saml::routes);
}

const ORDERINGS: &[&str] = &["pk", "name", "client_id"];

/// `ordering` applied to providers listed by name.
fn order(providers: &mut [&Provider], query: &ListQuery) {
    match query.order_by.as_deref() {
        Some("pk") => providers.sort_by_key(|provider| provider.id),
        Some("client_id") => providers.sort_by(|a, b| a.client_id().cmp(&b.client_id())),
        _ => {}
    }
    if query.descending {
        providers.reverse();
    }
}

fn matches_search(provider: &Provider, search: Option<&str>) -> bool {
    let Some(term) = search else {
        return true;
    };
    let term = term.to_lowercase();
    provider.name.to_lowercase().contains(&term)
        || provider
            .client_id()
            .is_some_and(|id| id.to_lowercase().contains(&term))
}

/// `providers/oauth2/` filters beside the list parameters.
#[derive(Debug, Default, Deserialize)]
pub struct OAuth2Filter {
    name: Option<String>,
    client_id: Option<String>,
    client_type: Option<String>,
}

pub(super) fn render_oauth2(state: &AppState, catalog: &Catalog, provider: &Provider) -> Value {
    match provider.oauth2() {
        Some(oauth) => render::oauth2(catalog, &state.secret_box, provider, oauth),
        None => render::summary(catalog, provider),
    }
}

#[get("/api/v3/providers/oauth2/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
    filter: Query<OAuth2Filter>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let query = params.query(ORDERINGS);
    let client_type = |provider: &Provider| {
        provider
            .oauth2()
            .and_then(|oauth| serde_json::to_value(oauth.client_type).ok())
    };
    let mut providers: Vec<&Provider> = catalog
        .providers()
        .into_iter()
        .filter(|provider| provider.is_oauth2())
        .filter(|provider| matches_search(provider, query.search.as_deref()))
        .filter(|provider| {
            filter
                .name
                .as_ref()
                .is_none_or(|name| &provider.name == name)
        })
        .filter(|provider| {
            (filter.client_id.as_deref()).is_none_or(|id| provider.client_id() == Some(id))
        })
        .filter(|provider| {
            (filter.client_type.as_deref())
                .is_none_or(|wanted| client_type(provider).is_some_and(|value| value == wanted))
        })
        .collect();
    order(&mut providers, &query);
    let body = paginate_in_memory(&params, providers, |provider| {
        render_oauth2(&state, &catalog, provider)
    });
    Ok(HttpResponse::Ok().json(body))
}

/// `providers/all/` filters beside the list parameters.
#[derive(Debug, Default, Deserialize)]
pub struct AllFilter {
    #[serde(rename = "application__isnull")]
    application_isnull: Option<bool>,
    backchannel: Option<bool>,
}

#[get("/api/v3/providers/all/")]
pub async fn list_all(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
    filter: Query<AllFilter>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let query = params.query(ORDERINGS);
    let mut providers: Vec<&Provider> = catalog
        .providers()
        .into_iter()
        .filter(|provider| matches_search(provider, query.search.as_deref()))
        .filter(|provider| {
            filter.application_isnull.is_none_or(|unassigned| {
                catalog.application_of_provider(provider.id).is_none() == unassigned
            })
        })
        // gatehouse has no backchannel-only kinds (LDAP, SCIM) yet.
        .filter(|_| filter.backchannel != Some(true))
        .collect();
    order(&mut providers, &query);
    let body = paginate_in_memory(&params, providers, |provider| {
        render::summary(&catalog, provider)
    });
    Ok(HttpResponse::Ok().json(body))
}

fn find(catalog: &Catalog, id: i64) -> Result<Provider, ApiError> {
    catalog
        .provider(ProviderId(id))
        .cloned()
        .ok_or(ApiError::NotFound)
}

/// The provider `id` when `is_kind` accepts its kind: each kind's path answers 404 for
/// the others' ids, as authentik's do.
fn find_kind(
    catalog: &Catalog,
    id: i64,
    is_kind: fn(&Provider) -> bool,
) -> Result<Provider, ApiError> {
    find(catalog, id).and_then(|provider| match is_kind(&provider) {
        true => Ok(provider),
        false => Err(ApiError::NotFound),
    })
}

fn find_oauth2(catalog: &Catalog, id: i64) -> Result<Provider, ApiError> {
    find_kind(catalog, id, Provider::is_oauth2)
}

#[get("/api/v3/providers/all/{id}/")]
pub async fn retrieve_any(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let provider = find(&catalog, *id)?;
    Ok(HttpResponse::Ok().json(render::summary(&catalog, &provider)))
}

#[get("/api/v3/providers/oauth2/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let provider = find_oauth2(&catalog, *id)?;
    Ok(HttpResponse::Ok().json(render_oauth2(&state, &catalog, &provider)))
}

#[get("/api/v3/providers/oauth2/{id}/setup_urls/")]
pub async fn setup_urls_of(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<i64>,
    client: ClientMeta,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let provider = find_oauth2(&catalog, *id)?;
    let oauth = provider.oauth2().ok_or(ApiError::NotFound)?;
    let base = client.base_url();
    let application = catalog.application_of_provider(provider.id);
    let urls = setup_urls::setup_urls(&base, oauth, application.map(|app| app.slug.as_str()));
    Ok(HttpResponse::Ok().json(urls))
}

/// A uniqueness conflict the store caught (a concurrent write won the race) in the words
/// the catalog check uses.
fn conflict(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(field) if field == "name" => ApiError::field("name", NAME_TAKEN),
        StoreError::Conflict(field) if field == "client_id" => {
            ApiError::field("client_id", CLIENT_ID_TAKEN)
        }
        other => other.into(),
    }
}

/// The provider as the rebuilt snapshot has it (with its application).
/// The provider as the rebuilt snapshot has it (with its application), rendered in its
/// kind's shape.
fn saved_with(
    state: &AppState,
    provider: &Provider,
    render: impl Fn(&Catalog, &Provider) -> Value,
) -> Value {
    let catalog = state.catalog.load();
    let current = catalog.provider(provider.id).unwrap_or(provider);
    render(&catalog, current)
}

fn saved_body(state: &AppState, provider: &Provider) -> Value {
    saved_with(state, provider, |catalog, provider| {
        render_oauth2(state, catalog, provider)
    })
}

/// What the input checks see: the snapshot, the secret box and the time.
fn context<'a>(state: &'a AppState, catalog: &'a Catalog) -> Context<'a> {
    Context {
        catalog,
        secret_box: &state.secret_box,
        now: state.clock.now(),
    }
}

/// Stores a provider an API write produced (a new one gets its id here), rebuilds the
/// snapshot and records the change, with `details` added to the event's context.
async fn store_provider(
    state: &AppState,
    admin: &ApiAdmin,
    provider: &mut Provider,
    write: Write,
    details: Value,
) -> Result<(), ApiError> {
    let saved = provider.clone();
    let action = if write == Write::Create {
        provider.id = state
            .db
            .write(move |tx| tx.insert_provider(&saved))
            .await
            .map_err(conflict)?;
        EventAction::ModelCreated
    } else {
        state
            .db
            .write(move |tx| tx.update_provider(&saved))
            .await
            .map_err(conflict)?;
        EventAction::ModelUpdated
    };
    state.configuration_changed().await?;
    let model = provider
        .component()
        .1
        .rsplit('.')
        .next()
        .unwrap_or_default();
    let mut event = json!({"model": model, "pk": provider.id, "name": provider.name});
    if let (Value::Object(event), Value::Object(details)) = (&mut event, details) {
        event.extend(details);
    }
    state.audit(&admin.0, action, event).await;
    Ok(())
}

#[post("/api/v3/providers/oauth2/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    body: Json<ProviderInput>,
) -> Result<HttpResponse, ApiError> {
    let mut provider = input::blank_oauth2();
    input::apply(
        &context(&state, &state.catalog.load()),
        &mut provider,
        &body,
        Write::Create,
    )?;
    store_provider(&state, &admin, &mut provider, Write::Create, json!({})).await?;
    Ok(HttpResponse::Created().json(saved_body(&state, &provider)))
}

async fn update(
    state: &AppState,
    admin: &ApiAdmin,
    id: i64,
    body: &ProviderInput,
    write: Write,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let mut provider = find_oauth2(&catalog, id)?;
    let changes = input::apply(&context(state, &catalog), &mut provider, body, write)?;
    let details = json!({
        "client_secret_changed": changes.secret_changed,
        "signing_key_changed": changes.signing_key_changed,
    });
    store_provider(state, admin, &mut provider, write, details).await?;
    Ok(HttpResponse::Ok().json(saved_body(state, &provider)))
}

#[put("/api/v3/providers/oauth2/{id}/")]
pub async fn replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
    body: Json<ProviderInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, *id, &body, Write::Replace).await
}

#[patch("/api/v3/providers/oauth2/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
    body: Json<ProviderInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, *id, &body, Write::Modify).await
}

/// Deletes the provider; its application stays, without a provider, and the refresh
/// tokens issued through it go (the store does both in the same transaction).
async fn delete_provider(
    state: &AppState,
    admin: &ApiAdmin,
    provider: Provider,
) -> Result<HttpResponse, ApiError> {
    let application = state
        .catalog
        .load()
        .application_of_provider(provider.id)
        .map(|app| app.slug.clone());
    let id = provider.id;
    state.db.write(move |tx| tx.delete_provider(id)).await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelDeleted,
            json!({
                "model": provider.component().1.rsplit('.').next().unwrap_or_default(),
                "pk": id,
                "name": provider.name,
                "application": application,
            }),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}

#[delete("/api/v3/providers/oauth2/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let provider = find_oauth2(&state.catalog.load(), *id)?;
    delete_provider(&state, &admin, provider).await
}

#[delete("/api/v3/providers/all/{id}/")]
pub async fn remove_any(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let provider = find(&state.catalog.load(), *id)?;
    delete_provider(&state, &admin, provider).await
}
