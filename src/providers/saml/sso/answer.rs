//! The answers to the SP: the application's SAML provider looked up, the signing key,
//! a Response with an error status, and the successful Response.

use std::sync::Arc;

use crate::crypto::SigningKey;
use crate::model::{Application, Group, Provider, SamlBinding, SamlProvider, User};
use crate::session::ActiveSession;
use crate::store::Catalog;

use super::super::attributes::{self, Subject};
use super::super::deliver::deliver;
use super::super::response::{self, AssertionContent, Envelope, Signer};
use super::super::xml::{Element, RedirectMessage, TrustedCertificate};
use super::super::{SamlServices, issuer};
use super::{Outcome, PendingSso};
use crate::crypto::digest::hmac_sha256_hex;

/// The application at `slug` and its SAML provider, or the page that says there is none.
pub fn saml_application(
    catalog: &Catalog,
    slug: &str,
) -> Result<(Application, Provider, SamlProvider), Outcome> {
    let none = || Outcome::Invalid("This application does not use SAML.".into());
    let application = catalog.application(slug).ok_or_else(none)?;
    let provider = application
        .provider
        .and_then(|id| catalog.provider(id))
        .ok_or_else(none)?;
    let saml = provider.saml().ok_or_else(none)?.clone();
    Ok((application.clone(), provider.clone(), saml))
}

/// The provider's signing key and its certificate's DER; `None` when it signs nothing
/// (no key configured, or the key cannot be opened, which is logged).
pub fn signing_material(
    catalog: &Catalog,
    services: &SamlServices,
    saml: &SamlProvider,
) -> Option<(Arc<SigningKey>, Vec<u8>)> {
    let id = saml.signing_kp?;
    let pair = catalog.keypair(id)?;
    let key = catalog.signing_key(id, &services.secret_box);
    let der = TrustedCertificate::from_pem(&pair.certificate_pem)
        .ok()
        .and_then(|certificates| certificates.first().map(|c| c.der().to_vec()));
    match (key, der) {
        (Some(key), Some(der)) => Some((key, der)),
        _ => {
            tracing::warn!(keypair = %pair.name, "SAML signing key unusable; the response goes unsigned");
            None
        }
    }
}

/// Signs (POST only: the Redirect binding signs the query) and packs for the SP.
fn send(
    document: &mut Element,
    ids: &[&str],
    material: Option<&(Arc<SigningKey>, Vec<u8>)>,
    saml: &SamlProvider,
    relay_state: Option<&str>,
) -> Outcome {
    let signer = material.map(|(key, der)| Signer {
        key,
        certificate_der: der,
    });
    if let (Some(signer), SamlBinding::Post) = (&signer, saml.sp_binding) {
        if let Err(error) = response::sign(document, ids, signer, saml) {
            tracing::error!(%error, "SAML: signing the response failed");
            return Outcome::Invalid("The response could not be signed.".into());
        }
    }
    match deliver(
        saml.sp_binding,
        &saml.acs_url,
        RedirectMessage::Response,
        document,
        relay_state,
        signer.as_ref(),
        saml,
    ) {
        Ok(delivery) => Outcome::Deliver(delivery),
        Err(error) => {
            tracing::error!(%error, "SAML: packing the response failed");
            Outcome::Invalid("The response could not be signed.".into())
        }
    }
}

/// A Response with an error status, to the (checked) ACS URL.
#[allow(clippy::too_many_arguments)]
pub fn error_to_sp(
    services: &SamlServices,
    catalog: &Catalog,
    slug: &str,
    base_url: &str,
    in_response_to: Option<&str>,
    relay_state: Option<&str>,
    top: &str,
    second: &str,
    message: &str,
) -> Outcome {
    let Ok((_, _, saml)) = saml_application(catalog, slug) else {
        return Outcome::Invalid("This application does not use SAML.".into());
    };
    let issuer = issuer(base_url, slug, &saml);
    let envelope = Envelope {
        issuer: &issuer,
        destination: &saml.acs_url,
        in_response_to,
        now: services.clock.now(),
    };
    let (id, mut document) = response::failure(&envelope, second, message);
    // The top-level code is Responder unless the request was at fault.
    if top != response::STATUS_RESPONDER {
        document = response_with_top(document, top);
    }
    let material = signing_material(catalog, services, &saml);
    let ids: Vec<&str> = if saml.sign_response || saml.sign_assertion {
        vec![id.as_str()]
    } else {
        Vec::new()
    };
    send(&mut document, &ids, material.as_ref(), &saml, relay_state)
}

