//! Journeys by email against a real SMTP server (aiosmtpd): enrollment by invitation with
//! address verification, and password recovery.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::flows::{executor_get, executor_login, executor_post};
use crate::harness::smtp::{Received, SmtpSink};
use crate::harness::{Options, TestServer};

const ENROLL: &str = "/api/v3/flows/executor/default-enrollment-flow/";
const RECOVER: &str = "/api/v3/flows/executor/default-recovery-flow/";

/// The flow token from the link in a message (quoted-printable soft breaks undone).
fn flow_token(message: &Received) -> String {
    let body = message
        .raw
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = body.find("flow_token=").expect("a link with a flow token") + "flow_token=".len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test]
async fn enrollment_by_invitation_with_email_verification() {
    let sink = SmtpSink::start();
    let server = TestServer::spawn_with(Options {
        smtp_port: Some(sink.port),
        ..Options::default()
    })
    .await;
    let created = server
        .admin_send(
            Method::POST,
            "/api/v3/core/groups/",
            json!({"name": "family"}),
        )
        .await;
    assert_eq!(created.status(), 201);

    // Invitation-only by default.
    let uninvited = executor_get(&server, &server.browser(), ENROLL).await;
    assert_eq!(
        uninvited["component"], "ak-stage-access-denied",
        "{uninvited}"
    );

    let invitation: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/stages/invitation/invitations/",
            json!({"name": "welcome", "single_use": true, "flow": "default-enrollment-flow", "fixed_data": {"groups": ["family"]}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let itoken = invitation["pk"].as_str().unwrap().to_owned();
    let path = format!("{ENROLL}?query=itoken%3D{itoken}");

    let browser = server.browser();
    let prompt = executor_get(&server, &browser, &path).await;
    assert_eq!(prompt["component"], "ak-stage-prompt", "{prompt}");
    let answer = json!({"component": "ak-stage-prompt", "username": "newbie", "name": "New Bie",
        "email": "newbie@example.com", "password": "a-long-new-password", "password_repeat": "a-long-new-password"});
    let check_mail = executor_post(&server, &browser, &path, answer).await;
    assert_eq!(check_mail["component"], "ak-stage-email", "{check_mail}");

    // Created, but inactive until the address is confirmed.
    let users: Value = server
        .admin_get("/api/v3/core/users/?search=newbie")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users["results"][0]["is_active"], false);
    let login_before =
        executor_login(&server, &server.browser(), "newbie", "a-long-new-password").await;
    assert_eq!(
        login_before["component"], "ak-stage-password",
        "inactive users cannot sign in"
    );

    let messages = sink.wait_for(1).await;
    assert!(
        messages[0]
            .header("To")
            .unwrap()
            .contains("newbie@example.com")
    );
    let token = flow_token(&messages[0]);

    // The link works from another browser (the user's phone, say).
    let phone = server.browser();
    let done = executor_get(
        &server,
        &phone,
        &format!("{ENROLL}?query=flow_token%3D{token}"),
    )
    .await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
    let me: Value = phone
        .get(server.url("/api/v3/core/users/me/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], "newbie");
    let users: Value = server
        .admin_get("/api/v3/core/users/?search=newbie")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users["results"][0]["is_active"], true);
    assert_eq!(users["results"][0]["groups_obj"][0]["name"], "family");

    // The link and the invitation are spent.
    let again = executor_get(
        &server,
        &server.browser(),
        &format!("{ENROLL}?query=flow_token%3D{token}"),
    )
    .await;
    assert_eq!(again["component"], "ak-stage-access-denied");
    let reused = executor_get(&server, &server.browser(), &path).await;
    assert_eq!(reused["component"], "ak-stage-access-denied");
}

#[tokio::test]
async fn password_recovery_by_email_without_revealing_accounts() {
    let sink = SmtpSink::start();
    let server = TestServer::spawn_with(Options {
        smtp_port: Some(sink.port),
        ..Options::default()
    })
    .await;

    // An unknown account gets the same answer and no mail.
    let stranger = server.browser();
    executor_get(&server, &stranger, RECOVER).await;
    let unknown = executor_post(
        &server,
        &stranger,
        RECOVER,
        json!({"component": "ak-stage-identification", "uid_field": "nobody@example.com"}),
    )
    .await;
    assert_eq!(unknown["component"], "ak-stage-email");

    let browser = server.browser();
    executor_get(&server, &browser, RECOVER).await;
    let known = executor_post(
        &server,
        &browser,
        RECOVER,
        json!({"component": "ak-stage-identification", "uid_field": "admin@example.com"}),
    )
    .await;
    assert_eq!(known["component"], "ak-stage-email");
    assert_eq!(unknown, known, "both answers are identical");

    let messages = sink.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        sink.messages().len(),
        1,
        "nothing was sent for the unknown address"
    );
    assert!(
        messages[0]
            .header("To")
            .unwrap()
            .contains("admin@example.com")
    );
    let token = flow_token(&messages[0]);

    let path = format!("{RECOVER}?query=flow_token%3D{token}");
    let prompt = executor_get(&server, &browser, &path).await;
    assert_eq!(prompt["component"], "ak-stage-prompt", "{prompt}");
    let done = executor_post(&server, &browser, &path, json!({"component": "ak-stage-prompt", "password": "brand-new-secret", "password_repeat": "brand-new-secret"})).await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");

    let fresh = server.browser();
    let login = executor_login(&server, &fresh, "akadmin", "brand-new-secret").await;
    assert_eq!(
        login["component"], "xak-flow-redirect",
        "the new password works"
    );

    // The admin sees the message in the outbox, sent.
    let outbox: Value = reqwest::Client::new()
        .get(server.url("/api/v3/admin/outbox/"))
        .bearer_auth(crate::harness::ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(outbox["pagination"]["count"], 1, "{outbox}");
    assert_eq!(outbox["results"][0]["status"], "sent");
    assert_eq!(outbox["results"][0]["to"], "admin@example.com");
}
