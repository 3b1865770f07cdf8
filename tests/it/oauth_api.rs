//! The admin API for OAuth2: providers (`providers/oauth2/`, `providers/all/`,
//! `setup_urls/`) and scope mappings (`propertymappings/provider/scope/`), in authentik's
//! shapes, and applications pointing at a provider by its integer pk.

use gatehouse::clock::Clock;
use gatehouse::model::{EventAction, Provider, Timestamp};
use gatehouse::store::{ListQuery, StoreExt};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::harness::flows::executor_login;

const PROVIDERS: &str = "/api/v3/providers/oauth2/";
const MAPPINGS: &str = "/api/v3/propertymappings/provider/scope/";
const EMAIL_KEY: &str = "goauthentik.io/providers/oauth2/scope-email";

async fn get_json(server: &TestServer, path: &str) -> Value {
    let response = server.admin_get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

/// Sends and returns the status with the body (`null` when there is none).
async fn send(server: &TestServer, method: Method, path: &str, body: Value) -> (u16, Value) {
    let response = server.admin_send(method, path, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, body)
}

async fn flow_pk(server: &TestServer, slug: &str) -> String {
    let flow = get_json(server, &format!("/api/v3/flows/instances/{slug}/")).await;
    flow["pk"].as_str().unwrap().to_owned()
}

async fn managed_mapping_pk(server: &TestServer, scope: &str) -> String {
    let path = format!("{MAPPINGS}?managed=goauthentik.io/providers/oauth2/scope-{scope}");
    let list = get_json(server, &path).await;
    assert_eq!(list["pagination"]["count"], 1, "{list}");
    list["results"][0]["pk"].as_str().unwrap().to_owned()
}

/// A valid provider body: implicit consent, the default invalidation flow, one exact
/// redirect URI and the openid and email scopes.
async fn provider_body(server: &TestServer, name: &str) -> Value {
    json!({
        "name": name,
        "authorization_flow": flow_pk(server, "default-provider-authorization-implicit-consent").await,
        "invalidation_flow": flow_pk(server, "default-invalidation-flow").await,
        "redirect_uris": [{"matching_mode": "strict", "url": "https://grafana.example.com/login/generic_oauth"}],
        "property_mappings": [managed_mapping_pk(server, "openid").await, managed_mapping_pk(server, "email").await],
    })
}

async fn create_provider(server: &TestServer, name: &str) -> Value {
    let body = provider_body(server, name).await;
    let (status, created) = send(server, Method::POST, PROVIDERS, body).await;
    assert_eq!(status, 201, "{created}");
    created
}

fn stored_providers(server: &TestServer) -> Vec<Provider> {
    let store = gatehouse::app::open_store_for_cli(&server.settings).unwrap();
    store.read(|tx| tx.all_providers()).unwrap()
}

/// The audit events of models of `model`, oldest first, as (action, context).
fn model_events(server: &TestServer, model: &str) -> Vec<(EventAction, Value)> {
    let store = gatehouse::app::open_store_for_cli(&server.settings).unwrap();
    let events = store
        .read(|tx| tx.list_events(&ListQuery::default()))
        .unwrap();
    let mut found: Vec<(EventAction, Value)> = events
        .items
        .into_iter()
        .filter(|event| event.context["model"] == model)
        .map(|event| (event.action, event.context))
        .collect();
    found.reverse();
    found
}

#[tokio::test]
async fn a_provider_is_created_with_generated_credentials_and_its_secret_rotates() {
    let server = TestServer::spawn().await;
    let created = create_provider(&server, "Grafana").await;
    let pk = created["pk"].as_i64().expect("integer pk");
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(client_id.len(), 40);
    assert_eq!(secret.len(), 128);
    assert!(
        client_id
            .chars()
            .chain(secret.chars())
            .all(|c| c.is_ascii_alphanumeric())
    );
    assert_eq!(created["client_type"], "confidential");
    assert_eq!(created["component"], "ak-provider-oauth2-form");
    assert_eq!(created["verbose_name"], "OAuth2/OpenID Provider");
    assert_eq!(created["verbose_name_plural"], "OAuth2/OpenID Providers");
    assert_eq!(
        created["meta_model_name"],
        "authentik_providers_oauth2.oauth2provider"
    );
    assert_eq!(created["access_token_validity"], "hours=1");
    assert_eq!(created["sub_mode"], "hashed_user_id");
    assert_eq!(created["issuer_mode"], "per_provider");
    assert_eq!(created["assigned_application_slug"], Value::Null);
    assert_eq!(created["redirect_uris"][0]["matching_mode"], "strict");
    assert_eq!(created["property_mappings"].as_array().unwrap().len(), 2);
    for key in [
        "authentication_flow",
        "signing_key",
        "encryption_key",
        "assigned_backchannel_application_slug",
    ] {
        assert_eq!(created[key], Value::Null, "{key}");
    }
    assert_eq!(created["jwt_federation_providers"], json!([]));

    // Read back, listed, searched by client id, and in providers/all/.
    assert_eq!(
        get_json(&server, &format!("{PROVIDERS}{pk}/")).await,
        created
    );
    let found = get_json(&server, &format!("{PROVIDERS}?search={client_id}")).await;
    assert_eq!(found["pagination"]["count"], 1);
    assert_eq!(found["results"][0], created);
    let all = get_json(&server, "/api/v3/providers/all/").await;
    assert_eq!(all["results"][0]["pk"], pk);
    assert_eq!(all["results"][0]["component"], "ak-provider-oauth2-form");

    // Sealed at rest, never stored in clear.
    let stored = &stored_providers(&server)[0];
    let sealed = &stored.oauth2().unwrap().client_secret_sealed;
    assert!(!sealed.is_empty() && !sealed.contains(&secret));

    // Rotation: PATCH a new secret, or make the client public (no secret at all).
    let (status, patched) = send(
        &server,
        Method::PATCH,
        &format!("{PROVIDERS}{pk}/"),
        json!({"client_secret": "rotated-secret-0123456789"}),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["client_secret"], "rotated-secret-0123456789");
    assert_eq!(patched["client_id"], client_id.as_str(), "the id stays");
    let again = get_json(&server, &format!("{PROVIDERS}{pk}/")).await;
    assert_eq!(again["client_secret"], "rotated-secret-0123456789");
    let (_, public) = send(
        &server,
        Method::PATCH,
        &format!("{PROVIDERS}{pk}/"),
        json!({"client_type": "public"}),
    )
    .await;
    assert_eq!(public["client_type"], "public");
    assert_eq!(public["client_secret"], "");

    let events = model_events(&server, "oauth2provider");
    let actions: Vec<EventAction> = events.iter().map(|(action, _)| *action).collect();
    assert_eq!(
        actions,
        [
            EventAction::ModelCreated,
            EventAction::ModelUpdated,
            EventAction::ModelUpdated
        ]
    );
    assert_eq!(events[1].1["client_secret_changed"], true);
    assert!(
        !events[1].1.to_string().contains("rotated-secret"),
        "no secret in the log"
    );
}

#[tokio::test]
async fn bad_fields_are_reported_each_on_its_own_field() {
    let server = TestServer::spawn().await;
    let invalidation = flow_pk(&server, "default-invalidation-flow").await;
    let mut body = provider_body(&server, "Broken").await;
    body["authorization_flow"] = json!(invalidation);
    body["access_token_validity"] = json!("hours=abc");
    body["property_mappings"] = json!([uuid::Uuid::new_v4()]);
    body["redirect_uris"] = json!([
        {"matching_mode": "regex", "url": "https://(unclosed.example.com/"},
        {"matching_mode": "strict", "url": "/relative/callback"},
    ]);
    body["sub_mode"] = json!("nickname");
    let (status, errors) = send(&server, Method::POST, PROVIDERS, body).await;
    assert_eq!(status, 400, "{errors}");
    let fields: Vec<&String> = errors.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "access_token_validity",
            "authorization_flow",
            "property_mappings",
            "redirect_uris",
            "sub_mode"
        ],
        "{errors}"
    );
    assert!(
        errors["authorization_flow"][0]
            .as_str()
            .unwrap()
            .contains("designation authorization")
    );
    assert!(
        errors["property_mappings"][0]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    let redirects = errors["redirect_uris"].as_array().unwrap();
    assert_eq!(redirects.len(), 2, "{errors}");
    assert!(
        redirects[0]
            .as_str()
            .unwrap()
            .contains("not a valid regular expression")
    );
    assert!(
        redirects[1]
            .as_str()
            .unwrap()
            .contains("not an absolute URL")
    );
    assert_eq!(errors["sub_mode"][0], "\"nickname\" is not a valid choice.");

    // Required fields, an unknown flow and a zero lifetime.
    let (status, errors) = send(
        &server,
        Method::POST,
        PROVIDERS,
        json!({"access_code_validity": "seconds=0", "invalidation_flow": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(errors["name"][0], "This field is required.");
    assert_eq!(errors["authorization_flow"][0], "This field is required.");
    assert!(
        errors["invalidation_flow"][0]
            .as_str()
            .unwrap()
            .starts_with("Invalid pk")
    );
    assert!(
        errors["access_code_validity"][0]
            .as_str()
            .unwrap()
            .contains("longer than zero")
    );

    // Names and client ids are unique.
    let first = create_provider(&server, "Grafana").await;
    let mut twin = provider_body(&server, "Grafana").await;
    let (status, errors) = send(&server, Method::POST, PROVIDERS, twin.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(
        errors,
        json!({"name": ["Provider with this name already exists."]})
    );
    twin["name"] = json!("Grafana 2");
    twin["client_id"] = first["client_id"].clone();
    let (status, errors) = send(&server, Method::POST, PROVIDERS, twin).await;
    assert_eq!(status, 400);
    assert_eq!(
        errors,
        json!({"client_id": ["OAuth2/OpenID Provider with this client id already exists."]})
    );

    // A certificate without its private key cannot sign.
    let generated = gatehouse::crypto::keys::generate(
        gatehouse::model::KeyType::EcP256,
        "cert only",
        &[],
        30,
        server.clock.now(),
    )
    .unwrap();
    let (status, pair) = send(
        &server,
        Method::POST,
        "/api/v3/crypto/certificatekeypairs/",
        json!({"name": "cert only", "certificate_data": generated.certificate_pem}),
    )
    .await;
    assert_eq!(status, 201, "{pair}");
    let pk = first["pk"].as_i64().unwrap();
    let (status, errors) = send(
        &server,
        Method::PATCH,
        &format!("{PROVIDERS}{pk}/"),
        json!({"signing_key": pair["pk"]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        errors["signing_key"][0]
            .as_str()
            .unwrap()
            .contains("private key"),
        "{errors}"
    );
    // Nothing was half-applied.
    assert_eq!(get_json(&server, &format!("{PROVIDERS}{pk}/")).await, first);
}

#[tokio::test]
async fn a_new_signing_key_keeps_the_old_one_published_for_the_token_lifetime() {
    let server = TestServer::spawn().await;
    let pairs = get_json(&server, "/api/v3/crypto/certificatekeypairs/?has_key=true").await;
    let key_of = |name: &str| {
        pairs["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|pair| pair["name"] == name)
            .unwrap()["pk"]
            .clone()
    };
    let (rsa, ec) = (
        key_of("authentik Self-signed Certificate"),
        key_of("gatehouse EC signing key"),
    );
    let created = create_provider(&server, "Grafana").await;
    let path = format!("{PROVIDERS}{}/", created["pk"]);
    let (status, first) = send(&server, Method::PATCH, &path, json!({"signing_key": rsa})).await;
    assert_eq!((status, &first["signing_key"]), (200, &rsa));
    assert!(
        stored_providers(&server)[0]
            .oauth2()
            .unwrap()
            .retired_keys
            .is_empty()
    );

    let now = server.clock.now();
    let (status, second) = send(
        &server,
        Method::PATCH,
        &path,
        json!({"signing_key": ec, "access_token_validity": "minutes=5"}),
    )
    .await;
    assert_eq!((status, &second["signing_key"]), (200, &ec));
    let retired = stored_providers(&server)[0]
        .oauth2()
        .unwrap()
        .retired_keys
        .clone();
    assert_eq!(retired.len(), 1);
    assert_eq!(json!(retired[0].key), rsa);
    // Tokens signed before the change were issued for an hour, the old lifetime.
    assert_eq!(retired[0].until, Timestamp(now.0 + 3600));

    // Once that hour has passed the old key is dropped at the next change.
    server.clock.advance(3601);
    let (status, _) = send(&server, Method::PATCH, &path, json!({"signing_key": null})).await;
    assert_eq!(status, 200);
    let retired = stored_providers(&server)[0]
        .oauth2()
        .unwrap()
        .retired_keys
        .clone();
    assert_eq!(retired.len(), 1, "only the key just replaced: {retired:?}");
    assert_eq!(json!(retired[0].key), ec);
}

#[tokio::test]
async fn applications_attach_a_provider_and_setup_urls_name_the_application() {
    let server = TestServer::spawn().await;
    let provider = create_provider(&server, "Grafana").await;
    let pk = provider["pk"].as_i64().unwrap();
    let urls_path = format!("{PROVIDERS}{pk}/setup_urls/");
    let unattached = get_json(&server, &urls_path).await;
    assert_eq!(
        unattached["issuer"], "",
        "per-provider issuer needs an application"
    );
    assert_eq!(
        unattached["authorize"],
        server.url("/application/o/authorize/")
    );

    let (status, app) = send(
        &server,
        Method::POST,
        "/api/v3/core/applications/",
        json!({"name": "Grafana", "slug": "grafana", "provider": pk}),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    assert_eq!(app["provider"], pk);
    assert_eq!(app["provider_obj"]["pk"], pk);
    assert_eq!(app["provider_obj"]["name"], "Grafana");
    assert_eq!(app["provider_obj"]["assigned_application_slug"], "grafana");
    assert_eq!(
        app["provider_obj"]["meta_model_name"],
        "authentik_providers_oauth2.oauth2provider"
    );
    let read = get_json(&server, &format!("{PROVIDERS}{pk}/")).await;
    assert_eq!(read["assigned_application_slug"], "grafana");
    assert_eq!(read["assigned_application_name"], "Grafana");

    let urls = get_json(&server, &urls_path).await;
    assert_eq!(
        urls,
        json!({
            "issuer": server.url("/application/o/grafana/"),
            "authorize": server.url("/application/o/authorize/"),
            "token": server.url("/application/o/token/"),
            "user_info": server.url("/application/o/userinfo/"),
            "provider_info": server.url("/application/o/grafana/.well-known/openid-configuration"),
            "logout": server.url("/application/o/grafana/end-session/"),
            "jwks": server.url("/application/o/grafana/jwks/"),
        })
    );
    let (_, global) = send(
        &server,
        Method::PATCH,
        &format!("{PROVIDERS}{pk}/"),
        json!({"issuer_mode": "global"}),
    )
    .await;
    assert_eq!(global["issuer_mode"], "global");
    assert_eq!(
        get_json(&server, &urls_path).await["issuer"],
        server.url("/application/o/")
    );

    // One provider, one application; unknown pks are refused.
    let (status, errors) = send(
        &server,
        Method::POST,
        "/api/v3/core/applications/",
        json!({"name": "Other", "slug": "other", "provider": pk}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        errors,
        json!({"provider": ["Application with this provider already exists."]})
    );
    let (status, errors) = send(
        &server,
        Method::POST,
        "/api/v3/core/applications/",
        json!({"name": "Other", "slug": "other", "provider": pk + 100}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        errors["provider"][0]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    let unassigned = get_json(&server, "/api/v3/providers/all/?application__isnull=true").await;
    assert_eq!(unassigned["pagination"]["count"], 0);

    // Deleting the provider leaves the application without one.
    let (status, _) = send(
        &server,
        Method::DELETE,
        &format!("{PROVIDERS}{pk}/"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        server
            .admin_get(&format!("{PROVIDERS}{pk}/"))
            .await
            .status(),
        404
    );
    let app = get_json(&server, "/api/v3/core/applications/grafana/").await;
    assert_eq!(app["provider"], Value::Null);
    assert_eq!(app["provider_obj"], Value::Null);
    let actions: Vec<EventAction> = model_events(&server, "oauth2provider")
        .into_iter()
        .map(|(action, _)| action)
        .collect();
    assert_eq!(actions.last(), Some(&EventAction::ModelDeleted));

    // Detaching by null works too.
    let other = create_provider(&server, "Wiki").await;
    let path = "/api/v3/core/applications/grafana/";
    let (_, attached) = send(
        &server,
        Method::PATCH,
        path,
        json!({"provider": other["pk"]}),
    )
    .await;
    assert_eq!(attached["provider"], other["pk"]);
    let (_, detached) = send(&server, Method::PATCH, path, json!({"provider": null})).await;
    assert_eq!(detached["provider"], Value::Null);
}

#[tokio::test]
async fn scope_mappings_managed_ones_are_protected_and_custom_ones_must_compile() {
    let server = TestServer::spawn().await;
    let email = get_json(&server, &format!("{MAPPINGS}?managed={EMAIL_KEY}")).await;
    assert_eq!(email["pagination"]["count"], 1);
    let mapping = email["results"][0].clone();
    assert_eq!(mapping["scope_name"], "email");
    assert_eq!(mapping["managed"], EMAIL_KEY);
    assert_eq!(
        mapping["component"],
        "ak-property-mapping-provider-scope-form"
    );
    assert_eq!(
        mapping["meta_model_name"],
        "authentik_providers_oauth2.scopemapping"
    );
    assert_eq!(mapping["verbose_name"], "Scope Mapping");
    let pk = mapping["pk"].as_str().unwrap().to_owned();
    // The older path serves the same objects.
    assert_eq!(
        get_json(&server, &format!("/api/v3/propertymappings/scope/{pk}/")).await,
        mapping
    );
    let two = get_json(&server, &format!("{MAPPINGS}?managed={EMAIL_KEY}&managed=goauthentik.io/providers/oauth2/scope-profile&ordering=scope_name")).await;
    let scopes: Vec<&str> = two["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["scope_name"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["email", "profile"]);
    assert_eq!(get_json(&server, MAPPINGS).await["pagination"]["count"], 4);

    // Managed: computed natively, so no new expression or scope, and no deletion; the
    // consent description may change.
    let path = format!("{MAPPINGS}{pk}/");
    let (status, errors) = send(
        &server,
        Method::PATCH,
        &path,
        json!({"expression": "#{ email: \"x\" }"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        errors["expression"][0]
            .as_str()
            .unwrap()
            .contains("computed natively"),
        "{errors}"
    );
    let (status, _) = send(&server, Method::PATCH, &path, json!({"scope_name": "mail"})).await;
    assert_eq!(status, 400);
    let (status, error) = send(&server, Method::DELETE, &path, Value::Null).await;
    assert_eq!(status, 400);
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be deleted")
    );
    let (status, described) = send(
        &server,
        Method::PATCH,
        &path,
        json!({"description": "Your email address"}),
    )
    .await;
    assert_eq!(status, 200, "{described}");
    assert_eq!(described["description"], "Your email address");
    // Echoing the whole object back (PUT) is fine.
    let (status, _) = send(&server, Method::PUT, &path, described.clone()).await;
    assert_eq!(status, 200);

    // Custom: a Rhai expression that must compile.
    let (status, errors) = send(
        &server,
        Method::POST,
        MAPPINGS,
        json!({"name": "Gitea", "scope_name": "gitea", "expression": "#{ groups: user.groups "}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        errors["expression"][0]
            .as_str()
            .unwrap()
            .starts_with("Expression does not compile"),
        "{errors}"
    );
    let (status, errors) = send(&server, Method::POST, MAPPINGS, json!({"name": "Bad", "scope_name": "two words", "expression": "#{}", "managed": "goauthentik.io/providers/oauth2/scope-gitea"})).await;
    assert_eq!(status, 400);
    assert!(
        errors["scope_name"].is_array() && errors["managed"].is_array(),
        "{errors}"
    );
    let (status, gitea) = send(&server, Method::POST, MAPPINGS, json!({"name": "Gitea", "scope_name": "gitea", "description": "Gitea groups", "expression": "#{ gitea: user.groups }"})).await;
    assert_eq!(status, 201, "{gitea}");
    assert_eq!(gitea["managed"], Value::Null);
    let custom_pk = gitea["pk"].as_str().unwrap().to_owned();
    let custom = get_json(&server, &format!("{MAPPINGS}?managed__isnull=true")).await;
    assert_eq!(custom["results"].as_array().unwrap().len(), 1);
    assert_eq!(custom["results"][0]["pk"], custom_pk.as_str());
    let (status, errors) = send(
        &server,
        Method::POST,
        MAPPINGS,
        json!({"name": "Gitea", "scope_name": "gitea", "expression": "#{}"}),
    )
    .await;
    assert_eq!(
        (status, errors),
        (
            400,
            json!({"name": ["Property Mapping with this name already exists."]})
        )
    );
    let custom_path = format!("/api/v3/propertymappings/scope/{custom_pk}/");
    let (status, replaced) = send(
        &server,
        Method::PUT,
        &custom_path,
        json!({"name": "Gitea", "scope_name": "gitea", "expression": "#{ gitea: [\"admins\"] }"}),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["expression"], "#{ gitea: [\"admins\"] }");

    // A provider may use it; deleting it drops it from the provider's list.
    let mut body = provider_body(&server, "Gitea").await;
    body["property_mappings"] = json!([custom_pk]);
    let (_, provider) = send(&server, Method::POST, PROVIDERS, body).await;
    assert_eq!(provider["property_mappings"], json!([custom_pk]));
    let (status, _) = send(&server, Method::DELETE, &custom_path, Value::Null).await;
    assert_eq!(status, 204);
    assert_eq!(server.admin_get(&custom_path).await.status(), 404);
    let provider = get_json(&server, &format!("{PROVIDERS}{}/", provider["pk"])).await;
    assert_eq!(provider["property_mappings"], json!([]));
    let actions: Vec<EventAction> = model_events(&server, "scopemapping")
        .into_iter()
        .map(|(action, _)| action)
        .collect();
    assert_eq!(
        actions,
        [
            EventAction::ModelUpdated,
            EventAction::ModelUpdated,
            EventAction::ModelCreated,
            EventAction::ModelUpdated,
            EventAction::ModelDeleted
        ]
    );
}

#[tokio::test]
async fn only_superusers_reach_the_oauth_admin_api() {
    let server = TestServer::spawn().await;
    server.create_user("alice", "alice-password").await;
    let browser = server.browser();
    executor_login(&server, &browser, "alice", "alice-password").await;
    for path in [PROVIDERS, "/api/v3/providers/all/", MAPPINGS] {
        let response = browser.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    let response = browser
        .post(server.url(PROVIDERS))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status() == 403 || response.status() == 401,
        "{}",
        response.status()
    );
}
