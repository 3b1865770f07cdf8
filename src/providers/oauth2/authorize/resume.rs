//! Step two, run at once and every time the browser comes back: a recent enough
//! session, the application's policies, the authorization flow (consent), then the
//! code. Each step either hands over what the next needs or ends the request with the
//! outcome the transport shows (`Err(Outcome)` is an early answer, not a failure).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::directory::access;
use crate::flow::engine::{COMPLETION_MARKER, COMPLETION_NAMESPACE, FlowCompletion};
use crate::flow::execution::{NAMESPACE as EXECUTIONS, execution_key};
use crate::flow::{FlowRequest, FlowStep};
use crate::model::{EventAction, User};
use crate::session::ActiveSession;

use super::super::client::{self, Client};
use super::super::grants::amr;
use super::super::grants::authorization_code::{CodeGrant, issue_code};
use super::super::{OAuthError, OAuthServices, ns};
use super::redirect::url_encode;
use super::{Browser, Outcome, PendingAuthorization, append_query, error_redirect, resume_path};

type Step<T> = Result<T, Outcome>;

/// One pending authorization being resumed.
struct Resumed<'a> {
    services: &'a OAuthServices,
    id: &'a str,
    browser: &'a Browser,
    pending: PendingAuthorization,
    client: Client,
    issuer: String,
}

impl Resumed<'_> {
    /// The error goes back to the client, and the pending request is over.
    fn to_client(&self, error: &OAuthError) -> Outcome {
        self.finish();
        Outcome::Redirect(self.error_url(error))
    }

    fn error_url(&self, error: &OAuthError) -> String {
        error_redirect(
            &self.pending.redirect_uri,
            error,
            self.pending.state.as_deref(),
            &self.issuer,
        )
    }

    fn finish(&self) {
        let _ = self.services.ephemeral.delete(ns::PENDING, self.id);
    }
}

fn expired() -> Outcome {
    Outcome::Invalid(
        "This sign-in request has expired or was started in another browser. Go back to the \
         application and try again."
            .into(),
    )
}

pub async fn resume(services: &OAuthServices, id: &str, browser: &Browser) -> Outcome {
    match steps(services, id, browser).await {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

async fn steps(services: &OAuthServices, id: &str, browser: &Browser) -> Step<Outcome> {
    let resumed = load(services, id, browser)?;
    let session = signed_in(&resumed)?;
    let user = active_user(&resumed, session).await?;
    check_access(&resumed, &user).await?;
    authorization_flow(&resumed, session, &user).await?;
    Ok(code(&resumed, session, &user).await)
}

/// The pending request, only for the browser that started it.
fn load<'a>(services: &'a OAuthServices, id: &'a str, browser: &'a Browser) -> Step<Resumed<'a>> {
    let pending = services
        .ephemeral
        .get::<PendingAuthorization>(ns::PENDING, id)
        .ok()
        .flatten()
        .filter(|pending| pending.browser_key == browser.browser_key)
        .ok_or_else(expired)?;
    let catalog = services.catalog.load();
    let client = client::find(&catalog, &pending.client_id)
        .ok_or_else(|| Outcome::Invalid("The client no longer exists.".into()))?;
    let issuer = super::super::issuer(&browser.base_url, client.oauth(), &client.application.slug);
    Ok(Resumed {
        services,
        id,
        browser,
        pending,
        client,
        issuer,
    })
}

/// Step 1: a session recent enough (`prompt=login`, `max_age`), or off to sign in.
fn signed_in<'b>(resumed: &Resumed<'b>) -> Step<&'b ActiveSession> {
    let pending = &resumed.pending;
    let recent = resumed.browser.session.as_ref().filter(|session| {
        pending
            .auth_after
            .is_none_or(|after| session.record.created >= after)
    });
    if let Some(session) = recent {
        return Ok(session);
    }
    if pending.prompt_none {
        return Err(resumed.to_client(&OAuthError::new(
            "login_required",
            "The user is not signed in.",
        )));
    }
    let mut url = format!(
        "/if/flow/{}/?next={}",
        resumed.browser.login_flow,
        url_encode(&resume_path(resumed.id))
    );
    if let Some(hint) = pending.login_hint.as_deref().filter(|h| !h.is_empty()) {
        url.push_str(&format!("&login_hint={}", url_encode(hint)));
    }
    Err(Outcome::Redirect(url))
}

async fn active_user(resumed: &Resumed<'_>, session: &ActiveSession) -> Step<User> {
    let user_id = session.record.user;
    match resumed
        .services
        .db
        .read(move |tx| tx.user_by_id(user_id))
        .await
    {
        Ok(Some(user)) if user.is_active => Ok(user),
        Ok(_) => Err(resumed.to_client(&OAuthError::new(
            "login_required",
            "The user is not signed in.",
        ))),
        Err(_) => Err(resumed.to_client(&OAuthError::server_error())),
    }
}

