//! The SAML identity provider as service providers and browsers meet it: metadata,
//! SP-initiated sign-in through both bindings (the Response's signature checked against
//! the metadata's certificate, its conditions and attributes read), refusals shown as
//! pages (unknown ACS, hostile XML, replayed and expired requests), SAML error statuses
//! to the SP (a user the policies refuse, IsPassive without a session), ForceAuthn and
//! IdP-initiated sign-in. Keys and algorithms: `saml_keys.rs`; logout: `saml_slo.rs`.

use gatehouse::model::Timestamp;
use gatehouse::providers::saml::codec;
use gatehouse::providers::saml::xml::{self, Element, SAML_NS, SAMLP_NS};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::harness::oidc::{Landing, UserAgent};
use crate::harness::saml::{
    Sp, attributes, idp_certificate, now_instant, read_form, response_of, status_codes,
    verified_assertion,
};

const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

fn page_of(landing: &Landing) -> (u16, String) {
    let (status, html) = landing.page();
    (status, html.to_owned())
}

fn child_text(element: &Element, path: &[&str]) -> Option<String> {
    let mut current = element;
    for name in path {
        current = current.find_child(SAML_NS, name)?;
    }
    current.text_only()
}

#[tokio::test]
async fn metadata_publishes_endpoints_and_the_signing_certificate() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({})).await;
    let response = reqwest::get(sp.endpoint("metadata/")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("xml")
    );
    let text = response.text().await.unwrap();
    let root = xml::parse(text.as_bytes()).unwrap();
    assert_eq!(
        root.attribute("entityID"),
        Some(sp.endpoint("metadata/").as_str())
    );
    for path in [
        "sso/binding/redirect/",
        "sso/binding/post/",
        "slo/binding/redirect/",
    ] {
        assert!(text.contains(&sp.endpoint(path)), "{path} in {text}");
    }
    assert!(text.contains(EMAIL_FORMAT));
    idp_certificate(&sp).await;

    let download = reqwest::get(format!("{}?download", sp.endpoint("metadata/")))
        .await
        .unwrap();
    let disposition = download.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment"), "{disposition}");

    let api: Value = server
        .admin_get(&format!(
            "/api/v3/providers/saml/{}/metadata/",
            sp.provider_pk
        ))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        api["metadata"]
            .as_str()
            .unwrap()
            .contains("IDPSSODescriptor")
    );
}

#[tokio::test]
async fn sp_initiated_redirect_binding_signs_in_and_answers_with_a_signed_assertion() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({})).await;
    let certificate = idp_certificate(&sp).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let request = sp
        .authn_request("_req-1", &now_instant(&server), "redirect", "")
        .replace(
            "</saml:Issuer>",
            &format!(r#"</saml:Issuer><samlp:NameIDPolicy Format="{EMAIL_FORMAT}"/>"#),
        );
    let landing = ua
        .go(&sp.redirect_url("sso/binding/redirect/", &request, Some("back/to?page=1")))
        .await;
    let (status, html) = page_of(&landing);
    assert_eq!(status, 200, "{html}");
    assert_eq!(
        ua.flows.first().map(String::as_str),
        Some("default-authentication-flow")
    );
    let form = read_form(&html);
    assert_eq!(form.action, sp.acs_url);
    assert_eq!(form.fields["RelayState"], "back/to?page=1");
    assert!(html.contains("type=\"submit\""), "works without scripts");

    let response = response_of(&form);
    assert!(response.is(SAMLP_NS, "Response"));
    assert_eq!(response.attribute("InResponseTo"), Some("_req-1"));
    assert_eq!(response.attribute("Destination"), Some(sp.acs_url.as_str()));
    assert_eq!(
        status_codes(&response).0,
        "urn:oasis:names:tc:SAML:2.0:status:Success"
    );
    let assertion = verified_assertion(&response, &certificate);
    assert_eq!(
        child_text(&assertion, &["Issuer"]).as_deref(),
        Some(sp.endpoint("metadata/").as_str())
    );
    let name_id = assertion
        .find_child(SAML_NS, "Subject")
        .and_then(|subject| subject.find_child(SAML_NS, "NameID"))
        .unwrap();
    assert_eq!(name_id.attribute("Format"), Some(EMAIL_FORMAT));
    assert_eq!(name_id.text(), "alice@example.com");
    assert_eq!(
        child_text(
            &assertion,
            &["Conditions", "AudienceRestriction", "Audience"]
        )
        .as_deref(),
        Some(sp.entity_id.as_str())
    );
    let confirmation = assertion
        .find_child(SAML_NS, "Subject")
        .and_then(|s| s.find_child(SAML_NS, "SubjectConfirmation"))
        .and_then(|c| c.find_child(SAML_NS, "SubjectConfirmationData"))
        .unwrap();
    assert_eq!(confirmation.attribute("InResponseTo"), Some("_req-1"));
    assert_eq!(
        confirmation.attribute("Recipient"),
        Some(sp.acs_url.as_str())
    );
    let not_on_or_after =
        Timestamp::parse_rfc3339(confirmation.attribute("NotOnOrAfter").unwrap()).unwrap();
    let now = Timestamp::parse_rfc3339(&now_instant(&server)).unwrap();
    assert!(not_on_or_after.0 > now.0 && not_on_or_after.0 <= now.0 + 300);
    let statement = assertion.find_child(SAML_NS, "AuthnStatement").unwrap();
    assert!(statement.attribute("SessionIndex").is_some());

    let attributes = attributes(&assertion);
    assert_eq!(
        attributes["http://schemas.goauthentik.io/2021/02/saml/username"],
        vec!["alice"]
    );
    assert_eq!(
        attributes["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"],
        vec!["alice@example.com"]
    );
}

