//! `providers/saml/` in authentik's shapes (`SAMLProvider`, `SAMLProviderRequest`), plus
//! `import_metadata/` (an SP's metadata XML becomes a provider) and `{id}/metadata/`
//! (our IdP metadata for the provider's application).

use actix_web::web::{Bytes, Data, Json, Path, Query, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::{CertificateKeyPair, Provider, ProviderKind, Timestamp};
use crate::providers::saml::metadata::read_sp_metadata;
use crate::store::Catalog;

use super::super::super::error::ApiError;
use super::super::super::extract::{ApiAdmin, ClientMeta};
use super::super::super::state::AppState;
use super::super::field_errors::FieldErrors;
use super::super::pagination::{ListParams, paginate_in_memory};
use super::input::Write;
use super::saml_input::{SamlInput, apply, blank_saml};
use super::{
    ORDERINGS, context, find_kind, matches_search, order, render, saved_with, store_provider,
};

pub fn routes(config: &mut ServiceConfig) {
    config
        .service(list)
        .service(create)
        .service(import_metadata)
        .service(metadata)
        .service(retrieve)
        .service(replace)
        .service(modify)
        .service(remove);
}

/// authentik's `SAMLProvider`, with the endpoint URLs of the assigned application.
pub fn render_saml(catalog: &Catalog, base_url: &str, provider: &Provider) -> Value {
    let mut body = match render::summary(catalog, provider) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let Some(saml) = provider.saml() else {
        return Value::Object(body);
    };
    let slug = catalog
        .application_of_provider(provider.id)
        .map(|app| app.slug.clone());
    let url = |path: &str| {
        slug.as_deref()
            .map(|slug| format!("{base_url}/application/saml/{slug}/{path}"))
    };
    let issuer = slug
        .as_deref()
        .map(|slug| crate::providers::saml::issuer(base_url, slug, saml))
        .unwrap_or_else(|| saml.issuer.clone());
    let settings = json!({
        "acs_url": saml.acs_url,
        "audience": saml.audience,
        "issuer": issuer,
        "sp_binding": saml.sp_binding,
        "sls_url": saml.sls_url,
        "sls_binding": saml.sls_binding,
        "logout_method": "frontchannel_iframe",
        "name_id_mapping": saml.name_id_mapping,
        "authn_context_class_ref_mapping": null,
        "default_name_id_policy": saml.default_name_id_policy,
        "default_relay_state": saml.default_relay_state,
        "assertion_valid_not_before": saml.assertion_valid_not_before,
        "assertion_valid_not_on_or_after": saml.assertion_valid_not_on_or_after,
        "session_valid_not_on_or_after": saml.session_valid_not_on_or_after,
        "signing_kp": saml.signing_kp,
        "verification_kp": saml.verification_kp,
        "encryption_kp": saml.encryption_kp,
        "sign_assertion": saml.sign_assertion,
        "sign_response": saml.sign_response,
        "sign_logout_request": false,
        "digest_algorithm": saml.digest_algorithm,
        "signature_algorithm": saml.signature_algorithm,
        "url_download_metadata": url("metadata/?download"),
        "url_sso_post": url("sso/binding/post/"),
        "url_sso_redirect": url("sso/binding/redirect/"),
        "url_sso_init": url("sso/binding/init/"),
        "url_slo_post": url("slo/binding/post/"),
        "url_slo_redirect": url("slo/binding/redirect/"),
    });
    if let Value::Object(settings) = settings {
        body.extend(settings);
    }
    Value::Object(body)
}

fn find_saml(catalog: &Catalog, id: i64) -> Result<Provider, ApiError> {
    find_kind(catalog, id, |provider| provider.saml().is_some())
}

fn base(http: &HttpRequest) -> String {
    ClientMeta::of(http).base_url()
}

#[get("/api/v3/providers/saml/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<ListParams>,
    http: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let query = params.query(ORDERINGS);
    let base = base(&http);
    let mut providers: Vec<&Provider> = catalog
        .providers()
        .into_iter()
        .filter(|provider| provider.saml().is_some())
        .filter(|provider| matches_search(provider, query.search.as_deref()))
        .collect();
    order(&mut providers, &query);
    let body = paginate_in_memory(&params, providers, |provider| {
        render_saml(&catalog, &base, provider)
    });
    Ok(HttpResponse::Ok().json(body))
}

