//! SP-initiated single logout (SAML profiles §4.4): a LogoutRequest, checked like an
//! AuthnRequest (signature when required, issuer), ends the browser's gatehouse session
//! and is answered with a LogoutResponse to the SP's logout URL — or, when the provider
//! names none, with a "signed out" page. Notifying other SPs is not done.

use std::sync::Arc;

use serde_json::json;

use crate::crypto::SigningKey;
use crate::model::{EventAction, SamlBinding};
use crate::session::ActiveSession;

use super::deliver::{Delivery, deliver};
use super::request::{self, Incoming, LogoutRequest};
use super::response::{self, Envelope, Signer};
use super::sso::Outcome;
use super::xml::RedirectMessage;
use super::{SamlServices, issuer};

/// How old a LogoutRequest may be, and how far in the future (clock skew).
const LOGOUT_MAX_AGE_SECS: i64 = 600;
const LOGOUT_MAX_SKEW_SECS: i64 = 180;

/// What the transport does: the session (if any) is over in every case but `Invalid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutOutcome {
    Deliver(Delivery),
    /// No logout URL configured: a page saying the user is signed out.
    SignedOut,
    Invalid(String),
}

/// Handles the LogoutRequest; also says whether the browser's session was ended (its
/// cookie goes then).
pub async fn logout(
    services: &SamlServices,
    slug: &str,
    incoming: Incoming<'_>,
    base_url: &str,
    session: Option<&ActiveSession>,
) -> (LogoutOutcome, bool) {
    let mut ended = false;
    let outcome = answer_logout(services, slug, incoming, base_url, session, &mut ended).await;
    (outcome, ended)
}

async fn answer_logout(
    services: &SamlServices,
    slug: &str,
    incoming: Incoming<'_>,
    base_url: &str,
    session: Option<&ActiveSession>,
    ended: &mut bool,
) -> LogoutOutcome {
    let catalog = services.catalog.load();
    let (application, _, saml) = match super::sso::saml_application(&catalog, slug) {
        Ok(found) => found,
        Err(Outcome::Invalid(message)) => return LogoutOutcome::Invalid(message),
        Err(_) => return LogoutOutcome::Invalid("This application does not use SAML.".into()),
    };
    let checked = request::trusted_certificates(&catalog, &saml)
        .and_then(|trusted| request::receive(incoming, &trusted, &saml))
        .and_then(|received| {
            LogoutRequest::from_element(&received.element)
                .map(|request| (request, received.relay_state))
        });
    let (request, relay_state) = match checked {
        Ok(found) => found,
        Err(error) => return LogoutOutcome::Invalid(error.to_string()),
    };
    if !saml.audience.is_empty() && request.issuer.as_deref() != Some(saml.audience.as_str()) {
        return LogoutOutcome::Invalid(
            "The logout request does not come from this application's service provider.".into(),
        );
    }
    let age = services.clock.now().0 - request.issue_instant.0;
    if !(-LOGOUT_MAX_SKEW_SECS..=LOGOUT_MAX_AGE_SECS).contains(&age) {
        return LogoutOutcome::Invalid(
            "The logout request has expired; sign out from the application again.".into(),
        );
    }
    // A SessionIndex names the gatehouse session the SP's came from: a different one
    // (signed in again since) is left alone, so a stale request cannot end a new session.
    let session = session.filter(|session| {
        request
            .session_index
            .as_deref()
            .is_none_or(|index| index == super::sso::session_index(services, session))
    });
    if let Some(session) = session {
        let _ = services.sessions.revoke_digest(&session.digest);
        *ended = true;
        let user_id = session.record.user;
        let user = services
            .db
            .read(move |tx| tx.user_by_id(user_id))
            .await
            .ok()
            .flatten();
        services
            .events
            .record(
                EventAction::Logout,
                user.as_ref(),
                session.record.client_ip.as_deref(),
                json!({"application": application.slug, "protocol": "saml"}),
            )
            .await;
    }
    if saml.sls_url.trim().is_empty() {
        return LogoutOutcome::SignedOut;
    }
    let issuer = issuer(base_url, slug, &saml);
    let envelope = Envelope {
        issuer: &issuer,
        destination: &saml.sls_url,
        in_response_to: Some(&request.id),
        now: services.clock.now(),
    };
    let (id, mut document) = response::logout_response(&envelope);
    let material: Option<(Arc<SigningKey>, Vec<u8>)> =
        super::sso::signing_material(&catalog, services, &saml);
    let signer = material.as_ref().map(|(key, der)| Signer {
        key,
        certificate_der: der,
    });
    if let (Some(signer), SamlBinding::Post) = (&signer, saml.sls_binding) {
        if response::sign(&mut document, &[id.as_str()], signer, &saml).is_err() {
            return LogoutOutcome::Invalid("The logout response could not be signed.".into());
        }
    }
    match deliver(
        saml.sls_binding,
        &saml.sls_url,
        RedirectMessage::Response,
        &document,
        relay_state.as_deref(),
        signer.as_ref(),
        &saml,
    ) {
        Ok(delivery) => LogoutOutcome::Deliver(delivery),
        Err(_) => LogoutOutcome::Invalid("The logout response could not be signed.".into()),
    }
}
