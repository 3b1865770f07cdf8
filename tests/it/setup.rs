//! The one-time setup link: only it opens the initial-setup flow, and only once.

use serde_json::json;

use crate::harness::flows::{executor_get, executor_post};
use crate::harness::{Options, TestServer};

fn executor_path(setup_path: &str) -> String {
    let token = setup_path.split("token=").nth(1).unwrap();
    format!("/api/v3/flows/executor/initial-setup/?query=token%3D{token}")
}

#[tokio::test]
async fn setup_link_sets_the_admin_password_once_and_signs_in() {
    let server = TestServer::spawn_with(Options {
        bootstrap: false,
        ..Options::default()
    })
    .await;
    let setup_path = server
        .setup_path()
        .expect("first start prints a setup link");
    assert!(setup_path.starts_with("/if/flow/initial-setup/?token="));

    // Without the token the flow does not open.
    let stranger = server.browser();
    let denied = executor_get(&server, &stranger, "/api/v3/flows/executor/initial-setup/").await;
    assert_eq!(denied["component"], "ak-stage-access-denied");

    let admin = server.browser();
    let path = executor_path(&setup_path);
    let prompt = executor_get(&server, &admin, &path).await;
    assert_eq!(prompt["component"], "ak-stage-prompt", "{prompt}");
    let keys: Vec<&str> = prompt["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["email", "password", "password_repeat"]);

    let mismatch = executor_post(&server, &admin, &path, json!({"component": "ak-stage-prompt", "email": "root@example.com", "password": "s3cret-pass", "password_repeat": "other"})).await;
    assert_eq!(
        mismatch["response_errors"]["password_repeat"][0]["string"],
        "Passwords don't match."
    );

    let done = executor_post(&server, &admin, &path, json!({"component": "ak-stage-prompt", "email": "root@example.com", "password": "s3cret-pass", "password_repeat": "s3cret-pass"})).await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
    assert_eq!(done["to"], "/if/admin/");

    let me: serde_json::Value = admin
        .get(server.url("/api/v3/core/users/me/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], "akadmin");
    assert_eq!(me["user"]["email"], "root@example.com");
    assert_eq!(me["user"]["is_superuser"], true);

    // The link is spent: a second browser with the same link is refused.
    let again = executor_get(&server, &server.browser(), &path).await;
    assert_eq!(again["component"], "ak-stage-access-denied");

    // The new password works for a normal login, and a restart prints no new link.
    let fresh = server.browser();
    let login =
        crate::harness::flows::executor_login(&server, &fresh, "akadmin", "s3cret-pass").await;
    assert_eq!(login["component"], "xak-flow-redirect");
    let server = server.restart().await;
    assert_eq!(server.setup_path(), None);
}

#[tokio::test]
async fn setup_link_is_claimed_by_the_first_browser_only() {
    let server = TestServer::spawn_with(Options {
        bootstrap: false,
        ..Options::default()
    })
    .await;
    let path = executor_path(&server.setup_path().unwrap());
    let first = executor_get(&server, &server.browser(), &path).await;
    assert_eq!(first["component"], "ak-stage-prompt");
    let second = executor_get(&server, &server.browser(), &path).await;
    assert_eq!(second["component"], "ak-stage-access-denied");
}

#[tokio::test]
async fn a_restart_while_setup_is_pending_issues_a_new_link() {
    let server = TestServer::spawn_with(Options {
        bootstrap: false,
        ..Options::default()
    })
    .await;
    let old = server.setup_path().unwrap();
    let server = server.restart().await;
    let new = server.setup_path().expect("still pending: a new link");
    assert_ne!(old, new);
    let stale = executor_get(&server, &server.browser(), &executor_path(&old)).await;
    assert_eq!(stale["component"], "ak-stage-access-denied");
    let fresh = executor_get(&server, &server.browser(), &executor_path(&new)).await;
    assert_eq!(fresh["component"], "ak-stage-prompt");
}

#[tokio::test]
async fn setup_page_renders_as_html_with_the_link() {
    let server = TestServer::spawn_with(Options {
        bootstrap: false,
        ..Options::default()
    })
    .await;
    let page = server
        .browser()
        .get(server.url(&server.setup_path().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"password_repeat\""), "{html}");
    assert!(html.contains("name=\"csrf_token\""));
}
