//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2). A request is checked in
//! the order the RFC asks: client and redirect URI first — errors there are shown on a
//! page, never sent to an unverified URI (§4.1.2.1) — then everything else, whose errors
//! go back to the client. A valid request is parked in the Kv as a pending authorization
//! bound to the browser; the browser signs in (the brand's authentication flow) and runs
//! the provider's authorization flow (consent) as needed, coming back to `resume` each
//! time, until a code can be issued.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::crypto::random_token;
use crate::directory::access;
use crate::flow::engine::{COMPLETION_MARKER, COMPLETION_NAMESPACE, FlowCompletion};
use crate::flow::execution::{NAMESPACE as EXECUTIONS, execution_key};
use crate::flow::{FlowRequest, FlowStep};
use crate::model::{ClientType, EventAction, Timestamp, User};
use crate::session::{ActiveSession, ClientInfo};

use super::client::{self, Client, redirect_uri_allowed, sole_redirect_uri};
use super::grants::amr;
use super::grants::authorization_code::{CodeGrant, issue_code};
use super::{OAuthError, OAuthServices, claims, ns};

/// A pending authorization waits this long for the user to sign in and consent.
const PENDING_TTL_SECS: u64 = 1800;

/// The query parameters, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// A checked request, parked while the browser signs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt_none: bool,
    pub prompt_consent: bool,
    /// The session must have started at or after this (`prompt=login`, `max_age`).
    pub auth_after: Option<Timestamp>,
    pub login_hint: Option<String>,
    /// The browser's flow key: only the browser that started the request may finish it.
    pub browser_key: String,
}

/// The browser as the transport sees it.
pub struct Browser {
    pub session: Option<ActiveSession>,
    pub browser_key: String,
    pub client: ClientInfo,
    /// `scheme://host`, for the issuer.
    pub base_url: String,
    /// The brand's authentication flow, where a browser without a session signs in.
    pub login_flow: String,
}

/// What the transport does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Send the browser there (the client with a code or an error, a sign-in or a flow).
    Redirect(String),
    /// The user may not use the application: a page, with a link that tells the client.
    Denied {
        message: String,
        back_to_client: Option<String>,
    },
    /// The request cannot be answered to the client (bad client or redirect URI).
    Invalid(String),
}

/// The path the browser comes back to while a pending authorization is in progress.
pub fn resume_path(id: &str) -> String {
    format!("/application/o/authorize/?pending={id}")
}

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
    let issuer = super::issuer(&browser.base_url, oauth, &client.application.slug);
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

