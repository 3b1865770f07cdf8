//! SAML keys and algorithms: AuthnRequests an SP signs (required once a verification
//! certificate is set; both bindings), responses over the Redirect binding with a signed
//! query, assertions encrypted for the SP's certificate, and ECDSA signatures.

use gatehouse::crypto::SigningKey;
use gatehouse::crypto::keys::generate;
use gatehouse::model::{KeyType, Timestamp};
use gatehouse::providers::saml::codec;
use gatehouse::providers::saml::xml::{
    self, DigestAlgorithm, RedirectMessage, SAML_NS, SignOptions, SignatureAlgorithm,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::harness::oidc::{Landing, UserAgent};
use crate::harness::saml::{
    Sp, idp_certificate, now_instant, read_form, response_of, status_codes, verified_assertion,
};

fn page_of(landing: &Landing) -> (u16, String) {
    let (status, html) = landing.page();
    (status, html.to_owned())
}

/// A certificate-only keypair for the SP's signing certificate; returns its pk and
/// the SP's private key.
async fn sp_signing_key(server: &TestServer) -> (String, SigningKey) {
    let pair = generate(KeyType::Rsa, "sp.example.com", &[], 30, Timestamp(0)).unwrap();
    let created = server
        .admin_send(
            Method::POST,
            "/api/v3/crypto/certificatekeypairs/",
            json!({"name": "SP certificate", "certificate_data": pair.certificate_pem}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    let key = SigningKey::from_pem(&pair.certificate_pem, &pair.private_key_pem).unwrap();
    (body["pk"].as_str().unwrap().to_owned(), key)
}

#[tokio::test]
async fn signed_requests_are_required_when_a_verification_certificate_is_set() {
    let server = TestServer::spawn().await;
    let (certificate_pk, sp_key) = sp_signing_key(&server).await;
    let sp = Sp::create(&server, "wiki", json!({"verification_kp": certificate_pk})).await;
    let metadata = reqwest::get(sp.endpoint("metadata/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metadata.contains(r#"WantAuthnRequestsSigned="true""#));
    let mut ua = UserAgent::new(&server, "alice").await;
    ua.sign_in().await;

    let unsigned = sp.authn_request("_u", &now_instant(&server), "redirect", "");
    let (status, html) = page_of(
        &ua.go(&sp.redirect_url("sso/binding/redirect/", &unsigned, None))
            .await,
    );
    assert_eq!(status, 400);
    assert!(html.contains("must be signed"), "{html}");

    // Redirect binding: the query is signed.
    let request = sp.authn_request("_s1", &now_instant(&server), "redirect", "");
    let query = xml::sign_redirect(
        RedirectMessage::Request,
        &codec::deflate_base64(&request),
        Some("rs"),
        &sp_key,
        SignatureAlgorithm::RsaSha256,
    )
    .unwrap();
    let (status, html) = page_of(
        &ua.go(&format!("{}?{query}", sp.endpoint("sso/binding/redirect/")))
            .await,
    );
    assert_eq!(status, 200, "{html}");
    assert_eq!(read_form(&html).fields["RelayState"], "rs");

    // The same query with the signature of another message is refused.
    let other = sp.authn_request("_s2", &now_instant(&server), "redirect", "");
    let tampered = query.replace(
        query.split('&').next().unwrap(),
        &format!(
            "SAMLRequest={}",
            url::form_urlencoded::byte_serialize(codec::deflate_base64(&other).as_bytes())
                .collect::<String>()
        ),
    );
    let (status, html) = page_of(
        &ua.go(&format!(
            "{}?{tampered}",
            sp.endpoint("sso/binding/redirect/")
        ))
        .await,
    );
    assert_eq!(status, 400);
    assert!(html.contains("signature"), "{html}");

    // POST binding: an enveloped signature.
    let mut document = xml::parse(
        sp.authn_request("_s3", &now_instant(&server), "post", "")
            .as_bytes(),
    )
    .unwrap();
    xml::sign_enveloped(
        &mut document,
        "_s3",
        &sp_key,
        &SignOptions::new(SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256),
    )
    .unwrap();
    let answer = ua
        .http
        .post(sp.endpoint("sso/binding/post/"))
        .form(&[(
            "SAMLRequest",
            codec::encode_base64(document.to_xml().as_bytes()),
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    read_form(&answer.text().await.unwrap());
}

#[tokio::test]
async fn redirect_binding_responses_carry_a_signed_query() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({"sp_binding": "redirect"})).await;
    let certificate = idp_certificate(&sp).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let request = sp.authn_request("_r", &now_instant(&server), "redirect", "");
    let landing = ua
        .go(&sp.redirect_url("sso/binding/redirect/", &request, Some("rs")))
        .await;
    let Landing::Client(url) = landing else {
        panic!("expected a redirect to the ACS: {landing:?}");
    };
    assert!(url.as_str().starts_with(&sp.acs_url));
    let verified = xml::verify_redirect(
        url.query().unwrap(),
        std::slice::from_ref(&certificate),
        &Default::default(),
    )
    .expect("the query signature verifies");
    assert_eq!(verified.relay_state.as_deref(), Some("rs"));
    let document = xml::parse(&codec::inflate_base64(&verified.message).unwrap()).unwrap();
    assert_eq!(
        status_codes(&document).0,
        "urn:oasis:names:tc:SAML:2.0:status:Success"
    );
}

#[tokio::test]
async fn assertions_are_encrypted_for_the_sps_certificate() {
    let server = TestServer::spawn().await;
    let (certificate_pk, _) = sp_signing_key(&server).await;
    let sp = Sp::create(
        &server,
        "wiki",
        json!({"encryption_kp": certificate_pk, "sign_response": true}),
    )
    .await;
    let certificate = idp_certificate(&sp).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let request = sp.authn_request("_enc", &now_instant(&server), "redirect", "");
    let (status, html) = page_of(
        &ua.go(&sp.redirect_url("sso/binding/redirect/", &request, None))
            .await,
    );
    assert_eq!(status, 200, "{html}");
    let form = read_form(&html);
    let text =
        String::from_utf8(codec::decode_base64(&form.fields["SAMLResponse"]).unwrap()).unwrap();
    assert!(
        !text.contains("alice"),
        "nothing about the user in clear: {text}"
    );
    let response = xml::parse(text.as_bytes()).unwrap();
    assert!(response.find_child(SAML_NS, "Assertion").is_none());
    let encrypted = response.find_child(SAML_NS, "EncryptedAssertion").unwrap();
    assert!(
        encrypted
            .find_child(xml::encrypt::XENC_NS, "EncryptedData")
            .is_some()
    );
    // The response signature covers the encrypted assertion.
    xml::verify_root(
        &response,
        std::slice::from_ref(&certificate),
        &Default::default(),
    )
    .expect("the response's signature verifies");
}

#[tokio::test]
async fn an_ec_key_signs_with_ecdsa() {
    let server = TestServer::spawn().await;
    let ec = crate::harness::oidc::keypair_pk(&server, "gatehouse/crypto/ec-signing").await;
    let mismatch = server
        .admin_send(
            Method::POST,
            "/api/v3/providers/saml/",
            json!({"name": "x", "authorization_flow": crate::harness::oidc::flow_pk(&server, crate::harness::oidc::IMPLICIT_CONSENT).await,
                   "acs_url": "https://x.example.com/acs", "signing_kp": ec}),
        )
        .await;
    assert_eq!(mismatch.status(), 400);
    let errors: Value = mismatch.json().await.unwrap();
    assert!(errors["signature_algorithm"].is_array(), "{errors}");
    let sp = Sp::create(
        &server,
        "wiki",
        json!({"signing_kp": ec, "signature_algorithm": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"}),
    )
    .await;
    let certificate = idp_certificate(&sp).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let request = sp.authn_request("_ec", &now_instant(&server), "redirect", "");
    let (status, html) = page_of(
        &ua.go(&sp.redirect_url("sso/binding/redirect/", &request, None))
            .await,
    );
    assert_eq!(status, 200, "{html}");
    verified_assertion(&response_of(&read_form(&html)), &certificate);
}
