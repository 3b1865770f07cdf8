//! Step one: check the AuthnRequest (or an IdP-initiated start) and park it.

use crate::crypto::random_token;
use crate::model::{SamlProvider, Timestamp};

use super::super::attributes::known_format;
use super::super::request::{self, AuthnRequest, Incoming};
use super::super::{SamlServices, ns};
use super::answer::{error_to_sp, saml_application};
use super::{
    Browser, Outcome, PENDING_TTL_SECS, PendingSso, REQUEST_MAX_AGE_SECS, REQUEST_MAX_SKEW_SECS,
};
use crate::providers::saml::response::STATUS_REQUESTER;

const INVALID_NAME_ID_POLICY: &str = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
/// A seen request ID is remembered past the time the request could still be accepted.
const SEEN_TTL_SECS: u64 = 900;

fn park(services: &SamlServices, pending: &PendingSso) -> Result<String, Outcome> {
    let id = random_token(24);
    services
        .ephemeral
        .put(ns::PENDING, &id, pending, PENDING_TTL_SECS)
        .map_err(|_| Outcome::Invalid("The sign-in could not be started; try again.".into()))?;
    Ok(id)
}

/// `/sso/binding/init/`: the IdP starts, with the provider's default relay state.
pub fn start_idp_initiated(
    services: &SamlServices,
    slug: &str,
    browser: &Browser,
) -> Result<String, Outcome> {
    let catalog = services.catalog.load();
    let (_, provider, saml) = saml_application(&catalog, slug)?;
    park(
        services,
        &PendingSso {
            app_slug: slug.to_owned(),
            provider: provider.id,
            request_id: None,
            relay_state: Some(saml.default_relay_state.clone()).filter(|s| !s.is_empty()),
            force_authn: false,
            is_passive: false,
            name_id_format: None,
            created: services.clock.now(),
            browser_key: browser.browser_key.clone(),
        },
    )
}

/// `/sso/binding/{redirect,post}/`: the SP's AuthnRequest, checked in this order:
/// signature (when required), message kind, issuer, ACS URL, destination, age, replay.
/// Up to the ACS check every error is a page; after it, protocol errors go to the SP.
pub fn start_sp_initiated(
    services: &SamlServices,
    slug: &str,
    incoming: Incoming<'_>,
    endpoint: &str,
    browser: &Browser,
) -> Result<String, Outcome> {
    let catalog = services.catalog.load();
    let (_, provider, saml) = saml_application(&catalog, slug)?;
    let invalid = |message: String| Outcome::Invalid(message);
    let trusted =
        request::trusted_certificates(&catalog, &saml).map_err(|e| invalid(e.to_string()))?;
    let received =
        request::receive(incoming, &trusted, &saml).map_err(|e| invalid(e.to_string()))?;
    let authn =
        AuthnRequest::from_element(&received.element).map_err(|e| invalid(e.to_string()))?;
    check_issuer(&saml, authn.issuer.as_deref())?;
    if let Some(acs) = authn.acs_url.as_deref() {
        // Exact comparison: the Response goes where the admin said, never elsewhere.
        if acs != saml.acs_url {
            return Err(invalid(format!(
                "The AssertionConsumerServiceURL \"{acs}\" is not the one configured for this application."
            )));
        }
    }
    let expected = format!(
        "{}/sso/binding/{endpoint}/",
        super::super::application_base(&browser.base_url, slug)
    );
    if let Some(destination) = authn.destination.as_deref() {
        if destination != expected {
            return Err(invalid(format!(
                "The request's Destination \"{destination}\" is not this endpoint ({expected})."
            )));
        }
    }
    check_fresh(services.clock.now(), authn.issue_instant)?;
    check_not_seen(services, &provider.id.0.to_string(), &authn.id)?;
    if let Some(format) = authn.name_id_format.as_deref() {
        if !known_format(format) {
            return Err(error_to_sp(
                services,
                &catalog,
                slug,
                &browser.base_url,
                Some(&authn.id),
                received.relay_state.as_deref(),
                STATUS_REQUESTER,
                INVALID_NAME_ID_POLICY,
                "The requested NameID format is not supported.",
            ));
        }
    }
    park(
        services,
        &PendingSso {
            app_slug: slug.to_owned(),
            provider: provider.id,
            request_id: Some(authn.id),
            relay_state: received.relay_state,
            force_authn: authn.force_authn,
            is_passive: authn.is_passive,
            name_id_format: authn.name_id_format,
            created: services.clock.now(),
            browser_key: browser.browser_key.clone(),
        },
    )
}

/// With an audience configured, requests must come from that entity.
fn check_issuer(saml: &SamlProvider, issuer: Option<&str>) -> Result<(), Outcome> {
    if saml.audience.is_empty() {
        return Ok(());
    }
    match issuer {
        Some(issuer) if issuer == saml.audience => Ok(()),
        Some(issuer) => Err(Outcome::Invalid(format!(
            "The request's Issuer \"{issuer}\" is not the service provider configured for this application."
        ))),
        None => Err(Outcome::Invalid("The request has no Issuer.".into())),
    }
}

fn check_fresh(now: Timestamp, issued: Timestamp) -> Result<(), Outcome> {
    if issued.0 < now.0 - REQUEST_MAX_AGE_SECS {
        return Err(Outcome::Invalid(
            "The sign-in request has expired. Go back to the application and try again.".into(),
        ));
    }
    if issued.0 > now.0 + REQUEST_MAX_SKEW_SECS {
        return Err(Outcome::Invalid(
            "The sign-in request is dated in the future; check the service provider's clock."
                .into(),
        ));
    }
    Ok(())
}

/// Each AuthnRequest is answered once (a captured request cannot be replayed for a
/// second assertion). The check and the mark are two Kv calls: a race between two
/// simultaneous copies can let both through, which the SP's InResponseTo check (one
/// outstanding request) still catches.
fn check_not_seen(services: &SamlServices, provider: &str, id: &str) -> Result<(), Outcome> {
    let key = format!("{provider}:{id}");
    let seen = services
        .ephemeral
        .get::<bool>(ns::SEEN_REQUESTS, &key)
        .ok()
        .flatten()
        .is_some();
    if seen {
        return Err(Outcome::Invalid(
            "This sign-in request was already used. Go back to the application and try again."
                .into(),
        ));
    }
    let _ = services
        .ephemeral
        .put(ns::SEEN_REQUESTS, &key, &true, SEEN_TTL_SECS);
    Ok(())
}
