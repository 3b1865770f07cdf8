//! Enveloped XML signatures (XML-DSig) the way SAML uses them: one Reference to the ID
//! of the element that carries the Signature, the enveloped-signature and exclusive
//! canonicalization transforms, and nothing else.
//!
//! Verification is deliberately narrow. It checks one element the caller names (the one
//! it is about to read), refuses documents in which an ID appears twice, requires the
//! Signature to be a direct child of that element and its single Reference to point at
//! that element's own ID, uses only the caller's trusted certificates (a KeyInfo
//! certificate in the message is ignored), and hands back a copy of exactly the element
//! that was digested, so nothing outside the signed content can be read by mistake
//! (signature wrapping).

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::algorithms::{DSIG_NS, DigestAlgorithm, ENVELOPED_SIGNATURE, SignatureAlgorithm};
use super::c14n::{EXC_C14N, canonicalize, prefix_list};
use super::dom::{Element, NamespaceDecl, Node, is_xml_space};
use super::trust::TrustedCertificate;
use crate::crypto::SigningKey;

/// The namespace of SAML assertions (where `Issuer` lives).
const SAML_ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// The attribute SAML identifies its elements by.
pub const ID_ATTRIBUTE: &str = "ID";

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DsigError {
    #[error("the element has no ID attribute")]
    MissingId,
    #[error("no element has the ID {0:?}")]
    UnknownId(String),
    #[error("the ID {0:?} appears more than once in the document")]
    DuplicateId(String),
    #[error("the element is not part of the document")]
    NotInDocument,
    #[error("the element is signed already")]
    AlreadySigned,
    #[error("the element carries no signature")]
    NoSignature,
    #[error("the element carries more than one signature")]
    MultipleSignatures,
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("SHA-1 signatures or digests are not allowed here")]
    Sha1NotAllowed,
    #[error("the signature's reference does not point at the signed element")]
    WrongReference,
    #[error("the digest does not match: the signed content was changed")]
    DigestMismatch,
    #[error("the signature does not verify with any trusted certificate")]
    BadSignature,
    #[error("there is no trusted certificate to verify with")]
    NoTrustedCertificate,
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("malformed query string: {0}")]
    Query(String),
}

fn malformed(what: impl Into<String>) -> DsigError {
    DsigError::Malformed(what.into())
}

/// Where `sign_enveloped` puts the Signature among the element's children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Right after the first `saml:Issuer` child, or first when there is none: where
    /// the SAML schemas want it (Response, Assertion, AuthnRequest, Logout*, and first in
    /// metadata's EntityDescriptor, which has no Issuer).
    AfterIssuer,
    /// At this index among all child nodes (text included); past the end, last.
    ChildIndex(usize),
}

/// How to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOptions {
    pub algorithm: SignatureAlgorithm,
    pub digest: DigestAlgorithm,
    /// DER of the signing certificate, written as KeyInfo/X509Data/X509Certificate.
    /// Service providers verify with the certificate from our metadata; many still want
    /// to see it in the message.
    pub certificate_der: Option<Vec<u8>>,
    /// PrefixList of the exclusive canonicalization transform, e.g. `["xs"]` so that the
    /// `xs:` of `xsi:type="xs:string"` stays declared in the signed content.
    pub inclusive_prefixes: Vec<String>,
    pub placement: Placement,
}

impl SignOptions {
    /// The usual choice: the given algorithms, the Signature after the Issuer, no
    /// KeyInfo, no PrefixList.
    pub fn new(algorithm: SignatureAlgorithm, digest: DigestAlgorithm) -> SignOptions {
        SignOptions {
            algorithm,
            digest,
            certificate_der: None,
            inclusive_prefixes: Vec::new(),
            placement: Placement::AfterIssuer,
        }
    }

    pub fn with_certificate(mut self, der: &[u8]) -> SignOptions {
        self.certificate_der = Some(der.to_vec());
        self
    }
}

/// What verification accepts beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Accept RSA-SHA1 signatures and SHA-1 digests (an admin's explicit choice).
    pub allow_sha1: bool,
}

/// A verified signature: the copy of the signed element to read from, and how it was
/// signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// A copy of exactly the element the digest covered (its Signature child included).
    /// Read the message from here, never from the document it came from.
    pub element: Element,
    pub algorithm: SignatureAlgorithm,
    pub digest: DigestAlgorithm,
    /// Which of the trusted certificates verified it.
    pub certificate: usize,
}

/// Standard base64, with the whitespace XML documents wrap it in removed.
pub(super) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !is_xml_space(*c)).collect();
    STANDARD.decode(compact).ok()
}

/// The direct `ds:Signature` child of an element, if it has one (the first, should there
/// be several; `verify_enveloped` refuses those).
pub fn signature_of(element: &Element) -> Option<&Element> {
    element.find_child(DSIG_NS, "Signature")
}

