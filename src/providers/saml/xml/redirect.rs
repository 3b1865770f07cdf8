//! Signatures of the HTTP-Redirect binding (SAML 2.0 bindings, section 3.4.4.1): the
//! message travels DEFLATEd and base64'd in the query string, and the signature covers
//! the query parameters themselves, `SAMLRequest=…&RelayState=…&SigAlg=…` with the values
//! exactly as they were URL-encoded in the query (re-encoding them could change the bytes
//! signed, so nothing is decoded before checking).
//!
//! DEFLATE and base64 of the message are the caller's: this module only signs and checks.

use url::form_urlencoded;

use super::algorithms::SignatureAlgorithm;
use super::dsig::{DsigError, VerifyOptions};
use super::trust::TrustedCertificate;
use crate::crypto::SigningKey;

/// Which message the query carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectMessage {
    /// `SAMLRequest` (AuthnRequest, LogoutRequest)
    Request,
    /// `SAMLResponse` (LogoutResponse)
    Response,
}

impl RedirectMessage {
    pub fn parameter(self) -> &'static str {
        match self {
            RedirectMessage::Request => "SAMLRequest",
            RedirectMessage::Response => "SAMLResponse",
        }
    }
}

/// A verified redirect-binding query, its values URL-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectVerified {
    pub message_kind: RedirectMessage,
    /// The `SAMLRequest`/`SAMLResponse` value: base64 of the DEFLATEd XML.
    pub message: String,
    pub relay_state: Option<String>,
    pub algorithm: SignatureAlgorithm,
    /// Which of the trusted certificates verified it.
    pub certificate: usize,
}

fn query_error(what: impl Into<String>) -> DsigError {
    DsigError::Query(what.into())
}

fn decode(raw: &str) -> String {
    form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// A base64 value (the message, the signature): a literal `+` is a base64 `+`, not an
/// encoded space, should a sender have left it unescaped (base64 has no spaces anyway).
fn decode_base64_value(raw: &str) -> String {
    decode(&raw.replace('+', "%2B"))
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The raw (still URL-encoded) values of the parameters the binding signs.
#[derive(Default)]
struct Raw<'q> {
    message: Option<(RedirectMessage, &'q str)>,
    relay_state: Option<&'q str>,
    sig_alg: Option<&'q str>,
    signature: Option<&'q str>,
}

fn split_query(query: &str) -> Result<Raw<'_>, DsigError> {
    let mut raw = Raw::default();
    let query = query.strip_prefix('?').unwrap_or(query);
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "SAMLRequest" | "SAMLResponse" => {
                if raw.message.is_some() {
                    return Err(query_error("more than one SAMLRequest/SAMLResponse"));
                }
                let kind = if name == "SAMLRequest" {
                    RedirectMessage::Request
                } else {
                    RedirectMessage::Response
                };
                raw.message = Some((kind, value));
                continue;
            }
            "RelayState" => &mut raw.relay_state,
            "SigAlg" => &mut raw.sig_alg,
            "Signature" => &mut raw.signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(query_error(format!("{name} appears more than once")));
        }
        *slot = Some(value);
    }
    Ok(raw)
}

/// The octets the binding signs, from raw values.
fn signed_octets(
    kind: RedirectMessage,
    message: &str,
    relay_state: Option<&str>,
    sig_alg: &str,
) -> String {
    let mut octets = format!("{}={message}", kind.parameter());
    if let Some(relay_state) = relay_state {
        octets.push_str("&RelayState=");
        octets.push_str(relay_state);
    }
    octets.push_str("&SigAlg=");
    octets.push_str(sig_alg);
    octets
}

/// Verifies a redirect-binding query string (everything after `?`, as received). Other
/// parameters in the query are ignored; each signed one must appear at most once.
/// `NoSignature` when the query is not signed at all, so a caller that does not require
/// signed requests can tell that apart from a bad signature.
pub fn verify_redirect(
    raw_query: &str,
    trusted: &[TrustedCertificate],
    options: &VerifyOptions,
) -> Result<RedirectVerified, DsigError> {
    let raw = split_query(raw_query)?;
    let (kind, message) = raw
        .message
        .ok_or_else(|| query_error("no SAMLRequest or SAMLResponse"))?;
    let (Some(sig_alg), Some(signature)) = (raw.sig_alg, raw.signature) else {
        return Err(DsigError::NoSignature);
    };
    if trusted.is_empty() {
        return Err(DsigError::NoTrustedCertificate);
    }
    let algorithm_uri = decode(sig_alg);
    let algorithm = SignatureAlgorithm::from_uri(&algorithm_uri)
        .ok_or(DsigError::UnsupportedAlgorithm(algorithm_uri))?;
    if algorithm.is_sha1() && !options.allow_sha1 {
        return Err(DsigError::Sha1NotAllowed);
    }
    let signature = super::dsig::decode_base64(&decode_base64_value(signature))
        .ok_or_else(|| query_error("Signature is not base64"))?;
    let octets = signed_octets(kind, message, raw.relay_state, sig_alg);
    let certificate = trusted
        .iter()
        .position(|certificate| certificate.verifies(algorithm, octets.as_bytes(), &signature))
        .ok_or(DsigError::BadSignature)?;
    Ok(RedirectVerified {
        message_kind: kind,
        message: decode_base64_value(message),
        relay_state: raw.relay_state.map(decode),
        algorithm,
        certificate,
    })
}

