//! `providers/proxy/` in authentik's shapes (`ProxyProvider`, `ProxyProviderRequest`).
//! A proxy provider is an OAuth client underneath: the common provider fields and the
//! token lifetimes go through the OAuth2 input; its client id and secret are generated,
//! and its one redirect URI is always the callback on the external host.

use actix_web::web::{Data, Json, Path, Query, ServiceConfig};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::{
    ClientType, OAuth2Provider, Provider, ProviderId, ProviderKind, ProxyMode, ProxyProvider,
    StandardScope,
};
use crate::providers::proxy::routes::{normalize_domain, skip_path_lines};
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

/// authentik's default for proxy sessions (the token validity).
const DEFAULT_SESSION_VALIDITY: &str = "hours=24";

#[derive(Debug, Default, Deserialize)]
pub struct ProxyInput {
    #[serde(flatten)]
    common: ProviderInput,
    external_host: Option<String>,
    internal_host: Option<String>,
    internal_host_ssl_validation: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    certificate: Option<Option<String>>,
    skip_path_regex: Option<String>,
    basic_auth_enabled: Option<bool>,
    basic_auth_user_attribute: Option<String>,
    basic_auth_password_attribute: Option<String>,
    mode: Option<String>,
    intercept_header_auth: Option<bool>,
    cookie_domain: Option<String>,
}

fn blank_proxy(catalog: &Catalog) -> Provider {
    let mut oauth = OAuth2Provider::new(String::new(), String::new());
    oauth.access_token_validity = DEFAULT_SESSION_VALIDITY.into();
    // The identity headers come from these scopes' claims.
    oauth.property_mappings = catalog
        .property_mappings()
        .into_iter()
        .filter(|mapping| {
            matches!(
                mapping.standard(),
                Some(StandardScope::OpenId | StandardScope::Email | StandardScope::Profile)
            )
        })
        .map(|mapping| mapping.id)
        .collect();
    Provider {
        id: ProviderId(0),
        name: String::new(),
        authorization_flow: crate::model::FlowId(uuid::Uuid::nil()),
        invalidation_flow: None,
        kind: ProviderKind::Proxy(ProxyProvider {
            oauth,
            mode: ProxyMode::ForwardSingle,
            external_host: String::new(),
            internal_host: String::new(),
            internal_host_ssl_validation: true,
            cookie_domain: String::new(),
            skip_path_regex: String::new(),
            basic_auth_enabled: false,
            basic_auth_user_attribute: String::new(),
            basic_auth_password_attribute: String::new(),
            intercept_header_auth: true,
        }),
    }
}

fn apply(
    ctx: &Context<'_>,
    provider: &mut Provider,
    input: &ProxyInput,
    write: Write,
) -> Result<(), ApiError> {
    let mut errors = FieldErrors::default();
    input::apply_collecting(ctx, &mut errors, provider, &input.common, write);
    let id = provider.id;
    if let ProviderKind::Proxy(proxy) = &mut provider.kind {
        apply_proxy(ctx.catalog, &mut errors, id, proxy, input, write);
        // The outpost signs users in as a confidential client at the callback only.
        proxy.oauth.client_type = ClientType::Confidential;
        proxy.sync_redirect_uri();
    }
    errors.finish()
}