#[get("/api/v3/providers/saml/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<i64>,
    http: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let provider = find_saml(&catalog, *id)?;
    Ok(HttpResponse::Ok().json(render_saml(&catalog, &base(&http), &provider)))
}

fn saved_body(state: &AppState, http: &HttpRequest, provider: &Provider) -> Value {
    let base = base(http);
    saved_with(state, provider, |catalog, provider| {
        render_saml(catalog, &base, provider)
    })
}

#[post("/api/v3/providers/saml/")]
pub async fn create(
    state: Data<AppState>,
    admin: ApiAdmin,
    body: Json<SamlInput>,
    http: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let mut provider = blank_saml();
    apply(
        &context(&state, &catalog),
        &mut provider,
        &body,
        Write::Create,
    )?;
    store_provider(&state, &admin, &mut provider, Write::Create, json!({})).await?;
    Ok(HttpResponse::Created().json(saved_body(&state, &http, &provider)))
}

async fn update(
    state: &AppState,
    admin: &ApiAdmin,
    http: &HttpRequest,
    id: i64,
    body: &SamlInput,
    write: Write,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let mut provider = find_saml(&catalog, id)?;
    apply(&context(state, &catalog), &mut provider, body, write)?;
    store_provider(state, admin, &mut provider, write, json!({})).await?;
    Ok(HttpResponse::Ok().json(saved_body(state, http, &provider)))
}

#[put("/api/v3/providers/saml/{id}/")]
pub async fn replace(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
    body: Json<SamlInput>,
    http: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, &http, *id, &body, Write::Replace).await
}

#[patch("/api/v3/providers/saml/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
    body: Json<SamlInput>,
    http: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    update(&state, &admin, &http, *id, &body, Write::Modify).await
}

#[delete("/api/v3/providers/saml/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let provider = find_saml(&state.catalog.load(), *id)?;
    super::delete_provider(&state, &admin, provider).await
}

#[derive(Debug, Default, Deserialize)]
pub struct MetadataQuery {
    download: Option<String>,
}

/// authentik answers `{"metadata": "<xml>", "download_url": ...}`, or the file itself
/// with `?download`.
#[get("/api/v3/providers/saml/{id}/metadata/")]
pub async fn metadata(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<i64>,
    query: Query<MetadataQuery>,
    http: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.load();
    let provider = find_saml(&catalog, *id)?;
    let slug = catalog
        .application_of_provider(provider.id)
        .map(|app| app.slug.clone())
        .ok_or_else(|| {
            ApiError::BadRequest("The provider is not assigned to an application.".into())
        })?;
    let base = base(&http);
    let xml =
        super::super::super::saml::metadata_xml(&state, &base, &slug).ok_or(ApiError::NotFound)?;
    if query.download.is_some() {
        return Ok(super::super::super::saml::xml_response(&http, &slug, xml));
    }
    Ok(HttpResponse::Ok().json(json!({
        "metadata": xml,
        "download_url": format!("{base}/application/saml/{slug}/metadata/?download"),
    })))
}

