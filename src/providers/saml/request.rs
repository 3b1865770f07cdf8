//! Messages from a service provider (AuthnRequest, LogoutRequest) as they arrive by
//! either binding: decoded, parsed with the hardened parser, their signature checked
//! when the provider has a verification certificate, and read only from what was
//! verified. What the fields must match is `sso`'s and `slo`'s business.

use crate::model::{SamlProvider, Timestamp};
use crate::store::Catalog;

use super::codec;
use super::xml::{self, DsigError, Element, SAML_NS, SAMLP_NS, TrustedCertificate, VerifyOptions};

/// How the message came in.
#[derive(Debug, Clone, Copy)]
pub enum Incoming<'a> {
    /// The query string exactly as received (the signature covers its raw bytes).
    Redirect { raw_query: &'a str },
    /// The form's `SAMLRequest` value (base64, not deflated) and `RelayState`.
    Post {
        message: &'a str,
        relay_state: Option<&'a str>,
    },
}

/// Why a message is refused. Shown on an error page, never sent to the SP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("The request carries no SAML message.")]
    Missing,
    #[error("The SAML message cannot be decoded: {0}")]
    Codec(#[from] codec::CodecError),
    #[error("The SAML message is not acceptable XML: {0}")]
    Xml(String),
    #[error("The SAML message must be signed by the service provider.")]
    Unsigned,
    #[error("The SAML message's signature does not verify: {0}")]
    BadSignature(String),
    #[error("The provider's verification certificate cannot be read.")]
    NoCertificate,
    #[error("Expected a {expected} message.")]
    WrongMessage { expected: &'static str },
    #[error("The message is invalid: {0}")]
    Invalid(String),
}

/// A message whose signature (if one is required) was checked.
pub struct Received {
    /// The verified element (a copy of exactly what the signature covered), or the
    /// parsed root when no signature is required.
    pub element: Element,
    pub relay_state: Option<String>,
    pub signed: bool,
}

/// The certificates requests must be signed with; empty when none is required.
pub fn trusted_certificates(
    catalog: &Catalog,
    provider: &SamlProvider,
) -> Result<Vec<TrustedCertificate>, RequestError> {
    let Some(id) = provider.verification_kp else {
        return Ok(Vec::new());
    };
    let pair = catalog.keypair(id).ok_or(RequestError::NoCertificate)?;
    TrustedCertificate::from_pem(&pair.certificate_pem).map_err(|_| RequestError::NoCertificate)
}

fn sha1_allowed(provider: &SamlProvider) -> VerifyOptions {
    // An admin who picked SHA-1 for our signatures talks to an SP that signs with it.
    VerifyOptions {
        allow_sha1: provider.signature_algorithm.ends_with("sha1")
            || provider.digest_algorithm.ends_with("sha1"),
    }
}

/// One parameter of a raw query, URL-decoded; a literal `+` in a base64 value stays `+`.
pub fn query_parameter(raw_query: &str, name: &str) -> Option<String> {
    raw_query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| {
            let escaped = value.replace('+', "%2B");
            url::form_urlencoded::parse(format!("v={escaped}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
        })
    })
}