fn apply_proxy(
    catalog: &Catalog,
    errors: &mut FieldErrors,
    id: ProviderId,
    proxy: &mut ProxyProvider,
    input: &ProxyInput,
    write: Write,
) {
    if let Some(text) = &input.mode {
        if let Some(mode) = choice(errors, "mode", text) {
            proxy.mode = mode;
        }
    }
    match input.external_host.as_deref().map(str::trim) {
        None if write != Write::Modify => errors.add("external_host", "This field is required."),
        None => {}
        Some(url) => {
            if let Some(url) = errors.check("external_host", http_url(url)) {
                proxy.external_host = url;
            }
        }
    }
    if let Some(url) = input.internal_host.as_deref().map(str::trim) {
        if url.is_empty() {
            proxy.internal_host = String::new();
        } else if let Some(url) = errors.check("internal_host", http_url(url)) {
            proxy.internal_host = url;
        }
    }
    if let Some(validate) = input.internal_host_ssl_validation {
        proxy.internal_host_ssl_validation = validate;
    }
    if let Some(domain) = &input.cookie_domain {
        proxy.cookie_domain = normalize_domain(domain);
    }
    if let Some(text) = &input.skip_path_regex {
        for (line, pattern) in skip_path_lines(text).into_iter().enumerate() {
            if let Err(error) = regex::Regex::new(pattern) {
                errors.add(
                    "skip_path_regex",
                    format!(
                        "Line {}: not a valid regular expression ({error}).",
                        line + 1
                    ),
                );
            }
        }
        proxy.skip_path_regex = text.clone();
    }
    if let Some(enabled) = input.basic_auth_enabled {
        proxy.basic_auth_enabled = enabled;
    }
    if let Some(name) = &input.basic_auth_user_attribute {
        proxy.basic_auth_user_attribute = name.trim().to_owned();
    }
    if let Some(name) = &input.basic_auth_password_attribute {
        proxy.basic_auth_password_attribute = name.trim().to_owned();
    }
    if let Some(intercept) = input.intercept_header_auth {
        proxy.intercept_header_auth = intercept;
    }
    if matches!(input.certificate, Some(Some(_))) {
        errors.add(
            "certificate",
            "Not supported: proxy mode is served with gatehouse's own HTTPS certificate.",
        );
    }
    check_consistency(catalog, errors, id, proxy);
}

/// Rules across fields, checked on the result of the write.
fn check_consistency(
    catalog: &Catalog,
    errors: &mut FieldErrors,
    id: ProviderId,
    proxy: &ProxyProvider,
) {
    if proxy.mode == ProxyMode::Proxy && proxy.internal_host.is_empty() {
        errors.add(
            "internal_host",
            "Proxy mode needs the internal host to forward to.",
        );
    }
    if proxy.basic_auth_enabled && proxy.basic_auth_password_attribute.is_empty() {
        errors.add(
            "basic_auth_password_attribute",
            "Name the user or group attribute that holds the password to send.",
        );
    }
    let host = url::Url::parse(&proxy.external_host)
        .ok()
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase));
    if proxy.mode == ProxyMode::ForwardDomain {
        let domain = &proxy.cookie_domain;
        let inside = host
            .as_deref()
            .is_some_and(|host| host == domain || host.ends_with(&format!(".{domain}")));
        if domain.is_empty() {
            errors.add(
                "cookie_domain",
                "Domain mode needs the cookie domain (e.g. example.com).",
            );
        } else if !inside {
            errors.add(
                "external_host",
                "In domain mode the external host is gatehouse's own URL, inside the cookie domain.",
            );
        }
    }
    let taken = catalog.providers().into_iter().any(|other| {
        other.id != id
            && other.proxy().is_some_and(|other| {
                other
                    .external_host
                    .eq_ignore_ascii_case(&proxy.external_host)
            })
    });
    if taken && !proxy.external_host.is_empty() {
        errors.add(
            "external_host",
            "Another proxy provider uses this external host.",
        );
    }
}

