//! The messages we send: a Response with one Assertion (SAML core §2 and §3.2.2, in
//! the shape of the Web Browser SSO profile, profiles §4.1.4.2), a Response carrying only
//! an error status, and a LogoutResponse; signed as the provider says.

use crate::crypto::SigningKey;
use crate::crypto::random::random_token;
use crate::model::saml::SamlWindows;
use crate::model::{SamlProvider, Timestamp};

use super::attributes::{NameId, SamlAttribute};
use super::xml::{
    self, DigestAlgorithm, DsigError, Element, SAML_NS, SAMLP_NS, SignOptions, SignatureAlgorithm,
    XS_NS, XSI_NS,
};

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub const STATUS_REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
pub const STATUS_NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const PASSWORD_PROTECTED: &str =
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const ATTRNAME_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
const ATTRNAME_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";

/// An `xs:ID`: it must start with a letter or `_` (random base64url may not).
pub fn new_id() -> String {
    format!("_{}", random_token(20))
}

fn instant(at: Timestamp) -> String {
    at.to_rfc3339()
}

fn offset(at: Timestamp, secs: i64) -> Timestamp {
    Timestamp(at.0.saturating_add(secs))
}

/// Who answers whom: the envelope fields every message shares.
pub struct Envelope<'a> {
    pub issuer: &'a str,
    pub destination: &'a str,
    pub in_response_to: Option<&'a str>,
    pub now: Timestamp,
}

fn issuer(text: &str) -> Element {
    Element::new(SAML_NS, "saml:Issuer").with_text(text)
}

/// The top-level element (`samlp:Response`, `samlp:LogoutResponse`) with its Issuer
/// and Status.
fn message(name: &str, id: &str, envelope: &Envelope<'_>, status: Element) -> Element {
    let mut root = Element::new(SAMLP_NS, name)
        .with_namespace(Some("samlp"), SAMLP_NS)
        .with_namespace(Some("saml"), SAML_NS)
        .with_attribute("ID", id)
        .with_attribute("Version", "2.0")
        .with_attribute("IssueInstant", instant(envelope.now))
        .with_attribute("Destination", envelope.destination);
    if let Some(request) = envelope.in_response_to {
        root.set_attribute("InResponseTo", request);
    }
    root.with_child(issuer(envelope.issuer)).with_child(status)
}

/// A Status; an error's second-level code goes inside the top-level one (core §3.2.2.2).
pub fn status(top: &str, second: Option<&str>, message: Option<&str>) -> Element {
    let mut code = Element::new(SAMLP_NS, "samlp:StatusCode").with_attribute("Value", top);
    if let Some(second) = second {
        code.push_child(Element::new(SAMLP_NS, "samlp:StatusCode").with_attribute("Value", second));
    }
    let mut status = Element::new(SAMLP_NS, "samlp:Status").with_child(code);
    if let Some(message) = message {
        status.push_child(Element::new(SAMLP_NS, "samlp:StatusMessage").with_text(message));
    }
    status
}

/// What the assertion says about the sign-in.
pub struct AssertionContent<'a> {
    pub audience: &'a str,
    pub windows: SamlWindows,
    pub name_id: &'a NameId,
    /// Names the gatehouse session to the SP (for logout), without revealing it.
    pub session_index: &'a str,
    pub authn_instant: Timestamp,
    pub attributes: &'a [SamlAttribute],
}

fn subject(envelope: &Envelope<'_>, content: &AssertionContent<'_>) -> Element {
    let mut data = Element::new(SAML_NS, "saml:SubjectConfirmationData")
        .with_attribute(
            "NotOnOrAfter",
            instant(offset(envelope.now, content.windows.not_on_or_after)),
        )
        .with_attribute("Recipient", envelope.destination);
    if let Some(request) = envelope.in_response_to {
        data.set_attribute("InResponseTo", request);
    }
    Element::new(SAML_NS, "saml:Subject")
        .with_child(
            Element::new(SAML_NS, "saml:NameID")
                .with_attribute("Format", content.name_id.format.as_str())
                .with_text(content.name_id.value.as_str()),
        )
        .with_child(
            Element::new(SAML_NS, "saml:SubjectConfirmation")
                .with_attribute("Method", BEARER)
                .with_child(data),
        )
}

fn conditions(envelope: &Envelope<'_>, content: &AssertionContent<'_>) -> Element {
    let mut conditions = Element::new(SAML_NS, "saml:Conditions")
        .with_attribute(
            "NotBefore",
            instant(offset(envelope.now, content.windows.not_before)),
        )
        .with_attribute(
            "NotOnOrAfter",
            instant(offset(envelope.now, content.windows.not_on_or_after)),
        );
    if !content.audience.is_empty() {
        conditions.push_child(
            Element::new(SAML_NS, "saml:AudienceRestriction")
                .with_child(Element::new(SAML_NS, "saml:Audience").with_text(content.audience)),
        );
    }
    conditions
}

fn authn_statement(envelope: &Envelope<'_>, content: &AssertionContent<'_>) -> Element {
    Element::new(SAML_NS, "saml:AuthnStatement")
        .with_attribute("AuthnInstant", instant(content.authn_instant))
        .with_attribute(
            "SessionNotOnOrAfter",
            instant(offset(
                envelope.now,
                content.windows.session_not_on_or_after,
            )),
        )
        .with_attribute("SessionIndex", content.session_index)
        .with_child(Element::new(SAML_NS, "saml:AuthnContext").with_child(
            Element::new(SAML_NS, "saml:AuthnContextClassRef").with_text(PASSWORD_PROTECTED),
        ))
}