// --- finding elements --------------------------------------------------------------------

/// An element found in a document: the declarations in scope at its parent and the
/// child-node indices leading to it from the root.
struct Located<'a> {
    element: &'a Element,
    inherited: Vec<NamespaceDecl>,
    path: Vec<usize>,
}

/// Walks the whole document, refusing duplicate IDs, and returns the element `target`
/// picks.
fn locate<'a>(
    root: &'a Element,
    target: &dyn Fn(&Element) -> bool,
) -> Result<Option<Located<'a>>, DsigError> {
    struct Walk<'a, 't> {
        ids: HashSet<&'a str>,
        scope: Vec<NamespaceDecl>,
        path: Vec<usize>,
        target: &'t dyn Fn(&Element) -> bool,
        found: Option<Located<'a>>,
    }
    impl<'a> Walk<'a, '_> {
        fn visit(&mut self, element: &'a Element) -> Result<(), DsigError> {
            if let Some(id) = element.attribute(ID_ATTRIBUTE) {
                if !self.ids.insert(id) {
                    return Err(DsigError::DuplicateId(id.to_owned()));
                }
            }
            if self.found.is_none() && (self.target)(element) {
                self.found = Some(Located {
                    element,
                    inherited: self.scope.clone(),
                    path: self.path.clone(),
                });
            }
            let mark = self.scope.len();
            self.scope.extend(element.namespaces.iter().cloned());
            for (index, child) in element.children.iter().enumerate() {
                if let Node::Element(child) = child {
                    self.path.push(index);
                    self.visit(child)?;
                    self.path.pop();
                }
            }
            self.scope.truncate(mark);
            Ok(())
        }
    }
    let mut walk = Walk {
        ids: HashSet::new(),
        scope: Vec::new(),
        path: Vec::new(),
        target,
        found: None,
    };
    walk.visit(root)?;
    Ok(walk.found)
}

fn element_at_mut<'a>(root: &'a mut Element, path: &[usize]) -> Option<&'a mut Element> {
    let mut current = root;
    for index in path {
        current = match current.children.get_mut(*index)? {
            Node::Element(element) => element,
            _ => return None,
        };
    }
    Some(current)
}

// --- signing -----------------------------------------------------------------------------

fn ds(local_name: &str) -> Element {
    Element::new(DSIG_NS, &format!("ds:{local_name}"))
}

/// Signs the element of `document` whose `ID` is `id`, inserting a `ds:Signature` into
/// it. Sign inner elements first (the Assertion, then the Response that contains it):
/// the outer digest covers the inner signature.
pub fn sign_enveloped(
    document: &mut Element,
    id: &str,
    key: &SigningKey,
    options: &SignOptions,
) -> Result<(), DsigError> {
    if id.is_empty() {
        return Err(DsigError::MissingId);
    }
    let located = locate(document, &|element| {
        element.attribute(ID_ATTRIBUTE) == Some(id)
    })?
    .ok_or_else(|| DsigError::UnknownId(id.to_owned()))?;
    let element = located.element;
    if signature_of(element).is_some() {
        return Err(DsigError::AlreadySigned);
    }

    let digest = options.digest.digest(
        canonicalize(
            element,
            &located.inherited,
            &options.inclusive_prefixes,
            None,
        )
        .as_bytes(),
    );
    let mut exclusive = ds("Transform").with_attribute("Algorithm", EXC_C14N);
    if !options.inclusive_prefixes.is_empty() {
        exclusive.push_child(
            Element::new(EXC_C14N, "ec:InclusiveNamespaces")
                .with_namespace(Some("ec"), EXC_C14N)
                .with_attribute("PrefixList", options.inclusive_prefixes.join(" ")),
        );
    }
    let signed_info = ds("SignedInfo")
        .with_child(ds("CanonicalizationMethod").with_attribute("Algorithm", EXC_C14N))
        .with_child(ds("SignatureMethod").with_attribute("Algorithm", options.algorithm.uri()))
        .with_child(
            ds("Reference")
                .with_attribute("URI", format!("#{id}"))
                .with_child(
                    ds("Transforms")
                        .with_child(
                            ds("Transform").with_attribute("Algorithm", ENVELOPED_SIGNATURE),
                        )
                        .with_child(exclusive),
                )
                .with_child(ds("DigestMethod").with_attribute("Algorithm", options.digest.uri()))
                .with_child(ds("DigestValue").with_text(STANDARD.encode(&digest))),
        );
    // SignedInfo is canonicalized where it will sit: inside the Signature (which declares
    // ds) inside the element. Without a PrefixList only the ds binding shows.
    let mut inherited = located.inherited.clone();
    inherited.extend(element.namespaces.iter().cloned());
    inherited.push(NamespaceDecl {
        prefix: Some("ds".into()),
        uri: DSIG_NS.into(),
    });
    let signature_value = key
        .sign_with(
            options.algorithm.scheme(),
            canonicalize(&signed_info, &inherited, &[], None).as_bytes(),
        )
        .map_err(|e| DsigError::Sign(e.to_string()))?;

    let mut signature = ds("Signature")
        .with_namespace(Some("ds"), DSIG_NS)
        .with_child(signed_info)
        .with_child(ds("SignatureValue").with_text(STANDARD.encode(&signature_value)));
    if let Some(der) = &options.certificate_der {
        signature.push_child(ds("KeyInfo").with_child(
            ds("X509Data").with_child(ds("X509Certificate").with_text(STANDARD.encode(der))),
        ));
    }

    let path = located.path;
    let element = element_at_mut(document, &path).ok_or(DsigError::NotInDocument)?;
    let index = match options.placement {
        Placement::ChildIndex(index) => index,
        Placement::AfterIssuer => element
            .children
            .iter()
            .position(|node| {
                matches!(node, Node::Element(child) if child.is(SAML_ASSERTION_NS, "Issuer"))
            })
            .map_or(0, |index| index + 1),
    };
    element.insert_node(index, Node::Element(signature));
    Ok(())
}