/// Step two, run at once and every time the browser comes back: sign in, check access,
/// run the authorization flow, issue the code.
pub async fn resume(services: &OAuthServices, id: &str, browser: &Browser) -> Outcome {
    let expired = || {
        Outcome::Invalid(
            "This sign-in request has expired or was started in another browser. Go back to the application and try again."
                .into(),
        )
    };
    let Ok(Some(pending)) = services
        .ephemeral
        .get::<PendingAuthorization>(ns::PENDING, id)
    else {
        return expired();
    };
    if pending.browser_key != browser.browser_key {
        return expired();
    }
    let catalog = services.catalog.load();
    let Some(client) = client::find(&catalog, &pending.client_id) else {
        return Outcome::Invalid("The client no longer exists.".into());
    };
    let issuer = super::issuer(&browser.base_url, client.oauth(), &client.application.slug);
    let to_client = |error: OAuthError| {
        let _ = services.ephemeral.delete(ns::PENDING, id);
        Outcome::Redirect(error_redirect(
            &pending.redirect_uri,
            &error,
            pending.state.as_deref(),
            &issuer,
        ))
    };

    // 1. A session recent enough.
    let session = browser.session.as_ref().filter(|session| {
        pending
            .auth_after
            .is_none_or(|after| session.record.created >= after)
    });
    let Some(session) = session else {
        if pending.prompt_none {
            return to_client(OAuthError::new(
                "login_required",
                "The user is not signed in.",
            ));
        }
        let next = resume_path(id);
        let mut url = format!(
            "/if/flow/{}/?next={}",
            browser.login_flow,
            url_encode(&next)
        );
        if let Some(hint) = pending.login_hint.as_deref().filter(|h| !h.is_empty()) {
            url.push_str(&format!("&login_hint={}", url_encode(hint)));
        }
        return Outcome::Redirect(url);
    };
    let user_id = session.record.user;
    let user = match services.db.read(move |tx| tx.user_by_id(user_id)).await {
        Ok(Some(user)) if user.is_active => user,
        Ok(_) => {
            return to_client(OAuthError::new(
                "login_required",
                "The user is not signed in.",
            ));
        }
        Err(_) => return to_client(OAuthError::server_error()),
    };

    // 2. The application's policies.
    match may_use(services, &client, &user, browser.client.ip.as_deref()).await {
        Ok(true) => {}
        Ok(false) => {
            let back = error_redirect(
                &pending.redirect_uri,
                &OAuthError::access_denied(),
                pending.state.as_deref(),
                &issuer,
            );
            let _ = services.ephemeral.delete(ns::PENDING, id);
            if pending.prompt_none {
                return Outcome::Redirect(back);
            }
            return Outcome::Denied {
                message: format!("You do not have access to {}.", client.application.name),
                back_to_client: Some(back),
            };
        }
        Err(error) => return to_client(error),
    }

    // 3. The authorization flow (consent), unless it already ran for this request.
    let completed: Option<FlowCompletion> = services
        .ephemeral
        .take(COMPLETION_NAMESPACE, id)
        .unwrap_or_default();
    if completed.is_none() {
        let Some(flow) = catalog.flow_by_id(client.provider.authorization_flow) else {
            return Outcome::Invalid("The provider's authorization flow does not exist.".into());
        };
        let request = FlowRequest {
            slug: flow.slug.clone(),
            browser_key: browser.browser_key.clone(),
            session: Some(session.clone()),
            client: browser.client.clone(),
            next: Some(resume_path(id)),
            setup_token: None,
            invitation_token: None,
            flow_token: None,
            base_url: browser.base_url.clone(),
            initial_context: flow_context(&client, &pending, id),
        };
        match services.flows.start_fresh(&request).await {
            Ok(outcome) => match outcome.step {
                FlowStep::Redirect(_) => {
                    // Done without asking anything; the marker was written.
                    let _ = services
                        .ephemeral
                        .take::<FlowCompletion>(COMPLETION_NAMESPACE, id);
                }
                FlowStep::Challenge(_) if pending.prompt_none => {
                    let key = execution_key(&browser.browser_key, &flow.slug);
                    let _ = services.ephemeral.delete(EXECUTIONS, &key);
                    return to_client(OAuthError::new(
                        "consent_required",
                        "The user must consent first.",
                    ));
                }
                FlowStep::Challenge(_) => {
                    return Outcome::Redirect(format!("/if/flow/{}/", flow.slug));
                }
                FlowStep::Denied(message) => {
                    let _ = services.ephemeral.delete(ns::PENDING, id);
                    return Outcome::Denied {
                        message,
                        back_to_client: Some(error_redirect(
                            &pending.redirect_uri,
                            &OAuthError::access_denied(),
                            pending.state.as_deref(),
                            &issuer,
                        )),
                    };
                }
            },
            Err(error) => {
                tracing::error!(%error, "oauth: authorization flow failed");
                return to_client(OAuthError::server_error());
            }
        }
    } else if completed
        .as_ref()
        .and_then(|c| c.user)
        .is_some_and(|u| u != user.id)
    {
        return expired();
    }

    // 4. The code.
    let _ = services.ephemeral.delete(ns::PENDING, id);
    let lifetimes = match client.oauth().lifetimes() {
        Ok(lifetimes) => lifetimes,
        Err(_) => return to_client(OAuthError::server_error()),
    };
    let grant = CodeGrant {
        provider: client.provider.id,
        user: user.id,
        redirect_uri: pending.redirect_uri.clone(),
        scopes: pending.scopes.clone(),
        nonce: pending.nonce.clone(),
        code_challenge: pending.code_challenge.clone(),
        auth_time: session.record.created,
        amr: amr(&session.record.methods),
        grant: Uuid::nil(), // set by `issue_code`
    };
    let code = match issue_code(services, grant, lifetimes.code) {
        Ok(code) => code,
        Err(error) => return to_client(error),
    };
    services
        .events
        .record(
            EventAction::AuthorizeApplication,
            Some(&user),
            browser.client.ip.as_deref(),
            json!({
                "authorized_application": {"pk": client.application.id, "name": client.application.name, "slug": client.application.slug},
                "scopes": pending.scopes,
                "flow": "authorization_code",
            }),
        )
        .await;
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = pending.state.as_deref() {
        params.push(("state", state));
    }
    params.push(("iss", issuer.as_str()));
    Outcome::Redirect(append_query(&pending.redirect_uri, &params))
}

/// What the authorization flow's stages learn from the request (the consent stage shows
/// the application and the scopes).
fn flow_context(
    client: &Client,
    pending: &PendingAuthorization,
    id: &str,
) -> serde_json::Map<String, Value> {
    let mut context = serde_json::Map::new();
    context.insert(
        "application".into(),
        json!({
            "pk": client.application.id,
            "name": client.application.name,
            "slug": client.application.slug,
            "permissions": pending.scopes,
            "force": pending.prompt_consent,
        }),
    );
    context.insert(COMPLETION_MARKER.into(), json!(id));
    context
}

/// Whether the application's policies let the user in; denials are logged as events.
pub async fn may_use(
    services: &OAuthServices,
    client: &Client,
    user: &User,
    client_ip: Option<&str>,
) -> Result<bool, OAuthError> {
    let ip = client_ip.and_then(|ip| ip.parse().ok());
    let request = access::access_request(&services.db, user, ip).await?;
    let result = access::user_may_access(
        &services.policies,
        &client.catalog,
        &client.application,
        &request,
    )
    .await;
    if !result.passing {
        services
            .events
            .record(
                EventAction::AccessDenied,
                Some(user),
                client_ip,
                json!({"application": client.application.slug, "explanation": result.explain()}),
            )
            .await;
    }
    Ok(result.passing)
}

/// The client's redirect URI with `error`, `error_description`, `state` and `iss`.
pub fn error_redirect(
    redirect_uri: &str,
    error: &OAuthError,
    state: Option<&str>,
    issuer: &str,
) -> String {
    let mut params = vec![
        ("error", error.code),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    append_query(redirect_uri, &params)
}

/// Adds parameters to a URI that may already have a query (RFC 6749 §3.1.2 keeps it).
pub fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params.iter().copied());
            url.to_string()
        }
        Err(_) => {
            let separator = if uri.contains('?') { '&' } else { '?' };
            let encoded = serde_urlencoded::to_string(params).unwrap_or_default();
            format!("{uri}{separator}{encoded}")
        }
    }
}

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
