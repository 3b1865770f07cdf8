//! Step two, run at once and every time the browser comes back: a session (recent
//! enough for ForceAuthn), the application's policies, the authorization flow, then the
//! Response. Each step either hands over what the next needs or ends the sign-in with
//! the outcome the transport shows (`Err(Outcome)` is an early answer, not a failure).

use serde_json::{Value, json};

use crate::directory::access;
use crate::flow::engine::{COMPLETION_MARKER, COMPLETION_NAMESPACE, FlowCompletion};
use crate::flow::{FlowRequest, FlowStep};
use crate::model::{Application, EventAction, Group, Provider, User};
use crate::session::ActiveSession;

use super::super::response::{STATUS_REQUESTER, STATUS_RESPONDER};
use super::super::{SamlServices, ns};
use super::answer::{error_to_sp, saml_application, success};
use super::{Browser, Outcome, PendingSso, resume_path};

type Step<T> = Result<T, Outcome>;

const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
const NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";

struct Resumed<'a> {
    services: &'a SamlServices,
    id: &'a str,
    browser: &'a Browser,
    pending: PendingSso,
    application: Application,
    provider: Provider,
}

impl Resumed<'_> {
    fn finish(&self) {
        let _ = self.services.ephemeral.delete(ns::PENDING, self.id);
    }

    /// An error status to the SP; the pending sign-in is over.
    fn to_sp(&self, top: &str, second: &str, message: &str) -> Outcome {
        self.finish();
        error_to_sp(
            self.services,
            &self.services.catalog.load(),
            &self.pending.app_slug,
            &self.browser.base_url,
            self.pending.request_id.as_deref(),
            self.pending.relay_state.as_deref(),
            top,
            second,
            message,
        )
    }
}

fn expired() -> Outcome {
    Outcome::Invalid(
        "This sign-in request has expired or was started in another browser. Go back to the \
         application and try again."
            .into(),
    )
}

pub async fn resume(services: &SamlServices, id: &str, browser: &Browser) -> Outcome {
    match steps(services, id, browser).await {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

async fn steps(services: &SamlServices, id: &str, browser: &Browser) -> Step<Outcome> {
    let resumed = load(services, id, browser)?;
    let session = signed_in(&resumed)?;
    let user = active_user(&resumed, session).await?;
    let groups = check_access(&resumed, &user).await?;
    authorization_flow(&resumed, session, &user).await?;
    resumed.finish();
    let outcome = success(
        services,
        &resumed.pending,
        &browser.base_url,
        session,
        &user,
        &groups,
    )
    .await;
    if matches!(outcome, Outcome::Deliver(_)) {
        let application = &resumed.application;
        services
            .events
            .record(
                EventAction::AuthorizeApplication,
                Some(&user),
                browser.client.ip.as_deref(),
                json!({
                    "authorized_application": {"pk": application.id, "name": application.name, "slug": application.slug},
                    "flow": "saml",
                    "idp_initiated": resumed.pending.request_id.is_none(),
                }),
            )
            .await;
    }
    Ok(outcome)
}

fn load<'a>(services: &'a SamlServices, id: &'a str, browser: &'a Browser) -> Step<Resumed<'a>> {
    let pending = services
        .ephemeral
        .get::<PendingSso>(ns::PENDING, id)
        .ok()
        .flatten()
        .filter(|pending| pending.browser_key == browser.browser_key)
        .ok_or_else(expired)?;
    let catalog = services.catalog.load();
    let (application, provider, _) = saml_application(&catalog, &pending.app_slug)?;
    if provider.id != pending.provider {
        return Err(expired());
    }
    Ok(Resumed {
        services,
        id,
        browser,
        pending,
        application,
        provider,
    })
}

