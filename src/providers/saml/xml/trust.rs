//! Certificates we trust to verify signatures: the SP's signing certificate from its
//! metadata or the provider settings. A certificate that arrives inside a message
//! (KeyInfo) is never one of these; verification only ever uses keys from here.

use ring::signature::{self, UnparsedPublicKey};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::algorithms::SignatureAlgorithm;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    #[error("no certificate found in the PEM text")]
    NoCertificate,
    #[error("unreadable certificate: {0}")]
    Unreadable(String),
    #[error("the certificate's key is neither RSA nor ECDSA P-256")]
    UnsupportedKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
}

/// A certificate whose key may verify signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCertificate {
    der: Vec<u8>,
    kind: KeyKind,
    /// RSAPublicKey DER for RSA, the uncompressed point for P-256: what ring takes.
    public_key: Vec<u8>,
}

impl TrustedCertificate {
    pub fn from_der(der: &[u8]) -> Result<TrustedCertificate, CertificateError> {
        let (_, certificate) = X509Certificate::from_der(der)
            .map_err(|e| CertificateError::Unreadable(e.to_string()))?;
        let spki = certificate.public_key();
        let algorithm = &spki.algorithm.algorithm;
        let kind = if *algorithm == OID_PKCS1_RSAENCRYPTION {
            KeyKind::Rsa
        } else if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY
            && spki.algorithm.parameters.as_ref().map(|any| any.data)
                == Some(OID_EC_P256.as_bytes())
        {
            KeyKind::EcP256
        } else {
            return Err(CertificateError::UnsupportedKey);
        };
        Ok(TrustedCertificate {
            der: der.to_vec(),
            kind,
            public_key: spki.subject_public_key.data.to_vec(),
        })
    }

    /// Every certificate in a PEM text (an SP may publish several while rolling keys).
    pub fn from_pem(pem: &str) -> Result<Vec<TrustedCertificate>, CertificateError> {
        let mut reader = pem.as_bytes();
        let mut certificates = Vec::new();
        for der in rustls_pemfile::certs(&mut reader) {
            let der = der.map_err(|e| CertificateError::Unreadable(e.to_string()))?;
            certificates.push(TrustedCertificate::from_der(der.as_ref())?);
        }
        if certificates.is_empty() {
            return Err(CertificateError::NoCertificate);
        }
        Ok(certificates)
    }

    /// A certificate as SAML metadata carries it: base64 DER, whitespace allowed.
    pub fn from_base64(text: &str) -> Result<TrustedCertificate, CertificateError> {
        let der = super::dsig::decode_base64(text)
            .ok_or_else(|| CertificateError::Unreadable("bad base64".into()))?;
        TrustedCertificate::from_der(&der)
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Whether `signature` over `message` is this key's, made with `algorithm`. A
    /// mismatch between the algorithm and the key's kind is simply `false`.
    pub fn verifies(
        &self,
        algorithm: SignatureAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        let verifier: &dyn signature::VerificationAlgorithm = match (self.kind, algorithm) {
            (KeyKind::Rsa, SignatureAlgorithm::RsaSha1) => {
                &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            (KeyKind::Rsa, SignatureAlgorithm::RsaSha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (KeyKind::Rsa, SignatureAlgorithm::RsaSha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (KeyKind::Rsa, SignatureAlgorithm::RsaSha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
            // XML-DSig 1.1 and SAML write r || s; a DER signature from an older signer
            // is accepted too, it proves the same thing.
            (KeyKind::EcP256, SignatureAlgorithm::EcdsaSha256) if signature.len() == 64 => {
                &signature::ECDSA_P256_SHA256_FIXED
            }
            (KeyKind::EcP256, SignatureAlgorithm::EcdsaSha256) => {
                &signature::ECDSA_P256_SHA256_ASN1
            }
            _ => return false,
        };
        UnparsedPublicKey::new(verifier, &self.public_key)
            .verify(message, signature)
            .is_ok()
    }
}
