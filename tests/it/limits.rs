//! Bad input gets a clear 4xx and the server stays up.

use serde_json::Value;

use crate::harness::flows::LOGIN;
use crate::harness::{ADMIN_TOKEN, TestServer};

#[tokio::test]
async fn malformed_json_is_a_400_with_a_reason() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    for body in ["{", "[1,2", "null", "\"text\"", "{\"uid_field\": }"] {
        let response = client
            .post(server.url(LOGIN))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let detail: Value = response.json().await.unwrap();
        assert!(
            detail["detail"].as_str().unwrap().contains("JSON"),
            "{detail}"
        );
    }
    let wrong_type = client
        .post(server.url("/api/v3/core/users/"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "text/plain")
        .body("username=x")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
    assert_eq!(
        client
            .get(server.url("/-/health/live/"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let huge = format!("{{\"uid_field\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let response = client
        .post(server.url(LOGIN))
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await;
    match response {
        Ok(response) => assert!(
            response.status() == 413 || response.status() == 400,
            "{}",
            response.status()
        ),
        Err(error) => assert!(
            error.is_request() || error.is_body(),
            "connection closed: {error}"
        ),
    }
    let form = client
        .post(server.url("/if/flow/default-authentication-flow/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("uid_field={}", "a".repeat(2 * 1024 * 1024)))
        .send()
        .await;
    if let Ok(form) = form {
        assert!(form.status().is_client_error(), "{}", form.status());
    }
    assert_eq!(
        client
            .get(server.url("/-/health/ready/"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
}

#[tokio::test]
async fn bad_query_parameters_and_unknown_paths_are_4xx() {
    let server = TestServer::spawn().await;
    let paged = server.admin_get("/api/v3/core/users/?page=abc").await;
    assert_eq!(paged.status(), 400);
    let not_a_user = server.admin_get("/api/v3/core/users/not-a-number/").await;
    assert!(not_a_user.status().is_client_error());
    let unknown = server.admin_get("/api/v3/nothing/here/").await;
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["detail"], "Not found.");
    let bad_form = reqwest::Client::new()
        .post(server.url("/if/flow/default-authentication-flow/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("%zz=%%%")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_form.status(), 400);
}

#[tokio::test]
async fn health_endpoints_answer() {
    let server = TestServer::spawn().await;
    assert_eq!(
        reqwest::get(server.url("/-/health/live/"))
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        reqwest::get(server.url("/-/health/ready/"))
            .await
            .unwrap()
            .status(),
        204
    );
}
