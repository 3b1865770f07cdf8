//! What an admin writes to an OAuth2 provider (authentik's `OAuth2ProviderRequest`) and
//! how it lands on the stored provider: every field checked, all errors reported at once.
//! Fields gatehouse does not implement are refused when set rather than dropped, so a
//! setting an admin relies on never silently does nothing.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::crypto::SecretBox;
use crate::crypto::random::random_alphanumeric;
use crate::model::stage::parse_timedelta;
use crate::model::{
    ClientType, FlowDesignation, OAuth2Provider, Provider, ProviderId, ProviderKind, RedirectUri,
    Timestamp,
};
use crate::store::Catalog;

use super::super::super::error::ApiError;
use super::super::field_errors::FieldErrors;
use super::super::nullable::present;
use super::checks;

const CLIENT_ID_LENGTH: usize = 40;
const CLIENT_SECRET_LENGTH: usize = 128;
/// authentik's column width for the client id and secret.
const MAX_CREDENTIAL_LENGTH: usize = 255;
/// authentik's flow for ending a session from a provider, the default when none is given.
const DEFAULT_INVALIDATION_FLOW: &str = "default-provider-invalidation-flow";

pub const NAME_TAKEN: &str = "Provider with this name already exists.";
pub const CLIENT_ID_TAKEN: &str = "OAuth2/OpenID Provider with this client id already exists.";

#[derive(Debug, Deserialize)]
pub struct RedirectUriInput {
    #[serde(default)]
    matching_mode: Option<String>,
    url: String,
}

/// Writable fields. Unknown fields (read-only ones a client echoes back) are ignored, as
/// Django REST framework does.
#[derive(Debug, Default, Deserialize)]
pub struct ProviderInput {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    authentication_flow: Option<Option<String>>,
    authorization_flow: Option<String>,
    #[serde(default, deserialize_with = "present")]
    invalidation_flow: Option<Option<String>>,
    pub(super) property_mappings: Option<Vec<String>>,
    client_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    access_code_validity: Option<String>,
    access_token_validity: Option<String>,
    refresh_token_validity: Option<String>,
    refresh_token_threshold: Option<String>,
    include_claims_in_id_token: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    signing_key: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    encryption_key: Option<Option<String>>,
    redirect_uris: Option<Vec<RedirectUriInput>>,
    logout_uri: Option<String>,
    logout_method: Option<String>,
    sub_mode: Option<String>,
    issuer_mode: Option<String>,
    jwt_federation_sources: Option<Vec<Value>>,
    jwt_federation_providers: Option<Vec<Value>>,
}

/// Which write this is: a create and a full update (PUT) need the required fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Create,
    Replace,
    Modify,
}

pub struct Context<'a> {
    pub catalog: &'a Catalog,
    pub secret_box: &'a SecretBox,
    pub now: Timestamp,
}

/// What the audit event should tell beyond "updated".
#[derive(Debug, Default, Clone, Copy)]
pub struct Changes {
    pub secret_changed: bool,
    pub signing_key_changed: bool,
}

/// A provider with nothing set, for `apply` to fill on create.
pub fn blank_oauth2() -> Provider {
    Provider {
        id: ProviderId(0),
        name: String::new(),
        authorization_flow: crate::model::FlowId(uuid::Uuid::nil()),
        invalidation_flow: None,
        kind: ProviderKind::OAuth2(OAuth2Provider::new(String::new(), String::new())),
    }
}

pub fn apply(
    ctx: &Context<'_>,
    provider: &mut Provider,
    input: &ProviderInput,
    write: Write,
) -> Result<Changes, ApiError> {
    let mut errors = FieldErrors::default();
    let changes = apply_collecting(ctx, &mut errors, provider, input, write);
    errors.finish()?;
    Ok(changes)
}

