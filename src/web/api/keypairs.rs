//! `crypto/certificatekeypairs/`: certificates and their private keys, in authentik's
//! shape. Private keys never leave except through `view_private_key/`, which is audited
//! as a secret view.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::crypto::keys::{self, KeyError};
use crate::model::{CertificateKeyPair, EventAction, KeyType};

use super::super::error::ApiError;
use super::super::extract::ApiAdmin;
use super::super::state::AppState;
use super::pagination::{ListParams, paginate_in_memory};

const BASE: &str = "/api/v3/crypto/certificatekeypairs";

fn render(pair: &CertificateKeyPair) -> Value {
    // The stored certificate was checked on the way in; should it not read now, the
    // pair is still listed, with what the row itself knows.
    let info = keys::inspect_certificate(&pair.certificate_pem).ok();
    json!({
        "pk": pair.id,
        "name": pair.name,
        "fingerprint_sha256": info.as_ref().map(|i| i.fingerprint_sha256.clone()),
        "fingerprint_sha1": info.as_ref().map(|i| i.fingerprint_sha1.clone()),
        "cert_expiry": pair.not_after.to_rfc3339(),
        "cert_subject": info.as_ref().map(|i| i.subject.clone()),
        "private_key_available": pair.has_key(),
        "key_type": pair.key_type.as_str(),
        "certificate_download_url": format!("{BASE}/{}/view_certificate/?download", pair.id),
        "private_key_download_url": format!("{BASE}/{}/view_private_key/?download", pair.id),
        "managed": pair.managed,
        "kid": pair.kid,
    })
}

fn key_error(field: &str, error: &KeyError) -> ApiError {
    ApiError::field(field, error.to_string())
}

/// The list parameters spelled out rather than `#[serde(flatten)]`ed: flattening makes
/// serde_urlencoded hand numbers and booleans over as strings, which then fail to parse.
#[derive(Debug, Default, Deserialize)]
pub struct KeypairFilter {
    has_key: Option<bool>,
    name: Option<String>,
    page: Option<u64>,
    page_size: Option<u64>,
    search: Option<String>,
    ordering: Option<String>,
}

#[get("/api/v3/crypto/certificatekeypairs/")]
pub async fn list(
    state: Data<AppState>,
    _admin: ApiAdmin,
    params: Query<KeypairFilter>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let list = ListParams {
        page: params.page,
        page_size: params.page_size,
        search: params.search.clone(),
        ordering: params.ordering.clone(),
    };
    let catalog = state.catalog.load();
    let search = params.search.as_deref().map(str::to_lowercase);
    let pairs: Vec<&CertificateKeyPair> = catalog
        .keypairs()
        .into_iter()
        .filter(|pair| params.has_key.is_none_or(|wanted| pair.has_key() == wanted))
        .filter(|pair| params.name.as_ref().is_none_or(|name| &pair.name == name))
        .filter(|pair| {
            search
                .as_ref()
                .is_none_or(|text| pair.name.to_lowercase().contains(text))
        })
        .collect();
    Ok(HttpResponse::Ok().json(paginate_in_memory(&list, pairs, |pair| render(pair))))
}

fn find(state: &AppState, id: Uuid) -> Result<CertificateKeyPair, ApiError> {
    state
        .catalog
        .load()
        .keypair(id)
        .cloned()
        .ok_or(ApiError::NotFound)
}

#[get("/api/v3/crypto/certificatekeypairs/{id}/")]
pub async fn retrieve(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(render(&find(&state, *id)?)))
}

#[get("/api/v3/crypto/certificatekeypairs/{id}/view_certificate/")]
pub async fn view_certificate(
    state: Data<AppState>,
    _admin: ApiAdmin,
    id: Path<Uuid>,
    http: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pair = find(&state, *id)?;
    Ok(pem_response(
        &http,
        &pair,
        "certificate",
        Some(pair.certificate_pem.clone()),
    ))
}

/// `{"data": pem}`, or with `?download` the PEM itself as an attachment (what the
/// serializer's `*_download_url` fields point at, as in authentik).
fn pem_response(
    http: &HttpRequest,
    pair: &CertificateKeyPair,
    what: &str,
    pem: Option<String>,
) -> HttpResponse {
    let download = http
        .query_string()
        .split('&')
        .any(|part| part == "download" || part.starts_with("download="));
    match pem {
        Some(pem) if download => {
            let file: String = pair
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            HttpResponse::Ok()
                .content_type("application/x-pem-file")
                .insert_header((
                    "content-disposition",
                    format!("attachment; filename=\"{file}_{what}.pem\""),
                ))
                .body(pem)
        }
        pem => HttpResponse::Ok().json(json!({"data": pem})),
    }
}

