//! Unattended first start with authentik's bootstrap variables.

use crate::harness::flows::executor_login;
use crate::harness::{ADMIN_PASSWORD, ADMIN_TOKEN, TestServer};

#[tokio::test]
async fn bootstrap_settings_create_the_admin_with_password_email_and_token() {
    let server = TestServer::spawn().await;
    assert_eq!(server.setup_path(), None, "no setup link when bootstrapped");

    let me: serde_json::Value = server
        .admin_get("/api/v3/core/users/me/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], "akadmin");
    assert_eq!(me["user"]["email"], "admin@example.com");
    assert_eq!(me["user"]["is_superuser"], true);

    let tokens: serde_json::Value = server
        .admin_get("/api/v3/core/tokens/")
        .await
        .json()
        .await
        .unwrap();
    let token = &tokens["results"][0];
    assert_eq!(token["identifier"], "authentik-bootstrap-token");
    assert_eq!(token["expiring"], false);
    let key: serde_json::Value = server
        .admin_get("/api/v3/core/tokens/authentik-bootstrap-token/view_key/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(key["key"], ADMIN_TOKEN);

    let browser = server.browser();
    let done = executor_login(&server, &browser, "akadmin", ADMIN_PASSWORD).await;
    assert_eq!(done["component"], "xak-flow-redirect");
}

#[tokio::test]
async fn the_secret_key_file_is_private() {
    let server = TestServer::spawn().await;
    let path = server.dir.path().join("secret.key");
    let metadata = std::fs::metadata(&path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(path).unwrap().trim().len() >= 40);
}