/// Decodes, parses and (when `trusted` is not empty) verifies a message.
pub fn receive(
    incoming: Incoming<'_>,
    trusted: &[TrustedCertificate],
    provider: &SamlProvider,
) -> Result<Received, RequestError> {
    let options = sha1_allowed(provider);
    match incoming {
        Incoming::Redirect { raw_query } => {
            let message = query_parameter(raw_query, "SAMLRequest")
                .or_else(|| query_parameter(raw_query, "SAMLResponse"))
                .filter(|m| !m.is_empty())
                .ok_or(RequestError::Missing)?;
            let relay_state = query_parameter(raw_query, "RelayState");
            let signed = if trusted.is_empty() {
                false
            } else {
                match xml::verify_redirect(raw_query, trusted, &options) {
                    Ok(_) => true,
                    Err(DsigError::NoSignature) => return Err(RequestError::Unsigned),
                    Err(error) => return Err(RequestError::BadSignature(error.to_string())),
                }
            };
            let bytes = codec::inflate_base64(&message)?;
            let element = xml::parse(&bytes).map_err(|e| RequestError::Xml(e.to_string()))?;
            Ok(Received {
                element,
                relay_state,
                signed,
            })
        }
        Incoming::Post {
            message,
            relay_state,
        } => {
            let mut bytes = codec::decode_base64(message)?;
            // node-saml (passport-saml) DEFLATEs POST-bound requests too unless told not
            // to: XML starts with `<`, so anything else is tried as DEFLATE (capped).
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'<') {
                bytes = codec::inflate_base64(message)?;
            }
            let root = xml::parse(&bytes).map_err(|e| RequestError::Xml(e.to_string()))?;
            let relay_state = relay_state.map(str::to_owned);
            if trusted.is_empty() {
                return Ok(Received {
                    element: root,
                    relay_state,
                    signed: false,
                });
            }
            match xml::verify_root(&root, trusted, &options) {
                Ok(verified) => Ok(Received {
                    element: verified.element,
                    relay_state,
                    signed: true,
                }),
                Err(DsigError::NoSignature) => Err(RequestError::Unsigned),
                Err(error) => Err(RequestError::BadSignature(error.to_string())),
            }
        }
    }
}

/// The parts of an AuthnRequest gatehouse acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    pub id: String,
    pub issuer: Option<String>,
    pub issue_instant: Timestamp,
    pub destination: Option<String>,
    pub acs_url: Option<String>,
    pub protocol_binding: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub name_id_format: Option<String>,
}

fn required_attribute(element: &Element, name: &str) -> Result<String, RequestError> {
    element
        .attribute(name)
        .filter(|value| !value.trim().is_empty())
        .map(|value| value.trim().to_owned())
        .ok_or_else(|| RequestError::Invalid(format!("{name} is missing")))
}

fn common(element: &Element) -> Result<(String, Option<String>, Timestamp), RequestError> {
    if element.attribute("Version") != Some("2.0") {
        return Err(RequestError::Invalid("Version must be 2.0".into()));
    }
    let id = required_attribute(element, "ID")?;
    let instant = required_attribute(element, "IssueInstant")?;
    let instant = Timestamp::parse_rfc3339(&instant)
        .ok_or_else(|| RequestError::Invalid("IssueInstant is not a date and time".into()))?;
    let issuer = element
        .find_child(SAML_NS, "Issuer")
        .and_then(Element::text_only)
        .map(|text| text.trim().to_owned());
    Ok((id, issuer, instant))
}

fn boolean(element: &Element, name: &str) -> bool {
    matches!(element.attribute(name), Some("true" | "1"))
}

impl AuthnRequest {
    pub fn from_element(element: &Element) -> Result<AuthnRequest, RequestError> {
        if !element.is(SAMLP_NS, "AuthnRequest") {
            return Err(RequestError::WrongMessage {
                expected: "samlp:AuthnRequest",
            });
        }
        let (id, issuer, issue_instant) = common(element)?;
        let name_id_format = element
            .find_child(SAMLP_NS, "NameIDPolicy")
            .and_then(|policy| policy.attribute("Format"))
            .map(str::to_owned);
        Ok(AuthnRequest {
            id,
            issuer,
            issue_instant,
            destination: element.attribute("Destination").map(str::to_owned),
            acs_url: element
                .attribute("AssertionConsumerServiceURL")
                .map(str::to_owned),
            protocol_binding: element.attribute("ProtocolBinding").map(str::to_owned),
            force_authn: boolean(element, "ForceAuthn"),
            is_passive: boolean(element, "IsPassive"),
            name_id_format,
        })
    }
}