/// Each value typed `xs:string`, with `xs` and `xsi` declared on the value itself so it
/// survives exclusive C14N wherever an SP lifts the assertion to.
fn attribute_statement(attributes: &[SamlAttribute]) -> Option<Element> {
    if attributes.is_empty() {
        return None;
    }
    let mut statement = Element::new(SAML_NS, "saml:AttributeStatement");
    for attribute in attributes {
        let format = if attribute.name.contains(':') {
            ATTRNAME_URI
        } else {
            ATTRNAME_BASIC
        };
        let mut element = Element::new(SAML_NS, "saml:Attribute")
            .with_attribute("Name", attribute.name.as_str())
            .with_attribute("NameFormat", format);
        if !attribute.friendly_name.is_empty() {
            element.set_attribute("FriendlyName", attribute.friendly_name.as_str());
        }
        for value in &attribute.values {
            element.push_child(
                Element::new(SAML_NS, "saml:AttributeValue")
                    .with_namespace(Some("xs"), XS_NS)
                    .with_namespace(Some("xsi"), XSI_NS)
                    .with_attribute_ns(XSI_NS, "xsi:type", "xs:string")
                    .with_text(value.as_str()),
            );
        }
        statement.push_child(element);
    }
    Some(statement)
}

/// A successful Response, in parts: the assertion is signed (and maybe encrypted) on
/// its own before it goes into the response, which is signed last.
pub struct SuccessParts {
    pub response_id: String,
    pub assertion_id: String,
    /// The Response with Issuer and Status, without its assertion yet.
    pub response: Element,
    pub assertion: Element,
}

pub fn success(envelope: &Envelope<'_>, content: &AssertionContent<'_>) -> SuccessParts {
    let (response_id, assertion_id) = (new_id(), new_id());
    let mut assertion = Element::new(SAML_NS, "saml:Assertion")
        .with_namespace(Some("saml"), SAML_NS)
        .with_attribute("ID", assertion_id.as_str())
        .with_attribute("Version", "2.0")
        .with_attribute("IssueInstant", instant(envelope.now))
        .with_child(issuer(envelope.issuer))
        .with_child(subject(envelope, content))
        .with_child(conditions(envelope, content))
        .with_child(authn_statement(envelope, content));
    if let Some(statement) = attribute_statement(content.attributes) {
        assertion.push_child(statement);
    }
    let response = message(
        "samlp:Response",
        &response_id,
        envelope,
        status(STATUS_SUCCESS, None, None),
    );
    SuccessParts {
        response_id,
        assertion_id,
        response,
        assertion,
    }
}

/// The assertion encrypted for the SP (SAML core §2.3.4): `saml:EncryptedAssertion`
/// around the `xenc:EncryptedData`.
pub fn encrypted_assertion(
    assertion: &Element,
    recipient_certificate_der: &[u8],
) -> Result<Element, xml::encrypt::EncryptError> {
    let data = xml::encrypt::encrypt_element(
        assertion,
        recipient_certificate_der,
        xml::encrypt::DataEncryption::Aes256Gcm,
    )?;
    Ok(Element::new(SAML_NS, "saml:EncryptedAssertion").with_child(data))
}

/// A Response that carries only an error status (no assertion).
pub fn failure(envelope: &Envelope<'_>, second: &str, text: &str) -> (String, Element) {
    let id = new_id();
    let response = message(
        "samlp:Response",
        &id,
        envelope,
        status(STATUS_RESPONDER, Some(second), Some(text)),
    );
    (id, response)
}

pub fn logout_response(envelope: &Envelope<'_>) -> (String, Element) {
    let id = new_id();
    let response = message(
        "samlp:LogoutResponse",
        &id,
        envelope,
        status(STATUS_SUCCESS, None, None),
    );
    (id, response)
}

/// The provider's algorithms; SHA-256 when a stored URI is unknown.
pub fn algorithms(provider: &SamlProvider) -> (SignatureAlgorithm, DigestAlgorithm) {
    (
        SignatureAlgorithm::from_uri(&provider.signature_algorithm)
            .unwrap_or(SignatureAlgorithm::RsaSha256),
        DigestAlgorithm::from_uri(&provider.digest_algorithm).unwrap_or(DigestAlgorithm::Sha256),
    )
}

/// A signing key with its certificate (DER), as the catalog holds them.
pub struct Signer<'a> {
    pub key: &'a SigningKey,
    pub certificate_der: &'a [u8],
}

/// Signs the elements with these IDs, inner ones first (the caller lists them so).
pub fn sign(
    document: &mut Element,
    ids: &[&str],
    signer: &Signer<'_>,
    provider: &SamlProvider,
) -> Result<(), DsigError> {
    let (algorithm, digest) = algorithms(provider);
    let options = SignOptions::new(algorithm, digest).with_certificate(signer.certificate_der);
    for id in ids {
        xml::sign_enveloped(document, id, signer.key, &options)?;
    }
    Ok(())
}
