//! REST resources in authentik's shapes: users, groups, tokens, flows, version, schema.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestServer;

#[tokio::test]
async fn users_paginate_search_and_order() {
    let server = TestServer::spawn().await;
    for index in 0..25 {
        let created = server
            .admin_send(
                Method::POST,
                "/api/v3/core/users/",
                json!({"username": format!("user{index:02}"), "name": format!("User {index}")}),
            )
            .await;
        assert_eq!(created.status(), 201);
    }
    let first: Value = server
        .admin_get("/api/v3/core/users/?page_size=10&ordering=username")
        .await
        .json()
        .await
        .unwrap();
    let pagination = &first["pagination"];
    assert_eq!(pagination["count"], 26);
    assert_eq!(pagination["total_pages"], 3);
    assert_eq!(pagination["current"], 1);
    assert_eq!(pagination["next"], 2);
    assert_eq!(pagination["previous"], 0);
    assert_eq!(pagination["start_index"], 1);
    assert_eq!(pagination["end_index"], 10);
    assert_eq!(first["results"].as_array().unwrap().len(), 10);
    assert_eq!(first["results"][0]["username"], "akadmin");

    let last: Value = server
        .admin_get("/api/v3/core/users/?page_size=10&page=3&ordering=username")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(last["results"].as_array().unwrap().len(), 6);
    assert_eq!(last["pagination"]["next"], 0);
    assert_eq!(last["pagination"]["start_index"], 21);

    let desc: Value = server
        .admin_get("/api/v3/core/users/?ordering=-username&page_size=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(desc["results"][0]["username"], "user24");

    let search: Value = server
        .admin_get("/api/v3/core/users/?search=USER1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        search["pagination"]["count"], 10,
        "user10..user19, case-insensitive"
    );
}

#[tokio::test]
async fn user_lifecycle_with_field_errors() {
    let server = TestServer::spawn().await;
    let missing = server
        .admin_send(
            Method::POST,
            "/api/v3/core/users/",
            json!({"name": "No Username"}),
        )
        .await;
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap();
    assert!(body["username"][0].is_string(), "{body}");

    let created: Value = server
        .admin_send(Method::POST, "/api/v3/core/users/", json!({"username": "carol", "name": "Carol", "email": "carol@example.com", "attributes": {"team": "blue"}}))
        .await
        .json()
        .await
        .unwrap();
    let pk = created["pk"].as_i64().unwrap();
    for key in [
        "uuid",
        "uid",
        "groups",
        "groups_obj",
        "is_superuser",
        "type",
        "path",
        "last_login",
        "avatar",
    ] {
        assert!(created.get(key).is_some(), "user has {key}");
    }
    assert_eq!(created["type"], "internal");
    assert_eq!(created["attributes"]["team"], "blue");

    let duplicate = server
        .admin_send(
            Method::POST,
            "/api/v3/core/users/",
            json!({"username": "CAROL"}),
        )
        .await;
    assert_eq!(
        duplicate.status(),
        400,
        "usernames are unique regardless of case"
    );

    let patched: Value = server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/core/users/{pk}/"),
            json!({"name": "Carol C."}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["name"], "Carol C.");
    assert_eq!(
        patched["email"], "carol@example.com",
        "PATCH keeps other fields"
    );

    let bad_type = server
        .admin_send(
            Method::PATCH,
            &format!("/api/v3/core/users/{pk}/"),
            json!({"type": "wizard"}),
        )
        .await;
    assert_eq!(bad_type.status(), 400);

    assert_eq!(
        server
            .admin_send(
                Method::DELETE,
                &format!("/api/v3/core/users/{pk}/"),
                json!({})
            )
            .await
            .status(),
        204
    );
    assert_eq!(
        server
            .admin_get(&format!("/api/v3/core/users/{pk}/"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn groups_nest_and_superuser_flag_is_inherited() {
    let server = TestServer::spawn().await;
    let dave = server.create_user("dave", "dave-password").await;
    let parent: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/core/groups/",
            json!({"name": "ops", "is_superuser": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let child: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/core/groups/",
            json!({"name": "oncall", "parent": parent["pk"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(child["parent_name"], "ops");
    let child_pk = child["pk"].as_str().unwrap();
    let added = server
        .admin_send(
            Method::POST,
            &format!("/api/v3/core/groups/{child_pk}/add_user/"),
            json!({"pk": dave}),
        )
        .await;
    assert_eq!(added.status(), 204);
    let user: Value = server
        .admin_get(&format!("/api/v3/core/users/{dave}/"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        user["is_superuser"], true,
        "member of a child of a superuser group"
    );
    assert_eq!(user["groups"][0], child["pk"]);

    let group: Value = server
        .admin_get(&format!("/api/v3/core/groups/{child_pk}/"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(group["users"][0], dave);

    server
        .admin_send(
            Method::POST,
            &format!("/api/v3/core/groups/{child_pk}/remove_user/"),
            json!({"pk": dave}),
        )
        .await;
    let user: Value = server
        .admin_get(&format!("/api/v3/core/users/{dave}/"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["is_superuser"], false);

    let unknown = server
        .admin_send(
            Method::POST,
            &format!("/api/v3/core/groups/{child_pk}/add_user/"),
            json!({"pk": 999_999}),
        )
        .await;
    assert_eq!(unknown.status(), 400);
    let search: Value = server
        .admin_get("/api/v3/core/groups/?search=CALL")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(search["pagination"]["count"], 1);
}

#[tokio::test]
async fn tokens_show_their_key_once_asked_and_delete() {
    let server = TestServer::spawn().await;
    let created = server
        .admin_send(
            Method::POST,
            "/api/v3/core/tokens/",
            json!({"identifier": "ci-token", "description": "CI", "expiring": false}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let invalid = server
        .admin_send(
            Method::POST,
            "/api/v3/core/tokens/",
            json!({"identifier": "has spaces"}),
        )
        .await;
    assert_eq!(invalid.status(), 400);
    let duplicate = server
        .admin_send(
            Method::POST,
            "/api/v3/core/tokens/",
            json!({"identifier": "ci-token"}),
        )
        .await;
    assert_eq!(duplicate.status(), 400);
    let key: Value = server
        .admin_get("/api/v3/core/tokens/ci-token/view_key/")
        .await
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    assert!(key.len() >= 32);
    let with_key = reqwest::Client::new()
        .get(server.url("/api/v3/admin/version/"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(with_key.status(), 200);
    assert_eq!(
        server
            .admin_send(Method::DELETE, "/api/v3/core/tokens/ci-token/", json!({}))
            .await
            .status(),
        204
    );
    let after = reqwest::Client::new()
        .get(server.url("/api/v3/admin/version/"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn flows_version_and_schema() {
    let server = TestServer::spawn().await;
    let flows: Value = server
        .admin_get("/api/v3/flows/instances/")
        .await
        .json()
        .await
        .unwrap();
    let slugs: Vec<&str> = flows["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["slug"].as_str().unwrap())
        .collect();
    for slug in [
        "default-authentication-flow",
        "default-invalidation-flow",
        "initial-setup",
    ] {
        assert!(slugs.contains(&slug), "{slug} in {slugs:?}");
    }
    let flow: Value = server
        .admin_get("/api/v3/flows/instances/default-authentication-flow/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(flow["designation"], "authentication");
    // identification, password, MFA validation (skipped without a device), login
    assert_eq!(flow["stages"].as_array().unwrap().len(), 4);

    let created = server
        .admin_send(Method::POST, "/api/v3/flows/instances/", json!({"name": "Other", "slug": "other-login", "title": "Other", "designation": "authentication"}))
        .await;
    assert_eq!(created.status(), 201);
    let executor: Value = server
        .browser()
        .get(server.url("/api/v3/flows/executor/other-login/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        executor["component"], "xak-flow-redirect",
        "an empty flow completes at once"
    );
    let missing = server
        .browser()
        .get(server.url("/api/v3/flows/executor/no-such-flow/"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let version: Value = server
        .admin_get("/api/v3/admin/version/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(version["version_current"], env!("CARGO_PKG_VERSION"));

    let schema: Value = reqwest::get(server.url("/api/v3/schema/"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(schema["openapi"], "3.0.3");
    assert!(schema["paths"]["/core/users/"]["get"].is_object());
    assert!(schema["paths"]["/flows/executor/{flow_slug}/"]["post"].is_object());
}
