//! Second-factor codes by email: enrolling an address with a mailed code and signing in
//! with one, read from the SMTP sink.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::flows::{LOGIN, executor_get, executor_post};
use crate::harness::smtp::SmtpSink;
use crate::harness::{Options, TestServer};
use crate::mfa_flows::{
    VALIDATE, answer_code, is_signed_in, other_than, password_step, patch_validation, signed_in,
};

/// The code of the `count`th message ("Your code: 123456"): the one not seen before (the
/// sink's file names do not sort by arrival within a second).
async fn emailed_code(sink: &SmtpSink, count: usize, seen: &mut Vec<String>) -> String {
    let messages = sink.wait_for(count).await;
    assert_eq!(messages.len(), count, "one message per code");
    let codes: Vec<String> = messages
        .iter()
        .map(|message| {
            let raw = &message.raw;
            let start =
                raw.find("Your code: ").expect("a code in the message") + "Your code: ".len();
            raw[start..start + 6].to_owned()
        })
        .collect();
    let fresh = codes
        .into_iter()
        .find(|code| !seen.contains(code))
        .expect("a new code");
    seen.push(fresh.clone());
    fresh
}

#[tokio::test]
async fn email_codes_enroll_and_sign_in() {
    let sink = SmtpSink::start();
    let server = TestServer::spawn_with(Options {
        smtp_port: Some(sink.port),
        ..Options::default()
    })
    .await;
    // An email setup flow, and email codes allowed at sign-in.
    let created = |path: &'static str, body: Value| {
        let server = &server;
        async move {
            let response = server.admin_send(Method::POST, path, body).await;
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()
        }
    };
    let flow = created(
        "/api/v3/flows/instances/",
        json!({"name": "Email codes", "slug": "email-setup", "title": "Email codes",
               "designation": "stage_configuration", "authentication": "require_authenticated"}),
    )
    .await;
    let stage = created(
        "/api/v3/stages/authenticator/email/",
        json!({"name": "email-setup", "configure_flow": "email-setup"}),
    )
    .await;
    assert_eq!(stage["component"], "ak-stage-authenticator-email");
    assert_eq!(stage["token_expiry"], "minutes=10");
    created(
        "/api/v3/flows/bindings/",
        json!({"target": flow["pk"], "stage": stage["pk"], "order": 10}),
    )
    .await;
    patch_validation(
        &server,
        json!({"device_classes": ["totp", "static", "webauthn", "email"]}),
    )
    .await;

    let ua = signed_in(&server, "judy").await;
    let mut seen = Vec::new();
    let setup = "/api/v3/flows/executor/email-setup/";
    let challenge = executor_get(&server, &ua.http, setup).await;
    assert_eq!(
        challenge["component"], "ak-stage-authenticator-email",
        "{challenge}"
    );
    assert_eq!(challenge["email"], "j***@example.com");
    assert_eq!(challenge["email_required"], false);
    let code = emailed_code(&sink, 1, &mut seen).await;
    let wrong = executor_post(
        &server,
        &ua.http,
        setup,
        json!({"component": "ak-stage-authenticator-email", "code": other_than(&code)}),
    )
    .await;
    assert_eq!(
        wrong["response_errors"]["code"][0]["string"],
        "Invalid code"
    );
    let number: u64 = code.parse().unwrap();
    let done = executor_post(
        &server,
        &ua.http,
        setup,
        json!({"component": "ak-stage-authenticator-email", "code": number}),
    )
    .await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");

    // Signing in mails a code at once when email is the only second factor.
    let (browser, challenge) = password_step(&server, &ua).await;
    assert_eq!(challenge["component"], VALIDATE, "{challenge}");
    assert_eq!(challenge["device_challenges"][0]["device_class"], "email");
    assert_eq!(
        challenge["device_challenges"][0]["challenge"]["email"],
        "j***@example.com"
    );
    let code = emailed_code(&sink, 2, &mut seen).await;
    let signed = answer_code(&server, &browser, json!(code)).await;
    assert_eq!(signed["component"], "xak-flow-redirect", "{signed}");
    assert!(is_signed_in(&server, &browser).await);

    // A code works once; picking the device mails a new one.
    let (other, challenge) = password_step(&server, &ua).await;
    emailed_code(&sink, 3, &mut seen).await;
    let reused = answer_code(&server, &other, json!(code)).await;
    assert_eq!(
        reused["response_errors"]["code"][0]["string"], "Invalid Token",
        "{reused}"
    );
    let resent = executor_post(
        &server,
        &other,
        LOGIN,
        json!({"component": VALIDATE, "selected_challenge": challenge["device_challenges"][0]}),
    )
    .await;
    assert_eq!(resent["component"], VALIDATE);
    let fresh = emailed_code(&sink, 4, &mut seen).await;
    let signed = answer_code(&server, &other, json!(fresh)).await;
    assert_eq!(signed["component"], "xak-flow-redirect", "{signed}");
}