/// Rewrites the top-level StatusCode's value.
fn response_with_top(mut document: Element, top: &str) -> Element {
    if let Some(code) = document
        .find_child_mut(super::super::xml::SAMLP_NS, "Status")
        .and_then(|status| status.find_child_mut(super::super::xml::SAMLP_NS, "StatusCode"))
    {
        code.set_attribute("Value", top);
    }
    document
}

/// The session's index as SPs see it: derived from the session, revealing nothing.
pub fn session_index(services: &SamlServices, session: &ActiveSession) -> String {
    let digest = hmac_sha256_hex(
        &services.subject_key,
        format!("saml-session:{}", session.digest).as_bytes(),
    );
    format!("_{}", digest.get(..32).unwrap_or(&digest))
}

/// Puts the assertion into the response: signed on its own first (POST binding; the
/// Redirect binding signs the query instead), then encrypted for the SP when the
/// provider has its encryption certificate. `None` when either step fails (logged).
fn assemble(
    catalog: &Catalog,
    saml: &SamlProvider,
    mut response_element: Element,
    mut assertion: Element,
    assertion_id: &str,
    material: Option<&(Arc<SigningKey>, Vec<u8>)>,
) -> Option<Element> {
    if let (Some((key, der)), true, SamlBinding::Post) =
        (material, saml.sign_assertion, saml.sp_binding)
    {
        let signer = Signer {
            key,
            certificate_der: der,
        };
        if let Err(error) = response::sign(&mut assertion, &[assertion_id], &signer, saml) {
            tracing::error!(%error, "SAML: signing the assertion failed");
            return None;
        }
    }
    let assertion = match saml.encryption_kp.and_then(|id| catalog.keypair(id)) {
        Some(pair) => {
            let der = TrustedCertificate::from_pem(&pair.certificate_pem)
                .ok()
                .and_then(|certificates| certificates.first().map(|c| c.der().to_vec()))?;
            match response::encrypted_assertion(&assertion, &der) {
                Ok(encrypted) => encrypted,
                Err(error) => {
                    tracing::error!(%error, "SAML: encrypting the assertion failed");
                    return None;
                }
            }
        }
        None => assertion,
    };
    response_element.push_child(assertion);
    Some(response_element)
}

/// The successful, signed Response for the pending sign-in.
pub async fn success(
    services: &SamlServices,
    pending: &PendingSso,
    base_url: &str,
    session: &ActiveSession,
    user: &User,
    groups: &[Group],
) -> Outcome {
    let catalog = services.catalog.load();
    let Ok((_, provider, saml)) = saml_application(&catalog, &pending.app_slug) else {
        return Outcome::Invalid("This application does not use SAML.".into());
    };
    let Ok(windows) = saml.windows() else {
        return Outcome::Invalid("The provider's validity settings are invalid.".into());
    };
    let subject = Subject {
        user,
        groups,
        provider: provider.id,
        session: &session.digest,
        subject_key: &services.subject_key,
    };
    let name_id = attributes::name_id(
        &catalog,
        &services.policies,
        &saml,
        pending.name_id_format.as_deref(),
        &subject,
    )
    .await;
    let attributes = attributes::attributes(&catalog, &services.policies, &saml, &subject).await;
    let issuer = issuer(base_url, &pending.app_slug, &saml);
    let envelope = Envelope {
        issuer: &issuer,
        destination: &saml.acs_url,
        in_response_to: pending.request_id.as_deref(),
        now: services.clock.now(),
    };
    let index = session_index(services, session);
    let content = AssertionContent {
        audience: &saml.audience,
        windows,
        name_id: &name_id,
        session_index: &index,
        authn_instant: session.record.created,
        attributes: &attributes,
    };
    let parts = response::success(&envelope, &content);
    let material = signing_material(&catalog, services, &saml);
    let Some(mut document) = assemble(
        &catalog,
        &saml,
        parts.response,
        parts.assertion,
        &parts.assertion_id,
        material.as_ref(),
    ) else {
        return Outcome::Invalid("The response could not be signed or encrypted.".into());
    };
    let mut ids = Vec::new();
    if saml.sign_response {
        ids.push(parts.response_id.as_str());
    }
    send(
        &mut document,
        &ids,
        material.as_ref(),
        &saml,
        pending.relay_state.as_deref(),
    )
}
