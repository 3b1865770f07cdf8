//! Brands: per-domain title, logo and CSS on every page, and per-domain default flows.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;

#[tokio::test]
async fn the_default_brand_exists_and_a_domain_brand_dresses_its_pages() {
    let server = TestServer::spawn().await;
    let current: Value = reqwest::get(server.url("/api/v3/core/brands/current/"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["domain"], "authentik-default");
    assert_eq!(current["default"], true);
    assert!(
        current["flow_authentication"].is_string(),
        "flows are given by pk: {current}"
    );

    let created = server
        .admin_send(
            Method::POST,
            "/api/v3/core/brands/",
            json!({"domain": "auth.example.com", "branding_title": "Family Login", "branding_custom_css": "body { color: teal; }", "flow_authentication": "default-authentication-flow"}),
        )
        .await;
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    let second_default = server
        .admin_send(
            Method::POST,
            "/api/v3/core/brands/",
            json!({"domain": "other.example.com", "default": true}),
        )
        .await;
    assert_eq!(second_default.status(), 400, "only one default brand");

    let client = reqwest::Client::new();
    let page = client
        .get(server.url("/if/flow/default-authentication-flow/"))
        .header("host", "auth.example.com:9000")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("&#x2f;", "/");
    assert!(page.contains("Family Login"), "{page}");
    let css_url = page
        .split("href=\"/-/brand/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let css = client
        .get(server.url(&format!("/-/brand/{css_url}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(css, "body { color: teal; }");

    let plain = client
        .get(server.url("/if/flow/default-authentication-flow/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!plain.contains("Family Login"));

    let by_brand = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url("/flows/-/default/recovery/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_brand.headers()["location"],
        "/if/flow/default-recovery-flow/"
    );
}
