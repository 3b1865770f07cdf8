//! API authorization: 401 without credentials, 403 without permission.

use reqwest::Method;
use serde_json::json;

use crate::harness::flows::executor_login;
use crate::harness::{ADMIN_TOKEN, TestServer};

#[tokio::test]
async fn no_or_bad_credentials_get_401() {
    let server = TestServer::spawn().await;
    let anonymous = reqwest::Client::new()
        .get(server.url("/api/v3/core/users/"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert!(body["detail"].is_string());
    for header in [
        "Bearer wrong-token",
        "Basic YWthZG1pbjp4",
        "Bearer ",
        "garbage",
    ] {
        let response = reqwest::Client::new()
            .get(server.url("/api/v3/core/users/me/"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
    }
    let good = reqwest::Client::new()
        .get(server.url("/api/v3/core/users/me/"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
}

#[tokio::test]
async fn a_regular_users_token_is_forbidden_from_admin_resources() {
    let server = TestServer::spawn().await;
    let user_pk = server.create_user("bob", "bob-password").await;
    let browser = server.browser();
    executor_login(&server, &browser, "bob", "bob-password").await;
    let created = browser
        .post(server.url("/api/v3/core/tokens/"))
        .json(&json!({"identifier": "bobs-token", "expiring": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["user"], user_pk);
    let key: serde_json::Value = browser
        .get(server.url("/api/v3/core/tokens/bobs-token/view_key/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap().to_owned();

    let as_bob = |method: Method, path: &str| {
        reqwest::Client::new()
            .request(method, server.url(path))
            .bearer_auth(&key)
    };
    assert_eq!(
        as_bob(Method::GET, "/api/v3/core/users/me/")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        as_bob(Method::GET, "/api/v3/core/users/")
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        as_bob(Method::GET, "/api/v3/core/groups/")
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let escalate = as_bob(
        Method::POST,
        &format!("/api/v3/core/users/{user_pk}/set_password/"),
    )
    .json(&json!({"password": "x"}))
    .send()
    .await
    .unwrap();
    assert_eq!(escalate.status(), 403);
    // Bob sees only his own tokens, and cannot read the admin's.
    let tokens: serde_json::Value = as_bob(Method::GET, "/api/v3/core/tokens/")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["pagination"]["count"], 1);
    assert_eq!(
        as_bob(
            Method::GET,
            "/api/v3/core/tokens/authentik-bootstrap-token/view_key/"
        )
        .send()
        .await
        .unwrap()
        .status(),
        404
    );
    // A token for someone else is refused.
    let foreign = as_bob(Method::POST, "/api/v3/core/tokens/")
        .json(&json!({"identifier": "sneaky", "user": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
}

#[tokio::test]
async fn expired_tokens_stop_working() {
    let server = TestServer::spawn().await;
    let created = server
        .admin_send(
            Method::POST,
            "/api/v3/core/tokens/",
            json!({"identifier": "short-lived"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let body: serde_json::Value = created.json().await.unwrap();
    assert_eq!(body["expiring"], true);
    assert!(
        body["expires"].is_string(),
        "expiring tokens get a default expiry"
    );
    let key: serde_json::Value = server
        .admin_get("/api/v3/core/tokens/short-lived/view_key/")
        .await
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    let me = || {
        reqwest::Client::new()
            .get(server.url("/api/v3/core/users/me/"))
            .bearer_auth(&key)
            .send()
    };
    assert_eq!(me().await.unwrap().status(), 200);
    server.clock.advance(31 * 60);
    assert_eq!(me().await.unwrap().status(), 401);
}

#[tokio::test]
async fn cookie_authenticated_writes_from_another_origin_are_refused() {
    let server = TestServer::spawn().await;
    let browser = server.browser();
    executor_login(&server, &browser, "akadmin", crate::harness::ADMIN_PASSWORD).await;
    let cross = browser
        .post(server.url("/api/v3/core/groups/"))
        .header("origin", "https://evil.example")
        .json(&json!({"name": "evil"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let same = browser
        .post(server.url("/api/v3/core/groups/"))
        .header("origin", server.url(""))
        .json(&json!({"name": "friends"}))
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 201);
}
