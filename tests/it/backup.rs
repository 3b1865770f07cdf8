//! `gatehouse backup` taken while the server serves and a writer keeps writing, restored
//! into a new directory with `gatehouse restore`, and a server started on the copy: the
//! same users, groups, providers, keys and a session cookie that still works.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::flows::executor_login;
use crate::harness::{Options, TestServer, test_settings};

/// Runs the real binary on `data_dir`, as an operator would next to the server.
fn gatehouse(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env_clear()
        .env("GATEHOUSE_DATA_DIR", data_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The same, off the async runtime: the server in this process must keep answering.
async fn gatehouse_beside(data_dir: &Path, args: &[&str]) -> Output {
    let data_dir = data_dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        gatehouse(&data_dir, &args)
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn list(server: &TestServer, path: &str) -> Value {
    let response = server.admin_get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    let mut body: Value = response.json().await.unwrap();
    body["results"].take()
}

async fn flow_pk(server: &TestServer, slug: &str) -> Value {
    let flow: Value = server
        .admin_get(&format!("/api/v3/flows/instances/{slug}/"))
        .await
        .json()
        .await
        .unwrap();
    flow["pk"].clone()
}

/// What must survive the round trip, read through the API.
async fn fixtures(server: &TestServer) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        "/api/v3/core/users/?page_size=1000",
        "/api/v3/core/groups/?page_size=1000",
        "/api/v3/providers/oauth2/",
        "/api/v3/crypto/certificatekeypairs/",
    ] {
        seen.push(list(server, path).await);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_into_an_identical_server() {
    let server = TestServer::spawn().await;
    server.create_user("alice", "alice-password").await;
    let group = server
        .admin_send(Method::POST, "/api/v3/core/groups/", json!({"name": "ops"}))
        .await;
    assert_eq!(group.status(), 201);
    let provider = server
        .admin_send(
            Method::POST,
            "/api/v3/providers/oauth2/",
            json!({
                "name": "grafana",
                "authorization_flow": flow_pk(&server, "default-provider-authorization-implicit-consent").await,
                "invalidation_flow": flow_pk(&server, "default-invalidation-flow").await,
                "redirect_uris": [{"matching_mode": "strict", "url": "https://grafana.example.com/cb"}],
            }),
        )
        .await;
    assert_eq!(provider.status(), 201, "{}", provider.text().await.unwrap());
    let keypair: Value = server
        .admin_send(
            Method::POST,
            "/api/v3/crypto/certificatekeypairs/generate/",
            json!({"common_name": "signing", "subject_alt_name": "idp.example.com", "validity_days": 30, "alg": "ecdsa"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let browser = server.browser();
    let signed_in = executor_login(&server, &browser, "alice", "alice-password").await;
    assert_eq!(signed_in["component"], "xak-flow-redirect", "{signed_in}");

    // A writer creates groups w-0, w-1, ... in order for the whole time of the backup.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, written) = (Arc::clone(&stop), Arc::clone(&written));
        let url = server.url("/api/v3/core/groups/");
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let n = written.load(Ordering::Relaxed);
                let response = client
                    .post(&url)
                    .bearer_auth(crate::harness::ADMIN_TOKEN)
                    .json(&json!({"name": format!("w-{n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                written.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while written.load(Ordering::Relaxed) < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let backups = TempDir::new().unwrap();
    let archive = backups.path().join("nightly.tar.gz");
    let output = gatehouse_beside(server.dir.path(), &["backup", archive.to_str().unwrap()]).await;
    let during = written.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("copied by the running server"),
        "{}",
        text(&output)
    );
    assert!(during > 5, "the writer ran during the backup");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&archive).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the archive holds the secret key: owner only"
        );
    }
    let before = fixtures(&server).await;
    server.stop().await;

    let restored_dir = TempDir::new().unwrap();
    let output = gatehouse(restored_dir.path(), &["restore", archive.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    for name in ["gatehouse.db", "ephemeral.redb", "secret.key"] {
        assert!(restored_dir.path().join(name).is_file(), "{name} restored");
    }

    let dir = Arc::new(restored_dir);
    let settings = test_settings(&dir, &Options::default());
    let restored = TestServer::start_in(Arc::clone(&dir), settings).await;
    let after = fixtures(&restored).await;

    // Users, providers and keys are the ones before; of the groups, the fixtures plus an
    // unbroken run w-0..w-k of the writer's (one consistent instant of its writes).
    assert_eq!(after[0], before[0], "users");
    assert_eq!(after[2], before[2], "providers");
    assert_eq!(after[3], before[3], "keypairs");
    let names = |groups: &Value| -> Vec<String> {
        groups
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let restored_groups = names(&after[1]);
    assert!(restored_groups.contains(&"ops".to_owned()));
    let writer_groups: Vec<&String> = restored_groups
        .iter()
        .filter(|name| name.starts_with("w-"))
        .collect();
    let k = writer_groups.len();
    assert!(k >= 5, "groups written before the backup are in it");
    for n in 0..k {
        assert!(
            restored_groups.contains(&format!("w-{n}")),
            "w-{n} in a run of {k}"
        );
    }
    let before_groups = names(&before[1]);
    for group in &after[1].as_array().unwrap().clone() {
        let same = before[1]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["pk"] == group["pk"]);
        assert_eq!(same, Some(group), "a restored group is as it was");
    }
    assert!(before_groups.len() >= restored_groups.len());

    let private = restored
        .admin_get(&format!(
            "/api/v3/crypto/certificatekeypairs/{}/view_private_key/",
            keypair["pk"].as_str().unwrap()
        ))
        .await;
    assert_eq!(private.status(), 200, "the sealed private key opens");

    // The browser's session cookie from the first server still signs it in.
    let me: Value = browser
        .get(restored.url("/api/v3/core/users/me/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], "alice", "{me}");
    restored.stop().await;
}

#[tokio::test]
async fn restore_refuses_a_full_directory_and_a_damaged_archive() {
    let server = TestServer::spawn().await;
    let backups = TempDir::new().unwrap();
    let archive = backups.path().join("b.tar.gz");
    let output = gatehouse_beside(server.dir.path(), &["backup", archive.to_str().unwrap()]).await;
    assert!(output.status.success(), "{}", text(&output));

    // Into the live server's own directory: refused, with or without --force.
    let output = gatehouse_beside(server.dir.path(), &["restore", archive.to_str().unwrap()]).await;
    assert!(!output.status.success());
    let output = gatehouse_beside(
        server.dir.path(),
        &["restore", "--force", archive.to_str().unwrap()],
    )
    .await;
    assert!(!output.status.success());
    assert!(
        text(&output).contains("server is running"),
        "{}",
        text(&output)
    );
    server.stop().await;

    // A directory with something in it: refused without --force, moved aside with it.
    let target = TempDir::new().unwrap();
    let data = target.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("keep.txt"), "mine").unwrap();
    let output = gatehouse(&data, &["restore", archive.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(text(&output).contains("--force"), "{}", text(&output));
    assert_eq!(
        std::fs::read_to_string(data.join("keep.txt")).unwrap(),
        "mine"
    );

    // One flipped byte inside the compressed stream: nothing is written.
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let damaged = backups.path().join("damaged.tar.gz");
    std::fs::write(&damaged, &bytes).unwrap();
    let empty = target.path().join("fresh");
    let output = gatehouse(&empty, &["restore", damaged.to_str().unwrap()]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(!empty.exists(), "a failed restore writes nothing");
    let leftovers: Vec<_> = std::fs::read_dir(target.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no staging left behind: {leftovers:?}");

    let output = gatehouse(&data, &["restore", "--force", archive.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(data.join("gatehouse.db").is_file());
    let aside: Vec<_> = std::fs::read_dir(target.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("before-restore"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read_to_string(aside[0].join("keep.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn backup_with_no_server_running_copies_the_state_itself() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::spawn());
    let dir = Arc::clone(&server.dir);
    runtime.block_on(server.stop());
    let backups = TempDir::new().unwrap();
    let archive = backups.path().join("cold.tar.gz");
    let output = gatehouse(dir.path(), &["backup", archive.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("copied directly"),
        "{}",
        text(&output)
    );
}

/// Restore usually runs as root into /var/lib/gatehouse: the files must end up owned by
/// the service account that owns the directory, or the service cannot read them.
#[cfg(unix)]
#[test]
fn restored_files_belong_to_the_owner_of_the_data_directory() {
    use std::os::unix::fs::MetadataExt;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::spawn());
    let dir = Arc::clone(&server.dir);
    runtime.block_on(server.stop());
    let backups = TempDir::new().unwrap();
    let archive = backups.path().join("b.tar.gz");
    let output = gatehouse(dir.path(), &["backup", archive.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));

    let target = TempDir::new().unwrap();
    let data = target.path().join("data");
    std::fs::create_dir(&data).unwrap();
    if std::fs::metadata(&data).unwrap().uid() != 0 {
        eprintln!("not root: ownership hand-over not exercised");
        return;
    }
    let (uid, gid) = (65534, 65534);
    std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
    let output = gatehouse(&data, &["restore", archive.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    for name in ["", "gatehouse.db", "secret.key", "ephemeral.redb"] {
        let metadata = std::fs::metadata(data.join(name)).unwrap();
        assert_eq!((metadata.uid(), metadata.gid()), (uid, gid), "{name}");
    }
}