// --- verifying ---------------------------------------------------------------------------

/// The child elements of a structural element, which may hold only whitespace text.
fn parts(element: &Element) -> Result<Vec<&Element>, DsigError> {
    if element.has_significant_text() {
        return Err(malformed(format!("text inside {}", element.local_name())));
    }
    Ok(element.child_elements().collect())
}

fn expect<'a>(element: Option<&&'a Element>, local_name: &str) -> Result<&'a Element, DsigError> {
    match element {
        Some(element) if element.is(DSIG_NS, local_name) => Ok(element),
        _ => Err(malformed(format!("expected ds:{local_name}"))),
    }
}

fn algorithm_of(element: &Element) -> Result<&str, DsigError> {
    element
        .attribute("Algorithm")
        .ok_or_else(|| malformed(format!("{} without Algorithm", element.local_name())))
}

/// Reads an exclusive canonicalization method (CanonicalizationMethod or Transform):
/// its PrefixList, if any.
fn exclusive_c14n(method: &Element) -> Result<Vec<String>, DsigError> {
    let algorithm = algorithm_of(method)?;
    if algorithm != EXC_C14N {
        return Err(DsigError::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    match parts(method)?.as_slice() {
        [] => Ok(Vec::new()),
        [inclusive] if inclusive.is(EXC_C14N, "InclusiveNamespaces") => Ok(prefix_list(
            inclusive.attribute("PrefixList").unwrap_or_default(),
        )),
        _ => Err(malformed("unexpected content in a canonicalization method")),
    }
}

struct SignedInfo<'a> {
    element: &'a Element,
    c14n_prefixes: Vec<String>,
    algorithm: SignatureAlgorithm,
    uri: &'a str,
    reference_prefixes: Vec<String>,
    digest: DigestAlgorithm,
    digest_value: Vec<u8>,
}

fn read_signed_info<'a>(signed_info: &'a Element) -> Result<SignedInfo<'a>, DsigError> {
    let children = parts(signed_info)?;
    let [c14n_method, signature_method, reference] = children.as_slice() else {
        return Err(malformed(
            "SignedInfo must hold CanonicalizationMethod, SignatureMethod and one Reference",
        ));
    };
    let c14n_method = expect(Some(c14n_method), "CanonicalizationMethod")?;
    let signature_method = expect(Some(signature_method), "SignatureMethod")?;
    let reference = expect(Some(reference), "Reference")?;

    let c14n_prefixes = exclusive_c14n(c14n_method)?;
    let algorithm_uri = algorithm_of(signature_method)?;
    let algorithm = SignatureAlgorithm::from_uri(algorithm_uri)
        .ok_or_else(|| DsigError::UnsupportedAlgorithm(algorithm_uri.to_owned()))?;
    if !parts(signature_method)?.is_empty() {
        return Err(malformed("unexpected content in SignatureMethod"));
    }

    let uri = reference
        .attribute("URI")
        .ok_or(DsigError::WrongReference)?;
    let reference_parts = parts(reference)?;
    let [transforms, digest_method, digest_value] = reference_parts.as_slice() else {
        return Err(malformed(
            "Reference must hold Transforms, DigestMethod and DigestValue",
        ));
    };
    let transforms = expect(Some(transforms), "Transforms")?;
    let digest_method = expect(Some(digest_method), "DigestMethod")?;
    let digest_value = expect(Some(digest_value), "DigestValue")?;

    // Exactly enveloped-signature, then exclusive canonicalization: anything else (XPath,
    // XSLT, inclusive C14N, a second Reference's worth of tricks) is refused.
    let transform_list = parts(transforms)?;
    let [enveloped, exclusive] = transform_list.as_slice() else {
        return Err(malformed(
            "the transforms must be enveloped-signature and exclusive c14n",
        ));
    };
    let enveloped = expect(Some(enveloped), "Transform")?;
    let exclusive = expect(Some(exclusive), "Transform")?;
    let first = algorithm_of(enveloped)?;
    if first != ENVELOPED_SIGNATURE {
        return Err(DsigError::UnsupportedAlgorithm(first.to_owned()));
    }
    if !parts(enveloped)?.is_empty() {
        return Err(malformed(
            "unexpected content in the enveloped-signature transform",
        ));
    }
    let reference_prefixes = exclusive_c14n(exclusive)?;

    let digest_uri = algorithm_of(digest_method)?;
    let digest = DigestAlgorithm::from_uri(digest_uri)
        .ok_or_else(|| DsigError::UnsupportedAlgorithm(digest_uri.to_owned()))?;
    if !parts(digest_method)?.is_empty() {
        return Err(malformed("unexpected content in DigestMethod"));
    }
    let digest_value = digest_value
        .text_only()
        .and_then(|text| decode_base64(&text))
        .ok_or_else(|| malformed("DigestValue is not base64"))?;

    Ok(SignedInfo {
        element: signed_info,
        c14n_prefixes,
        algorithm,
        uri,
        reference_prefixes,
        digest,
        digest_value,
    })
}