/// Step 2: the application's policies; a page saying no (with a link that tells the
/// client), or straight back to the client with `prompt=none`.
async fn check_access(resumed: &Resumed<'_>, user: &User) -> Step<()> {
    let ip = resumed.browser.client.ip.as_deref();
    match may_use(resumed.services, &resumed.client, user, ip).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            resumed.finish();
            let back = resumed.error_url(&OAuthError::access_denied());
            Err(if resumed.pending.prompt_none {
                Outcome::Redirect(back)
            } else {
                Outcome::Denied {
                    message: format!(
                        "You do not have access to {}.",
                        resumed.client.application.name
                    ),
                    back_to_client: Some(back),
                }
            })
        }
        Err(error) => Err(resumed.to_client(&error)),
    }
}

/// Step 3: the provider's authorization flow, unless it already ran to its end for
/// this request (the engine's completion marker says so).
async fn authorization_flow(
    resumed: &Resumed<'_>,
    session: &ActiveSession,
    user: &User,
) -> Step<()> {
    let services = resumed.services;
    let completed: Option<FlowCompletion> = services
        .ephemeral
        .take(COMPLETION_NAMESPACE, resumed.id)
        .unwrap_or_default();
    if let Some(completed) = completed {
        // Finished by this user, not by whoever else signed in meanwhile.
        return match completed.user {
            Some(other) if other != user.id => Err(expired()),
            _ => Ok(()),
        };
    }
    let catalog = services.catalog.load();
    let flow = catalog
        .flow_by_id(resumed.client.provider.authorization_flow)
        .ok_or_else(|| {
            Outcome::Invalid("The provider's authorization flow does not exist.".into())
        })?;
    let request = FlowRequest {
        slug: flow.slug.clone(),
        browser_key: resumed.browser.browser_key.clone(),
        session: Some(session.clone()),
        client: resumed.browser.client.clone(),
        next: Some(resume_path(resumed.id)),
        setup_token: None,
        invitation_token: None,
        flow_token: None,
        base_url: resumed.browser.base_url.clone(),
        initial_context: flow_context(resumed),
        headless: None,
    };
    let outcome = services
        .flows
        .start_fresh(&request)
        .await
        .map_err(|error| {
            tracing::error!(%error, "oauth: authorization flow failed");
            resumed.to_client(&OAuthError::server_error())
        })?;
    match outcome.step {
        FlowStep::Redirect(_) => {
            // Done without asking anything; the marker it wrote is spent here.
            let _ = services
                .ephemeral
                .take::<FlowCompletion>(COMPLETION_NAMESPACE, resumed.id);
            Ok(())
        }
        FlowStep::Challenge(_) if resumed.pending.prompt_none => {
            let key = execution_key(&resumed.browser.browser_key, &flow.slug);
            let _ = services.ephemeral.delete(EXECUTIONS, &key);
            Err(resumed.to_client(&OAuthError::new(
                "consent_required",
                "The user must consent first.",
            )))
        }
        FlowStep::Challenge(_) => Err(Outcome::Redirect(format!("/if/flow/{}/", flow.slug))),
        FlowStep::Denied(message) => {
            resumed.finish();
            Err(Outcome::Denied {
                message,
                back_to_client: Some(resumed.error_url(&OAuthError::access_denied())),
            })
        }
    }
}

/// Step 4: the code, back to the client with `state` and `iss`.
async fn code(resumed: &Resumed<'_>, session: &ActiveSession, user: &User) -> Outcome {
    resumed.finish();
    let (services, pending, client) = (resumed.services, &resumed.pending, &resumed.client);
    let Ok(lifetimes) = client.oauth().lifetimes() else {
        return resumed.to_client(&OAuthError::server_error());
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
        session: Some(session.digest.clone()),
    };
    let code = match issue_code(services, grant, lifetimes.code) {
        Ok(code) => code,
        Err(error) => return resumed.to_client(&error),
    };
    services
        .events
        .record(
            EventAction::AuthorizeApplication,
            Some(user),
            resumed.browser.client.ip.as_deref(),
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
    params.push(("iss", resumed.issuer.as_str()));
    Outcome::Redirect(append_query(&pending.redirect_uri, &params))
}

/// What the authorization flow's stages learn from the request (the consent stage shows
/// the application and the scopes), and the marker the engine writes when it is done.
fn flow_context(resumed: &Resumed<'_>) -> serde_json::Map<String, Value> {
    let (client, pending) = (&resumed.client, &resumed.pending);
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
    context.insert(COMPLETION_MARKER.into(), json!(resumed.id));
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