/// `apply`, adding errors to `errors` for the caller to report with its own.
pub fn apply_collecting(
    ctx: &Context<'_>,
    errors: &mut FieldErrors,
    provider: &mut Provider,
    input: &ProviderInput,
    write: Write,
) -> Changes {
    let full = write != Write::Modify;
    let errors = &mut *errors;
    apply_name(ctx, errors, provider, input, full);
    apply_flows(ctx, errors, provider, input, write);
    refuse_unsupported(errors, input);
    let id = provider.id;
    let oauth = match &mut provider.kind {
        ProviderKind::OAuth2(oauth) => oauth,
        ProviderKind::Proxy(proxy) => &mut proxy.oauth,
        // Kinds without an OAuth client have only the common fields.
        ProviderKind::Ldap(_) | ProviderKind::Saml(_) => return Changes::default(),
    };
    let secret_changed = apply_client(ctx, errors, id, oauth, input, write);
    let signing_key_changed = apply_tokens(ctx, errors, oauth, input);
    if let Some(pks) = &input.property_mappings {
        if let Some(ids) = errors.check(
            "property_mappings",
            checks::scope_mappings(ctx.catalog, pks),
        ) {
            oauth.property_mappings = ids;
        }
    }
    if let Some(uris) = &input.redirect_uris {
        apply_redirect_uris(errors, oauth, uris);
    }
    Changes {
        secret_changed,
        signing_key_changed,
    }
}

fn apply_name(
    ctx: &Context<'_>,
    errors: &mut FieldErrors,
    provider: &mut Provider,
    input: &ProviderInput,
    full: bool,
) {
    match input.name.as_deref().map(str::trim) {
        None if full => errors.add("name", "This field is required."),
        None => {}
        Some("") => errors.add("name", "This field may not be blank."),
        Some(name) => {
            let taken = ctx
                .catalog
                .providers()
                .into_iter()
                .any(|other| other.name == name && other.id != provider.id);
            if taken {
                errors.add("name", NAME_TAKEN);
            }
            provider.name = name.to_owned();
        }
    }
}

fn apply_flows(
    ctx: &Context<'_>,
    errors: &mut FieldErrors,
    provider: &mut Provider,
    input: &ProviderInput,
    write: Write,
) {
    match &input.authorization_flow {
        None if write != Write::Modify => {
            errors.add("authorization_flow", "This field is required.");
        }
        None => {}
        Some(pk) => {
            // An LDAP provider's "authorization flow" is its bind flow: an
            // authentication flow, run headless (authentik's naming).
            let designation = match provider.kind {
                ProviderKind::Ldap(_) => FlowDesignation::Authentication,
                _ => FlowDesignation::Authorization,
            };
            let flow = checks::flow(ctx.catalog, pk, designation);
            if let Some(id) = errors.check("authorization_flow", flow) {
                provider.authorization_flow = id;
            }
        }
    }
    match &input.invalidation_flow {
        // authentik requires one; gatehouse picks its default rather than refuse.
        None if write == Write::Create => {
            provider.invalidation_flow = ctx
                .catalog
                .flow(DEFAULT_INVALIDATION_FLOW)
                .or_else(|| ctx.catalog.default_flow(FlowDesignation::Invalidation))
                .map(|flow| flow.id);
        }
        None => {}
        Some(None) => provider.invalidation_flow = None,
        Some(Some(pk)) => {
            let flow = checks::flow(ctx.catalog, pk, FlowDesignation::Invalidation);
            if let Some(id) = errors.check("invalidation_flow", flow) {
                provider.invalidation_flow = Some(id);
            }
        }
    }
}

