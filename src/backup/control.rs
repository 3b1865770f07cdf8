//! The control socket: a Unix socket in the data directory through which commands run
//! beside a live server (`gatehouse backup`, `gatehouse restore`) reach it. The data
//! directory is mode 0700 and the socket 0600, so only the account that owns the data
//! (or root) can connect, and it could read the files anyway.
//!
//! Protocol: the client writes one command line; the server answers `ok <length>\n`
//! followed by that many bytes, or `error <message>\n`. Commands:
//! - `kv-snapshot`: a fresh redb file holding every ephemeral entry as one read
//!   transaction saw it (the redb adapter's `snapshot_to`, handed in by `app.rs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::task::JoinHandle;

pub const SOCKET_FILE: &str = "control.sock";

/// Writes the ephemeral state as a new redb file at the given path (which must not exist).
pub type KvSnapshotter = Arc<dyn Fn(&Path) -> anyhow::Result<u64> + Send + Sync>;

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// The listening side, owned by the running server.
pub struct ControlSocket {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl ControlSocket {
    /// Binds `<data_dir>/control.sock`, replacing a stale one left by a crash (a live
    /// server on the same directory would already have failed to lock the redb file).
    pub fn start(data_dir: &Path, snapshot: KvSnapshotter) -> anyhow::Result<ControlSocket> {
        let path = socket_path(data_dir);
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        let data_dir = data_dir.to_path_buf();
        let task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // Out of file descriptors, say: wait instead of spinning.
                        tracing::warn!(%error, "control socket accept failed");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let snapshot = Arc::clone(&snapshot);
                let data_dir = data_dir.clone();
                tokio::spawn(async move {
                    if let Err(error) = answer(stream, &data_dir, snapshot).await {
                        tracing::warn!(%error, "control socket request failed");
                    }
                });
            }
        });
        Ok(ControlSocket { path, task })
    }

    pub fn stop(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn answer(
    stream: tokio::net::UnixStream,
    data_dir: &Path,
    snapshot: KvSnapshotter,
) -> anyhow::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut line = String::new();
    // The command is one short line; the limit keeps a stray client from making the
    // server buffer an endless one.
    let mut reader = tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(reader, 256));
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line)).await??;
    match line.trim() {
        "kv-snapshot" => {
            // Written inside the data directory: under systemd it is the one writable
            // place, and the client may have a different /tmp (PrivateTmp).
            let target = data_dir.join(format!(
                ".kv-snapshot-{}.redb",
                crate::crypto::random_token(9)
            ));
            let made = {
                let target = target.clone();
                tokio::task::spawn_blocking(move || snapshot(&target)).await?
            };
            let result = match made {
                Ok(_) => send_file(&mut writer, &target).await,
                Err(error) => {
                    let message = format!("error {}\n", one_line(&format!("{error:#}")));
                    writer
                        .write_all(message.as_bytes())
                        .await
                        .map_err(Into::into)
                }
            };
            let _ = tokio::fs::remove_file(&target).await;
            result
        }
        other => {
            let message = format!("error unknown command {:?}\n", one_line(other));
            writer.write_all(message.as_bytes()).await?;
            Ok(())
        }
    }
}

async fn send_file(
    writer: &mut tokio::net::unix::OwnedWriteHalf,
    path: &Path,
) -> anyhow::Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    let length = file.metadata().await?.len();
    writer
        .write_all(format!("ok {length}\n").as_bytes())
        .await?;
    tokio::io::copy(&mut file, writer).await?;
    writer.flush().await?;
    Ok(())
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// The client side: `Ok(None)` when no server listens on this data directory.
pub fn connect(data_dir: &Path) -> anyhow::Result<Option<UnixStream>> {
    let path = socket_path(data_dir);
    match UnixStream::connect(&path) {
        Ok(stream) => Ok(Some(stream)),
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(error).with_context(|| format!("cannot connect to {}", path.display())),
    }
}

/// Asks the server for a `kv-snapshot` and writes it to `target`.
pub fn fetch_kv_snapshot(stream: UnixStream, target: &Path) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut writer = stream.try_clone()?;
    writer.write_all(b"kv-snapshot\n")?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader
        .by_ref()
        .take(4096)
        .read_line(&mut status)
        .context("the server did not answer on its control socket within 120 s")?;
    let status = status.trim_end();
    let length: u64 = match status.split_once(' ') {
        Some(("ok", length)) => length
            .parse()
            .with_context(|| format!("bad answer from the server: {status}"))?,
        Some(("error", message)) => bail!("the server could not copy its state: {message}"),
        _ => bail!("bad answer from the server: {status:?}"),
    };
    let mut file = crate::backup::snapshot::create_private(target)?;
    let copied = std::io::copy(&mut reader.take(length), &mut file)?;
    if copied != length {
        bail!("the server's state copy ended after {copied} of {length} bytes");
    }
    file.sync_all()?;
    Ok(())
}
