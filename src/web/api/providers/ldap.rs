//! `providers/ldap/` in authentik's shapes (`LDAPProvider`, `LDAPProviderRequest`). The
//! bind flow is the provider's `authorization_flow`, as in authentik.

use actix_web::web::{Data, Json, Path, Query, ServiceConfig};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::{GroupId, LdapAccessMode, LdapProvider, Provider, ProviderId, ProviderKind};
use crate::providers::ldap::view::{DEFAULT_BASE_DN, DEFAULT_GID_START, DEFAULT_UID_START};
use crate::store::Catalog;

use super::super::super::error::ApiError;
use super::super::super::extract::ApiAdmin;
use super::super::super::state::AppState;
use super::super::field_errors::FieldErrors;
use super::super::nullable::present;
use super::super::pagination::{ListParams, paginate_in_memory};
use super::input::{self, Context, ProviderInput, Write, choice};
use super::{
    ORDERINGS, context, find_kind, matches_search, order, render, saved_with, store_provider,
};

pub fn routes(config: &mut ServiceConfig) {
    config
        .service(list)
        .service(create)
        .service(retrieve)
        .service(replace)
        .service(modify)
        .service(remove);
}

#[derive(Debug, Default, Deserialize)]
pub struct LdapInput {
    #[serde(flatten)]
    common: ProviderInput,
    base_dn: Option<String>,
    #[serde(default, deserialize_with = "present")]
    search_group: Option<Option<String>>,
    bind_mode: Option<String>,
    search_mode: Option<String>,
    mfa_support: Option<bool>,
    uid_start_number: Option<i64>,
    gid_start_number: Option<i64>,
    tls_server_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    certificate: Option<Option<String>>,
}

fn blank_ldap() -> Provider {
    Provider {
        id: ProviderId(0),
        name: String::new(),
        authorization_flow: crate::model::FlowId(uuid::Uuid::nil()),
        invalidation_flow: None,
        kind: ProviderKind::Ldap(LdapProvider {
            base_dn: DEFAULT_BASE_DN.into(),
            search_group: None,
            bind_mode: LdapAccessMode::Direct,
            search_mode: LdapAccessMode::Direct,
            mfa_support: true,
            uid_start_number: DEFAULT_UID_START,
            gid_start_number: DEFAULT_GID_START,
            tls_server_name: String::new(),
            certificate: None,
        }),
    }
}

fn apply(
    ctx: &Context<'_>,
    provider: &mut Provider,
    input: &LdapInput,
    write: Write,
) -> Result<(), ApiError> {
    let mut errors = FieldErrors::default();
    input::apply_collecting(ctx, &mut errors, provider, &input.common, write);
    let id = provider.id;
    if let ProviderKind::Ldap(ldap) = &mut provider.kind {
        apply_ldap(ctx.catalog, &mut errors, id, ldap, input);
    }
    errors.finish()
}

fn apply_ldap(
    catalog: &Catalog,
    errors: &mut FieldErrors,
    id: ProviderId,
    ldap: &mut LdapProvider,
    input: &LdapInput,
) {
    if let Some(base) = &input.base_dn {
        match checked_dn(base) {
            Ok(base) => {
                let normalized = crate::providers::ldap::dn::normalize(&base);
                let taken = catalog.providers().into_iter().any(|other| {
                    other.id != id
                        && other.ldap().is_some_and(|other| {
                            crate::providers::ldap::dn::normalize(&other.base_dn) == normalized
                        })
                });
                if taken {
                    errors.add("base_dn", "Another LDAP provider serves this base DN.");
                }
                ldap.base_dn = base;
            }
            Err(message) => errors.add("base_dn", message),
        }
    }
    match &input.search_group {
        None => {}
        Some(None) => ldap.search_group = None,
        Some(Some(pk)) => match pk.parse::<uuid::Uuid>() {
            Ok(uuid) => ldap.search_group = Some(GroupId(uuid)),
            Err(_) => errors.add("search_group", format!("\"{pk}\" is not a valid UUID.")),
        },
    }
    for (field, text, slot) in [
        ("bind_mode", &input.bind_mode, &mut ldap.bind_mode),
        ("search_mode", &input.search_mode, &mut ldap.search_mode),
    ] {
        if let Some(text) = text {
            if let Some(mode) = choice(errors, field, text) {
                *slot = mode;
            }
        }
    }
    if let Some(mfa) = input.mfa_support {
        ldap.mfa_support = mfa;
    }
    for (field, value, slot) in [
        (
            "uid_start_number",
            input.uid_start_number,
            &mut ldap.uid_start_number,
        ),
        (
            "gid_start_number",
            input.gid_start_number,
            &mut ldap.gid_start_number,
        ),
    ] {
        match value {
            Some(number) if (0..=2_000_000_000).contains(&number) => *slot = number,
            Some(_) => errors.add(field, "Ensure this value is between 0 and 2000000000."),
            None => {}
        }
    }
    if let Some(name) = &input.tls_server_name {
        ldap.tls_server_name = name.trim().to_owned();
    }
    match &input.certificate {
        None => {}
        Some(None) => ldap.certificate = None,
        Some(Some(pk)) => match pk.parse::<uuid::Uuid>() {
            Ok(uuid) if catalog.keypair(uuid).is_some() => ldap.certificate = Some(uuid),
            _ => errors.add(
                "certificate",
                format!("Invalid pk \"{pk}\" - object does not exist."),
            ),
        },
    }
}

