//! Signing and verifying whole documents: round trips through text, tampering, wrong
//! keys and the signature-wrapping attacks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;
use crate::crypto::SigningKey;
use crate::crypto::keys::generate;
use crate::model::{KeyType, Timestamp};

struct Key {
    key: SigningKey,
    trusted: TrustedCertificate,
}

fn key(key_type: KeyType) -> Key {
    let pair = generate(key_type, "saml test", &[], 30, Timestamp(1_700_000_000)).unwrap();
    let key = SigningKey::from_pem(&pair.certificate_pem, &pair.private_key_pem).unwrap();
    let trusted = TrustedCertificate::from_pem(&pair.certificate_pem)
        .unwrap()
        .remove(0);
    Key { key, trusted }
}

fn options(key: &Key) -> SignOptions {
    let algorithm = if key.key.key_type() == KeyType::EcP256 {
        SignatureAlgorithm::EcdsaSha256
    } else {
        SignatureAlgorithm::RsaSha256
    };
    SignOptions::new(algorithm, DigestAlgorithm::Sha256).with_certificate(key.trusted.der())
}

fn assertion(id: &str, name_id: &str) -> Element {
    Element::new(SAML_NS, "saml:Assertion")
        .with_namespace(Some("saml"), SAML_NS)
        .with_attribute("ID", id)
        .with_attribute("Version", "2.0")
        .with_attribute("IssueInstant", "2026-11-23T19:00:00Z")
        .with_child(Element::new(SAML_NS, "saml:Issuer").with_text("https://idp.example/"))
        .with_child(
            Element::new(SAML_NS, "saml:Subject").with_child(
                Element::new(SAML_NS, "saml:NameID")
                    .with_attribute(
                        "Format",
                        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                    )
                    .with_text(name_id),
            ),
        )
        .with_child(
            Element::new(SAML_NS, "saml:AttributeStatement").with_child(
                Element::new(SAML_NS, "saml:Attribute")
                    .with_attribute("Name", "groups")
                    .with_child(
                        Element::new(SAML_NS, "saml:AttributeValue")
                            .with_namespace(Some("xs"), XS_NS)
                            .with_namespace(Some("xsi"), XSI_NS)
                            .with_attribute_ns(XSI_NS, "xsi:type", "xs:string")
                            .with_text("admins & <friends>"),
                    ),
            ),
        )
}

fn response(assertion: Element) -> Element {
    Element::new(SAMLP_NS, "samlp:Response")
        .with_namespace(Some("samlp"), SAMLP_NS)
        .with_attribute("ID", "_r1")
        .with_attribute("Version", "2.0")
        .with_child(Element::new(SAML_NS, "saml:Issuer").with_text("https://idp.example/"))
        .with_child(
            Element::new(SAMLP_NS, "samlp:Status").with_child(
                Element::new(SAMLP_NS, "samlp:StatusCode")
                    .with_attribute("Value", "urn:oasis:names:tc:SAML:2.0:status:Success"),
            ),
        )
        .with_child(assertion)
}

fn first_assertion(root: &Element) -> &Element {
    root.find_child(SAML_NS, "Assertion").unwrap()
}

/// Signs the assertion (and the response when asked), writes the document out and reads
/// it back, as a service provider would receive it.
fn signed_text(key: &Key, sign_response: bool) -> String {
    let mut document = response(assertion("_a1", "alice@example.com"));
    sign_enveloped(&mut document, "_a1", &key.key, &options(key)).unwrap();
    if sign_response {
        sign_enveloped(&mut document, "_r1", &key.key, &options(key)).unwrap();
    }
    document.to_document()
}

fn verify_assertion(text: &str, trusted: &TrustedCertificate) -> Result<Verified, DsigError> {
    let root = parse(text.as_bytes()).unwrap();
    let assertion = first_assertion(&root);
    verify_enveloped(
        &root,
        assertion,
        std::slice::from_ref(trusted),
        &VerifyOptions::default(),
    )
}