/// An absolute `http(s)` URL with a host, without a trailing slash.
fn http_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|_| "Enter a valid URL.".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("Enter an http:// or https:// URL.".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("The URL cannot have a query or fragment.".into());
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// authentik's `ProxyProvider`.
pub fn render_proxy(catalog: &Catalog, provider: &Provider) -> Value {
    let mut body = match render::summary(catalog, provider) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let Some(proxy) = provider.proxy() else {
        return Value::Object(body);
    };
    let outposts: Vec<String> = catalog
        .outposts()
        .iter()
        .filter(|outpost| outpost.providers.contains(&provider.id))
        .map(|outpost| outpost.id.to_string())
        .collect();
    let redirect_uris: Vec<Value> = proxy
        .oauth
        .redirect_uris
        .iter()
        .map(|uri| json!({"matching_mode": uri.matching_mode, "url": uri.url}))
        .collect();
    let settings = json!({
        "client_id": proxy.oauth.client_id,
        "internal_host": proxy.internal_host,
        "external_host": proxy.external_host,
        "internal_host_ssl_validation": proxy.internal_host_ssl_validation,
        "certificate": null,
        "skip_path_regex": proxy.skip_path_regex,
        "basic_auth_enabled": proxy.basic_auth_enabled,
        "basic_auth_password_attribute": proxy.basic_auth_password_attribute,
        "basic_auth_user_attribute": proxy.basic_auth_user_attribute,
        "mode": proxy.mode,
        "intercept_header_auth": proxy.intercept_header_auth,
        "redirect_uris": redirect_uris,
        "cookie_domain": proxy.cookie_domain,
        "jwt_federation_sources": [],
        "jwt_federation_providers": [],
        "access_token_validity": proxy.oauth.access_token_validity,
        "refresh_token_validity": proxy.oauth.refresh_token_validity,
        "outpost_set": outposts,
    });
    if let Value::Object(settings) = settings {
        body.extend(settings);
    }
    Value::Object(body)
}

fn find_proxy(catalog: &Catalog, id: i64) -> Result<Provider, ApiError> {
    find_kind(catalog, id, |provider| provider.proxy().is_some())
}

#[derive(Debug, Default, Deserialize)]
pub struct ProxyFilter {
    name: Option<String>,
    mode: Option<String>,
}

#[get("/api/v3/providers/proxy/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
    filter: Query<ProxyFilter>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let query = params.query(ORDERINGS);
    let mode_of = |provider: &Provider| {
        provider
            .proxy()
            .and_then(|proxy| serde_json::to_value(proxy.mode).ok())
    };
    let mut providers: Vec<&Provider> = catalog
        .providers()
        .into_iter()
        .filter(|provider| provider.proxy().is_some())
        .filter(|provider| matches_search(provider, query.search.as_deref()))
        .filter(|provider| {
            filter
                .name
                .as_ref()
                .is_none_or(|name| &provider.name == name)
        })
        .filter(|provider| {
            (filter.mode.as_deref())
                .is_none_or(|wanted| mode_of(provider).is_some_and(|m| m == wanted))
        })
        .collect();
    order(&mut providers, &query);
    let body = paginate_in_memory(&params, providers, |provider| {
        render_proxy(&catalog, provider)
    });
    Ok(HttpResponse::Ok().json(body))
}

#[get("/api/v3/providers/proxy/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let provider = find_proxy(&catalog, *id)?;
    Ok(HttpResponse::Ok().json(render_proxy(&catalog, &provider)))
}

fn saved_body(state: &AppState, provider: &Provider) -> Value {
    saved_with(state, provider, render_proxy)
}

#[post("/api/v3/providers/proxy/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    body: Json<ProxyInput>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let mut provider = blank_proxy(&catalog);
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
    body: &ProxyInput,
    write: Write,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let mut provider = find_proxy(&catalog, id)?;
    apply(&context(state, &catalog), &mut provider, body, write)?;
    store_provider(state, admin, &mut provider, write, json!({})).await?;
    Ok(HttpResponse::Ok().json(saved_body(state, &provider)))
}

#[put("/api/v3/providers/proxy/{id}/")]
pub async fn replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
    body: Json<ProxyInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, *id, &body, Write::Replace).await
}

#[patch("/api/v3/providers/proxy/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
    body: Json<ProxyInput>,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, *id, &body, Write::Modify).await
}

#[delete("/api/v3/providers/proxy/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let provider = find_proxy(&state.catalog.load(), *id)?;
    super::delete_provider(&state, &admin, provider).await
}