/// `attr=value` RDNs separated by commas, each non-empty.
fn checked_dn(text: &str) -> Result<String, String> {
    let text = text.trim();
    let valid = !text.is_empty()
        && text.split(',').all(|rdn| {
            rdn.split_once('=')
                .is_some_and(|(kind, value)| !kind.trim().is_empty() && !value.trim().is_empty())
        });
    if valid {
        Ok(text.to_owned())
    } else {
        Err("Enter a DN such as DC=ldap,DC=goauthentik,DC=io.".into())
    }
}

/// authentik's `LDAPProvider`.
pub fn render_ldap(catalog: &Catalog, provider: &Provider) -> Value {
    let mut body = match render::summary(catalog, provider) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let Some(ldap) = provider.ldap() else {
        return Value::Object(body);
    };
    let outposts: Vec<String> = catalog
        .outposts()
        .iter()
        .filter(|outpost| outpost.providers.contains(&provider.id))
        .map(|outpost| outpost.id.to_string())
        .collect();
    let settings = json!({
        "base_dn": ldap.base_dn,
        "search_group": ldap.search_group,
        "certificate": ldap.certificate,
        "tls_server_name": ldap.tls_server_name,
        "uid_start_number": ldap.uid_start_number,
        "gid_start_number": ldap.gid_start_number,
        "outpost_set": outposts,
        "search_mode": ldap.search_mode,
        "bind_mode": ldap.bind_mode,
        "mfa_support": ldap.mfa_support,
    });
    if let Value::Object(settings) = settings {
        body.extend(settings);
    }
    Value::Object(body)
}

fn find_ldap(catalog: &Catalog, id: i64) -> Result<Provider, ApiError> {
    find_kind(catalog, id, |provider| provider.ldap().is_some())
}

#[get("/api/v3/providers/ldap/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let query = params.query(ORDERINGS);
    let mut providers: Vec<&Provider> = catalog
        .providers()
        .into_iter()
        .filter(|provider| provider.ldap().is_some())
        .filter(|provider| matches_search(provider, query.search.as_deref()))
        .collect();
    order(&mut providers, &query);
    let body = paginate_in_memory(&params, providers, |provider| {
        render_ldap(&catalog, provider)
    });
    Ok(HttpResponse::Ok().json(body))
}

#[get("/api/v3/providers/ldap/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let provider = find_ldap(&catalog, *id)?;
    Ok(HttpResponse::Ok().json(render_ldap(&catalog, &provider)))
}

fn saved_body(state: &AppState, provider: &Provider) -> Value {
    saved_with(state, provider, render_ldap)
}

#[post("/api/v3/providers/ldap/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    body: Json<LdapInput>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let mut provider = blank_ldap();
    apply(
        &context(&state, &catalog),
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
    body: &LdapInput,
    write: Write,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let mut provider = find_ldap(&catalog, id)?;
    apply(&context(state, &catalog), &mut provider, body, write)?;
    store_provider(state, admin, &mut provider, write, json!({})).await?;
    Ok(HttpResponse::Ok().json(saved_body(state, &provider)))
}

#[put("/api/v3/providers/ldap/{id}/")]
pub async fn replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
    body: Json<LdapInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, *id, &body, Write::Replace).await
}

#[patch("/api/v3/providers/ldap/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
    body: Json<LdapInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, *id, &body, Write::Modify).await
}

#[delete("/api/v3/providers/ldap/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let provider = find_ldap(&state.catalog.load(), *id)?;
    super::delete_provider(&state, &admin, provider).await
}
