//! Providers in authentik's shapes: the `Provider` summary (what `providers/all/` lists
//! and an application's `provider_obj` holds) and the full `OAuth2Provider`.

use serde_json::{Map, Value, json};

use crate::crypto::SecretBox;
use crate::model::{OAuth2Provider, Provider, ProviderKind};
use crate::store::Catalog;

/// authentik's `verbose_name` and `verbose_name_plural` of the kind.
fn verbose_names(provider: &Provider) -> (&'static str, &'static str) {
    match provider.kind {
        ProviderKind::OAuth2(_) => ("OAuth2/OpenID Provider", "OAuth2/OpenID Providers"),
        ProviderKind::Proxy(_) => ("Proxy Provider", "Proxy Providers"),
        ProviderKind::Ldap(_) => ("LDAP Provider", "LDAP Providers"),
        ProviderKind::Saml(_) => ("SAML Provider", "SAML Providers"),
    }
}

/// The mappings the provider names that still exist (a deleted mapping drops out, as a
/// many-to-many row does in authentik).
fn property_mappings(catalog: &Catalog, provider: &Provider) -> Vec<uuid::Uuid> {
    let listed = match (provider.oauth2(), provider.saml()) {
        (Some(oauth), _) => oauth.property_mappings.as_slice(),
        (None, Some(saml)) => saml.property_mappings.as_slice(),
        (None, None) => &[],
    };
    listed
        .iter()
        .copied()
        .filter(|id| catalog.property_mapping(*id).is_some())
        .collect()
}

/// authentik's `Provider`.
pub fn summary(catalog: &Catalog, provider: &Provider) -> Value {
    let (component, meta_model_name) = provider.component();
    let (verbose_name, verbose_name_plural) = verbose_names(provider);
    let application = catalog.application_of_provider(provider.id);
    json!({
        "pk": provider.id,
        "name": provider.name,
        // gatehouse sends unauthenticated visitors to the brand's authentication flow.
        "authentication_flow": null,
        "authorization_flow": provider.authorization_flow,
        "invalidation_flow": provider.invalidation_flow,
        "property_mappings": property_mappings(catalog, provider),
        "component": component,
        "assigned_application_slug": application.map(|app| app.slug.as_str()),
        "assigned_application_name": application.map(|app| app.name.as_str()),
        "assigned_backchannel_application_slug": null,
        "assigned_backchannel_application_name": null,
        "verbose_name": verbose_name,
        "verbose_name_plural": verbose_name_plural,
        "meta_model_name": meta_model_name,
    })
}

/// The client secret in clear: admins see it, as in authentik. A secret that no longer
/// opens (the installation's secret key changed) shows as empty, with the cause logged,
/// so one damaged provider does not take the whole list down; a new secret fixes it.
pub(super) fn client_secret(
    secret_box: &SecretBox,
    provider: &Provider,
    oauth: &OAuth2Provider,
) -> String {
    if oauth.client_secret_sealed.is_empty() {
        return String::new();
    }
    secret_box
        .open(&oauth.client_secret_sealed)
        .unwrap_or_else(|| {
            tracing::warn!(provider = %provider.id, "client secret cannot be unsealed (secret key changed?)");
            String::new()
        })
}

/// authentik's `OAuth2Provider`: the summary plus the protocol settings.
pub fn oauth2(
    catalog: &Catalog,
    secret_box: &SecretBox,
    provider: &Provider,
    oauth: &OAuth2Provider,
) -> Value {
    let mut body = match summary(catalog, provider) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let redirect_uris: Vec<Value> = oauth
        .redirect_uris
        .iter()
        .map(|uri| json!({"matching_mode": uri.matching_mode, "url": uri.url}))
        .collect();
    let settings = json!({
        "client_type": oauth.client_type,
        "client_id": oauth.client_id,
        "client_secret": client_secret(secret_box, provider, oauth),
        "access_code_validity": oauth.access_code_validity,
        "access_token_validity": oauth.access_token_validity,
        "refresh_token_validity": oauth.refresh_token_validity,
        // Every refresh rotates the refresh token (a new one in the same family).
        "refresh_token_threshold": "seconds=0",
        "include_claims_in_id_token": oauth.include_claims_in_id_token,
        "signing_key": oauth.signing_key,
        "encryption_key": null,
        "redirect_uris": redirect_uris,
        "logout_uri": "",
        "logout_method": "backchannel",
        "sub_mode": oauth.sub_mode,
        "issuer_mode": oauth.issuer_mode,
        "jwt_federation_sources": [],
        "jwt_federation_providers": [],
    });
    if let Value::Object(settings) = settings {
        body.extend(settings);
    }
    Value::Object(body)
}
