//! OpenID Provider metadata (OIDC Discovery 1.0, RFC 8414) and the JWKS, per application.
//! Everything listed here is served: the integration tests compare the two.

use serde_json::{Value, json};

use super::{OAuthServices, issuer, jwt};
use crate::model::OAuth2Provider;

/// The provider behind an application slug.
pub fn provider_of_app<'c>(
    catalog: &'c crate::store::Catalog,
    app_slug: &str,
) -> Option<&'c OAuth2Provider> {
    let app = catalog.application(app_slug)?;
    catalog.provider(app.provider?)?.oauth2()
}

pub fn configuration(services: &OAuthServices, app_slug: &str, base: &str) -> Option<Value> {
    let catalog = services.catalog.load();
    let oauth = provider_of_app(&catalog, app_slug)?;
    let key = jwt::signing_key(&catalog, &services.secret_box, oauth).ok()?;
    let scopes = super::claims::offered_scopes(&catalog, oauth);
    let o = format!("{base}/application/o");
    Some(json!({
        "issuer": issuer(base, oauth, app_slug),
        "authorization_endpoint": format!("{o}/authorize/"),
        "token_endpoint": format!("{o}/token/"),
        "userinfo_endpoint": format!("{o}/userinfo/"),
        "end_session_endpoint": format!("{o}/{app_slug}/end-session/"),
        "introspection_endpoint": format!("{o}/introspect/"),
        "revocation_endpoint": format!("{o}/revoke/"),
        "device_authorization_endpoint": format!("{o}/device/"),
        "jwks_uri": format!("{o}/{app_slug}/jwks/"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [key.alg()],
        "token_endpoint_auth_methods_supported": token_auth_methods(oauth),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "at_hash",
            "email", "email_verified", "name", "given_name", "preferred_username",
            "nickname", "groups",
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    }))
}

/// A public client authenticates with its id alone (`none`); a confidential one with its
/// secret, either way.
fn token_auth_methods(oauth: &OAuth2Provider) -> Vec<&'static str> {
    match oauth.client_type {
        crate::model::ClientType::Public => vec!["none"],
        crate::model::ClientType::Confidential => vec!["client_secret_basic", "client_secret_post"],
    }
}

pub fn jwks(services: &OAuthServices, app_slug: &str) -> Option<Value> {
    let catalog = services.catalog.load();
    let oauth = provider_of_app(&catalog, app_slug)?;
    let keys = jwt::provider_jwks(&catalog, &services.secret_box, oauth, services.clock.now());
    Some(json!({ "keys": keys }))
}