#[test]
fn signed_assertions_and_responses_verify_after_a_round_trip_through_text() {
    for key_type in [KeyType::Rsa, KeyType::EcP256] {
        let key = key(key_type);
        let text = signed_text(&key, true);
        let verified = verify_assertion(&text, &key.trusted).unwrap();
        assert_eq!(verified.element.attribute("ID"), Some("_a1"));
        assert_eq!(verified.digest, DigestAlgorithm::Sha256);
        let name_id = verified
            .element
            .find_child(SAML_NS, "Subject")
            .and_then(|subject| subject.find_child(SAML_NS, "NameID"))
            .and_then(Element::text_only);
        assert_eq!(name_id.as_deref(), Some("alice@example.com"));

        let root = parse(text.as_bytes()).unwrap();
        let verified = verify_root(
            &root,
            std::slice::from_ref(&key.trusted),
            &VerifyOptions::default(),
        )
        .unwrap();
        assert_eq!(verified.element, root);
        // The signature sits right after the Issuer in both.
        let names: Vec<_> = root.child_elements().map(Element::local_name).collect();
        assert_eq!(names, ["Issuer", "Signature", "Status", "Assertion"]);
        let names: Vec<_> = first_assertion(&root)
            .child_elements()
            .map(Element::local_name)
            .collect();
        assert_eq!(
            names,
            ["Issuer", "Signature", "Subject", "AttributeStatement"]
        );
    }
}

#[test]
fn pretty_printed_documents_sign_and_verify_with_their_whitespace() {
    let key = key(KeyType::Rsa);
    let text = "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"\n    ID=\"_l1\" Version=\"2.0\">\n  <saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">sp</saml:Issuer>\n  <saml:NameID xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">\n    alice\n  </saml:NameID>\n</samlp:LogoutRequest>\n";
    let mut root = parse(text.as_bytes()).unwrap();
    sign_enveloped(&mut root, "_l1", &key.key, &options(&key)).unwrap();
    let again = parse(root.to_xml().as_bytes()).unwrap();
    verify_root(
        &again,
        std::slice::from_ref(&key.trusted),
        &VerifyOptions::default(),
    )
    .unwrap();
    // Changing only whitespace inside the signed element breaks it.
    let changed = root.to_xml().replacen("\n    alice", "\n     alice", 1);
    let changed = parse(changed.as_bytes()).unwrap();
    assert_eq!(
        verify_root(
            &changed,
            std::slice::from_ref(&key.trusted),
            &VerifyOptions::default()
        ),
        Err(DsigError::DigestMismatch)
    );
}