/// A session (started after the request when ForceAuthn asks), or off to sign in;
/// IsPassive forbids asking, so then the SP hears NoPassive.
fn signed_in<'b>(resumed: &Resumed<'b>) -> Step<&'b ActiveSession> {
    let pending = &resumed.pending;
    let recent = resumed
        .browser
        .session
        .as_ref()
        .filter(|session| !pending.force_authn || session.record.created >= pending.created);
    if let Some(session) = recent {
        return Ok(session);
    }
    if pending.is_passive {
        return Err(resumed.to_sp(STATUS_RESPONDER, NO_PASSIVE, "The user is not signed in."));
    }
    let next = resume_path(&pending.app_slug, resumed.id);
    let url = format!(
        "/if/flow/{}/?next={}",
        resumed.browser.login_flow,
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
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
        Ok(_) => Err(resumed.to_sp(
            STATUS_RESPONDER,
            REQUEST_DENIED,
            "The user is not signed in.",
        )),
        Err(_) => Err(Outcome::Invalid(
            "The sign-in could not be completed.".into(),
        )),
    }
}

/// The application's policies: a denied user's SP gets RequestDenied. Returns the
/// user's groups (ancestors included), which the attributes need too.
async fn check_access(resumed: &Resumed<'_>, user: &User) -> Step<Vec<Group>> {
    let services = resumed.services;
    let ip = resumed.browser.client.ip.as_deref();
    let request = access::access_request(&services.db, user, ip.and_then(|ip| ip.parse().ok()))
        .await
        .map_err(|_| Outcome::Invalid("The sign-in could not be completed.".into()))?;
    let catalog = services.catalog.load();
    let result =
        access::user_may_access(&services.policies, &catalog, &resumed.application, &request).await;
    if result.passing {
        return Ok(request.groups);
    }
    services
        .events
        .record(
            EventAction::AccessDenied,
            Some(user),
            ip,
            json!({"application": resumed.application.slug, "explanation": result.explain()}),
        )
        .await;
    Err(resumed.to_sp(
        STATUS_REQUESTER,
        REQUEST_DENIED,
        &format!("You do not have access to {}.", resumed.application.name),
    ))
}

/// The provider's authorization flow, unless it already ran to its end for this
/// sign-in (the engine's completion marker says so).
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
        return match completed.user {
            Some(other) if other != user.id => Err(expired()),
            _ => Ok(()),
        };
    }
    let catalog = services.catalog.load();
    let flow = catalog
        .flow_by_id(resumed.provider.authorization_flow)
        .ok_or_else(|| {
            Outcome::Invalid("The provider's authorization flow does not exist.".into())
        })?;
    let request = FlowRequest {
        slug: flow.slug.clone(),
        browser_key: resumed.browser.browser_key.clone(),
        session: Some(session.clone()),
        client: resumed.browser.client.clone(),
        next: Some(resume_path(&resumed.pending.app_slug, resumed.id)),
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
            tracing::error!(%error, "saml: authorization flow failed");
            Outcome::Invalid("The sign-in could not be completed.".into())
        })?;
    match outcome.step {
        FlowStep::Redirect(_) => {
            let _ = services
                .ephemeral
                .take::<FlowCompletion>(COMPLETION_NAMESPACE, resumed.id);
            Ok(())
        }
        FlowStep::Challenge(_) => Err(Outcome::Redirect(format!("/if/flow/{}/", flow.slug))),
        FlowStep::Denied(message) => Err(resumed.to_sp(STATUS_REQUESTER, REQUEST_DENIED, &message)),
    }
}

/// What the authorization flow's stages learn (the consent stage shows the
/// application), and the marker the engine writes when the flow is done.
fn flow_context(resumed: &Resumed<'_>) -> serde_json::Map<String, Value> {
    let application = &resumed.application;
    let mut context = serde_json::Map::new();
    context.insert(
        "application".into(),
        json!({
            "pk": application.id,
            "name": application.name,
            "slug": application.slug,
            "permissions": [],
            "force": false,
        }),
    );
    context.insert(COMPLETION_MARKER.into(), json!(resumed.id));
    context
}
