//! Multi-factor authentication in flows: TOTP enrollment and sign-in with codes from
//! `oathtool` (Debian's `oathtool`, an implementation independent of gatehouse's),
//! replay and drift, wrong codes counted by the reputation, recovery codes, what a user
//! without a device meets, the remembered browser, and the pages.

use std::process::Command;

use gatehouse::clock::Clock;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::harness::flows::{LOGIN, executor_get, executor_login, executor_post, form_value};
use crate::harness::oidc::UserAgent;

const TOTP_SETUP: &str = "/api/v3/flows/executor/default-authenticator-totp-setup/";
const STATIC_SETUP: &str = "/api/v3/flows/executor/default-authenticator-static-setup/";
pub(crate) const VALIDATE: &str = "ak-stage-authenticator-validate";
const VALIDATION_STAGES: &str = "/api/v3/stages/authenticator/validate/";
const EVENTS: &str = "/api/v3/events/events/";

/// The TOTP code for the server's manual clock, `offset` seconds away, from oathtool.
fn oathtool(server: &TestServer, secret: &str, offset: i64) -> String {
    let at = server.clock.now().0 + offset;
    let when = time::OffsetDateTime::from_unix_timestamp(at)
        .unwrap()
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap();
    let output = Command::new("oathtool")
        .args(["--totp", "-b", "--now", &format!("{when} UTC"), secret])
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "oathtool could not run ({error}): install it with `apt-get install -y oathtool`"
            )
        });
    assert!(
        output.status.success(),
        "oathtool: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A code that is not `code` (each digit moved by one).
pub(crate) fn other_than(code: &str) -> String {
    code.chars()
        .map(|c| char::from_digit((c.to_digit(10).unwrap() + 1) % 10, 10).unwrap())
        .collect()
}

/// Runs the TOTP setup flow for the signed-in `ua` with codes from oathtool; returns the
/// secret.
async fn enroll_totp(server: &TestServer, ua: &UserAgent) -> String {
    let challenge = executor_get(server, &ua.http, TOTP_SETUP).await;
    assert_eq!(
        challenge["component"], "ak-stage-authenticator-totp",
        "{challenge}"
    );
    assert_eq!(challenge["pending_user"], ua.username.as_str());
    assert_eq!(challenge["pending_user_avatar"], "");
    let config_url = challenge["config_url"].as_str().unwrap().to_owned();
    let uri = url::Url::parse(&config_url).unwrap();
    assert_eq!((uri.scheme(), uri.host_str()), ("otpauth", Some("totp")));
    assert_eq!(uri.path(), format!("/gatehouse:{}", ua.username));
    let param = |key: &str| {
        uri.query_pairs()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.into_owned())
    };
    assert_eq!(param("issuer").as_deref(), Some("gatehouse"));
    let secret = param("secret").expect("the URI carries the secret");

    let wrong = other_than(&oathtool(server, &secret, 0));
    let retry = executor_post(
        server,
        &ua.http,
        TOTP_SETUP,
        json!({"component": "ak-stage-authenticator-totp", "code": wrong}),
    )
    .await;
    assert_eq!(
        retry["response_errors"]["code"][0]["string"], "Code does not match",
        "{retry}"
    );
    assert_eq!(
        retry["config_url"],
        config_url.as_str(),
        "same secret again"
    );
    // authentik's clients send the code as a JSON number.
    let code: u64 = oathtool(server, &secret, 0).parse().unwrap();
    let done = executor_post(
        server,
        &ua.http,
        TOTP_SETUP,
        json!({"component": "ak-stage-authenticator-totp", "code": code}),
    )
    .await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
    secret
}

/// A signed-in user agent for a new user.
pub(crate) async fn signed_in(server: &TestServer, username: &str) -> UserAgent {
    let mut ua = UserAgent::new(server, username).await;
    ua.sign_in().await;
    ua
}

/// Username and password in a fresh browser: the browser and the next challenge.
pub(crate) async fn password_step(server: &TestServer, ua: &UserAgent) -> (reqwest::Client, Value) {
    let browser = server.browser();
    let next = executor_login(server, &browser, &ua.username, &ua.password).await;
    (browser, next)
}

pub(crate) async fn answer_code(
    server: &TestServer,
    browser: &reqwest::Client,
    code: Value,
) -> Value {
    executor_post(
        server,
        browser,
        LOGIN,
        json!({"component": VALIDATE, "code": code}),
    )
    .await
}