#[test]
fn tampered_content_digest_or_signature_fails() {
    let key = key(KeyType::Rsa);
    let text = signed_text(&key, false);

    let content = text.replace("alice@example.com", "admin@example.com");
    assert_eq!(
        verify_assertion(&content, &key.trusted),
        Err(DsigError::DigestMismatch)
    );

    // A recomputed digest does not help: the digest is inside what is signed.
    let root = parse(text.as_bytes()).unwrap();
    let digest = signature_of(first_assertion(&root))
        .unwrap()
        .find_child(DSIG_NS, "SignedInfo")
        .unwrap()
        .find_child(DSIG_NS, "Reference")
        .unwrap()
        .find_child(DSIG_NS, "DigestValue")
        .unwrap()
        .text();
    let forged = content.replace(&digest, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert_eq!(
        verify_assertion(&forged, &key.trusted),
        Err(DsigError::BadSignature)
    );

    // A changed attribute order or extra namespace declarations outside the signed
    // element do not matter: canonicalization takes care of them.
    let harmless = text.replacen(
        "<samlp:Response ",
        "<samlp:Response xmlns:unused=\"urn:unused\" ",
        1,
    );
    verify_assertion(&harmless, &key.trusted).unwrap();
}

#[test]
fn other_certificates_and_keyinfo_certificates_are_not_trusted() {
    let key = key(KeyType::Rsa);
    let attacker = self::key(KeyType::Rsa);
    let text = signed_text(&key, false);
    assert_eq!(
        verify_assertion(&text, &attacker.trusted),
        Err(DsigError::BadSignature)
    );
    // The attacker signs with their own key and puts their certificate in KeyInfo.
    let forged = signed_text(&attacker, false);
    assert!(forged.contains("X509Certificate"));
    assert_eq!(
        verify_assertion(&forged, &key.trusted),
        Err(DsigError::BadSignature)
    );
    let root = parse(text.as_bytes()).unwrap();
    assert_eq!(
        verify_enveloped(
            &root,
            first_assertion(&root),
            &[],
            &VerifyOptions::default()
        ),
        Err(DsigError::NoTrustedCertificate)
    );
    let both = [attacker.trusted.clone(), key.trusted.clone()];
    let verified = verify_enveloped(
        &root,
        first_assertion(&root),
        &both,
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(verified.certificate, 1);
}

#[test]
fn sha1_needs_to_be_allowed() {
    let key = key(KeyType::Rsa);
    let mut document = response(assertion("_a1", "alice@example.com"));
    let sha1 = SignOptions::new(SignatureAlgorithm::RsaSha1, DigestAlgorithm::Sha1);
    sign_enveloped(&mut document, "_a1", &key.key, &sha1).unwrap();
    let root = parse(document.to_xml().as_bytes()).unwrap();
    let trusted = [key.trusted.clone()];
    assert_eq!(
        verify_enveloped(
            &root,
            first_assertion(&root),
            &trusted,
            &VerifyOptions::default()
        ),
        Err(DsigError::Sha1NotAllowed)
    );
    let verified = verify_enveloped(
        &root,
        first_assertion(&root),
        &trusted,
        &VerifyOptions { allow_sha1: true },
    )
    .unwrap();
    assert_eq!(verified.algorithm, SignatureAlgorithm::RsaSha1);
}

#[test]
fn ed25519_keys_and_wrong_algorithms_cannot_sign() {
    let pair = generate(KeyType::Ed25519, "ed", &[], 30, Timestamp(1_700_000_000)).unwrap();
    let ed = SigningKey::from_pem(&pair.certificate_pem, &pair.private_key_pem).unwrap();
    assert_eq!(
        TrustedCertificate::from_pem(&pair.certificate_pem),
        Err(CertificateError::UnsupportedKey)
    );
    let mut document = assertion("_a1", "x");
    assert!(matches!(
        sign_enveloped(
            &mut document,
            "_a1",
            &ed,
            &SignOptions::new(SignatureAlgorithm::EcdsaSha256, DigestAlgorithm::Sha256)
        ),
        Err(DsigError::Sign(_))
    ));
    let rsa = key(KeyType::Rsa);
    assert!(matches!(
        sign_enveloped(
            &mut document,
            "_a1",
            &rsa.key,
            &SignOptions::new(SignatureAlgorithm::EcdsaSha256, DigestAlgorithm::Sha256)
        ),
        Err(DsigError::Sign(_))
    ));
    assert_eq!(
        sign_enveloped(&mut document, "_nope", &rsa.key, &options(&rsa)),
        Err(DsigError::UnknownId("_nope".into()))
    );
    sign_enveloped(&mut document, "_a1", &rsa.key, &options(&rsa)).unwrap();
    assert_eq!(
        sign_enveloped(&mut document, "_a1", &rsa.key, &options(&rsa)),
        Err(DsigError::AlreadySigned)
    );
}

#[test]
fn an_inclusive_prefix_list_is_signed_and_verified() {
    let key = key(KeyType::EcP256);
    // xs is declared on the Response only and used in a QName value inside the assertion.
    let mut document = response(
        Element::new(SAML_NS, "saml:Assertion")
            .with_attribute("ID", "_a1")
            .with_child(Element::new(SAML_NS, "saml:Issuer").with_text("idp"))
            .with_child(
                Element::new(SAML_NS, "saml:AttributeValue")
                    .with_attribute_ns(XSI_NS, "xsi:type", "xs:string")
                    .with_text("v"),
            ),
    )
    .with_namespace(Some("xs"), XS_NS);
    let mut options = options(&key);
    options.inclusive_prefixes = vec!["xs".into()];
    sign_enveloped(&mut document, "_a1", &key.key, &options).unwrap();
    let text = document.to_xml();
    assert!(text.contains("PrefixList=\"xs\""));
    verify_assertion(&text, &key.trusted).unwrap();
    // The PrefixList makes the xs binding part of what was signed.
    let rebound = text.replacen(
        "xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"",
        "xmlns:xs=\"urn:evil\"",
        1,
    );
    assert_eq!(
        verify_assertion(&rebound, &key.trusted),
        Err(DsigError::DigestMismatch)
    );
}

// --- signature wrapping --------------------------------------------------------------------

fn signed_assertion_element(key: &Key) -> Element {
    let mut signed = assertion("_a1", "alice@example.com");
    sign_enveloped(&mut signed, "_a1", &key.key, &options(key)).unwrap();
    signed
}

#[test]
fn a_second_assertion_with_the_same_id_is_refused() {
    let key = key(KeyType::Rsa);
    let signed = signed_assertion_element(&key);
    // The evil assertion comes first, where a naive reader looks; the signed original
    // follows with the same ID.
    let document = response(assertion("_a1", "admin@example.com")).with_child(signed.clone());
    let root = parse(document.to_xml().as_bytes()).unwrap();
    assert_eq!(
        verify_enveloped(
            &root,
            first_assertion(&root),
            std::slice::from_ref(&key.trusted),
            &VerifyOptions::default()
        ),
        Err(DsigError::DuplicateId("_a1".into()))
    );
    // Hidden deeper (inside an Extensions element), same answer.
    let document = response(assertion("_a1", "admin@example.com"))
        .with_child(Element::new(SAMLP_NS, "samlp:Extensions").with_child(signed));
    let root = parse(document.to_xml().as_bytes()).unwrap();
    assert_eq!(
        verify_enveloped(
            &root,
            first_assertion(&root),
            std::slice::from_ref(&key.trusted),
            &VerifyOptions::default()
        ),
        Err(DsigError::DuplicateId("_a1".into()))
    );
}

#[test]
fn a_signature_moved_onto_another_assertion_is_refused() {
    let key = key(KeyType::Rsa);
    let signed = signed_assertion_element(&key);
    let signature = signature_of(&signed).unwrap().clone();
    // The evil assertion carries the original's signature; the original is kept
    // elsewhere so the reference can still be resolved by a lax verifier.
    let mut evil = assertion("_evil", "admin@example.com");
    evil.insert_node(1, Node::Element(signature));
    let document =
        response(evil).with_child(Element::new(SAMLP_NS, "samlp:Extensions").with_child(signed));
    let root = parse(document.to_xml().as_bytes()).unwrap();
    assert_eq!(
        verify_enveloped(
            &root,
            first_assertion(&root),
            std::slice::from_ref(&key.trusted),
            &VerifyOptions::default()
        ),
        Err(DsigError::WrongReference)
    );
}

#[test]
fn an_unsigned_assertion_next_to_a_signed_one_is_not_verified() {
    let key = key(KeyType::Rsa);
    let signed = signed_assertion_element(&key);
    let document = response(assertion("_evil", "admin@example.com")).with_child(signed);
    let root = parse(document.to_xml().as_bytes()).unwrap();
    let trusted = [key.trusted.clone()];
    assert_eq!(
        verify_enveloped(
            &root,
            first_assertion(&root),
            &trusted,
            &VerifyOptions::default()
        ),
        Err(DsigError::NoSignature)
    );
    // The genuinely signed one verifies, and what comes back is that one.
    let genuine = root.find_children(SAML_NS, "Assertion").nth(1).unwrap();
    let verified = verify_enveloped(&root, genuine, &trusted, &VerifyOptions::default()).unwrap();
    assert_eq!(verified.element.attribute("ID"), Some("_a1"));
    // An element from another tree is not "in the document".
    let copy = genuine.clone();
    assert_eq!(
        verify_enveloped(&root, &copy, &trusted, &VerifyOptions::default()),
        Err(DsigError::NotInDocument)
    );
}

#[test]
fn references_and_transforms_other_than_ours_are_refused() {
    let key = key(KeyType::Rsa);
    let text = signed_text(&key, false);
    let cases = [
        ("URI=\"#_a1\"", "URI=\"\"", DsigError::WrongReference),
        (
            "#enveloped-signature",
            "#enveloped-signaturex",
            DsigError::UnsupportedAlgorithm(
                "http://www.w3.org/2000/09/xmldsig#enveloped-signaturex".into(),
            ),
        ),
        (
            "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"/>",
            DsigError::UnsupportedAlgorithm("http://www.w3.org/TR/1999/REC-xpath-19991116".into()),
        ),
    ];
    for (from, to, error) in cases {
        assert!(text.contains(from), "{from}");
        let changed = text.replacen(from, to, 1);
        assert_eq!(verify_assertion(&changed, &key.trusted), Err(error), "{to}");
    }
    let two_references = text.replacen(
        "</ds:Reference>",
        "</ds:Reference><ds:Reference URI=\"#_a1\"/>",
        1,
    );
    assert!(matches!(
        verify_assertion(&two_references, &key.trusted),
        Err(DsigError::Malformed(_))
    ));
    let two_signatures = text.replacen(
        "</saml:Issuer><ds:Signature",
        "</saml:Issuer><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/><ds:Signature",
        1,
    );
    assert_eq!(
        verify_assertion(&two_signatures, &key.trusted),
        Err(DsigError::MultipleSignatures)
    );
}

// --- builder trees, certificates, robustness ---------------------------------------------

#[test]
fn builder_trees_canonicalize_like_their_written_and_reparsed_text() {
    let trees = [
        response(assertion("_a1", "x")),
        // Default namespaces, an element in no namespace below one, a prefix bound to two
        // URIs at different depths, an attribute-only prefix, text needing escapes.
        Element::new("urn:d", "Root")
            .with_child(Element::new("", "none").with_child(Element::new("urn:d", "Back")))
            .with_child(
                Element::new("urn:p1", "p:a").with_child(
                    Element::new("urn:p2", "p:b")
                        .with_attribute_ns("urn:q", "q:attr", "1\t2\n3\r4\"&<>")
                        .with_text("a\r\nb & <c> ]]>"),
                ),
            ),
        Element::new("", "plain").with_attribute_ns(XML_NS, "xml:lang", "en"),
    ];
    for tree in trees {
        let text = tree.to_xml();
        let reparsed = parse(text.as_bytes()).unwrap();
        assert_eq!(
            canonicalize(&tree, &[], &[], None),
            canonicalize(&reparsed, &[], &[], None),
            "{text}"
        );
    }
}

#[test]
fn placement_can_be_chosen() {
    let key = key(KeyType::EcP256);
    let mut document = assertion("_a1", "x");
    let mut options = options(&key);
    options.placement = Placement::ChildIndex(usize::MAX);
    sign_enveloped(&mut document, "_a1", &key.key, &options).unwrap();
    let last = document.child_elements().last().unwrap();
    assert!(last.is(DSIG_NS, "Signature"));
    let root = parse(document.to_xml().as_bytes()).unwrap();
    verify_root(
        &root,
        std::slice::from_ref(&key.trusted),
        &VerifyOptions::default(),
    )
    .unwrap();
}

#[test]
fn certificates_come_from_pem_chains_and_metadata_base64() {
    let one = generate(KeyType::Rsa, "one", &[], 30, Timestamp(1_700_000_000)).unwrap();
    let two = generate(KeyType::EcP256, "two", &[], 30, Timestamp(1_700_000_000)).unwrap();
    let both =
        TrustedCertificate::from_pem(&format!("{}{}", one.certificate_pem, two.certificate_pem))
            .unwrap();
    assert_eq!(both.len(), 2);
    let body: String = two
        .certificate_pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .map(|line| format!("  {line}\n"))
        .collect();
    assert_eq!(TrustedCertificate::from_base64(&body).unwrap(), both[1]);
    assert_eq!(
        TrustedCertificate::from_pem("nothing here"),
        Err(CertificateError::NoCertificate)
    );
    assert!(TrustedCertificate::from_base64("!!").is_err());
    assert!(TrustedCertificate::from_der(b"not der").is_err());
}

#[test]
fn mutated_signed_documents_never_panic() {
    let key = key(KeyType::EcP256);
    let text = signed_text(&key, true).into_bytes();
    let trusted = [key.trusted.clone()];
    for index in (0..text.len()).step_by(3) {
        for byte in [b'<', b'"', b'x', b'#'] {
            let mut copy = text.clone();
            copy[index] = byte;
            if let Ok(root) = parse(&copy) {
                let _ = verify_root(&root, &trusted, &VerifyOptions::default());
                if let Some(assertion) = root.find_child(SAML_NS, "Assertion") {
                    let _ = verify_enveloped(&root, assertion, &trusted, &VerifyOptions::default());
                }
            }
        }
    }
}
