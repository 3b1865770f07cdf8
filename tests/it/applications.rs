//! Applications: admins manage them through `core/applications/`; who may open one is
//! decided by its policy bindings (none: everyone), and both the API list and the user
//! portal show each user exactly the applications they may open.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::harness::flows::executor_login;

async fn create_app(server: &TestServer, body: Value) -> Value {
    let created = server
        .admin_send(Method::POST, "/api/v3/core/applications/", body)
        .await;
    assert_eq!(created.status(), 201);
    created.json().await.unwrap()
}

async fn bind(server: &TestServer, body: Value) -> Value {
    let created = server
        .admin_send(Method::POST, "/api/v3/policies/bindings/", body)
        .await;
    assert_eq!(created.status(), 201);
    created.json().await.unwrap()
}

/// A signed-in browser for a new user.
async fn signed_in(server: &TestServer, username: &str) -> (i64, reqwest::Client) {
    let password = format!("{username}-password");
    let pk = server.create_user(username, &password).await;
    let browser = server.browser();
    executor_login(server, &browser, username, &password).await;
    (pk, browser)
}

/// The slugs `core/applications/` lists for this browser's user.
async fn listed(server: &TestServer, browser: &reqwest::Client) -> Vec<String> {
    let response = browser
        .get(server.url("/api/v3/core/applications/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| app["slug"].as_str().unwrap().to_owned())
        .collect()
}

async fn portal(server: &TestServer, browser: &reqwest::Client) -> String {
    let response = browser.get(server.url("/if/user/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap().replace("&#x2f;", "/")
}

async fn check_access(server: &TestServer, slug: &str, user: i64) -> Value {
    let response = server
        .admin_get(&format!(
            "/api/v3/core/applications/{slug}/check_access/?for_user={user}"
        ))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn bindings_decide_who_sees_an_application_in_the_api_and_the_portal() {
    let server = TestServer::spawn().await;
    let (alice_pk, alice) = signed_in(&server, "alice").await;
    let (bob_pk, bob) = signed_in(&server, "bob").await;
    assert!(listed(&server, &alice).await.is_empty());
    assert!(
        portal(&server, &alice)
            .await
            .contains("No applications are available to you yet.")
    );

    let wiki = create_app(
        &server,
        json!({"name": "Family Wiki", "slug": "wiki", "meta_launch_url": "https://wiki.example.com/", "meta_description": "Recipes and notes", "group": "Home", "open_in_new_tab": true}),
    )
    .await;
    assert_eq!(wiki["launch_url"], "https://wiki.example.com/");
    assert_eq!(wiki["provider"], Value::Null);
    assert_eq!(wiki["policy_engine_mode"], "any");
    assert_eq!(wiki["backchannel_providers"], json!([]));
    let media = create_app(
        &server,
        json!({"name": "Jellyfin", "slug": "media", "meta_launch_url": "https://media.example.com/"}),
    )
    .await;
    let notes = create_app(&server, json!({"name": "Notes", "slug": "notes"})).await;

    // No bindings: everyone may open all three.
    assert_eq!(listed(&server, &bob).await, ["wiki", "media", "notes"]);
    let page = portal(&server, &bob).await;
    assert!(
        page.contains("Family Wiki") && page.contains("Jellyfin"),
        "{page}"
    );
    assert!(
        page.contains("href=\"https://wiki.example.com/\" target=\"_blank\""),
        "{page}"
    );
    assert!(
        page.contains("Recipes and notes") && page.contains(">Home</h3>"),
        "{page}"
    );
    assert!(check_access(&server, "wiki", bob_pk).await["passing"] == true);

    // A group binding: only members (alice) see the media app.
    let group: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/core/groups/",
            json!({"name": "family"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let added = server
        .admin_send(
            Method::POST,
            &format!(
                "/api/v3/core/groups/{}/add_user/",
                group["pk"].as_str().unwrap()
            ),
            json!({"pk": alice_pk}),
        )
        .await;
    assert_eq!(added.status(), 204);
    bind(
        &server,
        json!({"group": group["pk"], "target": media["pk"]}),
    )
    .await;
    assert_eq!(listed(&server, &alice).await, ["wiki", "media", "notes"]);
    assert_eq!(listed(&server, &bob).await, ["wiki", "notes"]);
    assert!(!portal(&server, &bob).await.contains("Jellyfin"));
    assert!(portal(&server, &alice).await.contains("Jellyfin"));
    let denied = check_access(&server, "media", bob_pk).await;
    assert_eq!(denied["passing"], false);
    let log = denied["log_messages"].to_string();
    assert!(log.contains("user is not a member"), "{denied}");
    assert_eq!(
        check_access(&server, "media", alice_pk).await["passing"],
        true
    );

    // A user binding: only bob sees the notes.
    bind(&server, json!({"user": bob_pk, "target": notes["pk"]})).await;
    assert_eq!(listed(&server, &alice).await, ["wiki", "media"]);
    assert_eq!(listed(&server, &bob).await, ["wiki", "notes"]);

    // A policy binding: an expression that admits only alice, with a message for others.
    let policy: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/policies/expression/",
            json!({"name": "alice-only", "expression": "ak_message(\"Only Alice.\"); request.user.username == \"alice\""}),
        )
        .await
        .json()
        .await
        .unwrap();
    bind(
        &server,
        json!({"policy": policy["pk"], "target": wiki["pk"]}),
    )
    .await;
    assert_eq!(listed(&server, &alice).await, ["wiki", "media"]);
    assert_eq!(listed(&server, &bob).await, ["notes"]);
    let denied = check_access(&server, "wiki", bob_pk).await;
    assert_eq!(denied["passing"], false);
    assert_eq!(denied["messages"], json!(["Only Alice."]));
    assert!(!portal(&server, &bob).await.contains("Family Wiki"));

    // The admin's own list is filtered too, unless the full list is asked for.
    let full: Value = server
        .admin_get("/api/v3/core/applications/?superuser_full_list=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(full["pagination"]["count"], 3);
    let own: Value = server
        .admin_get("/api/v3/core/applications/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["pagination"]["count"], 0, "{own}");
    // A regular user asking for the full list still gets only theirs.
    let bob_full: Value = bob
        .get(server.url("/api/v3/core/applications/?superuser_full_list=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bob_full["pagination"]["count"], 1);
}

#[tokio::test]
async fn admins_manage_applications_and_others_cannot() {
    let server = TestServer::spawn().await;
    let grafana = create_app(
        &server,
        json!({"name": "Grafana", "slug": "grafana", "policy_engine_mode": "all"}),
    )
    .await;
    assert_eq!(grafana["policy_engine_mode"], "all");

    let clash = server
        .admin_send(
            Method::POST,
            "/api/v3/core/applications/",
            json!({"name": "Other", "slug": "grafana"}),
        )
        .await;
    assert_eq!(clash.status(), 400);
    let clash: Value = clash.json().await.unwrap();
    assert!(clash["slug"].is_array(), "{clash}");

    let invalid = server
        .admin_send(
            Method::POST,
            "/api/v3/core/applications/",
            json!({"name": " ", "slug": "no spaces", "policy_engine_mode": "first", "meta_launch_url": "javascript:alert(1)"}),
        )
        .await;
    assert_eq!(invalid.status(), 400);
    let invalid: Value = invalid.json().await.unwrap();
    for field in ["name", "slug", "policy_engine_mode", "meta_launch_url"] {
        assert!(invalid[field].is_array(), "{field}: {invalid}");
    }

    let patched = server
        .admin_send(
            Method::PATCH,
            "/api/v3/core/applications/grafana/",
            json!({"meta_publisher": "Grafana Labs", "slug": "dashboards"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["meta_publisher"], "Grafana Labs");
    assert_eq!(patched["pk"], grafana["pk"]);
    let fetched = server
        .admin_get("/api/v3/core/applications/dashboards/")
        .await;
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        server
            .admin_get("/api/v3/core/applications/grafana/")
            .await
            .status(),
        404
    );
    let replaced = server
        .admin_send(
            Method::PUT,
            "/api/v3/core/applications/dashboards/",
            json!({"meta_publisher": "x"}),
        )
        .await;
    assert_eq!(replaced.status(), 400, "PUT needs name and slug");

    // A regular user may list but not manage.
    let (_, carol) = signed_in(&server, "carol").await;
    let forbidden = carol
        .post(server.url("/api/v3/core/applications/"))
        .json(&json!({"name": "Mine", "slug": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    for (method, path) in [
        (Method::GET, "/api/v3/core/applications/dashboards/"),
        (Method::DELETE, "/api/v3/core/applications/dashboards/"),
        (
            Method::GET,
            "/api/v3/core/applications/dashboards/check_access/",
        ),
    ] {
        let response = carol
            .request(method.clone(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
    }

    // Deleting takes the application's bindings with it.
    let binding = bind(&server, json!({"user": 1, "target": grafana["pk"]})).await;
    let deleted = server
        .admin_send(
            Method::DELETE,
            "/api/v3/core/applications/dashboards/",
            json!({}),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        server
            .admin_get("/api/v3/core/applications/dashboards/")
            .await
            .status(),
        404
    );
    let full: Value = server
        .admin_get("/api/v3/core/applications/?superuser_full_list=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(full["pagination"]["count"], 0);
    let gone = server
        .admin_send(
            Method::DELETE,
            &format!(
                "/api/v3/policies/bindings/{}/",
                binding["pk"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(gone.status(), 404, "the binding went with the application");
}