pub(crate) async fn is_signed_in(server: &TestServer, browser: &reqwest::Client) -> bool {
    let me = browser
        .get(server.url("/api/v3/core/users/me/"))
        .send()
        .await
        .unwrap();
    me.status() == 200
}

async fn events(server: &TestServer, action: &str) -> Vec<Value> {
    let listed: Value = server
        .admin_get(&format!("{EVENTS}?action={action}"))
        .await
        .json()
        .await
        .unwrap();
    listed["results"].as_array().unwrap().clone()
}

/// The default validation stage, as the API shows it.
async fn default_validation_stage(server: &TestServer) -> Value {
    let listed: Value = server
        .admin_get(VALIDATION_STAGES)
        .await
        .json()
        .await
        .unwrap();
    listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stage| stage["name"] == "default-authentication-mfa-validation")
        .cloned()
        .expect("the default flow has a validation stage")
}

pub(crate) async fn patch_validation(server: &TestServer, changes: Value) {
    let stage = default_validation_stage(server).await;
    let path = format!("{VALIDATION_STAGES}{}/", stage["pk"].as_str().unwrap());
    let patched = server.admin_send(Method::PATCH, &path, changes).await;
    assert_eq!(patched.status(), 200, "{}", patched.text().await.unwrap());
}

#[tokio::test]
async fn totp_enrollment_then_password_and_code_with_replay_refused_and_drift_tolerated() {
    let server = TestServer::spawn().await;
    let ua = signed_in(&server, "alice").await;
    let secret = enroll_totp(&server, &ua).await;
    let added = events(&server, "device_added").await;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["context"]["device_class"], "totp");
    assert_eq!(added[0]["context"]["name"], "TOTP Device");

    // Signed out (a fresh browser), the password is not enough any more.
    let (browser, challenge) = password_step(&server, &ua).await;
    assert_eq!(challenge["component"], VALIDATE, "{challenge}");
    assert_eq!(challenge["pending_user"], "alice");
    assert_eq!(challenge["configuration_stages"], json!([]));
    let devices = challenge["device_challenges"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{challenge}");
    assert_eq!(devices[0]["device_class"], "totp");
    assert_eq!(devices[0]["challenge"], json!({}));
    assert!(devices[0]["device_uid"].is_string());
    assert!(devices[0].as_object().unwrap().contains_key("last_used"));
    assert!(!is_signed_in(&server, &browser).await);

    // The code that confirmed the device was spent by the enrollment.
    let replayed = answer_code(&server, &browser, json!(oathtool(&server, &secret, 0))).await;
    assert_eq!(replayed["component"], VALIDATE);
    assert_eq!(
        replayed["response_errors"]["code"][0]["string"],
        "Invalid Token"
    );

    server.clock.advance(30);
    let code = oathtool(&server, &secret, 0);
    let done = answer_code(&server, &browser, json!(code)).await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
    assert_eq!(done["to"], "/if/user/");
    assert!(is_signed_in(&server, &browser).await);
    let logins = events(&server, "login").await;
    let mfa_login = logins
        .iter()
        .find(|event| event["context"]["auth_method_args"]["mfa_devices"].is_array())
        .expect("the login event names the device");
    assert_eq!(mfa_login["context"]["auth_method"], "password");
    assert_eq!(events(&server, "mfa_succeeded").await.len(), 1);

    // The same code again, from another browser: refused (RFC 6238 §5.2).
    let (other, _) = password_step(&server, &ua).await;
    let replay = answer_code(&server, &other, json!(code)).await;
    assert_eq!(
        replay["response_errors"]["code"][0]["string"], "Invalid Token",
        "{replay}"
    );
    assert!(!is_signed_in(&server, &other).await);

    // A code one step old passes (clock drift); two steps old does not.
    server.clock.advance(60);
    let stale = answer_code(&server, &other, json!(oathtool(&server, &secret, -60))).await;
    assert_eq!(stale["component"], VALIDATE, "{stale}");
    let late = answer_code(&server, &other, json!(oathtool(&server, &secret, -30))).await;
    assert_eq!(late["component"], "xak-flow-redirect", "{late}");
    assert!(is_signed_in(&server, &other).await);
}

/// Runs a reputation policy for the user (authentik's "test policy").
async fn looks_abusive(server: &TestServer, policy_pk: &str, user: i64) -> bool {
    let tested: Value = server
        .admin_send(
            Method::POST,
            &format!("/api/v3/policies/all/{policy_pk}/test/"),
            json!({"user": user}),
        )
        .await
        .json()
        .await
        .unwrap();
    tested["passing"].as_bool().unwrap()
}