/// `import_metadata/`: authentik's multipart form (`name`, `authorization_flow`,
/// `invalidation_flow`, `file`); a JSON object with the same fields (the file as text)
/// is accepted too.
#[post("/api/v3/providers/saml/import_metadata/")]
pub async fn import_metadata(
    state: Data<AppState>,
    admin: ApiAdmin,
    http: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let content_type = http
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let fields =
        super::multipart::form_fields(&content_type, &body).map_err(ApiError::BadRequest)?;
    let field = |name: &str| fields.get(name).cloned();
    let mut errors = FieldErrors::default();
    let file = field("file").unwrap_or_default();
    if file.trim().is_empty() {
        errors.add("file", "No file was submitted.");
    }
    let sp = match read_sp_metadata(file.as_bytes()) {
        Ok(sp) => Some(sp),
        Err(message) if !file.trim().is_empty() => {
            errors.add("file", message);
            None
        }
        Err(_) => None,
    };
    errors.finish()?;
    let Some(sp) = sp else {
        return Err(ApiError::BadRequest("No file was submitted.".into()));
    };
    let verification_kp = match &sp.signing_certificate_pem {
        Some(pem) => Some(store_certificate(&state, &sp.entity_id, pem, "signing").await?),
        None => None,
    };
    // An SP that publishes an encryption certificate gets its assertions encrypted.
    let encryption_kp = match &sp.encryption_certificate_pem {
        Some(pem) => Some(store_certificate(&state, &sp.entity_id, pem, "encryption").await?),
        None => None,
    };
    let input: SamlInput = serde_json::from_value(json!({
        "name": field("name"),
        "authorization_flow": field("authorization_flow"),
        "invalidation_flow": field("invalidation_flow"),
        "acs_url": sp.acs_url,
        "audience": sp.entity_id,
        "sp_binding": sp.acs_binding,
        "sls_url": sp.sls_url.as_ref().map(|(url, _)| url.clone()).unwrap_or_default(),
        "sls_binding": sp.sls_url.as_ref().map(|(_, binding)| *binding).unwrap_or_default(),
        "default_name_id_policy": sp.name_id_format.filter(|format| crate::model::saml::NAMEID_FORMATS.contains(&format.as_str())),
        "verification_kp": verification_kp.map(|id| id.to_string()),
        "encryption_kp": encryption_kp.map(|id| id.to_string()),
    }))
    .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let catalog = state.catalog.load();
    let mut provider = blank_saml();
    if let ProviderKind::Saml(saml) = &mut provider.kind {
        // A signing key for our side: gatehouse's default RSA certificate.
        saml.signing_kp = default_signing_keypair(&catalog);
    }
    apply(
        &context(&state, &catalog),
        &mut provider,
        &input,
        Write::Create,
    )?;
    store_provider(
        &state,
        &admin,
        &mut provider,
        Write::Create,
        json!({"imported_from": sp.entity_id}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn default_signing_keypair(catalog: &Catalog) -> Option<uuid::Uuid> {
    catalog
        .keypairs()
        .into_iter()
        .find(|pair| pair.managed.as_deref() == Some("goauthentik.io/crypto/self-signed"))
        .map(|pair| pair.id)
}

/// Keeps the SP's certificate as a certificate-only keypair, for verifying its
/// requests; an identical certificate already stored is reused.
async fn store_certificate(
    state: &AppState,
    entity_id: &str,
    pem: &str,
    usage: &str,
) -> Result<uuid::Uuid, ApiError> {
    let info = crate::crypto::keys::inspect_certificate(pem).map_err(|error| {
        ApiError::field("file", format!("The SP certificate is unusable: {error}"))
    })?;
    let catalog = state.catalog.load();
    if let Some(existing) = catalog
        .keypairs()
        .into_iter()
        .find(|pair| pair.certificate_pem.trim() == pem.trim())
    {
        return Ok(existing.id);
    }
    let now: Timestamp = state.clock.now();
    let pair = CertificateKeyPair {
        id: uuid::Uuid::new_v4(),
        name: format!("SAML {entity_id} {usage} ({})", now.to_rfc3339()),
        certificate_pem: pem.to_owned(),
        key_sealed: None,
        key_type: info.key_type,
        kid: info.kid,
        not_before: info.not_before,
        not_after: info.not_after,
        managed: None,
        created: now,
    };
    let id = pair.id;
    state.db.write(move |tx| tx.insert_keypair(&pair)).await?;
    state.configuration_changed().await?;
    Ok(id)
}
