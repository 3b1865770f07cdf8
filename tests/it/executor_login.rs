//! Signing in through the JSON executor, as authentik scripts do; no user enumeration.

use serde_json::json;

use crate::harness::flows::{LOGIN, executor_get, executor_login, executor_post};
use crate::harness::{ADMIN_PASSWORD, TestServer};

#[tokio::test]
async fn login_by_username_or_email_ignoring_case() {
    let server = TestServer::spawn().await;
    for uid in [
        "akadmin",
        "AKAdmin",
        "admin@example.com",
        "ADMIN@example.com",
    ] {
        let browser = server.browser();
        let done = executor_login(&server, &browser, uid, ADMIN_PASSWORD).await;
        assert_eq!(done["component"], "xak-flow-redirect", "{uid}: {done}");
        assert_eq!(done["to"], "/if/user/");
        let me = browser
            .get(server.url("/api/v3/core/users/me/"))
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200, "{uid} is signed in");
    }
}

#[tokio::test]
async fn wrong_password_unknown_user_and_inactive_user_look_the_same() {
    let server = TestServer::spawn().await;
    let inactive = server.create_user("sleepy", "sleepy-password").await;
    let patched = server
        .admin_send(
            reqwest::Method::PATCH,
            &format!("/api/v3/core/users/{inactive}/"),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(patched.status(), 200);

    let mut answers = Vec::new();
    for (uid, password) in [
        ("akadmin", "wrong"),
        ("nobody-here", "wrong"),
        ("sleepy", "sleepy-password"),
    ] {
        let browser = server.browser();
        let answer = executor_login(&server, &browser, uid, password).await;
        let mut answer = answer.as_object().unwrap().clone();
        // The only difference allowed is the name the user typed.
        assert_eq!(answer.remove("pending_user").unwrap(), uid);
        answers.push(answer);
    }
    assert_eq!(answers[0]["component"], "ak-stage-password");
    assert_eq!(
        answers[0]["response_errors"]["password"][0]["string"],
        "Invalid password"
    );
    assert_eq!(
        answers[0], answers[1],
        "unknown user looks like a wrong password"
    );
    assert_eq!(
        answers[0], answers[2],
        "inactive user looks like a wrong password"
    );

    // The audit log keeps the difference.
    let events: serde_json::Value = server
        .admin_get("/api/v3/core/users/me/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(events["user"]["username"], "akadmin");
}

#[tokio::test]
async fn too_many_failures_cancel_the_flow() {
    let server = TestServer::spawn().await;
    let browser = server.browser();
    executor_get(&server, &browser, LOGIN).await;
    executor_post(
        &server,
        &browser,
        LOGIN,
        json!({"component": "ak-stage-identification", "uid_field": "akadmin"}),
    )
    .await;
    let mut last = json!(null);
    for _ in 0..5 {
        last = executor_post(
            &server,
            &browser,
            LOGIN,
            json!({"component": "ak-stage-password", "password": "nope"}),
        )
        .await;
    }
    assert_eq!(last["component"], "ak-stage-access-denied", "{last}");
    // The next request starts over.
    let again = executor_get(&server, &browser, LOGIN).await;
    assert_eq!(again["component"], "ak-stage-identification");
}

#[tokio::test]
async fn next_is_followed_only_within_the_site() {
    let server = TestServer::spawn().await;
    for (next, expected) in [
        ("%2Fif%2Fadmin%2F", "/if/admin/"),
        ("https%3A%2F%2Fevil.example%2F", "/if/user/"),
        ("%2F%2Fevil.example", "/if/user/"),
    ] {
        let browser = server.browser();
        let path = format!("{LOGIN}?query=next%3D{next}");
        executor_get(&server, &browser, &path).await;
        executor_post(
            &server,
            &browser,
            &path,
            json!({"component": "ak-stage-identification", "uid_field": "akadmin"}),
        )
        .await;
        let done = executor_post(
            &server,
            &browser,
            &path,
            json!({"component": "ak-stage-password", "password": ADMIN_PASSWORD}),
        )
        .await;
        assert_eq!(done["to"], expected, "next={next}");
    }
}

#[tokio::test]
async fn blank_identification_is_a_field_error() {
    let server = TestServer::spawn().await;
    let browser = server.browser();
    executor_get(&server, &browser, LOGIN).await;
    let answer = executor_post(
        &server,
        &browser,
        LOGIN,
        json!({"component": "ak-stage-identification", "uid_field": "  "}),
    )
    .await;
    assert_eq!(answer["component"], "ak-stage-identification");
    assert!(answer["response_errors"]["uid_field"].is_array());
}
