//! XML for SAML: a hardened parser, a small owned DOM, exclusive canonicalization and
//! XML-DSig, in pure Rust (quick-xml tokenizes; ring, and the `rsa` crate for RSA-SHA1
//! signing only, do the cryptography). No samael and no xmlsec: samael without xmlsec
//! accepts any certificate, and both pull in OpenSSL.
//!
//! # Reading a message from a service provider
//!
//! ```ignore
//! use crate::providers::saml::xml::{self, TrustedCertificate, VerifyOptions};
//! let root = xml::parse(&decoded_bytes)?;                    // hardened, size-limited
//! let trusted = TrustedCertificate::from_pem(&provider.verification_certificate)?;
//! let verified = xml::verify_root(&root, &trusted, &VerifyOptions::default())?;
//! let request = verified.element;                            // read ONLY from this copy
//! let issuer = request.find_child(xml::SAML_NS, "Issuer").and_then(|e| e.text_only());
//! ```
//!
//! - `parse` / `parse_with_limits` refuse DTDs (so no external entities and no entity
//!   bombs), unknown entities, non-UTF-8 documents, and documents over `Limits` (256 KiB,
//!   depth 64, 10,000 elements, 64 attributes per element by default). Comments are
//!   dropped; text split by comments, CDATA or references is merged into one text node.
//! - Elements are matched by (namespace URI, local name): `Element::is`, `find_child`,
//!   `find_children`, `attribute` (unprefixed), `attribute_ns`, `text`, `text_only`.
//! - `verify_enveloped(document, element, trusted, options)` verifies the signature that
//!   is a direct child of `element` (a reference into `document`, compared by identity);
//!   `verify_root` does it for the root. Whether a signature is *required* is the
//!   caller's policy: `signature_of(element)` tells whether there is one at all. A signed
//!   HTTP-Redirect query is checked with `verify_redirect(raw_query, ...)` on the query
//!   string exactly as received (before any URL decoding); it returns `NoSignature` when
//!   the query carries none.
//! - `Limits::max_bytes` applies to the XML itself: inflate a Redirect-binding message
//!   with an output limit of the same size (a DEFLATE bomb is the caller's to stop).
//! - Take exactly the element you verified: e.g. refuse a Response with more than one
//!   Assertion rather than verifying "the first one" and reading another.
//! - SHA-1 (RSA-SHA1, SHA-1 digests) is refused unless `VerifyOptions::allow_sha1`.
//!   RSA keys must be 2048 bits or more except with SHA-1 (ring's limits). Certificate
//!   validity dates and chains are not checked: trust is "this exact certificate was
//!   configured for this provider", as in SAML metadata.
//!
//! Not supported (refused, not misread): inclusive C14N (`REC-xml-c14n-20010315`) and
//! the `#WithComments` variants, any transform other than enveloped-signature + exclusive
//! C14N, `Reference URI=""` (whole document), HMAC, DSA, Ed25519, decrypting XML
//! (`encrypt` only encrypts: an IdP sends encrypted assertions, it never receives them).
//!
//! What verification guarantees (the signature-wrapping defences): no ID appears twice
//! in the document; the element has exactly one `ds:Signature` child; its SignedInfo has
//! exactly one Reference, whose URI is `#` + the element's own `ID`; the transforms are
//! exactly enveloped-signature then exclusive C14N (with an optional PrefixList); the
//! signature verifies with one of the *trusted* certificates (a KeyInfo certificate in
//! the message is never used); the digest of the element (Signature left out) matches.
//! `Verified::element` is a copy of that element: code that reads anything else from the
//! document reads unsigned data.
//!
//! # Writing and signing our own messages
//!
//! ```ignore
//! use crate::providers::saml::xml::{self, Element, SignOptions, SignatureAlgorithm, DigestAlgorithm};
//! let mut response = Element::new(xml::SAMLP_NS, "samlp:Response")
//!     .with_namespace(Some("samlp"), xml::SAMLP_NS)
//!     .with_namespace(Some("saml"), xml::SAML_NS)
//!     .with_attribute("ID", "_4f3c…")
//!     .with_child(Element::new(xml::SAML_NS, "saml:Issuer").with_text(issuer))
//!     .with_child(assertion /* an Element with ID "_a1…" */);
//! let options = SignOptions::new(SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256)
//!     .with_certificate(&certificate_der);
//! xml::sign_enveloped(&mut response, "_a1…", &key, &options)?;   // the assertion first
//! xml::sign_enveloped(&mut response, "_4f3c…", &key, &options)?; // then the response
//! let body = response.to_document();                              // UTF-8 with <?xml?>
//! ```
//!
//! - `Element::new(namespace, "prefix:Local")` plus `with_namespace`, `with_attribute`,
//!   `with_attribute_ns` (e.g. `xsi:type`), `with_child`, `with_text` build a tree;
//!   `to_xml` / `to_document` write it with the canonical escapes, declaring any prefix
//!   that is used but declared nowhere above where it is first used.
//! - `sign_enveloped(document, id, key, options)` finds the element with that `ID`
//!   (refusing duplicate IDs) and inserts the Signature after its `saml:Issuer` (or first;
//!   `Placement::ChildIndex` to choose). Sign inner elements before outer ones. Values that
//!   are QNames (`xsi:type="xs:string"`): declare `xs` on the element that uses it, or
//!   list it in `SignOptions::inclusive_prefixes`, so it survives exclusive C14N when an SP
//!   lifts the assertion out of the response.
//! - `SigningKey::sign_with(SignatureScheme, bytes)` (in `crate::crypto::keys`) is the
//!   primitive; Ed25519 keys cannot sign SAML (no interoperable XML-DSig algorithm).
//! - `sign_redirect(kind, base64_deflated_message, relay_state, key, algorithm)` builds a
//!   signed HTTP-Redirect query (for logout responses); DEFLATE is the caller's.

mod algorithms;
mod c14n;
mod dom;
mod dsig;
pub mod encrypt;
mod parse;
mod redirect;
mod trust;

#[cfg(test)]
mod tests;

pub use algorithms::{DSIG_NS, DigestAlgorithm, ENVELOPED_SIGNATURE, SignatureAlgorithm};
pub use c14n::{EXC_C14N, canonicalize, prefix_list};
pub use dom::{Attribute, Element, NamespaceDecl, Node, XML_NS};
pub use dsig::{
    DsigError, ID_ATTRIBUTE, Placement, SignOptions, Verified, VerifyOptions, sign_enveloped,
    signature_of, verify_enveloped, verify_root,
};
pub use parse::{Limits, XmlError, parse, parse_with_limits};
pub use redirect::{RedirectMessage, RedirectVerified, sign_redirect, verify_redirect};
pub use trust::{CertificateError, TrustedCertificate};

/// SAML 2.0 assertion namespace (`saml:`).
pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// SAML 2.0 protocol namespace (`samlp:`).
pub const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// SAML 2.0 metadata namespace (`md:`).
pub const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// XML Schema instance namespace (`xsi:type`).
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// XML Schema namespace (`xs:string`).
pub const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";
