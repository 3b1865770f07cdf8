//! XML Encryption of an element for one recipient (a SAML assertion for the service
//! provider's encryption certificate): a fresh AES key encrypts the element's XML
//! (AES-GCM, or AES-CBC for SPs that only know it), and the SP's RSA public key wraps
//! that key with RSA-OAEP (`rsa-oaep-mgf1p`: SHA-1 digest and MGF1 — the one key
//! transport every SAML stack implements; OAEP with SHA-1 is still sound for wrapping).
//! The result is an `xenc:EncryptedData` with the wrapped key in its `ds:KeyInfo`, the
//! layout xmlsec1, node-saml and pysaml2 decrypt.
//!
//! Written here because no pure-Rust crate implements XML Encryption; the primitives
//! are RustCrypto's (aes-gcm, cbc, rsa).

use aes_gcm::aead::{Aead, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
use rand::RngCore;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::{Oaep, RsaPublicKey};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::algorithms::DSIG_NS;
use super::dom::Element;

pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
/// `Type` of an EncryptedData that replaces a whole element.
pub const ELEMENT_TYPE: &str = "http://www.w3.org/2001/04/xmlenc#Element";
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// How the element itself is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataEncryption {
    Aes128Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes256Gcm,
}

impl DataEncryption {
    pub fn uri(self) -> &'static str {
        match self {
            DataEncryption::Aes128Cbc => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            DataEncryption::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            DataEncryption::Aes128Gcm => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            DataEncryption::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        }
    }

    pub fn from_uri(uri: &str) -> Option<DataEncryption> {
        [
            DataEncryption::Aes128Cbc,
            DataEncryption::Aes256Cbc,
            DataEncryption::Aes128Gcm,
            DataEncryption::Aes256Gcm,
        ]
        .into_iter()
        .find(|method| method.uri() == uri)
    }

    fn key_len(self) -> usize {
        match self {
            DataEncryption::Aes128Cbc | DataEncryption::Aes128Gcm => 16,
            DataEncryption::Aes256Cbc | DataEncryption::Aes256Gcm => 32,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncryptError {
    #[error("the encryption certificate is unreadable: {0}")]
    Certificate(String),
    #[error("the encryption certificate does not hold an RSA key")]
    NotRsa,
    #[error("encryption failed")]
    Cipher,
}

/// `element` encrypted for the holder of `recipient_certificate_der`'s private key. The
/// element is serialized on its own, so every prefix it uses is declared inside it.
pub fn encrypt_element(
    element: &Element,
    recipient_certificate_der: &[u8],
    method: DataEncryption,
) -> Result<Element, EncryptError> {
    let recipient = rsa_key_of(recipient_certificate_der)?;
    let mut key = vec![0u8; method.key_len()];
    rand::rng().fill_bytes(&mut key);
    let plaintext = element.to_xml();
    let cipher_value = encrypt_data(method, &key, plaintext.as_bytes())?;
    let wrapped = recipient
        .encrypt(&mut rsa::rand_core::OsRng, Oaep::new::<sha1::Sha1>(), &key)
        .map_err(|_| EncryptError::Cipher)?;
    let encrypted_key = Element::new(XENC_NS, "xenc:EncryptedKey")
        .with_child(
            Element::new(XENC_NS, "xenc:EncryptionMethod")
                .with_attribute("Algorithm", RSA_OAEP_MGF1P)
                .with_child(
                    Element::new(DSIG_NS, "ds:DigestMethod")
                        .with_attribute("Algorithm", SHA1_DIGEST),
                ),
        )
        .with_child(
            Element::new(DSIG_NS, "ds:KeyInfo").with_child(
                Element::new(DSIG_NS, "ds:X509Data").with_child(
                    Element::new(DSIG_NS, "ds:X509Certificate")
                        .with_text(STANDARD.encode(recipient_certificate_der)),
                ),
            ),
        )
        .with_child(cipher_data(&wrapped));
    Ok(Element::new(XENC_NS, "xenc:EncryptedData")
        .with_namespace(Some("xenc"), XENC_NS)
        .with_namespace(Some("ds"), DSIG_NS)
        .with_attribute("Type", ELEMENT_TYPE)
        .with_child(
            Element::new(XENC_NS, "xenc:EncryptionMethod")
                .with_attribute("Algorithm", method.uri()),
        )
        .with_child(Element::new(DSIG_NS, "ds:KeyInfo").with_child(encrypted_key))
        .with_child(cipher_data(&cipher_value)))
}

fn cipher_data(bytes: &[u8]) -> Element {
    Element::new(XENC_NS, "xenc:CipherData")
        .with_child(Element::new(XENC_NS, "xenc:CipherValue").with_text(STANDARD.encode(bytes)))
}

/// The CipherValue of the data: the IV first, then the ciphertext (and, for GCM, its
/// 16-byte tag at the end), as XML Encryption lays them out.
fn encrypt_data(
    method: DataEncryption,
    key: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let failed = |_| EncryptError::Cipher;
    match method {
        DataEncryption::Aes128Gcm | DataEncryption::Aes256Gcm => {
            let mut nonce = [0u8; 12];
            rand::rng().fill_bytes(&mut nonce);
            let sealed = if method == DataEncryption::Aes128Gcm {
                aes_gcm::Aes128Gcm::new_from_slice(key)
                    .map_err(|_| EncryptError::Cipher)?
                    .encrypt(&nonce.into(), plaintext)
            } else {
                aes_gcm::Aes256Gcm::new_from_slice(key)
                    .map_err(|_| EncryptError::Cipher)?
                    .encrypt(&nonce.into(), plaintext)
            }
            .map_err(failed)?;
            Ok([nonce.as_slice(), &sealed].concat())
        }
        DataEncryption::Aes128Cbc | DataEncryption::Aes256Cbc => {
            let mut iv = [0u8; 16];
            rand::rng().fill_bytes(&mut iv);
            // PKCS#7 padding is one of the paddings XML Encryption's rule allows (the last
            // byte says how many to strip), and the one every decryptor accepts.
            let ciphertext = if method == DataEncryption::Aes128Cbc {
                cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
                    .map_err(|_| EncryptError::Cipher)?
                    .encrypt_padded_vec::<Pkcs7>(plaintext)
            } else {
                cbc::Encryptor::<aes::Aes256>::new_from_slices(key, &iv)
                    .map_err(|_| EncryptError::Cipher)?
                    .encrypt_padded_vec::<Pkcs7>(plaintext)
            };
            Ok([iv.as_slice(), &ciphertext].concat())
        }
    }
}

fn rsa_key_of(certificate_der: &[u8]) -> Result<RsaPublicKey, EncryptError> {
    let (_, certificate) = X509Certificate::from_der(certificate_der)
        .map_err(|e| EncryptError::Certificate(e.to_string()))?;
    let spki = certificate.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
        return Err(EncryptError::NotRsa);
    }
    RsaPublicKey::from_pkcs1_der(&spki.subject_public_key.data)
        .map_err(|e| EncryptError::Certificate(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use rsa::RsaPrivateKey;
    use rsa::pkcs8::EncodePrivateKey;

    use super::super::parse;
    use super::*;

    /// An RSA key and a self-signed certificate for it (rcgen over the rsa crate's key).
    fn recipient() -> (RsaPrivateKey, Vec<u8>) {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let pem = private.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let pair = rcgen::KeyPair::from_pem(&pem).unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["sp.example".to_owned()])
            .unwrap()
            .self_signed(&pair)
            .unwrap();
        (private, certificate.der().to_vec())
    }

    fn text_of(root: &Element, path: &[&str]) -> String {
        let mut at = root.clone();
        for local in path {
            let namespace = if local.starts_with("X509") || *local == "KeyInfo" {
                DSIG_NS
            } else {
                XENC_NS
            };
            at = at.find_child(namespace, local).unwrap().clone();
        }
        at.text()
    }

    /// Decrypts what `encrypt_element` made, the way an SP does: unwrap the key with the
    /// private key, then the data.
    fn decrypt(encrypted: &Element, private: &RsaPrivateKey) -> String {
        let method = encrypted
            .find_child(XENC_NS, "EncryptionMethod")
            .unwrap()
            .attribute("Algorithm")
            .unwrap()
            .to_owned();
        let wrapped = STANDARD
            .decode(text_of(
                encrypted,
                &["KeyInfo", "EncryptedKey", "CipherData", "CipherValue"],
            ))
            .unwrap();
        let key = private
            .decrypt(Oaep::new::<sha1::Sha1>(), &wrapped)
            .unwrap();
        let data = STANDARD
            .decode(text_of(encrypted, &["CipherData", "CipherValue"]))
            .unwrap();
        let plain = match DataEncryption::from_uri(&method).unwrap() {
            DataEncryption::Aes128Gcm => aes_gcm::Aes128Gcm::new_from_slice(&key)
                .unwrap()
                .decrypt(
                    &<[u8; 12]>::try_from(&data[..12]).unwrap().into(),
                    &data[12..],
                )
                .unwrap(),
            DataEncryption::Aes256Gcm => aes_gcm::Aes256Gcm::new_from_slice(&key)
                .unwrap()
                .decrypt(
                    &<[u8; 12]>::try_from(&data[..12]).unwrap().into(),
                    &data[12..],
                )
                .unwrap(),
            DataEncryption::Aes128Cbc => {
                use cbc::cipher::BlockModeDecrypt;
                cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &data[..16])
                    .unwrap()
                    .decrypt_padded_vec::<Pkcs7>(&data[16..])
                    .unwrap()
            }
            DataEncryption::Aes256Cbc => {
                use cbc::cipher::BlockModeDecrypt;
                cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &data[..16])
                    .unwrap()
                    .decrypt_padded_vec::<Pkcs7>(&data[16..])
                    .unwrap()
            }
        };
        String::from_utf8(plain).unwrap()
    }

    #[test]
    fn each_method_round_trips_to_the_same_element() {
        let (private, certificate) = recipient();
        let assertion = Element::new(super::super::SAML_NS, "saml:Assertion")
            .with_attribute("ID", "_a1")
            .with_child(
                Element::new(super::super::SAML_NS, "saml:Issuer").with_text("https://idp & co"),
            );
        for method in [
            DataEncryption::Aes128Cbc,
            DataEncryption::Aes256Cbc,
            DataEncryption::Aes128Gcm,
            DataEncryption::Aes256Gcm,
        ] {
            let encrypted = encrypt_element(&assertion, &certificate, method).unwrap();
            // What goes on the wire parses back with the hardened parser.
            let reparsed = parse(encrypted.to_xml().as_bytes()).unwrap();
            assert_eq!(reparsed.attribute("Type"), Some(ELEMENT_TYPE));
            let plain = decrypt(&reparsed, &private);
            assert_eq!(
                parse(plain.as_bytes()).unwrap(),
                parse(assertion.to_xml().as_bytes()).unwrap()
            );
        }
    }

    #[test]
    fn only_rsa_certificates_can_receive() {
        let pair = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["ec.example".to_owned()])
            .unwrap()
            .self_signed(&pair)
            .unwrap();
        let element = Element::new(super::super::SAML_NS, "saml:Assertion");
        assert_eq!(
            encrypt_element(&element, certificate.der(), DataEncryption::Aes256Gcm),
            Err(EncryptError::NotRsa)
        );
        assert!(matches!(
            encrypt_element(&element, b"not a certificate", DataEncryption::Aes256Gcm),
            Err(EncryptError::Certificate(_))
        ));
    }
}
