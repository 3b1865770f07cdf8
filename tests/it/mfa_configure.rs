//! The validation stage's `configure` action with a choice of setup stages
//! (`selected_stage`), and what the stage API refuses in the authenticator stages.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::harness::flows::{LOGIN, executor_get, executor_post};
use crate::harness::oidc::UserAgent;
use crate::mfa_flows::{VALIDATE, is_signed_in, password_step, patch_validation, signed_in};

/// The pk of the stage named `name` under `stages/<segment>/`.
async fn stage_pk(server: &TestServer, segment: &str, name: &str) -> String {
    let listed: Value = server
        .admin_get(&format!("/api/v3/stages/{segment}/"))
        .await
        .json()
        .await
        .unwrap();
    listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stage| stage["name"] == name)
        .and_then(|stage| stage["pk"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn users_without_a_device_pick_a_setup_stage_and_users_with_one_cannot() {
    let server = TestServer::spawn().await;
    let totp = stage_pk(
        &server,
        "authenticator/totp",
        "default-authenticator-totp-setup",
    )
    .await;
    let codes = stage_pk(
        &server,
        "authenticator/static",
        "default-authenticator-static-setup",
    )
    .await;
    // Someone who already has a device, before the rule changes.
    let owner = signed_in(&server, "owner").await;
    executor_get(
        &server,
        &owner.http,
        "/api/v3/flows/executor/default-authenticator-static-setup/",
    )
    .await;
    executor_post(
        &server,
        &owner.http,
        "/api/v3/flows/executor/default-authenticator-static-setup/",
        json!({"component": "ak-stage-authenticator-static"}),
    )
    .await;
    patch_validation(
        &server,
        json!({"not_configured_action": "configure", "configuration_stages": [totp, codes]}),
    )
    .await;

    let newcomer = UserAgent::new(&server, "newcomer").await;
    let (browser, choice) = password_step(&server, &newcomer).await;
    assert_eq!(choice["component"], VALIDATE, "{choice}");
    assert_eq!(choice["device_challenges"], json!([]));
    let offered = choice["configuration_stages"].as_array().unwrap();
    assert_eq!(offered.len(), 2);
    assert_eq!(offered[1]["pk"], codes.as_str());
    assert_eq!(offered[1]["name"], "default-authenticator-static-setup");
    assert_eq!(
        offered[1]["verbose_name"],
        "Static Authenticator Setup Stage"
    );
    assert_eq!(
        offered[1]["meta_model_name"],
        "authentik_stages_authenticator_static.authenticatorstaticstage"
    );
    let shown = executor_post(
        &server,
        &browser,
        LOGIN,
        json!({"component": VALIDATE, "selected_stage": codes}),
    )
    .await;
    assert_eq!(
        shown["component"], "ak-stage-authenticator-static",
        "{shown}"
    );
    let done = executor_post(
        &server,
        &browser,
        LOGIN,
        json!({"component": "ak-stage-authenticator-static"}),
    )
    .await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
    assert!(is_signed_in(&server, &browser).await);

    // A user with a device must use it: picking a setup stage does not get around it.
    let (other, asked) = password_step(&server, &owner).await;
    assert_eq!(asked["device_challenges"][0]["device_class"], "static");
    let dodged = executor_post(
        &server,
        &other,
        LOGIN,
        json!({"component": VALIDATE, "selected_stage": totp}),
    )
    .await;
    assert_eq!(dodged["component"], VALIDATE, "{dodged}");
    assert!(!is_signed_in(&server, &other).await);
}

#[tokio::test]
async fn the_stage_api_refuses_what_cannot_work() {
    let server = TestServer::spawn().await;
    let password = stage_pk(&server, "password", "default-authentication-password").await;
    let refused = [
        (
            "authenticator/validate",
            json!({"name": "v", "not_configured_action": "configure"}),
            "configuration_stages",
        ),
        (
            "authenticator/validate",
            json!({"name": "v", "configuration_stages": [password]}),
            "configuration_stages",
        ),
        (
            "authenticator/validate",
            json!({"name": "v", "last_auth_threshold": "fortnights=1"}),
            "last_auth_threshold",
        ),
        (
            "authenticator/validate",
            json!({"name": "v", "device_classes": []}),
            "device_classes",
        ),
        (
            "authenticator/totp",
            json!({"name": "t", "digits": "7"}),
            "digits",
        ),
        (
            "authenticator/totp",
            json!({"name": "t", "configure_flow": "no-such-flow"}),
            "configure_flow",
        ),
        (
            "authenticator/static",
            json!({"name": "s", "token_count": 0}),
            "token_count",
        ),
    ];
    for (segment, body, field) in refused {
        let response = server
            .admin_send(
                Method::POST,
                &format!("/api/v3/stages/{segment}/"),
                body.clone(),
            )
            .await;
        assert_eq!(response.status(), 400, "{segment} {body}");
        let errors: Value = response.json().await.unwrap();
        assert!(errors.get(field).is_some(), "{segment} {body}: {errors}");
    }
    let created = server
        .admin_send(
            Method::POST,
            "/api/v3/stages/authenticator/totp/",
            json!({"name": "eight", "digits": "8", "friendly_name": "Work phone"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["component"], "ak-stage-authenticator-totp");
    assert_eq!(
        created["meta_model_name"],
        "authentik_stages_authenticator_totp.authenticatortotpstage"
    );
    assert_eq!(created["verbose_name"], "TOTP Authenticator Setup Stage");
}

#[tokio::test]
async fn the_choice_of_setup_stages_is_a_page_of_buttons() {
    let server = TestServer::spawn().await;
    let totp = stage_pk(
        &server,
        "authenticator/totp",
        "default-authenticator-totp-setup",
    )
    .await;
    let codes = stage_pk(
        &server,
        "authenticator/static",
        "default-authenticator-static-setup",
    )
    .await;
    patch_validation(
        &server,
        json!({"not_configured_action": "configure", "configuration_stages": [totp, codes]}),
    )
    .await;
    let ua = UserAgent::new(&server, "paula").await;
    let browser = server.browser();
    let page = "/if/flow/default-authentication-flow/";
    crate::harness::flows::post_form(&server, &browser, page, &[("uid_field", "paula")]).await;
    let choice =
        crate::harness::flows::post_form(&server, &browser, page, &[("password", &ua.password)])
            .await;
    let html = choice.text().await.unwrap();
    assert!(
        html.contains("Set up a second factor to continue"),
        "{html}"
    );
    assert!(html.contains(&format!("name=\"selected_stage\" value=\"{codes}\"")));
    let shown =
        crate::harness::flows::post_form(&server, &browser, page, &[("selected_stage", &codes)])
            .await;
    let html = shown.text().await.unwrap();
    assert_eq!(html.matches("<li><code>").count(), 10, "{html}");
    let done = crate::harness::flows::post_form(&server, &browser, page, &[]).await;
    assert_eq!(done.status(), 303);
    assert!(is_signed_in(&server, &browser).await);
}
