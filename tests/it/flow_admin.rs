//! Composing journeys without code: stages (`stages/all/` and one family per kind) and
//! flow stage bindings (`flows/bindings/`) through the REST API, then the composed flows
//! run through the JSON executor.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::flows::{executor_get, executor_login, executor_post};
use crate::harness::{ADMIN_PASSWORD, TestServer};

const CUSTOM: &str = "/api/v3/flows/executor/custom-login/";

/// Sends as the admin and expects `status`; returns the body (null when empty).
async fn expect(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Value,
    status: u16,
) -> Value {
    let response = server.admin_send(method.clone(), path, body).await;
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{method} {path}: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

async fn create(server: &TestServer, path: &str, body: Value) -> Value {
    expect(server, Method::POST, path, body, 201).await
}

fn pk(object: &Value) -> String {
    object["pk"].as_str().unwrap().to_owned()
}

/// Creates `custom-login` (authentication) and returns its pk.
async fn custom_flow(server: &TestServer) -> String {
    let flow = create(
        server,
        "/api/v3/flows/instances/",
        json!({"name": "Custom login", "slug": "custom-login", "title": "Welcome",
               "designation": "authentication"}),
    )
    .await;
    pk(&flow)
}

/// An identification stage that checks the password on the same step.
async fn identification_with_password(server: &TestServer) -> Value {
    let password = create(
        server,
        "/api/v3/stages/password/",
        json!({"name": "custom-password", "failed_attempts_before_cancel": 3}),
    )
    .await;
    assert_eq!(password["component"], "ak-stage-password");
    assert_eq!(password["failed_attempts_before_cancel"], 3);
    create(
        server,
        "/api/v3/stages/identification/",
        json!({"name": "custom-identification", "user_fields": ["username"],
               "pretend_user_exists": true, "password_stage": password["pk"]}),
    )
    .await
}

async fn bind(server: &TestServer, flow: &str, stage: &Value, order: i32) -> Value {
    create(
        server,
        "/api/v3/flows/bindings/",
        json!({"target": flow, "stage": stage["pk"], "order": order}),
    )
    .await
}

/// Runs `custom-login` in a fresh browser as akadmin in one identification step.
async fn sign_in_custom(server: &TestServer) -> (reqwest::Client, Value) {
    let browser = server.browser();
    let first = executor_get(server, &browser, CUSTOM).await;
    assert_eq!(first["component"], "ak-stage-identification", "{first}");
    assert_eq!(first["password_fields"], true);
    let answer = executor_post(
        server,
        &browser,
        CUSTOM,
        json!({"component": "ak-stage-identification", "uid_field": "akadmin",
               "password": ADMIN_PASSWORD}),
    )
    .await;
    (browser, answer)
}

#[tokio::test]
async fn a_login_flow_composed_through_the_api_signs_in() {
    let server = TestServer::spawn().await;
    let flow = custom_flow(&server).await;
    let identification = identification_with_password(&server).await;
    assert_eq!(identification["user_fields"], json!(["username"]));
    assert_eq!(identification["case_insensitive_matching"], true, "default");
    assert_eq!(
        identification["meta_model_name"],
        "authentik_stages_identification.identificationstage"
    );
    let login = create(
        &server,
        "/api/v3/stages/user_login/",
        json!({"name": "custom-user-login"}),
    )
    .await;
    assert_eq!(login["session_duration"], "seconds=0");
    // Bound out of order on purpose: the list and the flow follow `order`.
    let second = bind(&server, &flow, &login, 20).await;
    let first = bind(&server, &flow, &identification, 10).await;
    assert_eq!(first["policybindingmodel_ptr_id"], first["pk"]);
    assert_eq!(first["evaluate_on_plan"], true);
    assert_eq!(first["re_evaluate_policies"], false);
    assert_eq!(first["policy_engine_mode"], "any");
    assert_eq!(first["invalid_response_action"], "retry");
    assert_eq!(first["stage_obj"]["name"], "custom-identification");
    assert_eq!(first["stage_obj"]["component"], "ak-stage-identification");

    for filter in [
        format!("target={flow}"),
        "flow__slug=custom-login".to_owned(),
    ] {
        let listed: Value = server
            .admin_get(&format!("/api/v3/flows/bindings/?{filter}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["pagination"]["count"], 2, "{filter}");
        assert_eq!(listed["results"][0]["pk"], first["pk"]);
        assert_eq!(listed["results"][1]["pk"], second["pk"]);
    }
    let nothing: Value = server
        .admin_get("/api/v3/flows/bindings/?flow__slug=no-such-flow")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(nothing["pagination"]["count"], 0);

    let stage: Value = server
        .admin_get(&format!("/api/v3/stages/all/{}/", pk(&identification)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stage["flow_set"][0]["slug"], "custom-login");
    assert_eq!(stage["flow_set"][0]["pk"], flow);

    let (browser, done) = sign_in_custom(&server).await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
    let me = browser
        .get(server.url("/api/v3/core/users/me/"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "signed in through the composed flow");
}

#[tokio::test]
async fn deny_stage_edits_apply_at_once_and_unbinding_removes_it() {
    let server = TestServer::spawn().await;
    let flow = custom_flow(&server).await;
    let identification = identification_with_password(&server).await;
    let deny = create(
        &server,
        "/api/v3/stages/deny/",
        json!({"name": "custom-deny", "deny_message": "Not today."}),
    )
    .await;
    assert_eq!(deny["component"], "ak-stage-access-denied");
    let login = create(
        &server,
        "/api/v3/stages/user_login/",
        json!({"name": "custom-user-login"}),
    )
    .await;
    bind(&server, &flow, &identification, 10).await;
    let deny_binding = bind(&server, &flow, &deny, 20).await;
    bind(&server, &flow, &login, 30).await;

    let (_, denied) = sign_in_custom(&server).await;
    assert_eq!(denied["component"], "ak-stage-access-denied", "{denied}");
    assert_eq!(denied["error_message"], "Not today.");

    let patched = expect(
        &server,
        Method::PATCH,
        &format!("/api/v3/stages/deny/{}/", pk(&deny)),
        json!({"deny_message": "Come back tomorrow."}),
        200,
    )
    .await;
    assert_eq!(patched["name"], "custom-deny", "PATCH keeps the name");
    let (_, denied) = sign_in_custom(&server).await;
    assert_eq!(
        denied["error_message"], "Come back tomorrow.",
        "the next run sees the change"
    );

    expect(
        &server,
        Method::DELETE,
        &format!("/api/v3/flows/bindings/{}/", pk(&deny_binding)),
        json!({}),
        204,
    )
    .await;
    let flow_now: Value = server
        .admin_get("/api/v3/flows/instances/custom-login/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        flow_now["stages"],
        json!([identification["pk"], login["pk"]])
    );
    let (_, done) = sign_in_custom(&server).await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
    // The stage itself stays, bound nowhere.
    let stage: Value = server
        .admin_get(&format!("/api/v3/stages/deny/{}/", pk(&deny)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stage["flow_set"], json!([]));
    assert_eq!(stage["deny_message"], "Come back tomorrow.");
}

#[tokio::test]
async fn stage_bodies_are_checked() {
    let server = TestServer::spawn().await;
    let typo = expect(
        &server,
        Method::POST,
        "/api/v3/stages/identification/",
        json!({"name": "typo", "user_feilds": ["username"]}),
        400,
    )
    .await;
    assert!(typo["user_feilds"][0].is_string(), "{typo}");
    let wrong_type = expect(
        &server,
        Method::POST,
        "/api/v3/stages/password/",
        json!({"name": "wrong", "failed_attempts_before_cancel": "many"}),
        400,
    )
    .await;
    assert!(
        wrong_type["failed_attempts_before_cancel"][0].is_string(),
        "{wrong_type}"
    );
    let nameless = expect(
        &server,
        Method::POST,
        "/api/v3/stages/deny/",
        json!({"deny_message": "x"}),
        400,
    )
    .await;
    assert!(nameless["name"][0].is_string(), "{nameless}");

    let deny = create(&server, "/api/v3/stages/deny/", json!({"name": "gate"})).await;
    assert_eq!(deny["deny_message"], "Access denied.", "default");
    let duplicate = expect(
        &server,
        Method::POST,
        "/api/v3/stages/password/",
        json!({"name": "gate"}),
        400,
    )
    .await;
    assert!(duplicate["name"][0].is_string(), "{duplicate}");

    // A pk of another kind is not found under this kind's path.
    let elsewhere = format!("/api/v3/stages/password/{}/", pk(&deny));
    assert_eq!(server.admin_get(&elsewhere).await.status(), 404);
    expect(&server, Method::PATCH, &elsewhere, json!({}), 404).await;
    // A password stage must be a password stage.
    let bad_ref = expect(
        &server,
        Method::POST,
        "/api/v3/stages/identification/",
        json!({"name": "ident", "password_stage": deny["pk"]}),
        400,
    )
    .await;
    assert!(bad_ref["password_stage"][0].is_string(), "{bad_ref}");
    let bad_duration = expect(
        &server,
        Method::POST,
        "/api/v3/stages/user_login/",
        json!({"name": "login", "session_duration": "fortnights=1"}),
        400,
    )
    .await;
    assert!(bad_duration["session_duration"][0].is_string());

    // PUT returns left-out settings to their defaults.
    let replaced = expect(
        &server,
        Method::PUT,
        &format!("/api/v3/stages/deny/{}/", pk(&deny)),
        json!({"name": "gate-2"}),
        200,
    )
    .await;
    assert_eq!(replaced["name"], "gate-2");

    let all: Value = server
        .admin_get("/api/v3/stages/all/?search=GATE")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["pagination"]["count"], 1);
    assert_eq!(
        all["results"][0]["meta_model_name"],
        "authentik_stages_deny.denystage"
    );
    expect(
        &server,
        Method::DELETE,
        &format!("/api/v3/stages/all/{}/", pk(&deny)),
        json!({}),
        204,
    )
    .await;
    assert_eq!(
        server
            .admin_get(&format!("/api/v3/stages/all/{}/", pk(&deny)))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn bindings_are_checked_and_follow_their_stage() {
    let server = TestServer::spawn().await;
    let flow = custom_flow(&server).await;
    let deny = create(&server, "/api/v3/stages/deny/", json!({"name": "gate"})).await;
    let missing = expect(
        &server,
        Method::POST,
        "/api/v3/flows/bindings/",
        json!({"target": flow, "stage": uuid::Uuid::new_v4()}),
        400,
    )
    .await;
    assert!(
        missing["stage"][0].is_string() && missing["order"][0].is_string(),
        "{missing}"
    );
    let binding = bind(&server, &flow, &deny, 5).await;
    let twice = expect(
        &server,
        Method::POST,
        "/api/v3/flows/bindings/",
        json!({"target": flow, "stage": deny["pk"], "order": 5}),
        400,
    )
    .await;
    assert!(twice["non_field_errors"][0].is_string(), "{twice}");

    let path = format!("/api/v3/flows/bindings/{}/", pk(&binding));
    let patched = expect(
        &server,
        Method::PATCH,
        &path,
        json!({"order": 7, "re_evaluate_policies": true}),
        200,
    )
    .await;
    assert_eq!(patched["order"], 7);
    assert_eq!(patched["target"], flow, "PATCH keeps the rest");
    // A fetched object sent back whole is accepted (read-only keys are ignored).
    let fetched: Value = server.admin_get(&path).await.json().await.unwrap();
    assert_eq!(fetched["re_evaluate_policies"], true);
    let replaced = expect(&server, Method::PUT, &path, fetched, 200).await;
    assert_eq!(replaced["order"], 7);
    let typo = expect(&server, Method::PATCH, &path, json!({"ordre": 1}), 400).await;
    assert!(typo["ordre"][0].is_string());

    // Deleting a bound stage takes its bindings with it, as authentik cascades.
    expect(
        &server,
        Method::DELETE,
        &format!("/api/v3/stages/deny/{}/", pk(&deny)),
        json!({}),
        204,
    )
    .await;
    assert_eq!(server.admin_get(&path).await.status(), 404);
}

#[tokio::test]
async fn a_prompt_stage_with_a_dropdown_round_trips() {
    let server = TestServer::spawn().await;
    let fields = json!([{"field_key": "team", "label": "Team", "type": "dropdown",
        "required": true, "placeholder": "", "initial_value": "blue", "order": 1,
        "sub_text": "Pick one", "choices": ["red", "blue"]}]);
    let without_choices = expect(
        &server,
        Method::POST,
        "/api/v3/stages/prompt/stages/",
        json!({"name": "team", "fields": [{"field_key": "team", "label": "Team", "type": "dropdown"}]}),
        400,
    )
    .await;
    assert!(
        without_choices["fields"][0].is_string(),
        "{without_choices}"
    );
    let unknown_policy = expect(
        &server,
        Method::POST,
        "/api/v3/stages/prompt/stages/",
        json!({"name": "team", "fields": fields, "validation_policies": [uuid::Uuid::new_v4()]}),
        400,
    )
    .await;
    assert!(unknown_policy["validation_policies"][0].is_string());

    let policy = create(
        &server,
        "/api/v3/policies/expression/",
        json!({"name": "always", "expression": "true"}),
    )
    .await;
    let created = create(
        &server,
        "/api/v3/stages/prompt/stages/",
        json!({"name": "team", "fields": fields, "validation_policies": [policy["pk"]]}),
    )
    .await;
    assert_eq!(created["fields"], fields);
    assert_eq!(created["component"], "ak-stage-prompt");
    let path = format!("/api/v3/stages/prompt/stages/{}/", pk(&created));
    let fetched: Value = server.admin_get(&path).await.json().await.unwrap();
    assert_eq!(fetched, created);
    let replaced = expect(&server, Method::PUT, &path, fetched.clone(), 200).await;
    assert_eq!(
        replaced, fetched,
        "sending back what was fetched changes nothing"
    );
}

#[tokio::test]
async fn only_admins_manage_stages_and_bindings() {
    let server = TestServer::spawn().await;
    server.create_user("plain", "plain-password").await;
    let browser = server.browser();
    let done = executor_login(&server, &browser, "plain", "plain-password").await;
    assert_eq!(done["component"], "xak-flow-redirect");
    for path in [
        "/api/v3/stages/all/",
        "/api/v3/stages/deny/",
        "/api/v3/flows/bindings/",
    ] {
        let response = browser.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    let response = browser
        .post(server.url("/api/v3/stages/deny/"))
        .header("Origin", server.url(""))
        .json(&json!({"name": "sneaky"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn the_schema_describes_stages_and_bindings() {
    let server = TestServer::spawn().await;
    let schema: Value = reqwest::get(server.url("/api/v3/schema/"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/stages/all/",
        "/stages/prompt/stages/{stage_uuid}/",
        "/stages/user_login/",
        "/flows/bindings/{fsb_uuid}/",
    ] {
        assert!(schema["paths"][path].is_object(), "{path}");
    }
    let components = &schema["components"]["schemas"];
    let request = &components["IdentificationStageRequest"]["properties"];
    assert_eq!(request["pretend_user_exists"]["type"], "boolean");
    assert_eq!(request["password_stage"]["nullable"], true);
    assert!(components["PromptStage"]["properties"]["fields"]["items"].is_object());
    assert!(components["FlowStageBinding"]["properties"]["stage_obj"].is_object());
}