#[tokio::test]
async fn post_binding_with_a_session_answers_at_once() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({"sign_response": true})).await;
    let certificate = idp_certificate(&sp).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    ua.sign_in().await;
    let request = sp.authn_request("_req-post", &now_instant(&server), "post", "");
    let answer = ua
        .http
        .post(sp.endpoint("sso/binding/post/"))
        .form(&[
            ("SAMLRequest", codec::encode_base64(request.as_bytes())),
            ("RelayState", "rs".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let csp = answer.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://wiki.example.com"),
        "{csp}"
    );
    let form = read_form(&answer.text().await.unwrap());
    let response = response_of(&form);
    // Both the response and the assertion are signed.
    xml::verify_root(
        &response,
        std::slice::from_ref(&certificate),
        &Default::default(),
    )
    .expect("the response's signature verifies");
    verified_assertion(&response, &certificate);
    assert_eq!(form.fields["RelayState"], "rs");
}

#[tokio::test]
async fn bad_requests_get_a_page_never_a_response() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({})).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    ua.sign_in().await;
    let now = now_instant(&server);

    let foreign_acs = sp
        .authn_request("_a", &now, "redirect", "")
        .replace(&sp.acs_url, "https://evil.example.net/acs");
    let wrong_issuer = sp
        .authn_request("_b", &now, "redirect", "")
        .replace(&format!(">{}<", sp.entity_id), ">https://other.example/<");
    let wrong_destination = sp
        .authn_request("_c", &now, "redirect", "")
        .replace("sso/binding/redirect/", "sso/binding/post/");
    for (request, expected) in [
        (foreign_acs, "AssertionConsumerServiceURL"),
        (wrong_issuer, "Issuer"),
        (wrong_destination, "Destination"),
        ("<not-saml/>".to_owned(), "samlp:AuthnRequest"),
    ] {
        let landing = ua
            .go(&sp.redirect_url("sso/binding/redirect/", &request, None))
            .await;
        let (status, html) = page_of(&landing);
        assert_eq!(status, 400, "{expected}: {html}");
        assert!(html.contains(expected), "{expected}: {html}");
        assert!(!html.contains("SAMLResponse"));
    }

    // Hostile XML: an entity declaration, and a 5 MB request.
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&a;</samlp:AuthnRequest>"#;
    let landing = ua
        .go(&sp.redirect_url("sso/binding/redirect/", bomb, None))
        .await;
    assert_eq!(page_of(&landing).0, 400);
    let big = ua
        .http
        .post(sp.endpoint("sso/binding/post/"))
        .form(&[("SAMLRequest", "A".repeat(5 << 20))])
        .send()
        .await
        .unwrap();
    assert!(big.status().is_client_error(), "{}", big.status());
}

