//! Who is calling: client authentication at the token, introspection, revocation and
//! device endpoints (`client_secret_basic`, `client_secret_post`, or a public client's
//! bare id), and redirect URI matching at the authorization endpoint.

use std::sync::Arc;

use crate::crypto::SecretBox;
use crate::crypto::digest::constant_time_eq;
use crate::model::{Application, ClientType, MatchingMode, OAuth2Provider, Provider};
use crate::store::Catalog;

use super::OAuthError;

/// Credentials as the transport found them (the Basic header's, or the form's).
#[derive(Debug, Clone, Default)]
pub struct PresentedClient {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// An authenticated client: its provider and the application it serves, held with the
/// catalog snapshot they came from.
#[derive(Clone)]
pub struct Client {
    pub catalog: Arc<Catalog>,
    pub provider: Provider,
    pub application: Application,
}

impl Client {
    pub fn oauth(&self) -> &OAuth2Provider {
        // `find` and `authenticate` make clients only of providers with an OAuth side;
        // the empty client (no secret, no redirect URIs) stands for the impossible rest.
        static NO_CLIENT: std::sync::LazyLock<OAuth2Provider> =
            std::sync::LazyLock::new(|| OAuth2Provider::new(String::new(), String::new()));
        self.provider.oauth2().unwrap_or(&NO_CLIENT)
    }
}

/// Finds the client by id (no secret check): for the authorization endpoint, where the
/// client is identified but not authenticated.
pub fn find(catalog: &Arc<Catalog>, client_id: &str) -> Option<Client> {
    let provider = catalog.provider_by_client_id(client_id)?;
    provider.oauth2()?;
    let application = catalog.application_of_provider(provider.id)?;
    Some(Client {
        catalog: Arc::clone(catalog),
        provider: provider.clone(),
        application: application.clone(),
    })
}

/// Authenticates the caller. Confidential clients must present their secret (compared
/// in constant time); public clients present only their id. Every failure is the same
/// `invalid_client`, so the answer does not tell which part was wrong.
pub fn authenticate(
    catalog: &Arc<Catalog>,
    secret_box: &SecretBox,
    presented: &PresentedClient,
) -> Result<Client, OAuthError> {
    let client_id = presented
        .client_id
        .as_deref()
        .ok_or_else(OAuthError::invalid_client)?;
    let client = find(catalog, client_id).ok_or_else(OAuthError::invalid_client)?;
    let oauth = client.oauth();
    match oauth.client_type {
        ClientType::Public => Ok(client),
        ClientType::Confidential => {
            let presented_secret = presented
                .client_secret
                .as_deref()
                .ok_or_else(OAuthError::invalid_client)?;
            let expected = secret_box
                .open(&oauth.client_secret_sealed)
                .filter(|secret| !secret.is_empty())
                .ok_or_else(OAuthError::invalid_client)?;
            if constant_time_eq(presented_secret.as_bytes(), expected.as_bytes()) {
                Ok(client)
            } else {
                Err(OAuthError::invalid_client())
            }
        }
    }
}

/// Whether `candidate` is one of the provider's registered redirect URIs: byte equality
/// for `strict` entries, a whole-string match for `regex` ones. An unparsable regex
/// matches nothing.
pub fn redirect_uri_allowed(provider: &OAuth2Provider, candidate: &str) -> bool {
    provider
        .redirect_uris
        .iter()
        .any(|registered| match registered.matching_mode {
            MatchingMode::Strict => registered.url == candidate,
            MatchingMode::Regex => regex::Regex::new(&format!("^(?:{})$", registered.url))
                .is_ok_and(|pattern| pattern.is_match(candidate)),
        })
}

/// The redirect URI to use when the request names none: only when exactly one strict
/// URI is registered (RFC 6749 §3.1.2.3); OpenID Connect requests always name one.
pub fn sole_redirect_uri(provider: &OAuth2Provider) -> Option<&str> {
    match provider.redirect_uris.as_slice() {
        [only] if only.matching_mode == MatchingMode::Strict => Some(only.url.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RedirectUri;

    fn provider(uris: Vec<RedirectUri>) -> OAuth2Provider {
        let mut provider = OAuth2Provider::new("id".into(), String::new());
        provider.redirect_uris = uris;
        provider
    }

    #[test]
    fn strict_uris_match_exactly_and_regexes_match_whole() {
        let provider = provider(vec![
            RedirectUri {
                matching_mode: MatchingMode::Strict,
                url: "https://app.example/cb".into(),
            },
            RedirectUri {
                matching_mode: MatchingMode::Regex,
                url: r"https://[a-z]+\.lab\.example/cb".into(),
            },
        ]);
        assert!(redirect_uri_allowed(&provider, "https://app.example/cb"));
        assert!(!redirect_uri_allowed(&provider, "https://app.example/cb/"));
        assert!(!redirect_uri_allowed(
            &provider,
            "https://app.example/cb?x=1"
        ));
        assert!(redirect_uri_allowed(
            &provider,
            "https://grafana.lab.example/cb"
        ));
        assert!(!redirect_uri_allowed(
            &provider,
            "https://evil.example/?https://grafana.lab.example/cb"
        ));
        assert!(!redirect_uri_allowed(
            &provider,
            "https://grafana.lab.example/cb.evil.example"
        ));
        assert_eq!(sole_redirect_uri(&provider), None);
    }
}