/// The parts of a LogoutRequest gatehouse acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id: String,
    pub issuer: Option<String>,
    pub issue_instant: Timestamp,
    pub destination: Option<String>,
    pub name_id: Option<String>,
    pub session_index: Option<String>,
}

impl LogoutRequest {
    pub fn from_element(element: &Element) -> Result<LogoutRequest, RequestError> {
        if !element.is(SAMLP_NS, "LogoutRequest") {
            return Err(RequestError::WrongMessage {
                expected: "samlp:LogoutRequest",
            });
        }
        let (id, issuer, issue_instant) = common(element)?;
        Ok(LogoutRequest {
            id,
            issuer,
            issue_instant,
            destination: element.attribute("Destination").map(str::to_owned),
            name_id: element
                .find_child(SAML_NS, "NameID")
                .and_then(Element::text_only),
            session_index: element
                .find_child(SAMLP_NS, "SessionIndex")
                .and_then(Element::text_only),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const REQUEST: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="2026-01-01T10:00:00Z" Destination="https://idp/sso" AssertionConsumerServiceURL="https://sp/acs" ForceAuthn="true"><saml:Issuer>https://sp/</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"/></samlp:AuthnRequest>"#;

    #[test]
    fn reads_an_authn_request_from_either_binding() {
        let provider = SamlProvider::new("https://sp/acs".into());
        let query = format!(
            "SAMLRequest={}&RelayState=abc",
            url::form_urlencoded::byte_serialize(codec::deflate_base64(REQUEST).as_bytes())
                .collect::<String>()
        );
        let received = receive(Incoming::Redirect { raw_query: &query }, &[], &provider).unwrap();
        assert_eq!(received.relay_state.as_deref(), Some("abc"));
        let request = AuthnRequest::from_element(&received.element).unwrap();
        assert_eq!(request.id, "_r1");
        assert_eq!(request.issuer.as_deref(), Some("https://sp/"));
        assert_eq!(request.acs_url.as_deref(), Some("https://sp/acs"));
        assert!(request.force_authn && !request.is_passive);
        assert_eq!(
            request.name_id_format.as_deref(),
            Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
        );

        // Deflated, as node-saml posts it, is read too.
        let deflated = codec::deflate_base64(REQUEST);
        let received = receive(
            Incoming::Post {
                message: &deflated,
                relay_state: None,
            },
            &[],
            &provider,
        )
        .unwrap();
        assert_eq!(
            AuthnRequest::from_element(&received.element).unwrap().id,
            "_r1"
        );
        let posted = codec::encode_base64(REQUEST.as_bytes());
        let received = receive(
            Incoming::Post {
                message: &posted,
                relay_state: None,
            },
            &[],
            &provider,
        )
        .unwrap();
        assert_eq!(
            AuthnRequest::from_element(&received.element).unwrap().id,
            "_r1"
        );
    }

    #[test]
    fn wrong_or_hostile_messages_are_refused() {
        let provider = SamlProvider::new("https://sp/acs".into());
        let post = |xml: &str| {
            let message = codec::encode_base64(xml.as_bytes());
            receive(
                Incoming::Post {
                    message: &message,
                    relay_state: None,
                },
                &[],
                &provider,
            )
            .map(|received| received.element)
        };
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol;</samlp:AuthnRequest>"#;
        assert!(matches!(post(bomb), Err(RequestError::Xml(_))));
        let logout = REQUEST.replace("AuthnRequest", "LogoutRequest");
        let element = post(&logout).unwrap();
        assert!(matches!(
            AuthnRequest::from_element(&element),
            Err(RequestError::WrongMessage { .. })
        ));
        let old = REQUEST.replace("Version=\"2.0\"", "Version=\"1.1\"");
        assert!(AuthnRequest::from_element(&post(&old).unwrap()).is_err());
        let big = "A".repeat(6 << 20);
        assert!(matches!(post(&big), Err(RequestError::Codec(_))));
    }
}