/// authentik settings gatehouse does not have; each may be sent empty.
fn refuse_unsupported(errors: &mut FieldErrors, input: &ProviderInput) {
    if matches!(input.authentication_flow, Some(Some(_))) {
        errors.add(
            "authentication_flow",
            "Not supported: visitors who are not signed in run the brand's authentication flow.",
        );
    }
    if matches!(input.encryption_key, Some(Some(_))) {
        errors.add(
            "encryption_key",
            "Not supported: gatehouse signs tokens but does not encrypt them (JWE).",
        );
    }
    if input
        .logout_uri
        .as_deref()
        .is_some_and(|uri| !uri.trim().is_empty())
    {
        errors.add(
            "logout_uri",
            "Not supported yet: back- and front-channel logout notifications are not sent.",
        );
    }
    if let Some(method) = &input.logout_method {
        if method != "backchannel" && method != "frontchannel" {
            errors.add(
                "logout_method",
                format!("\"{method}\" is not a valid choice."),
            );
        }
    }
    if input
        .jwt_federation_sources
        .as_ref()
        .is_some_and(|list| !list.is_empty())
    {
        errors.add("jwt_federation_sources", "Not supported: JWT federation.");
    }
    if input
        .jwt_federation_providers
        .as_ref()
        .is_some_and(|list| !list.is_empty())
    {
        errors.add("jwt_federation_providers", "Not supported: JWT federation.");
    }
}

/// One of an enum's serde names (the API's choices), or DRF's error.
pub(super) fn choice<T: DeserializeOwned>(
    errors: &mut FieldErrors,
    field: &str,
    text: &str,
) -> Option<T> {
    let parsed = serde_json::from_value(Value::String(text.to_owned()))
        .map_err(|_| format!("\"{text}\" is not a valid choice."));
    errors.check(field, parsed)
}

/// Client type, id and secret; returns whether the secret changed.
fn apply_client(
    ctx: &Context<'_>,
    errors: &mut FieldErrors,
    id: ProviderId,
    oauth: &mut OAuth2Provider,
    input: &ProviderInput,
    write: Write,
) -> bool {
    if let Some(text) = &input.client_type {
        if let Some(client_type) = choice(errors, "client_type", text) {
            oauth.client_type = client_type;
        }
    }
    match input.client_id.as_deref().map(str::trim) {
        None if write == Write::Create => oauth.client_id = random_alphanumeric(CLIENT_ID_LENGTH),
        None => {}
        Some("") => errors.add("client_id", "This field may not be blank."),
        Some(client_id) if client_id.len() > MAX_CREDENTIAL_LENGTH => {
            errors.add(
                "client_id",
                "Ensure this field has no more than 255 characters.",
            );
        }
        Some(client_id) => {
            if ctx
                .catalog
                .provider_by_client_id(client_id)
                .is_some_and(|other| other.id != id)
            {
                errors.add("client_id", CLIENT_ID_TAKEN);
            }
            oauth.client_id = client_id.to_owned();
        }
    }
    apply_secret(ctx, errors, oauth, input.client_secret.as_deref(), write)
}

/// The secret after the client type is known; returns whether it changed.
fn apply_secret(
    ctx: &Context<'_>,
    errors: &mut FieldErrors,
    oauth: &mut OAuth2Provider,
    secret: Option<&str>,
    write: Write,
) -> bool {
    let before = ctx.secret_box.open(&oauth.client_secret_sealed);
    match (oauth.client_type, secret) {
        // A public client cannot keep a secret (RFC 6749 §2.1): none is stored.
        (ClientType::Public, Some(secret)) if !secret.is_empty() => errors.add(
            "client_secret",
            "A public client has no secret; leave it empty or make the client confidential.",
        ),
        (ClientType::Public, _) => oauth.client_secret_sealed = String::new(),
        (ClientType::Confidential, Some("")) => errors.add(
            "client_secret",
            "A confidential client needs a secret; leave the field out to have one generated.",
        ),
        (ClientType::Confidential, Some(secret)) if secret.len() > MAX_CREDENTIAL_LENGTH => {
            errors.add(
                "client_secret",
                "Ensure this field has no more than 255 characters.",
            );
        }
        (ClientType::Confidential, Some(secret)) => {
            oauth.client_secret_sealed = ctx.secret_box.seal(secret);
        }
        (ClientType::Confidential, None) if oauth.client_secret_sealed.is_empty() => {
            oauth.client_secret_sealed = ctx
                .secret_box
                .seal(&random_alphanumeric(CLIENT_SECRET_LENGTH));
        }
        (ClientType::Confidential, None) => {}
    }
    let after = ctx.secret_box.open(&oauth.client_secret_sealed);
    write != Write::Create && before != after
}