/// Verifies the enveloped signature of `signed`, an element of `document` (compared by
/// identity: pass a reference into the same tree), with the trusted certificates.
///
/// On success, read only from `Verified::element`.
pub fn verify_enveloped(
    document: &Element,
    signed: &Element,
    trusted: &[TrustedCertificate],
    options: &VerifyOptions,
) -> Result<Verified, DsigError> {
    if trusted.is_empty() {
        return Err(DsigError::NoTrustedCertificate);
    }
    let located = locate(document, &|element| std::ptr::eq(element, signed))?
        .ok_or(DsigError::NotInDocument)?;
    let id = signed
        .attribute(ID_ATTRIBUTE)
        .filter(|id| !id.is_empty())
        .ok_or(DsigError::MissingId)?;

    let mut signatures = signed.find_children(DSIG_NS, "Signature");
    let signature = signatures.next().ok_or(DsigError::NoSignature)?;
    if signatures.next().is_some() {
        return Err(DsigError::MultipleSignatures);
    }
    let signature_parts = parts(signature)?;
    let signed_info = expect(signature_parts.first(), "SignedInfo")?;
    let signature_value = expect(signature_parts.get(1), "SignatureValue")?;
    if signature_parts
        .iter()
        .skip(2)
        .any(|part| !part.is(DSIG_NS, "KeyInfo"))
        || signature_parts.len() > 3
    {
        return Err(malformed(
            "Signature holds more than SignedInfo, SignatureValue and KeyInfo",
        ));
    }
    let info = read_signed_info(signed_info)?;
    if info.uri.strip_prefix('#') != Some(id) {
        return Err(DsigError::WrongReference);
    }
    if !options.allow_sha1 && (info.algorithm.is_sha1() || info.digest == DigestAlgorithm::Sha1) {
        return Err(DsigError::Sha1NotAllowed);
    }
    let signature_bytes = signature_value
        .text_only()
        .and_then(|text| decode_base64(&text))
        .ok_or_else(|| malformed("SignatureValue is not base64"))?;

    // The signature over SignedInfo, canonicalized where it sits.
    let mut inherited = located.inherited.clone();
    inherited.extend(signed.namespaces.iter().cloned());
    inherited.extend(signature.namespaces.iter().cloned());
    let canonical_info = canonicalize(info.element, &inherited, &info.c14n_prefixes, None);
    let certificate = trusted
        .iter()
        .position(|certificate| {
            certificate.verifies(info.algorithm, canonical_info.as_bytes(), &signature_bytes)
        })
        .ok_or(DsigError::BadSignature)?;

    // The digest over the element without its Signature.
    let canonical = canonicalize(
        signed,
        &located.inherited,
        &info.reference_prefixes,
        Some(signature),
    );
    if info.digest.digest(canonical.as_bytes()) != info.digest_value {
        return Err(DsigError::DigestMismatch);
    }
    Ok(Verified {
        element: located.element.clone(),
        algorithm: info.algorithm,
        digest: info.digest,
        certificate,
    })
}

/// `verify_enveloped` for the document's root element (AuthnRequest, LogoutRequest,
/// LogoutResponse, a signed Response).
pub fn verify_root(
    document: &Element,
    trusted: &[TrustedCertificate],
    options: &VerifyOptions,
) -> Result<Verified, DsigError> {
    verify_enveloped(document, document, trusted, options)
}
