//! What users granted and what happened, through the REST API in authentik's shapes:
//! refresh tokens (`oauth2/refresh_tokens/`), remembered consents
//! (`core/user_consent/`) and the audit trail (`events/events/`). Tokens and consents
//! come from real authorizations; users see and revoke their own, admins everyone's.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::harness::oidc::{EXPLICIT_CONSENT, Rp, UserAgent, flow_pk};

const REFRESH_TOKENS: &str = "/api/v3/oauth2/refresh_tokens/";
const CONSENTS: &str = "/api/v3/core/user_consent/";
const EVENTS: &str = "/api/v3/events/events/";

/// Status and JSON body (`null` when empty) of a request in the user's session.
async fn as_user(ua: &UserAgent, method: Method, path: &str) -> (u16, Value) {
    let response = ua
        .http
        .request(method, format!("{}{path}", ua.base))
        .send()
        .await
        .unwrap();
    answer(response).await
}

async fn as_admin(server: &TestServer, path: &str) -> (u16, Value) {
    answer(server.admin_get(path).await).await
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn count(list: &Value) -> u64 {
    list["pagination"]["count"].as_u64().unwrap()
}

fn sha256_hex(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn users_list_and_revoke_their_refresh_tokens_admins_see_all() {
    let server = TestServer::spawn().await;
    let rp = Rp::create(&server, "Grafana", json!({})).await;
    let mut alice = UserAgent::new(&server, "alice").await;
    let tokens = alice.tokens_for(&rp).await;
    let mut bob = UserAgent::new(&server, "bob").await;
    bob.sign_in().await;

    let (status, own) = as_user(&alice, Method::GET, REFRESH_TOKENS).await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(count(&own), 1, "{own}");
    let token = &own["results"][0];
    let pk = token["pk"].as_i64().expect("an integer pk");
    assert_eq!(token["user"]["pk"], alice.pk);
    assert_eq!(token["user"]["username"], "alice");
    assert_eq!(token["provider"]["pk"], rp.provider_pk);
    assert_eq!(token["provider"]["client_id"], rp.client_id.as_str());
    // A user is not shown the client's secret.
    assert_eq!(token["provider"]["client_secret"], "");
    assert_eq!(token["is_expired"], false);
    assert_eq!(token["revoked"], false);
    assert_eq!(token["id_token"], "");
    assert!(token["expires"].is_string(), "{token}");
    let scopes: Vec<&str> = token["scope"]
        .as_array()
        .unwrap()
        .iter()
        .map(|scope| scope.as_str().unwrap())
        .collect();
    assert!(scopes.contains(&"offline_access"), "{scopes:?}");
    // Neither the token nor its stored hash is ever shown.
    let text = own.to_string();
    assert!(!text.contains(tokens.refresh()));
    assert!(!text.contains(&sha256_hex(tokens.refresh())));
    let path = format!("{REFRESH_TOKENS}{pk}/");
    let (status, one) = as_user(&alice, Method::GET, &path).await;
    assert_eq!((status, &one["pk"]), (200, &json!(pk)), "{one}");

    // Another user neither sees nor revokes it.
    let (_, theirs) = as_user(&bob, Method::GET, REFRESH_TOKENS).await;
    assert_eq!(count(&theirs), 0, "{theirs}");
    let asked = format!("{REFRESH_TOKENS}?user={}", alice.pk);
    let (_, theirs) = as_user(&bob, Method::GET, &asked).await;
    assert_eq!(count(&theirs), 0, "{theirs}");
    assert_eq!(as_user(&bob, Method::GET, &path).await.0, 404);
    assert_eq!(as_user(&bob, Method::DELETE, &path).await.0, 404);
    assert!(rp.userinfo(&tokens.access).await.status == 200);

    // Admins see everyone's, and filter by user and provider.
    let (_, all) = as_admin(&server, REFRESH_TOKENS).await;
    assert_eq!(count(&all), 1, "{all}");
    assert_eq!(
        all["results"][0]["provider"]["client_secret"],
        rp.client_secret.as_str()
    );
    let by_user = format!("{REFRESH_TOKENS}?user={}", alice.pk);
    assert_eq!(count(&as_admin(&server, &by_user).await.1), 1);
    let by_other_user = format!("{REFRESH_TOKENS}?user={}", bob.pk);
    assert_eq!(count(&as_admin(&server, &by_other_user).await.1), 0);
    let by_provider = format!("{REFRESH_TOKENS}?provider={}", rp.provider_pk);
    assert_eq!(count(&as_admin(&server, &by_provider).await.1), 1);
    let by_search = format!("{REFRESH_TOKENS}?search=ALI");
    assert_eq!(count(&as_admin(&server, &by_search).await.1), 1);
    assert_eq!(as_admin(&server, &path).await.0, 200);
    assert_eq!(
        as_admin(&server, &format!("{REFRESH_TOKENS}1/")).await.0,
        404
    );

    // Revoking ends the family: no refresh, and its access token is refused.
    let (status, body) = as_user(&alice, Method::DELETE, &path).await;
    assert_eq!(status, 204, "{body}");
    rp.refresh(tokens.refresh())
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(rp.userinfo(&tokens.access).await.status, 401);
    let (status, after) = as_user(&alice, Method::GET, &path).await;
    assert_eq!((status, &after["revoked"]), (200, &json!(true)), "{after}");

    let revoked = format!("{EVENTS}?action=token_revoked&username=alice");
    let (_, events) = as_admin(&server, &revoked).await;
    let context = &events["results"][0]["context"];
    assert_eq!(context["model"], "refresh_token", "{events}");
    assert_eq!(context["pk"], pk);
    assert_eq!(context["application"], rp.slug.as_str());
}

#[tokio::test]
async fn a_rotated_refresh_token_shows_as_revoked() {
    let server = TestServer::spawn().await;
    let rp = Rp::create(&server, "Grafana", json!({})).await;
    let mut alice = UserAgent::new(&server, "alice").await;
    let tokens = alice.tokens_for(&rp).await;
    // A second later, so "newest first" has one answer.
    server.clock.advance(1);
    rp.refresh(tokens.refresh()).await.assert_ok();
    let (_, own) = as_user(&alice, Method::GET, REFRESH_TOKENS).await;
    assert_eq!(count(&own), 2, "{own}");
    let revoked: Vec<&Value> = own["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|token| &token["revoked"])
        .collect();
    // Newest first: the live one, then the one rotation used up.
    assert_eq!(revoked, [&json!(false), &json!(true)]);
}

/// Switches the default consent stage to remembering consents for good.
async fn remember_consents(server: &TestServer) {
    let (_, stages) = as_admin(server, "/api/v3/stages/consent/").await;
    let stage = stages["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stage| stage["name"] == "default-provider-authorization-consent")
        .unwrap_or_else(|| panic!("{stages}"));
    let patched = server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/stages/consent/{}/", stage["pk"].as_str().unwrap()),
            json!({"mode": "permanent"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
}

fn asked_for_consent(ua: &UserAgent) -> bool {
    ua.components.iter().any(|c| c == "ak-stage-consent")
}

#[tokio::test]
async fn users_see_and_withdraw_their_consents_and_are_asked_again() {
    let server = TestServer::spawn().await;
    let explicit = flow_pk(&server, EXPLICIT_CONSENT).await;
    let rp = Rp::create(&server, "Grafana", json!({"authorization_flow": explicit})).await;
    remember_consents(&server).await;
    let mut alice = UserAgent::new(&server, "alice").await;
    alice.code_for(&rp, &[]).await;
    assert!(asked_for_consent(&alice), "{:?}", alice.components);
    alice.components.clear();
    alice.code_for(&rp, &[]).await;
    assert!(!asked_for_consent(&alice), "remembered");
    let mut bob = UserAgent::new(&server, "bob").await;
    bob.sign_in().await;

    let (status, own) = as_user(&alice, Method::GET, CONSENTS).await;
    assert_eq!((status, count(&own)), (200, 1), "{own}");
    let consent = &own["results"][0];
    let pk = consent["pk"].as_i64().expect("an integer pk");
    assert_eq!(consent["user"]["username"], "alice");
    assert_eq!(consent["application"]["pk"], rp.app_pk.as_str());
    assert_eq!(consent["application"]["slug"], rp.slug.as_str());
    assert_eq!(consent["application"]["provider"], rp.provider_pk);
    assert_eq!(consent["expires"], Value::Null);
    assert_eq!(consent["expiring"], false);
    let permissions = consent["permissions"].as_str().unwrap();
    assert!(!permissions.is_empty(), "{consent}");
    assert!(!permissions.contains(','), "space-separated: {permissions}");
    let path = format!("{CONSENTS}{pk}/");
    assert_eq!(as_user(&alice, Method::GET, &path).await.0, 200);

    let (_, theirs) = as_user(&bob, Method::GET, CONSENTS).await;
    assert_eq!(count(&theirs), 0, "{theirs}");
    assert_eq!(as_user(&bob, Method::GET, &path).await.0, 404);
    assert_eq!(as_user(&bob, Method::DELETE, &path).await.0, 404);

    let by_application = format!("{CONSENTS}?application={}", rp.app_pk);
    assert_eq!(count(&as_admin(&server, &by_application).await.1), 1);
    let by_user = format!("{CONSENTS}?user={}", bob.pk);
    assert_eq!(count(&as_admin(&server, &by_user).await.1), 0);
    assert_eq!(as_admin(&server, &path).await.0, 200);

    let (status, body) = as_user(&alice, Method::DELETE, &path).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(as_user(&alice, Method::GET, &path).await.0, 404);
    assert_eq!(count(&as_user(&alice, Method::GET, CONSENTS).await.1), 0);
    alice.components.clear();
    alice.code_for(&rp, &[]).await;
    assert!(asked_for_consent(&alice), "asked again after withdrawing");
}

#[tokio::test]
async fn admins_read_the_audit_trail_filtered() {
    let server = TestServer::spawn().await;
    let rp = Rp::create(&server, "Grafana", json!({})).await;
    let mut alice = UserAgent::new(&server, "alice").await;
    alice.tokens_for(&rp).await;

    let (status, list) = as_admin(&server, &format!("{EVENTS}?action=authorize_application")).await;
    assert_eq!((status, count(&list)), (200, 1), "{list}");
    let event = &list["results"][0];
    assert_eq!(event["action"], "authorize_application");
    assert_eq!(event["user"]["username"], "alice");
    assert_eq!(event["user"]["pk"], alice.pk);
    assert_eq!(event["app"], "gatehouse");
    assert_eq!(event["brand"], json!({}));
    assert_eq!(
        event["context"]["authorized_application"]["slug"],
        rp.slug.as_str()
    );
    assert!(event["created"].as_str().unwrap() < event["expires"].as_str().unwrap());
    // gatehouse's own actions speak authentik's vocabulary to its clients: `custom_`,
    // with the precise name in the context (and still filterable by it).
    let (status, issued) = as_admin(&server, &format!("{EVENTS}?action=token_issued")).await;
    assert_eq!((status, count(&issued)), (200, 1), "{issued}");
    assert_eq!(issued["results"][0]["action"], "custom_");
    assert_eq!(issued["results"][0]["context"]["action"], "token_issued");
    let pk = event["pk"].as_str().unwrap();
    let (status, one) = as_admin(&server, &format!("{EVENTS}{pk}/")).await;
    assert_eq!((status, &one), (200, event));
    let unknown = format!("{EVENTS}{}/", uuid::Uuid::new_v4());
    assert_eq!(as_admin(&server, &unknown).await.0, 404);

    // Newest first; filters narrow, and combine.
    let (_, all) = as_admin(&server, EVENTS).await;
    assert!(count(&all) > 1, "{all}");
    let created: Vec<&str> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["created"].as_str().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|pair| pair[0] >= pair[1]),
        "{created:?}"
    );
    let of_alice = format!("{EVENTS}?username=alice&action=authorize");
    assert_eq!(count(&as_admin(&server, &of_alice).await.1), 1);
    let of_nobody = format!("{EVENTS}?username=nobody&action=authorize_application");
    assert_eq!(count(&as_admin(&server, &of_nobody).await.1), 0);
    if let Some(ip) = event["client_ip"].as_str() {
        let from = format!("{EVENTS}?client_ip={ip}&action=authorize_application");
        assert_eq!(count(&as_admin(&server, &from).await.1), 1);
    }
    let elsewhere = format!("{EVENTS}?client_ip=203.0.113.99");
    assert_eq!(count(&as_admin(&server, &elsewhere).await.1), 0);
    let paged = format!("{EVENTS}?page_size=1&page=2");
    let (_, second) = as_admin(&server, &paged).await;
    assert_eq!(second["results"][0], all["results"][1]);

    // Not for users.
    assert_eq!(as_user(&alice, Method::GET, EVENTS).await.0, 403);
    assert_eq!(
        as_user(&alice, Method::GET, &format!("{EVENTS}{pk}/"))
            .await
            .0,
        403
    );
}
