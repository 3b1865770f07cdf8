//! Certificate-key pairs: the defaults made on first start, generating and importing
//! through authentik's `crypto/certificatekeypairs/` API, and who may see what.

use gatehouse::crypto::keys::{SigningKey, generate};
use gatehouse::crypto::verify_jwt;
use gatehouse::model::{KeyType, Timestamp};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::harness::TestServer;

const BASE: &str = "/api/v3/crypto/certificatekeypairs/";

async fn get_json(server: &TestServer, path: &str) -> Value {
    let response = server.admin_get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Fetches a pair's PEMs through the API and signs with them, proving the stored key is
/// the certificate's and opens under the server's secret key.
async fn sign_with(server: &TestServer, pk: &str) -> (String, Value) {
    let cert = get_json(server, &format!("{BASE}{pk}/view_certificate/")).await;
    let key = get_json(server, &format!("{BASE}{pk}/view_private_key/")).await;
    let signing = SigningKey::from_pem(
        cert["data"].as_str().unwrap(),
        key["data"].as_str().unwrap(),
    )
    .unwrap();
    let token = signing
        .sign_jwt(&Map::new(), &json!({"sub": "akadmin"}))
        .unwrap();
    (token, signing.public_jwk())
}

#[tokio::test]
async fn defaults_exist_after_the_first_start_with_their_keys() {
    let server = TestServer::spawn().await;
    let list = get_json(&server, &format!("{BASE}?has_key=true")).await;
    let results = list["results"].as_array().unwrap();
    let by_name = |name: &str| {
        results
            .iter()
            .find(|pair| pair["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {list}"))
            .clone()
    };
    let rsa = by_name("authentik Self-signed Certificate");
    assert_eq!(rsa["key_type"], "rsa");
    assert_eq!(rsa["private_key_available"], true);
    assert!(rsa["managed"].is_string());
    assert_eq!(rsa["kid"].as_str().unwrap().len(), 32);
    let ec = by_name("gatehouse EC signing key");
    assert_eq!(ec["key_type"], "ecdsa");
    for field in [
        "pk",
        "fingerprint_sha256",
        "fingerprint_sha1",
        "cert_expiry",
        "cert_subject",
        "certificate_download_url",
        "private_key_download_url",
    ] {
        assert!(rsa[field].is_string(), "{field} in {rsa}");
    }

    let (token, jwk) = sign_with(&server, rsa["pk"].as_str().unwrap()).await;
    assert_eq!(jwk["kid"], rsa["kid"]);
    assert_eq!(verify_jwt(&token, &[jwk]).unwrap()["sub"], "akadmin");

    // A restart keeps the same pairs rather than making new ones.
    let server = server.restart().await;
    let again = get_json(&server, BASE).await;
    assert_eq!(again["pagination"]["count"], 2);
    assert!(
        again["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|pair| pair["kid"] == rsa["kid"])
    );
}

#[tokio::test]
async fn generate_import_rename_and_delete() {
    let server = TestServer::spawn().await;
    let generated = server
        .admin_send(
            Method::POST,
            &format!("{BASE}generate/"),
            json!({"common_name": "grafana signing", "subject_alt_name": "grafana.example.com", "validity_days": 30, "alg": "ecdsa"}),
        )
        .await;
    assert_eq!(generated.status(), 201);
    let generated: Value = generated.json().await.unwrap();
    assert_eq!(generated["key_type"], "ecdsa");
    assert_eq!(generated["name"], "grafana signing");
    let pk = generated["pk"].as_str().unwrap().to_owned();
    let (token, jwk) = sign_with(&server, &pk).await;
    assert!(verify_jwt(&token, &[jwk]).is_ok());
    let cert = get_json(&server, &format!("{BASE}{pk}/view_certificate/")).await;
    assert!(
        cert["data"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert!(!cert.to_string().contains("PRIVATE KEY"));
    let download = server
        .admin_get(&format!("{BASE}{pk}/view_certificate/?download"))
        .await;
    assert_eq!(download.status(), 200);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("grafana_signing_certificate.pem")
    );
    assert_eq!(
        download.text().await.unwrap(),
        cert["data"].as_str().unwrap()
    );

    let bad_alg = server
        .admin_send(
            Method::POST,
            &format!("{BASE}generate/"),
            json!({"common_name": "x", "alg": "dsa"}),
        )
        .await;
    assert_eq!(bad_alg.status(), 400);

    // Import: a certificate with its own key, then with someone else's key.
    let now = Timestamp(time::OffsetDateTime::now_utc().unix_timestamp());
    let one = generate(KeyType::Ed25519, "imported", &[], 10, now).unwrap();
    let two = generate(KeyType::Ed25519, "other", &[], 10, now).unwrap();
    let mismatched = server
        .admin_send(
            Method::POST,
            BASE,
            json!({"name": "mixed", "certificate_data": one.certificate_pem, "key_data": two.private_key_pem}),
        )
        .await;
    assert_eq!(mismatched.status(), 400);
    let body: Value = mismatched.json().await.unwrap();
    assert!(body["key_data"].is_array(), "{body}");
    let imported = server
        .admin_send(
            Method::POST,
            BASE,
            json!({"name": "imported", "certificate_data": one.certificate_pem, "key_data": one.private_key_pem}),
        )
        .await;
    assert_eq!(imported.status(), 201);
    let imported: Value = imported.json().await.unwrap();
    assert_eq!(imported["key_type"], "ed25519");
    let cert_only = server
        .admin_send(
            Method::POST,
            BASE,
            json!({"name": "cert only", "certificate_data": two.certificate_pem}),
        )
        .await;
    assert_eq!(cert_only.status(), 201);
    let without_key = get_json(&server, &format!("{BASE}?has_key=false")).await;
    assert_eq!(without_key["pagination"]["count"], 1);
    assert_eq!(without_key["results"][0]["name"], "cert only");
    let duplicate = server
        .admin_send(
            Method::POST,
            BASE,
            json!({"name": "imported", "certificate_data": two.certificate_pem}),
        )
        .await;
    assert_eq!(duplicate.status(), 400);

    let imported_pk = imported["pk"].as_str().unwrap();
    let renamed = server
        .admin_send(
            Method::PATCH,
            &format!("{BASE}{imported_pk}/"),
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let retrieved = get_json(&server, &format!("{BASE}{imported_pk}/")).await;
    assert_eq!(retrieved["name"], "renamed");
    assert_eq!(retrieved["kid"], imported["kid"]);
    let deleted = server
        .admin_send(Method::DELETE, &format!("{BASE}{imported_pk}/"), json!({}))
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        server
            .admin_get(&format!("{BASE}{imported_pk}/"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn only_admins_see_pairs_and_private_keys() {
    let server = TestServer::spawn().await;
    let user_pk = server.create_user("bob", "bob-password").await;
    let created = server
        .admin_send(
            Method::POST,
            "/api/v3/core/tokens/",
            json!({"identifier": "bobs-token", "user": user_pk, "expiring": false}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let key = get_json(&server, "/api/v3/core/tokens/bobs-token/view_key/").await;
    let key = key["key"].as_str().unwrap().to_owned();

    let list = get_json(&server, BASE).await;
    let pk = list["results"][0]["pk"].as_str().unwrap().to_owned();
    for path in [
        BASE.to_owned(),
        format!("{BASE}{pk}/"),
        format!("{BASE}{pk}/view_certificate/"),
        format!("{BASE}{pk}/view_private_key/"),
    ] {
        let response = reqwest::Client::new()
            .get(server.url(&path))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    let generate = reqwest::Client::new()
        .post(server.url(&format!("{BASE}generate/")))
        .bearer_auth(&key)
        .json(&json!({"common_name": "sneaky"}))
        .send()
        .await
        .unwrap();
    assert_eq!(generate.status(), 403);

    // The admin may (the view is audited as `secret_view`; no events API to read it yet).
    let key = get_json(&server, &format!("{BASE}{pk}/view_private_key/")).await;
    assert!(key["data"].as_str().unwrap().contains("PRIVATE KEY"));
}
