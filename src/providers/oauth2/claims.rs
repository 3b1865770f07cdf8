//! What an application learns about a user: the subject identifier (per `sub_mode`) and
//! the claims of the granted scopes. The standard scopes are computed here; scopes of
//! admin-written mappings run their expression with the user in scope.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::crypto::digest::hmac_sha256_hex;
use crate::model::{Group, OAuth2Provider, StandardScope, SubMode, User};
use crate::policy::{PolicyEngine, PolicyRequest};
use crate::store::Catalog;

/// A mapping script gets this long before its claims are skipped.
const MAPPING_DEADLINE: Duration = Duration::from_secs(1);

/// Claims a mapping can never set: the token's own.
const RESERVED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "azp",
    "at_hash",
    "c_hash",
    "acr",
    "amr",
    "sid",
    "scope",
    "client_id",
    "grant_id",
    "uid",
];

pub fn subject(provider: &OAuth2Provider, user: &User, subject_key: &[u8; 32]) -> String {
    let hashed = || hmac_sha256_hex(subject_key, user.uuid.as_bytes());
    match provider.sub_mode {
        SubMode::HashedUserId => hashed(),
        SubMode::UserId => user.id.0.to_string(),
        SubMode::UserUuid => user.uuid.to_string(),
        SubMode::UserUsername => user.username.as_str().to_owned(),
        SubMode::UserEmail if !user.email.is_empty() => user.email.clone(),
        SubMode::UserEmail => hashed(),
        SubMode::UserUpn => user
            .attributes
            .get("upn")
            .and_then(Value::as_str)
            .filter(|upn| !upn.is_empty())
            .map_or_else(hashed, str::to_owned),
    }
}

/// The scopes of `requested` the provider offers (through its mappings), in request
/// order without duplicates. Unknown scopes are dropped, as authentik does, rather than
/// failing the request.
pub fn granted_scopes(
    catalog: &Catalog,
    provider: &OAuth2Provider,
    requested: &str,
) -> Vec<String> {
    let offered: Vec<&str> = offered_scopes(catalog, provider);
    let mut granted: Vec<String> = Vec::new();
    for scope in requested.split_ascii_whitespace() {
        if offered.contains(&scope) && !granted.iter().any(|s| s == scope) {
            granted.push(scope.to_owned());
        }
    }
    granted
}

/// The scope names of the provider's mappings.
pub fn offered_scopes<'c>(catalog: &'c Catalog, provider: &OAuth2Provider) -> Vec<&'c str> {
    provider
        .property_mappings
        .iter()
        .filter_map(|id| catalog.property_mapping(*id))
        .filter_map(|mapping| mapping.scope())
        .map(|scope| scope.scope_name.as_str())
        .collect()
}

/// The user's claims for `scopes`. A mapping that fails is logged and skipped, so one
/// broken custom mapping does not lock everyone out of an application.
pub async fn user_claims(
    catalog: &Catalog,
    policies: &PolicyEngine,
    provider: &OAuth2Provider,
    scopes: &[String],
    user: &User,
    groups: &[Group],
) -> Map<String, Value> {
    let mut claims = Map::new();
    let mut custom_request: Option<Arc<PolicyRequest>> = None;
    for mapping in provider
        .property_mappings
        .iter()
        .filter_map(|id| catalog.property_mapping(*id))
    {
        let Some(scope) = mapping.scope() else {
            continue;
        };
        if !scopes.contains(&scope.scope_name) {
            continue;
        }
        if let Some(standard) = mapping.standard() {
            standard_claims(standard, user, groups, &mut claims);
            continue;
        }
        let request = custom_request
            .get_or_insert_with(|| {
                Arc::new(PolicyRequest {
                    user: Some(user.clone()),
                    groups: groups.to_vec(),
                    client_ip: None,
                    http_headers: Default::default(),
                    context: Map::new(),
                })
            })
            .clone();
        match policies
            .expressions()
            .evaluate_claims(
                &scope.expression,
                request,
                Instant::now() + MAPPING_DEADLINE,
            )
            .await
        {
            Ok(extra) => {
                for (name, value) in extra {
                    if !RESERVED.contains(&name.as_str()) {
                        claims.insert(name, value);
                    }
                }
            }
            Err(error) => {
                tracing::warn!(mapping = %mapping.name, %error, "scope mapping failed; its claims are left out");
            }
        }
    }
    claims
}

fn standard_claims(
    scope: StandardScope,
    user: &User,
    groups: &[Group],
    claims: &mut Map<String, Value>,
) {
    match scope {
        StandardScope::OpenId | StandardScope::OfflineAccess => {}
        StandardScope::Email => {
            claims.insert("email".into(), json!(user.email));
            // authentik reports addresses as verified: an admin or an enrollment flow
            // with an email stage put them there.
            claims.insert("email_verified".into(), json!(!user.email.is_empty()));
        }
        StandardScope::Profile => {
            let name = if user.name.is_empty() {
                user.username.as_str()
            } else {
                user.name.as_str()
            };
            let group_names: Vec<&str> = groups.iter().map(|group| group.name.as_str()).collect();
            claims.insert("name".into(), json!(name));
            claims.insert("given_name".into(), json!(name));
            claims.insert("preferred_username".into(), json!(user.username.as_str()));
            claims.insert("nickname".into(), json!(user.username.as_str()));
            claims.insert("groups".into(), json!(group_names));
        }
    }
}