/// A signed redirect-binding query string (without `?`): `message` is the base64 of the
/// DEFLATEd XML, not yet URL-encoded; `relay_state` as the SP sent it.
pub fn sign_redirect(
    kind: RedirectMessage,
    message: &str,
    relay_state: Option<&str>,
    key: &SigningKey,
    algorithm: SignatureAlgorithm,
) -> Result<String, DsigError> {
    let relay_state = relay_state.map(encode);
    let octets = signed_octets(
        kind,
        &encode(message),
        relay_state.as_deref(),
        &encode(algorithm.uri()),
    );
    let signature = key
        .sign_with(algorithm.scheme(), octets.as_bytes())
        .map_err(|e| DsigError::Sign(e.to_string()))?;
    use base64::Engine;
    let signature = base64::engine::general_purpose::STANDARD.encode(signature);
    Ok(format!("{octets}&Signature={}", encode(&signature)))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::crypto::keys::generate;
    use crate::model::{KeyType, Timestamp};

    fn key(key_type: KeyType) -> (SigningKey, TrustedCertificate) {
        let pair = generate(key_type, "redirect test", &[], 30, Timestamp(1_700_000_000)).unwrap();
        let key = SigningKey::from_pem(&pair.certificate_pem, &pair.private_key_pem).unwrap();
        let trusted = TrustedCertificate::from_pem(&pair.certificate_pem)
            .unwrap()
            .remove(0);
        (key, trusted)
    }

    #[test]
    fn signs_and_verifies_in_both_key_types() {
        for (key_type, algorithm) in [
            (KeyType::Rsa, SignatureAlgorithm::RsaSha256),
            (KeyType::EcP256, SignatureAlgorithm::EcdsaSha256),
        ] {
            let (key, trusted) = key(key_type);
            let query = sign_redirect(
                RedirectMessage::Response,
                "fZBBa+MwEIX/ih/+/+=",
                Some("state & more/é"),
                &key,
                algorithm,
            )
            .unwrap();
            let verified = verify_redirect(
                &format!("?extra=1&{query}"),
                std::slice::from_ref(&trusted),
                &VerifyOptions::default(),
            )
            .unwrap();
            assert_eq!(verified.message, "fZBBa+MwEIX/ih/+/+=");
            assert_eq!(verified.relay_state.as_deref(), Some("state & more/é"));
            assert_eq!(verified.message_kind, RedirectMessage::Response);
            assert_eq!(verified.algorithm, algorithm);

            // A sender that leaves base64's `+` unescaped in the message is understood
            // (the signature covers the raw text either way).
            let plus = sign_raw_plus(&key, algorithm);
            let verified = verify_redirect(
                &plus,
                std::slice::from_ref(&trusted),
                &VerifyOptions::default(),
            )
            .unwrap();
            assert_eq!(verified.message, "a+b/c=");

            let tampered = query.replace("RelayState=state", "RelayState=stateX");
            assert_eq!(
                verify_redirect(
                    &tampered,
                    std::slice::from_ref(&trusted),
                    &VerifyOptions::default()
                ),
                Err(DsigError::BadSignature)
            );
            let without_relay_state = query
                .split('&')
                .filter(|pair| !pair.starts_with("RelayState="))
                .collect::<Vec<_>>()
                .join("&");
            assert_eq!(
                verify_redirect(
                    &without_relay_state,
                    std::slice::from_ref(&trusted),
                    &VerifyOptions::default()
                ),
                Err(DsigError::BadSignature)
            );
            assert_eq!(
                verify_redirect(
                    &format!("{query}&SigAlg=x"),
                    &[trusted],
                    &VerifyOptions::default()
                ),
                Err(DsigError::Query("SigAlg appears more than once".into()))
            );
        }
    }

    #[test]
    fn wrong_certificates_sha1_and_unsigned_queries_are_refused() {
        let (key, trusted) = key(KeyType::Rsa);
        let (_, other) = key_pair_other();
        let query = sign_redirect(
            RedirectMessage::Request,
            "abc",
            None,
            &key,
            SignatureAlgorithm::RsaSha256,
        )
        .unwrap();
        assert_eq!(
            verify_redirect(
                &query,
                std::slice::from_ref(&other),
                &VerifyOptions::default()
            ),
            Err(DsigError::BadSignature)
        );
        assert_eq!(
            verify_redirect(&query, &[other, trusted.clone()], &VerifyOptions::default())
                .unwrap()
                .certificate,
            1
        );
        let sha1 = sign_redirect(
            RedirectMessage::Request,
            "abc",
            None,
            &key,
            SignatureAlgorithm::RsaSha1,
        )
        .unwrap();
        assert_eq!(
            verify_redirect(
                &sha1,
                std::slice::from_ref(&trusted),
                &VerifyOptions::default()
            ),
            Err(DsigError::Sha1NotAllowed)
        );
        assert!(
            verify_redirect(
                &sha1,
                std::slice::from_ref(&trusted),
                &VerifyOptions { allow_sha1: true }
            )
            .is_ok()
        );
        assert_eq!(
            verify_redirect(
                "SAMLRequest=abc&RelayState=x",
                std::slice::from_ref(&trusted),
                &VerifyOptions::default()
            ),
            Err(DsigError::NoSignature)
        );
        assert!(matches!(
            verify_redirect("RelayState=x", &[trusted], &VerifyOptions::default()),
            Err(DsigError::Query(_))
        ));
    }

    /// A query whose message keeps a literal `+`, signed over those raw bytes.
    fn sign_raw_plus(key: &SigningKey, algorithm: SignatureAlgorithm) -> String {
        let octets = signed_octets(
            RedirectMessage::Request,
            "a+b/c=",
            None,
            &encode(algorithm.uri()),
        );
        let signature = key
            .sign_with(algorithm.scheme(), octets.as_bytes())
            .unwrap();
        use base64::Engine;
        let signature = base64::engine::general_purpose::STANDARD.encode(signature);
        format!("{octets}&Signature={signature}")
    }

    fn key_pair_other() -> (SigningKey, TrustedCertificate) {
        key(KeyType::Rsa)
    }
}
