//! `providers/ldap/` in authentik's shapes: defaults, checks, and assignment to the
//! embedded outpost.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::harness::oidc::flow_pk;

#[tokio::test]
async fn ldap_providers_have_authentiks_defaults_and_checks() {
    let server = TestServer::spawn().await;
    let flow = flow_pk(&server, "default-authentication-flow").await;
    let created = server
        .admin_send(
            Method::POST,
            "/api/v3/providers/ldap/",
            json!({"name": "Directory", "authorization_flow": flow}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let provider: Value = created.json().await.unwrap();
    assert_eq!(provider["base_dn"], "DC=ldap,DC=goauthentik,DC=io");
    assert_eq!(provider["uid_start_number"], 2000);
    assert_eq!(provider["gid_start_number"], 4000);
    assert_eq!(provider["mfa_support"], true);
    assert_eq!(provider["bind_mode"], "direct");
    assert_eq!(provider["component"], "ak-provider-ldap-form");
    assert_eq!(provider["verbose_name"], "LDAP Provider");

    let bad = server
        .admin_send(
            Method::POST,
            "/api/v3/providers/ldap/",
            json!({"name": "Bad", "authorization_flow": flow, "base_dn": "not a dn",
                   "uid_start_number": -5, "bind_mode": "sometimes",
                   "certificate": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let errors: Value = bad.json().await.unwrap();
    for field in ["base_dn", "uid_start_number", "bind_mode", "certificate"] {
        assert!(errors.get(field).is_some(), "{field}: {errors}");
    }
    let twin = server
        .admin_send(
            Method::POST,
            "/api/v3/providers/ldap/",
            json!({"name": "Twin", "authorization_flow": flow, "base_dn": "dc=ldap, dc=goauthentik,dc=io"}),
        )
        .await;
    assert_eq!(twin.status(), 400, "the same base DN written differently");

    // The embedded outpost serves LDAP providers too.
    let outposts: Value = server
        .admin_get("/api/v3/outposts/instances/")
        .await
        .json()
        .await
        .unwrap();
    let outpost = &outposts["results"][0];
    let patched = server
        .admin_send(
            Method::PATCH,
            &format!(
                "/api/v3/outposts/instances/{}/",
                outpost["pk"].as_str().unwrap()
            ),
            json!({"providers": [provider["pk"]]}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let pk = provider["pk"].as_i64().unwrap();
    let fetched: Value = server
        .admin_get(&format!("/api/v3/providers/ldap/{pk}/"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["outpost_set"].as_array().unwrap().len(), 1);
    let modified = server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/providers/ldap/{pk}/"),
            json!({"base_dn": "dc=home,dc=arpa", "mfa_support": false}),
        )
        .await;
    assert_eq!(modified.status(), 200);
    let modified: Value = modified.json().await.unwrap();
    assert_eq!(modified["base_dn"], "dc=home,dc=arpa");
    assert_eq!(modified["mfa_support"], false);
}
