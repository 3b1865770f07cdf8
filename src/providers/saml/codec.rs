//! How SAML messages travel: base64 (POST binding) and raw DEFLATE + base64 (Redirect
//! binding, SAML bindings §3.4.4.1). Inflating is capped at the XML parser's size limit so
//! a DEFLATE bomb costs us no more than a legitimately large message.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::xml::Limits;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("the message is not base64")]
    Base64,
    #[error("the message is not DEFLATE data")]
    Deflate,
    #[error("the message is larger than {0} bytes")]
    TooLarge(usize),
}

fn max_bytes() -> usize {
    Limits::default().max_bytes
}

/// Base64 as senders write it: whitespace (line breaks every 76 characters) ignored.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, CodecError> {
    // base64 grows by 4/3: refuse before decoding what could never fit.
    if text.len() > max_bytes().saturating_mul(2) {
        return Err(CodecError::TooLarge(max_bytes()));
    }
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = STANDARD.decode(compact).map_err(|_| CodecError::Base64)?;
    if bytes.len() > max_bytes() {
        return Err(CodecError::TooLarge(max_bytes()));
    }
    Ok(bytes)
}

pub fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A Redirect-binding message: base64, then raw DEFLATE, at most the parser's limit.
pub fn inflate_base64(text: &str) -> Result<Vec<u8>, CodecError> {
    let compressed = decode_base64(text)?;
    miniz_oxide::inflate::decompress_to_vec_with_limit(&compressed, max_bytes()).map_err(|error| {
        match error.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => CodecError::TooLarge(max_bytes()),
            _ => CodecError::Deflate,
        }
    })
}

/// The Redirect-binding form of a message we send: raw DEFLATE, then base64.
pub fn deflate_base64(xml: &str) -> String {
    encode_base64(&miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 6))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn deflate_round_trips() {
        let xml = "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>";
        assert_eq!(
            inflate_base64(&deflate_base64(xml)).unwrap(),
            xml.as_bytes()
        );
    }

    #[test]
    fn a_deflate_bomb_stops_at_the_limit() {
        let huge = "A".repeat(max_bytes() * 8);
        let bomb = deflate_base64(&huge);
        assert!(bomb.len() < 20_000, "compresses well: {}", bomb.len());
        assert_eq!(
            inflate_base64(&bomb),
            Err(CodecError::TooLarge(max_bytes()))
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(inflate_base64("not base64!"), Err(CodecError::Base64));
        assert_eq!(
            inflate_base64(&encode_base64(b"\xff\xff\xff\xff")),
            Err(CodecError::Deflate)
        );
        assert!(decode_base64(&"A".repeat(max_bytes() * 3)).is_err());
    }
}