#[tokio::test]
async fn wrong_codes_lower_the_reputation_and_end_the_flow_after_five() {
    let server = TestServer::spawn().await;
    let ua = signed_in(&server, "bob").await;
    let secret = enroll_totp(&server, &ua).await;
    // authentik's reputation policy passes when the score is at or below the threshold.
    let policy = server
        .admin_send(
            Method::POST,
            "/api/v3/policies/reputation/",
            json!({"name": "bad-bob", "check_ip": false, "check_username": true, "threshold": 0}),
        )
        .await;
    assert_eq!(policy.status(), 201);
    let policy_pk = policy.json::<Value>().await.unwrap()["pk"]
        .as_str()
        .unwrap()
        .to_owned();
    let (browser, challenge) = password_step(&server, &ua).await;
    assert_eq!(challenge["component"], VALIDATE);
    assert!(
        !looks_abusive(&server, &policy_pk, ua.pk).await,
        "two good passwords: score 2"
    );
    let wrong = other_than(&oathtool(&server, &secret, 0));
    for attempt in 1..=4 {
        let again = answer_code(&server, &browser, json!(wrong)).await;
        assert_eq!(
            again["response_errors"]["code"][0]["string"], "Invalid Token",
            "attempt {attempt}: {again}"
        );
    }
    assert!(
        looks_abusive(&server, &policy_pk, ua.pk).await,
        "four wrong codes: score -2"
    );
    let ended = answer_code(&server, &browser, json!(wrong)).await;
    assert_eq!(ended["component"], "ak-stage-access-denied", "{ended}");
    assert!(!is_signed_in(&server, &browser).await);
    let failures = events(&server, "mfa_failed").await;
    assert_eq!(failures.len(), 5);
    assert_eq!(failures[0]["user"]["username"], "bob");
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let server = TestServer::spawn().await;
    let ua = signed_in(&server, "carol").await;
    let shown = executor_get(&server, &ua.http, STATIC_SETUP).await;
    assert_eq!(
        shown["component"], "ak-stage-authenticator-static",
        "{shown}"
    );
    assert_eq!(shown["pending_user"], "carol");
    let codes: Vec<String> = shown["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    // Reloading shows the same codes; any answer keeps them.
    let again = executor_get(&server, &ua.http, STATIC_SETUP).await;
    assert_eq!(again["codes"], shown["codes"]);
    let done = executor_post(
        &server,
        &ua.http,
        STATIC_SETUP,
        json!({"component": "ak-stage-authenticator-static"}),
    )
    .await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");

    let (browser, challenge) = password_step(&server, &ua).await;
    assert_eq!(challenge["device_challenges"][0]["device_class"], "static");
    let signed = answer_code(&server, &browser, json!(codes[3])).await;
    assert_eq!(signed["component"], "xak-flow-redirect", "{signed}");
    assert!(is_signed_in(&server, &browser).await);

    let (other, _) = password_step(&server, &ua).await;
    let reused = answer_code(&server, &other, json!(codes[3])).await;
    assert_eq!(
        reused["response_errors"]["code"][0]["string"],
        "Invalid Token"
    );
    let next = answer_code(&server, &other, json!(codes[4])).await;
    assert_eq!(next["component"], "xak-flow-redirect", "{next}");

    // New codes replace the old set.
    let renewed = executor_get(&server, &ua.http, STATIC_SETUP).await;
    assert_ne!(renewed["codes"], shown["codes"]);
    executor_post(
        &server,
        &ua.http,
        STATIC_SETUP,
        json!({"component": "ak-stage-authenticator-static"}),
    )
    .await;
    let (third, _) = password_step(&server, &ua).await;
    let retired = answer_code(&server, &third, json!(codes[5])).await;
    assert_eq!(retired["component"], VALIDATE, "{retired}");
}

#[tokio::test]
async fn totp_and_recovery_codes_are_both_offered_and_amr_says_otp() {
    let server = TestServer::spawn().await;
    let ua = signed_in(&server, "dave").await;
    let secret = enroll_totp(&server, &ua).await;
    executor_get(&server, &ua.http, STATIC_SETUP).await;
    executor_post(
        &server,
        &ua.http,
        STATIC_SETUP,
        json!({"component": "ak-stage-authenticator-static"}),
    )
    .await;
    let (_, challenge) = password_step(&server, &ua).await;
    let classes: Vec<&str> = challenge["device_challenges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|device| device["device_class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["totp", "static"], "{challenge}");

    // An OpenID Connect client learns that a second factor was used.
    let rp = crate::harness::oidc::Rp::create(&server, "Grafana", json!({})).await;
    let mut fresh = UserAgent::for_user(&server, "dave", &ua.password, ua.pk);
    server.clock.advance(30);
    fresh.mfa_codes.push(oathtool(&server, &secret, 0));
    let tokens = fresh.tokens_for(&rp).await;
    let (_, claims) = crate::harness::oidc::jwt_parts(tokens.id());
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|method| method.as_str().unwrap())
        .collect();
    assert!(amr.contains(&"pwd") && amr.contains(&"otp"), "{amr:?}");
    assert!(fresh.components.iter().any(|c| c == VALIDATE));
}

