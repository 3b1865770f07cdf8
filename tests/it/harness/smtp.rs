//! A real SMTP server for tests: Python's aiosmtpd on a free loopback port, writing what
//! it receives into a maildir that the test reads back. Fails loudly, with the command
//! to fix it, when aiosmtpd is not installed.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub struct SmtpSink {
    pub port: u16,
    child: Child,
    dir: TempDir,
}

/// One delivered message, as the server stored it (with aiosmtpd's `X-MailFrom` and
/// `X-RcptTo` headers naming the SMTP envelope).
#[derive(Debug, Clone)]
pub struct Received {
    pub raw: String,
}

impl Received {
    /// The first header of that name, unfolded (RFC 5322 §2.2.3).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\n\n").next().unwrap_or_default();
        let mut found: Option<String> = None;
        for line in head.lines() {
            let line = line.trim_end_matches('\r');
            if line.starts_with([' ', '\t']) {
                if let Some(value) = found.as_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((key, value)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                found = Some(value.trim().to_owned());
            }
        }
        found
    }
}

/// The interpreter with aiosmtpd: `GATEHOUSE_TEST_PYTHON`, else the venv `.ci/run` makes
/// when the system Python refuses user installs, else `python3`.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("GATEHOUSE_TEST_PYTHON") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let venv = target.join("test-venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        SmtpSink::start_on(free_port())
    }

    /// Starts on a given port (a test that first finds the port closed, then opens it).
    pub fn start_on(port: u16) -> SmtpSink {
        let python = python();
        let probe = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .output();
        match probe {
            Ok(output) if output.status.success() => {}
            _ => panic!(
                "the email tests need Python's aiosmtpd: run `{} -m pip install aiosmtpd` \
                 (or set GATEHOUSE_TEST_PYTHON to an interpreter that has it; .ci/run \
                 installs it)",
                python.display()
            ),
        }
        let dir = TempDir::new().unwrap();
        let log = std::fs::File::create(dir.path().join("aiosmtpd.log")).unwrap();
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        let mut sink = SmtpSink { port, child, dir };
        sink.wait_until_listening();
        sink
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("aiosmtpd exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "aiosmtpd did not listen on {} in time: {}",
            self.port,
            self.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("aiosmtpd.log")).unwrap_or_default()
    }

    /// Every message stored so far, oldest first (maildir names start with the time).
    pub fn messages(&self) -> Vec<Received> {
        let mut files = Vec::new();
        for folder in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.dir.path().join("maildir").join(folder)) {
                files.extend(entries.map(|entry| entry.unwrap().path()));
            }
        }
        files.sort();
        files
            .into_iter()
            .map(|path| Received {
                raw: std::fs::read_to_string(path).unwrap(),
            })
            .collect()
    }

    /// Waits (without blocking the test's runtime) until `count` messages arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..500 {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "expected {count} message(s), got {}; server log: {}",
            self.messages().len(),
            self.log()
        );
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
