//! Policies on flows: a group-gated flow, an endless expression, brute-force protection,
//! prompt validation in both renderers.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::flows::{LOGIN, executor_get, executor_login, executor_post, post_form};
use crate::harness::{ADMIN_PASSWORD, TestServer};

async fn flow_pk(server: &TestServer, slug: &str) -> String {
    let flow: Value = server
        .admin_get(&format!("/api/v3/flows/instances/{slug}/"))
        .await
        .json()
        .await
        .unwrap();
    flow["pk"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_group_gated_flow_denies_non_members_with_a_clear_page() {
    let server = TestServer::spawn().await;
    let member = server.create_user("member", "member-password").await;
    server.create_user("outsider", "outsider-password").await;
    let group: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/core/groups/",
            json!({"name": "settings-users", "users": [member]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let target = flow_pk(&server, "default-user-settings-flow").await;
    let bound = server
        .admin_send(
            Method::POST,
            "/api/v3/policies/bindings/",
            json!({"group": group["pk"], "target": target, "order": 0}),
        )
        .await;
    assert_eq!(bound.status(), 201, "{:?}", bound.text().await);

    let outsider = server.browser();
    executor_login(&server, &outsider, "outsider", "outsider-password").await;
    let denied = executor_get(
        &server,
        &outsider,
        "/api/v3/flows/executor/default-user-settings-flow/",
    )
    .await;
    assert_eq!(denied["component"], "ak-stage-access-denied", "{denied}");
    let page = outsider
        .get(server.url("/if/flow/default-user-settings-flow/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    assert!(page.text().await.unwrap().contains("role=\"alert\""));

    let insider = server.browser();
    executor_login(&server, &insider, "member", "member-password").await;
    let prompt = executor_get(
        &server,
        &insider,
        "/api/v3/flows/executor/default-user-settings-flow/",
    )
    .await;
    assert_eq!(prompt["component"], "ak-stage-prompt", "{prompt}");
    let username = prompt["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field_key"] == "username")
        .unwrap();
    assert_eq!(
        username["initial_value"], "member",
        "the settings form shows current values"
    );
}

#[tokio::test]
async fn an_endless_expression_denies_within_its_time_limit() {
    let server = TestServer::spawn().await;
    let policy: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/policies/expression/",
            json!({"name": "spin", "expression": "loop { }"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let target = flow_pk(&server, "default-authentication-flow").await;
    let bound = server
        .admin_send(
            Method::POST,
            "/api/v3/policies/bindings/",
            json!({"policy": policy["pk"], "target": target, "timeout": 1}),
        )
        .await;
    assert_eq!(bound.status(), 201);
    let started = std::time::Instant::now();
    let denied = executor_get(&server, &server.browser(), LOGIN).await;
    assert_eq!(denied["component"], "ak-stage-access-denied", "{denied}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The server still answers.
    assert_eq!(
        server.admin_get("/api/v3/admin/version/").await.status(),
        200
    );
}

#[tokio::test]
async fn an_expression_can_allow_by_group_membership() {
    let server = TestServer::spawn().await;
    let policy: Value = server
        .admin_send(Method::POST, "/api/v3/policies/expression/", json!({"name": "admins-only", "expression": "ak_message(\"Admins only.\"); ak_is_group_member(\"authentik Admins\")"}))
        .await
        .json()
        .await
        .unwrap();
    let target = flow_pk(&server, "default-unenrollment-flow").await;
    server
        .admin_send(
            Method::POST,
            "/api/v3/policies/bindings/",
            json!({"policy": policy["pk"], "target": target}),
        )
        .await;
    server.create_user("plain", "plain-password").await;
    let plain = server.browser();
    executor_login(&server, &plain, "plain", "plain-password").await;
    let denied = executor_get(
        &server,
        &plain,
        "/api/v3/flows/executor/default-unenrollment-flow/",
    )
    .await;
    assert_eq!(denied["component"], "ak-stage-access-denied");
    assert!(
        denied["error_message"]
            .as_str()
            .unwrap()
            .contains("Admins only."),
        "{denied}"
    );
}

#[tokio::test]
async fn repeated_failures_lock_out_the_account_and_the_address_until_they_decay() {
    let server = TestServer::spawn().await;
    // Five wrong passwords (each in a fresh flow, as a script would).
    for _ in 0..5 {
        let attacker = server.browser();
        let answer = executor_login(&server, &attacker, "akadmin", "guess").await;
        assert_eq!(answer["component"], "ak-stage-password");
    }
    // Now even the right password is refused, and it looks like a wrong one.
    let owner = server.browser();
    let refused = executor_login(&server, &owner, "akadmin", ADMIN_PASSWORD).await;
    assert_eq!(refused["component"], "ak-stage-password", "{refused}");
    assert_eq!(
        refused["response_errors"]["password"][0]["string"],
        "Invalid password"
    );
    // The address is locked for other accounts too.
    server.create_user("neighbour", "neighbour-password").await;
    let neighbour = server.browser();
    let refused = executor_login(&server, &neighbour, "neighbour", "neighbour-password").await;
    assert_eq!(refused["component"], "ak-stage-password");
    // Scores decay: after a while the owner gets in.
    server.clock.advance(15 * 60);
    let later = server.browser();
    let done = executor_login(&server, &later, "akadmin", ADMIN_PASSWORD).await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
}

#[tokio::test]
async fn prompt_validation_errors_come_back_as_field_errors_in_both_renderers() {
    let server = TestServer::spawn().await;
    server.create_user("frank", "frank-password").await;
    let json_client = server.browser();
    executor_login(&server, &json_client, "frank", "frank-password").await;
    let path = "/api/v3/flows/executor/default-user-settings-flow/";
    executor_get(&server, &json_client, path).await;
    let answer = executor_post(&server, &json_client, path, json!({"component": "ak-stage-prompt", "username": "frank", "name": "Frank", "email": "not-an-email"})).await;
    assert_eq!(answer["component"], "ak-stage-prompt");
    assert_eq!(
        answer["response_errors"]["email"][0]["string"],
        "Enter a valid email address."
    );

    let page_client = server.browser();
    executor_login(&server, &page_client, "frank", "frank-password").await;
    let page = post_form(
        &server,
        &page_client,
        "/if/flow/default-user-settings-flow/",
        &[
            ("username", "frank"),
            ("name", ""),
            ("email", "frank@example.com"),
        ],
    )
    .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("This field is required."), "{html}");

    // A valid answer is written to the account.
    let done = executor_post(&server, &json_client, path, json!({"component": "ak-stage-prompt", "username": "frank", "name": "Frank Fixed", "email": "frank@example.com"})).await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
    let me: Value = json_client
        .get(server.url("/api/v3/core/users/me/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["name"], "Frank Fixed");
}

#[tokio::test]
async fn a_policy_can_be_tested_for_a_user_and_explains_itself() {
    let server = TestServer::spawn().await;
    let plain = server.create_user("tester", "tester-password").await;
    let policy: Value = server
        .admin_send(Method::POST, "/api/v3/policies/expression/", json!({"name": "is-admin", "expression": "ak_message(\"not an admin\"); ak_is_group_member(\"authentik Admins\")"}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!(
        "/api/v3/policies/all/{}/test/",
        policy["pk"].as_str().unwrap()
    );
    let me: Value = server
        .admin_get("/api/v3/core/users/me/")
        .await
        .json()
        .await
        .unwrap();
    let admin_result: Value = server
        .admin_send(Method::POST, &path, json!({"user": me["user"]["pk"]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admin_result["passing"], true, "{admin_result}");
    let plain_result: Value = server
        .admin_send(Method::POST, &path, json!({"user": plain}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plain_result["passing"], false);
    assert_eq!(plain_result["messages"][0], "not an admin");
    let broken: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/policies/expression/",
            json!({"name": "broken", "expression": "this is not rhai ("}),
        )
        .await
        .json()
        .await
        .unwrap();
    let result: Value = server
        .admin_send(
            Method::POST,
            &format!(
                "/api/v3/policies/all/{}/test/",
                broken["pk"].as_str().unwrap()
            ),
            json!({"user": plain}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        result["passing"], false,
        "a script that does not compile fails with a reason: {result}"
    );
}
