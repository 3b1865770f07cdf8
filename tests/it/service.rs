//! Running under systemd: the notify protocol spoken by the real binary (READY=1 once it
//! serves, WATCHDOG=1 pings, STOPPING=1 and exit 0 on SIGTERM), and the refusal of a
//! database written by a newer gatehouse.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

fn serve(data_dir: &Path, http_port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .arg("serve")
        .env_clear()
        .env("GATEHOUSE_DATA_DIR", data_dir)
        .env("GATEHOUSE_LISTEN__HTTP", format!("127.0.0.1:{http_port}"))
        .env("GATEHOUSE_LISTEN__HTTPS", "off")
        .env("GATEHOUSE_LISTEN__LDAP", "off")
        .env("GATEHOUSE_LISTEN__LDAPS", "off")
        .env("GATEHOUSE_LISTEN__RADIUS", "off")
        .env("GATEHOUSE_LISTEN__METRICS", "off")
        .env("GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB", "256")
        .env("GATEHOUSE_PASSWORD_HASHING__ITERATIONS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The next datagram, as text; panics after `within`.
fn next_message(socket: &UnixDatagram, within: Duration) -> String {
    socket.set_read_timeout(Some(within)).unwrap();
    let mut buffer = [0u8; 4096];
    let read = socket.recv(&mut buffer).expect("a notify datagram in time");
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

fn wait_for_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "no exit within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_server_speaks_sd_notify_and_stops_cleanly_on_sigterm() {
    let dir = TempDir::new().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let port = free_port();
    let mut child = serve(&dir.path().join("data"), port)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000")
        .spawn()
        .unwrap();

    let ready = next_message(&socket, Duration::from_secs(60));
    assert!(ready.lines().any(|line| line == "READY=1"), "{ready:?}");
    assert!(
        ready.contains(&format!("MAINPID={}", child.id())),
        "{ready:?}"
    );
    // READY=1 comes after the listener is up: the first connection is answered.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /-/health/live/ HTTP/1.0\r\nHost: localhost\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 204"), "{answer}");

    // WATCHDOG_USEC=200000: a ping every 100 ms.
    for _ in 0..2 {
        let ping = next_message(&socket, Duration::from_secs(2));
        assert_eq!(ping, "WATCHDOG=1");
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopping = loop {
        let message = next_message(&socket, Duration::from_secs(10));
        if message != "WATCHDOG=1" {
            break message;
        }
    };
    assert_eq!(stopping, "STOPPING=1");
    let status = wait_for_exit(&mut child, Duration::from_secs(20));
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(
        !dir.path().join("data").join("control.sock").exists(),
        "the control socket is removed on shutdown"
    );
}

#[test]
fn without_notify_socket_the_server_runs_as_before() {
    let dir = TempDir::new().unwrap();
    let port = free_port();
    let mut child = serve(&dir.path().join("data"), port).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = wait_for_exit(&mut child, Duration::from_secs(20));
    assert!(status.success(), "SIGINT exits 0: {status:?}");
}

#[test]
fn a_database_from_a_newer_gatehouse_is_refused_naming_both_versions() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // The store was flushed: the write-ahead log is folded into the database file.
    let wal = std::fs::metadata(data.join("gatehouse.db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "the WAL is checkpointed on a clean stop");
    let conn = rusqlite::Connection::open(data.join("gatehouse.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                         applied_at INTEGER NOT NULL);
         INSERT INTO schema_migrations VALUES (999, 'from_the_future', 0);",
    )
    .unwrap();
    drop(conn);
    let before = tables_and_versions(&data.join("gatehouse.db"));
    let output = serve(&data, free_port()).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let newest = gatehouse::store::migrations::known_versions()
        .last()
        .unwrap()
        .0;
    assert!(
        stderr.contains(&format!(
            "database schema version 999 is newer than this gatehouse binary ({}) supports ({newest})",
            env!("CARGO_PKG_VERSION")
        )),
        "{stderr}"
    );
    // Opening switches the file to WAL (a header flag); no table or version changes.
    assert!(
        tables_and_versions(&data.join("gatehouse.db")) == before,
        "the newer database is left as it was"
    );
}

fn tables_and_versions(path: &Path) -> (Vec<String>, Vec<(u32, String)>) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables = conn
        .prepare("SELECT name FROM sqlite_master ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap();
    let versions = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<Vec<(u32, String)>, _>>()
        .unwrap();
    (tables, versions)
}

/// SIGTERM while a client keeps writing: every write the server acknowledged (201) is
/// in the database afterwards, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_acknowledged_write() {
    const TOKEN: &str = "service-test-token-0123456789abcdefghijklmnopqrstuv";
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut child = serve(&data, port)
        .env("GATEHOUSE_BOOTSTRAP_TOKEN", TOKEN)
        .env("GATEHOUSE_BOOTSTRAP_PASSWORD", "bootstrap-password")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client
        .get(format!("{base}/-/health/live/"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the server came up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Four writers, each until its first failure (the server has stopped accepting).
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (client, url) = (client.clone(), format!("{base}/api/v3/core/groups/"));
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0.. {
                let name = format!("load-{writer}-{n}");
                let sent = client
                    .post(&url)
                    .bearer_auth(TOKEN)
                    .json(&serde_json::json!({"name": name}))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 201 => acknowledged.push(name),
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    let status = tokio::task::spawn_blocking(move || {
        let status = wait_for_exit(&mut child, Duration::from_secs(30));
        let mut log = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
        (status, log)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "exit {:?}\n{}", status.0, status.1);
    assert!(
        acknowledged.len() > 10,
        "the load ran: {}",
        acknowledged.len()
    );

    // The store was flushed: the write-ahead log is folded into the database file.
    let wal = std::fs::metadata(data.join("gatehouse.db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "the WAL is checkpointed on a clean stop");
    let conn = rusqlite::Connection::open(data.join("gatehouse.db")).unwrap();
    let stored: std::collections::HashSet<String> = conn
        .prepare("SELECT name FROM groups")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|name| !stored.contains(*name))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}