#[get("/api/v3/crypto/certificatekeypairs/{id}/view_private_key/")]
pub async fn view_private_key(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
    http: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pair = find(&state, *id)?;
    let key = match pair.key_sealed.as_deref() {
        None => None,
        Some(sealed) => Some(state.secret_box.open(sealed).ok_or_else(|| {
            ApiError::Internal("private key cannot be unsealed (secret key changed?)".into())
        })?),
    };
    state
        .audit(
            &admin.0,
            EventAction::SecretView,
            json!({"certificate_key_pair": pair.name, "pk": pair.id}),
        )
        .await;
    Ok(pem_response(&http, &pair, "private_key", key))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateInput {
    common_name: String,
    #[serde(default)]
    subject_alt_name: Option<String>,
    #[serde(default)]
    validity_days: Option<u32>,
    #[serde(default)]
    alg: Option<String>,
}

async fn save(
    state: &AppState,
    admin: &ApiAdmin,
    pair: CertificateKeyPair,
) -> Result<HttpResponse, ApiError> {
    let saved = pair.clone();
    state.db.write(move |tx| tx.insert_keypair(&saved)).await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelCreated,
            json!({"model": "certificatekeypair", "name": pair.name, "pk": pair.id}),
        )
        .await;
    Ok(HttpResponse::Created().json(render(&pair)))
}

#[post("/api/v3/crypto/certificatekeypairs/generate/")]
pub async fn generate(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<GenerateInput>,
) -> Result<HttpResponse, ApiError> {
    let input = input.into_inner();
    let name = input.common_name.trim().to_owned();
    if name.is_empty() {
        return Err(ApiError::field(
            "common_name",
            "This field may not be blank.",
        ));
    }
    let key_type = match input.alg.as_deref() {
        None => KeyType::Rsa,
        Some(alg) => KeyType::parse(alg)
            .ok_or_else(|| ApiError::field("alg", format!("\"{alg}\" is not a valid choice.")))?,
    };
    let validity_days = input.validity_days.unwrap_or(365);
    if !(1..=36_500).contains(&validity_days) {
        return Err(ApiError::field(
            "validity_days",
            "Between 1 and 36500 days.",
        ));
    }
    let sans: Vec<String> = input
        .subject_alt_name
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    let now = state.clock.now();
    let secret_box = state.secret_box.clone();
    // RSA generation is CPU work of a noticeable length: keep it off the async threads.
    let pair = tokio::task::spawn_blocking(move || {
        let generated = keys::generate(key_type, &name, &sans, validity_days, now)?;
        keys::build_keypair(
            &name,
            &generated.certificate_pem,
            Some(&generated.private_key_pem),
            &secret_box,
            None,
            now,
        )
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| key_error("non_field_errors", &e))?;
    save(&state, &admin, pair).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportInput {
    name: String,
    certificate_data: String,
    #[serde(default)]
    key_data: Option<String>,
}

#[post("/api/v3/crypto/certificatekeypairs/")]
pub async fn import(
    state: Data<AppState>,
    admin: ApiAdmin,
    input: Json<ImportInput>,
) -> Result<HttpResponse, ApiError> {
    let input = input.into_inner();
    let name = input.name.trim();
    if name.is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    let key = input
        .key_data
        .as_deref()
        .filter(|key| !key.trim().is_empty());
    let pair = keys::build_keypair(
        name,
        &input.certificate_data,
        key,
        &state.secret_box,
        None,
        state.clock.now(),
    )
    .map_err(|error| match error {
        KeyError::Certificate(_) => key_error("certificate_data", &error),
        _ => key_error("key_data", &error),
    })?;
    save(&state, &admin, pair).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameInput {
    name: Option<String>,
}

#[patch("/api/v3/crypto/certificatekeypairs/{id}/")]
pub async fn modify(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
    input: Json<RenameInput>,
) -> Result<HttpResponse, ApiError> {
    let mut pair = find(&state, *id)?;
    if let Some(name) = input.into_inner().name {
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(ApiError::field("name", "This field may not be blank."));
        }
        let (id, new_name) = (pair.id, name.clone());
        state
            .db
            .write(move |tx| tx.update_keypair(id, &new_name))
            .await?;
        state.configuration_changed().await?;
        pair.name = name;
        state
            .audit(
                &admin.0,
                EventAction::ModelUpdated,
                json!({"model": "certificatekeypair", "name": pair.name, "pk": pair.id}),
            )
            .await;
    }
    Ok(HttpResponse::Ok().json(render(&pair)))
}

#[delete("/api/v3/crypto/certificatekeypairs/{id}/")]
pub async fn remove(
    state: Data<AppState>,
    admin: ApiAdmin,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.db.write(move |tx| tx.delete_keypair(id)).await?;
    state.configuration_changed().await?;
    state
        .audit(
            &admin.0,
            EventAction::ModelDeleted,
            json!({"model": "certificatekeypair", "pk": id}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}
