//! SAML single logout: a LogoutRequest ends the browser's session and is answered with a
//! signed LogoutResponse; stale and expired requests leave the session alone.

use gatehouse::providers::saml::codec;
use gatehouse::providers::saml::xml::{self, SAMLP_NS};
use serde_json::json;

use crate::harness::TestServer;
use crate::harness::oidc::UserAgent;
use crate::harness::saml::{Sp, idp_certificate, now_instant, read_form};

#[tokio::test]
async fn sp_initiated_logout_ends_the_session_and_answers_the_sp() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(
        &server,
        "wiki",
        json!({"sls_url": "https://wiki.example.com/saml/sls", "sls_binding": "post"}),
    )
    .await;
    let certificate = idp_certificate(&sp).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    ua.sign_in().await;
    let session = ua.cookie("gatehouse_session").expect("a session");
    let logout = format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lo1" Version="2.0" IssueInstant="{}" Destination="{}"><saml:Issuer>{}</saml:Issuer><saml:NameID>x</saml:NameID></samlp:LogoutRequest>"#,
        now_instant(&server),
        sp.endpoint("slo/binding/redirect/"),
        sp.entity_id
    );
    let answer = ua
        .get(&sp.redirect_url("slo/binding/redirect/", &logout, Some("bye")))
        .await;
    assert_eq!(answer.status(), 200);
    let html = answer.text().await.unwrap();
    let form = read_form(&html);
    assert_eq!(form.action, "https://wiki.example.com/saml/sls");
    assert_eq!(form.fields["RelayState"], "bye");
    let bytes = codec::decode_base64(&form.fields["SAMLResponse"]).unwrap();
    let response = xml::parse(&bytes).unwrap();
    assert!(response.is(SAMLP_NS, "LogoutResponse"));
    assert_eq!(response.attribute("InResponseTo"), Some("_lo1"));
    xml::verify_root(
        &response,
        std::slice::from_ref(&certificate),
        &Default::default(),
    )
    .expect("signed");
    assert_eq!(
        ua.cookie("gatehouse_session"),
        None,
        "the cookie is cleared"
    );
    // And the session itself is over, not only forgotten by this browser.
    let me = reqwest::Client::new()
        .get(server.url("/api/v3/core/users/me/"))
        .header("Cookie", format!("gatehouse_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "signed out");
}

#[tokio::test]
async fn a_logout_for_another_session_leaves_this_one_alone() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(&server, "wiki", json!({})).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    ua.sign_in().await;
    let logout = |index: &str, instant: &str| {
        format!(
            r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lo" Version="2.0" IssueInstant="{instant}"><saml:Issuer>{}</saml:Issuer><saml:NameID>x</saml:NameID><samlp:SessionIndex>{index}</samlp:SessionIndex></samlp:LogoutRequest>"#,
            sp.entity_id
        )
    };
    let stale = ua
        .get(&sp.redirect_url(
            "slo/binding/redirect/",
            &logout("_other", &now_instant(&server)),
            None,
        ))
        .await;
    assert_eq!(
        stale.status(),
        200,
        "signed-out page (no SLO URL configured)"
    );
    assert!(
        ua.cookie("gatehouse_session").is_some(),
        "this session stays"
    );
    let me = ua.get(&server.url("/api/v3/core/users/me/")).await;
    assert_eq!(me.status(), 200);

    let old = logout("_other", "2001-01-01T00:00:00Z");
    let expired = ua
        .get(&sp.redirect_url("slo/binding/redirect/", &old, None))
        .await;
    assert_eq!(expired.status(), 400);
}

#[tokio::test]
async fn a_posted_logout_request_is_answered_by_signed_redirect() {
    let server = TestServer::spawn().await;
    let sp = Sp::create(
        &server,
        "wiki",
        json!({"sls_url": "https://wiki.example.com/saml/sls", "sls_binding": "redirect"}),
    )
    .await;
    let certificate = idp_certificate(&sp).await;
    let mut ua = UserAgent::new(&server, "alice").await;
    ua.sign_in().await;
    let logout = format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lo-post" Version="2.0" IssueInstant="{}"><saml:Issuer>{}</saml:Issuer><saml:NameID>x</saml:NameID></samlp:LogoutRequest>"#,
        now_instant(&server),
        sp.entity_id
    );
    let answer = ua
        .http
        .post(sp.endpoint("slo/binding/post/"))
        .form(&[
            ("SAMLRequest", codec::encode_base64(logout.as_bytes())),
            ("RelayState", "rs".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    let (target, query) = location.split_once('?').unwrap();
    assert_eq!(target, "https://wiki.example.com/saml/sls");
    let verified = xml::verify_redirect(
        query,
        std::slice::from_ref(&certificate),
        &Default::default(),
    )
    .expect("the LogoutResponse query is signed by the IdP");
    assert_eq!(verified.relay_state.as_deref(), Some("rs"));
    let response = xml::parse(&codec::inflate_base64(&verified.message).unwrap()).unwrap();
    assert!(response.is(SAMLP_NS, "LogoutResponse"));
    assert_eq!(response.attribute("InResponseTo"), Some("_lo-post"));
    assert_eq!(ua.cookie("gatehouse_session"), None);
}