#[tokio::test]
async fn replayed_and_expired_requests_are_refused() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({})).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    ua.sign_in().await;
    let request = sp.authn_request("_once", &now_instant(&server), "redirect", "");
    let url = sp.redirect_url("sso/binding/redirect/", &request, None);
    let (status, html) = page_of(&ua.go(&url).await);
    assert_eq!(status, 200, "{html}");
    read_form(&html);
    let (status, html) = page_of(&ua.go(&url).await);
    assert_eq!(status, 400);
    assert!(html.contains("already used"), "{html}");

    let old = sp.authn_request("_old", &now_instant(&server), "redirect", "");
    server.clock.advance(20 * 60);
    let (status, html) = page_of(
        &ua.go(&sp.redirect_url("sso/binding/redirect/", &old, None))
            .await,
    );
    assert_eq!(status, 400);
    assert!(html.contains("expired"), "{html}");
}

#[tokio::test]
async fn a_user_the_policies_refuse_gets_request_denied_at_the_acs() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({})).await;
    let group: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/core/groups/",
            json!({"name": "wiki-users"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let bound = server
        .admin_send(
            Method::POST,
            "/api/v3/policies/bindings/",
            json!({"group": group["pk"], "target": sp.app_pk, "order": 0}),
        )
        .await;
    assert_eq!(bound.status(), 201);
    let mut ua = UserAgent::new(&server, "mallory").await;
    let request = sp.authn_request("_denied", &now_instant(&server), "redirect", "");
    let (status, html) = page_of(
        &ua.go(&sp.redirect_url("sso/binding/redirect/", &request, Some("rs")))
            .await,
    );
    assert_eq!(status, 200, "{html}");
    let form = read_form(&html);
    assert_eq!(form.action, sp.acs_url);
    let response = response_of(&form);
    assert_eq!(response.attribute("InResponseTo"), Some("_denied"));
    assert_eq!(
        status_codes(&response).1.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:status:RequestDenied")
    );
    assert!(response.find_child(SAML_NS, "Assertion").is_none());
}

#[tokio::test]
async fn is_passive_without_a_session_gets_no_passive() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({})).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let request = sp.authn_request(
        "_passive",
        &now_instant(&server),
        "redirect",
        r#"IsPassive="true""#,
    );
    let (status, html) = page_of(
        &ua.go(&sp.redirect_url("sso/binding/redirect/", &request, None))
            .await,
    );
    assert_eq!(status, 200, "{html}");
    assert!(ua.flows.is_empty(), "no sign-in asked: {:?}", ua.flows);
    let response = response_of(&read_form(&html));
    assert_eq!(
        status_codes(&response).1.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:status:NoPassive")
    );
}

#[tokio::test]
async fn idp_initiated_sign_in_uses_the_default_relay_state() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({"default_relay_state": "/home"})).await;
    let certificate = idp_certificate(&sp).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    let (status, html) = page_of(&ua.go(&sp.endpoint("sso/binding/init/")).await);
    assert_eq!(status, 200, "{html}");
    let form = read_form(&html);
    assert_eq!(form.fields["RelayState"], "/home");
    let response = response_of(&form);
    assert_eq!(response.attribute("InResponseTo"), None);
    let assertion = verified_assertion(&response, &certificate);
    let data = assertion
        .find_child(SAML_NS, "Subject")
        .and_then(|s| s.find_child(SAML_NS, "SubjectConfirmation"))
        .and_then(|c| c.find_child(SAML_NS, "SubjectConfirmationData"))
        .unwrap();
    assert_eq!(data.attribute("InResponseTo"), None);
}

#[tokio::test]
async fn force_authn_signs_in_again() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({})).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    ua.sign_in().await;
    server.clock.advance(60);
    let plain = sp.authn_request("_plain", &now_instant(&server), "redirect", "");
    let before = ua.flows.len();
    let (status, _) = page_of(
        &ua.go(&sp.redirect_url("sso/binding/redirect/", &plain, None))
            .await,
    );
    assert_eq!(
        (status, ua.flows.len()),
        (200, before),
        "the session is enough"
    );
    let forced = sp.authn_request(
        "_forced",
        &now_instant(&server),
        "redirect",
        r#"ForceAuthn="true""#,
    );
    let (status, html) = page_of(
        &ua.go(&sp.redirect_url("sso/binding/redirect/", &forced, None))
            .await,
    );
    assert_eq!(status, 200, "{html}");
    assert_eq!(
        ua.flows.get(before).map(String::as_str),
        Some("default-authentication-flow"),
        "signed in again: {:?}",
        ua.flows
    );
    read_form(&html);
}