#[tokio::test]
async fn users_without_devices_sign_in_as_before() {
    let server = TestServer::spawn().await;
    let ua = signed_in(&server, "erin").await;
    assert_eq!(
        ua.components,
        [
            "ak-stage-identification",
            "ak-stage-password",
            "xak-flow-redirect"
        ]
    );
    let stage = default_validation_stage(&server).await;
    assert_eq!(stage["component"], VALIDATE);
    assert_eq!(stage["not_configured_action"], "skip");
    assert_eq!(
        stage["device_classes"],
        json!(["totp", "static", "webauthn"])
    );
    assert_eq!(stage["last_auth_threshold"], "seconds=0");
    assert_eq!(
        stage["meta_model_name"],
        "authentik_stages_authenticator_validate.authenticatorvalidatestage"
    );
}

#[tokio::test]
async fn not_configured_deny_refuses_users_without_a_device() {
    let server = TestServer::spawn().await;
    let ua = UserAgent::new(&server, "frank").await;
    patch_validation(&server, json!({"not_configured_action": "deny"})).await;
    let (browser, denied) = password_step(&server, &ua).await;
    assert_eq!(denied["component"], "ak-stage-access-denied", "{denied}");
    assert_eq!(
        denied["error_message"],
        "No (allowed) MFA authenticator configured."
    );
    assert!(!is_signed_in(&server, &browser).await);
}

#[tokio::test]
async fn not_configured_configure_enrolls_during_sign_in() {
    let server = TestServer::spawn().await;
    let ua = UserAgent::new(&server, "grace").await;
    let setup: Value = server
        .admin_get("/api/v3/stages/authenticator/totp/")
        .await
        .json()
        .await
        .unwrap();
    let totp_stage = setup["results"][0]["pk"].as_str().unwrap().to_owned();
    assert_eq!(setup["results"][0]["digits"], "6");
    patch_validation(
        &server,
        json!({"not_configured_action": "configure", "configuration_stages": [totp_stage]}),
    )
    .await;
    let (browser, challenge) = password_step(&server, &ua).await;
    assert_eq!(
        challenge["component"], "ak-stage-authenticator-totp",
        "{challenge}"
    );
    let uri = url::Url::parse(challenge["config_url"].as_str().unwrap()).unwrap();
    let secret = uri
        .query_pairs()
        .find(|(key, _)| key == "secret")
        .unwrap()
        .1
        .into_owned();
    let done = executor_post(
        &server,
        &browser,
        LOGIN,
        json!({"component": "ak-stage-authenticator-totp", "code": oathtool(&server, &secret, 0)}),
    )
    .await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
    assert!(is_signed_in(&server, &browser).await);
    // Next time the new device is asked for.
    let (_, next) = password_step(&server, &ua).await;
    assert_eq!(next["component"], VALIDATE);
}

