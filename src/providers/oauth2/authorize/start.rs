//! Step one: check the request in the order RFC 6749 asks and park it.

use crate::crypto::random_token;
use crate::model::{ClientType, Timestamp};

use super::super::client::{self, redirect_uri_allowed, sole_redirect_uri};
use super::super::{OAuthError, OAuthServices, claims, ns};
use super::{
    AuthorizeParams, Browser, Outcome, PENDING_TTL_SECS, PendingAuthorization, error_redirect,
};

/// Step one: check the request and park it. Returns the pending id.
pub fn start(
    services: &OAuthServices,
    params: &AuthorizeParams,
    browser: &Browser,
) -> Result<String, Outcome> {
    let catalog = services.catalog.load();
    let client_id = params
        .client_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Outcome::Invalid("The request has no client_id.".into()))?;
    let client = client::find(&catalog, client_id).ok_or_else(|| {
        Outcome::Invalid(
            "The client is unknown, or its provider is not assigned to an application.".into(),
        )
    })?;
    let oauth = client.oauth();
    let redirect_uri = match params.redirect_uri.as_deref().filter(|uri| !uri.is_empty()) {
        Some(uri) if redirect_uri_allowed(oauth, uri) => uri.to_owned(),
        Some(_) => {
            return Err(Outcome::Invalid(
                "The redirect URI is not registered for this client.".into(),
            ));
        }
        None => sole_redirect_uri(oauth)
            .map(str::to_owned)
            .ok_or_else(|| Outcome::Invalid("The request has no redirect_uri.".into()))?,
    };
    let issuer = super::super::issuer(&browser.base_url, oauth, &client.application.slug);
    let state = params.state.clone().filter(|s| !s.is_empty());
    let to_client = |error: OAuthError| {
        Outcome::Redirect(error_redirect(
            &redirect_uri,
            &error,
            state.as_deref(),
            &issuer,
        ))
    };
    if params.request.is_some() {
        return Err(to_client(OAuthError::new(
            "request_not_supported",
            "Request objects are not supported.",
        )));
    }
    if params.request_uri.is_some() {
        return Err(to_client(OAuthError::new(
            "request_uri_not_supported",
            "Request URIs are not supported.",
        )));
    }
    if params.response_type.as_deref() != Some("code") {
        return Err(to_client(OAuthError::new(
            "unsupported_response_type",
            "Only the code response type is supported.",
        )));
    }
    if params
        .response_mode
        .as_deref()
        .is_some_and(|mode| mode != "query")
    {
        return Err(to_client(OAuthError::invalid_request(
            "Only the query response mode is supported.",
        )));
    }
    let code_challenge = params.code_challenge.clone().filter(|c| !c.is_empty());
    match (&code_challenge, params.code_challenge_method.as_deref()) {
        (Some(challenge), Some("S256")) if challenge.len() == 43 => {}
        (Some(_), Some("S256")) => {
            return Err(to_client(OAuthError::invalid_request(
                "The code_challenge is not a SHA-256 value.",
            )));
        }
        (Some(_), _) => {
            return Err(to_client(OAuthError::invalid_request(
                "Only the S256 code_challenge_method is supported.",
            )));
        }
        (None, _) if oauth.client_type == ClientType::Public => {
            return Err(to_client(OAuthError::invalid_request(
                "Public clients must use PKCE (code_challenge with S256).",
            )));
        }
        (None, _) => {}
    }
    let prompts: Vec<&str> = params
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .collect();
    if prompts
        .iter()
        .any(|p| !matches!(*p, "none" | "login" | "consent" | "select_account"))
    {
        return Err(to_client(OAuthError::invalid_request(
            "Unknown prompt value.",
        )));
    }
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return Err(to_client(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values.",
        )));
    }
    let now = services.clock.now();
    let max_age = match params.max_age.as_deref().filter(|m| !m.is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<u64>().map_err(|_| {
            to_client(OAuthError::invalid_request(
                "max_age must be a number of seconds.",
            ))
        })?),
    };
    let auth_after = if prompts.contains(&"login") {
        Some(now)
    } else {
        max_age.map(|secs| {
            Timestamp(
                now.0
                    .saturating_sub(i64::try_from(secs).unwrap_or(i64::MAX)),
            )
        })
    };
    let pending = PendingAuthorization {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.clone(),
        scopes: claims::granted_scopes(
            &catalog,
            oauth,
            params.scope.as_deref().unwrap_or_default(),
        ),
        state: state.clone(),
        nonce: params.nonce.clone().filter(|n| !n.is_empty()),
        code_challenge,
        prompt_none,
        prompt_consent: prompts.contains(&"consent"),
        auth_after,
        login_hint: params.login_hint.clone(),
        browser_key: browser.browser_key.clone(),
    };
    let id = random_token(24);
    services
        .ephemeral
        .put(ns::PENDING, &id, &pending, PENDING_TTL_SECS)
        .map_err(|_| to_client(OAuthError::server_error()))?;
    Ok(id)
}
