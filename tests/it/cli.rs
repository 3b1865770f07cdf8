//! Commands run beside a live server: recovery links, password resets, health checks.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::TestServer;
use crate::harness::flows::executor_login;

fn gatehouse(server: &TestServer, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env_clear()
        .env("GATEHOUSE_DATA_DIR", server.dir.path())
        .env("GATEHOUSE_LISTEN__HTTP", server.addr().to_string())
        .env("GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB", "256")
        .env("GATEHOUSE_PASSWORD_HASHING__ITERATIONS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn recovery_key_prints_a_link_that_signs_in_once() {
    let server = TestServer::spawn().await;
    let output = gatehouse(
        &server,
        &["recovery-key", "akadmin", "--duration", "10m"],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let link = String::from_utf8(output.stdout).unwrap();
    let path = &link[link.find("/recovery/use-token/").expect("a recovery path")..]
        .trim()
        .to_owned();

    let browser = server.browser();
    let used = browser.get(server.url(path)).send().await.unwrap();
    assert_eq!(used.status(), 302);
    assert_eq!(used.headers()["location"], "/if/user/");
    let me: serde_json::Value = browser
        .get(server.url("/api/v3/core/users/me/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], "akadmin");

    let again = server.browser().get(server.url(path)).send().await.unwrap();
    assert_eq!(again.status(), 400, "a recovery link works once");

    let unknown = gatehouse(&server, &["recovery-key", "nobody"], None);
    assert!(!unknown.status.success());
}

#[tokio::test]
async fn recovery_links_expire() {
    let server = TestServer::spawn().await;
    let output = gatehouse(
        &server,
        &["recovery-key", "akadmin", "--duration", "1m"],
        None,
    );
    let link = String::from_utf8(output.stdout).unwrap();
    let path = link[link.find("/recovery/").unwrap()..].trim().to_owned();
    server.clock.advance(3600);
    let late = server
        .browser()
        .get(server.url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 400);
}

#[tokio::test]
async fn set_password_reads_stdin_while_the_server_runs() {
    let server = TestServer::spawn().await;
    server.create_user("erin", "old-password").await;
    let output = gatehouse(
        &server,
        &["user", "set-password", "erin"],
        Some("new-password\n"),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let browser = server.browser();
    let done = executor_login(&server, &browser, "erin", "new-password").await;
    assert_eq!(done["component"], "xak-flow-redirect", "{done}");
}

#[tokio::test]
async fn healthcheck_exits_zero_against_a_live_server() {
    let server = TestServer::spawn().await;
    let output = gatehouse(&server, &["healthcheck"], None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    server.stop().await;
    let dir = tempfile::TempDir::new().unwrap();
    let dead = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["healthcheck"])
        .env_clear()
        .env("GATEHOUSE_DATA_DIR", dir.path())
        .env("GATEHOUSE_LISTEN__HTTP", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!dead.status.success());
}