#[tokio::test]
async fn last_auth_threshold_remembers_this_browser() {
    let server = TestServer::spawn().await;
    let ua = signed_in(&server, "heidi").await;
    let secret = enroll_totp(&server, &ua).await;
    patch_validation(&server, json!({"last_auth_threshold": "hours=1"})).await;
    let (browser, challenge) = password_step(&server, &ua).await;
    assert_eq!(challenge["component"], VALIDATE);
    server.clock.advance(30);
    let done = answer_code(&server, &browser, json!(oathtool(&server, &secret, 0))).await;
    assert_eq!(done["component"], "xak-flow-redirect");
    let signed_out = executor_get(
        &server,
        &browser,
        "/api/v3/flows/executor/default-invalidation-flow/",
    )
    .await;
    assert_eq!(signed_out["component"], "xak-flow-redirect");
    assert!(!is_signed_in(&server, &browser).await);

    // The same browser within the hour: password only.
    let again = executor_login(&server, &browser, &ua.username, &ua.password).await;
    assert_eq!(again["component"], "xak-flow-redirect", "{again}");
    // Another browser is asked; so is this one after the hour.
    let (_, other) = password_step(&server, &ua).await;
    assert_eq!(other["component"], VALIDATE);
    server.clock.advance(3601);
    executor_get(
        &server,
        &browser,
        "/api/v3/flows/executor/default-invalidation-flow/",
    )
    .await;
    let later = executor_login(&server, &browser, &ua.username, &ua.password).await;
    assert_eq!(later["component"], VALIDATE, "{later}");
}

#[tokio::test]
async fn the_pages_show_the_qr_code_the_key_the_codes_and_ask_for_a_code() {
    let server = TestServer::spawn().await;
    let ua = UserAgent::new(&server, "ivan").await;
    let browser = server.browser();
    let login_page = "/if/flow/default-authentication-flow/";
    crate::harness::flows::post_form(&server, &browser, login_page, &[("uid_field", "ivan")]).await;
    let done = crate::harness::flows::post_form(
        &server,
        &browser,
        login_page,
        &[("password", &ua.password)],
    )
    .await;
    assert_eq!(done.status(), 303);

    let setup_page = "/if/flow/default-authenticator-totp-setup/";
    let page = browser.get(server.url(setup_page)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<svg"), "an inline QR code");
    assert!(!html.contains("<?xml"));
    let start = html.find("id=\"totp-secret\">").expect("the key is shown") + 17;
    let secret = html[start..start + 32].to_owned();
    assert!(
        secret.chars().all(|c| c.is_ascii_alphanumeric()),
        "{secret}"
    );
    assert!(html.contains("name=\"code\""));
    let wrong =
        crate::harness::flows::post_form(&server, &browser, setup_page, &[("code", "123")]).await;
    assert!(wrong.text().await.unwrap().contains("Code does not match"));
    let code = oathtool(&server, &secret, 0);
    let enrolled =
        crate::harness::flows::post_form(&server, &browser, setup_page, &[("code", &code)]).await;
    assert_eq!(enrolled.status(), 303);

    let codes_page = "/if/flow/default-authenticator-static-setup/";
    let html = browser
        .get(server.url(codes_page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(html.matches("<li><code>").count(), 10, "{html}");
    let saved = crate::harness::flows::post_form(&server, &browser, codes_page, &[]).await;
    assert_eq!(saved.status(), 303);
    // The portal lists the devices and where to set them up.
    let portal = browser
        .get(server.url("/if/user/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(portal.contains("<td>TOTP Device</td><td>Authenticator app</td>"));
    assert!(portal.contains("<td>Recovery codes</td><td>Recovery codes</td>"));
    // (minijinja writes `/` as `&#x2f;` in attributes)
    assert!(
        portal.contains("default-authenticator-totp-setup&#x2f;\">Set up an authenticator app")
    );
    assert!(portal.contains("default-authenticator-static-setup&#x2f;\">Get new recovery codes"));

    // Signing in again through the pages asks for the code.
    let fresh = server.browser();
    crate::harness::flows::post_form(&server, &fresh, login_page, &[("uid_field", "ivan")]).await;
    let asked = crate::harness::flows::post_form(
        &server,
        &fresh,
        login_page,
        &[("password", &ua.password)],
    )
    .await;
    assert_eq!(asked.status(), 200);
    let html = asked.text().await.unwrap();
    assert!(html.contains("Code from your authenticator app"), "{html}");
    assert!(html.contains("recovery codes"));
    assert!(form_value(&html, "component").as_deref() == Some(VALIDATE));
    let wrong = other_than(&oathtool(&server, &secret, 30));
    let refused =
        crate::harness::flows::post_form(&server, &fresh, login_page, &[("code", &wrong)]).await;
    assert!(refused.text().await.unwrap().contains("Invalid Token"));
    server.clock.advance(30);
    let code = oathtool(&server, &secret, 0);
    let signed =
        crate::harness::flows::post_form(&server, &fresh, login_page, &[("code", &code)]).await;
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.headers()["location"], "/if/user/");
}