/// Lifetimes, claims, subject and issuer modes and the signing key; returns whether the
/// signing key changed.
fn apply_tokens(
    ctx: &Context<'_>,
    errors: &mut FieldErrors,
    oauth: &mut OAuth2Provider,
    input: &ProviderInput,
) -> bool {
    let keep_for = apply_lifetimes(errors, oauth, input);
    if let Some(include) = input.include_claims_in_id_token {
        oauth.include_claims_in_id_token = include;
    }
    if let Some(text) = &input.sub_mode {
        if let Some(mode) = choice(errors, "sub_mode", text) {
            oauth.sub_mode = mode;
        }
    }
    if let Some(text) = &input.issuer_mode {
        if let Some(mode) = choice(errors, "issuer_mode", text) {
            oauth.issuer_mode = mode;
        }
    }
    let key = match &input.signing_key {
        None => oauth.signing_key,
        Some(None) => None,
        Some(Some(pk)) => errors
            .check("signing_key", checks::signing_key(ctx.catalog, pk))
            .or(oauth.signing_key),
    };
    let changed = key != oauth.signing_key;
    oauth.replace_signing_key(key, ctx.now, keep_for);
    changed
}

/// The three lifetimes and the refresh threshold; returns how long a replaced signing
/// key must stay published: the longer of the access-token lifetimes before and after
/// (tokens already out were issued with the old one).
fn apply_lifetimes(
    errors: &mut FieldErrors,
    oauth: &mut OAuth2Provider,
    input: &ProviderInput,
) -> u64 {
    let old_access = oauth.lifetimes().map(|lifetimes| lifetimes.access).ok();
    let lifetimes = [
        (&input.access_code_validity, &mut oauth.access_code_validity),
        (
            &input.access_token_validity,
            &mut oauth.access_token_validity,
        ),
        (
            &input.refresh_token_validity,
            &mut oauth.refresh_token_validity,
        ),
    ];
    for (value, slot) in lifetimes {
        if let Some(value) = value {
            value.trim().clone_into(slot);
        }
    }
    let new_access = oauth
        .lifetimes()
        .map_err(|(field, message)| errors.add(field, message))
        .ok()
        .map(|lifetimes| lifetimes.access);
    if let Some(threshold) = &input.refresh_token_threshold {
        let checked = match parse_timedelta(threshold) {
            Ok(0) => Ok(()),
            Ok(_) => Err(
                "gatehouse renews the refresh token on every refresh; only seconds=0 is supported."
                    .to_owned(),
            ),
            Err(message) => Err(message),
        };
        errors.check("refresh_token_threshold", checked);
    }
    old_access.max(new_access).unwrap_or_default()
}

fn apply_redirect_uris(
    errors: &mut FieldErrors,
    oauth: &mut OAuth2Provider,
    uris: &[RedirectUriInput],
) {
    let mut parsed = Vec::with_capacity(uris.len());
    for uri in uris {
        let mode = uri.matching_mode.as_deref().unwrap_or("strict");
        let Some(matching_mode) = choice(errors, "redirect_uris", mode) else {
            continue;
        };
        let uri = RedirectUri {
            matching_mode,
            url: uri.url.trim().to_owned(),
        };
        if errors
            .check("redirect_uris", checks::redirect_uri(&uri))
            .is_some()
        {
            parsed.push(uri);
        }
    }
    oauth.redirect_uris = parsed;
}
