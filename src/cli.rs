//! The command line: `serve`, `check-config`, `healthcheck`, `recovery-key`,
//! `user set-password`, `test-email`, `backup`, `restore`. Commands that run beside a live server go through
//! the SQLite store (safe across processes), never through the redb file the server holds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::app::load_secret_key;
use crate::config::Settings;
use crate::crypto::{PasswordHasher, PasswordParams, SecretBox};
use crate::directory::tokens::{TokenDraft, build_token, generate_key};
use crate::model::{EventAction, TokenIntent};
use crate::store::{Store, StoreError, StoreExt};

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "An identity provider for homelabs, in one binary"
)]
pub struct Cli {
    /// TOML configuration file (optional; environment variables override it).
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (default ./data; also GATEHOUSE_DATA_DIR).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Validate the configuration and print the effective settings (secrets masked).
    CheckConfig,
    /// Exit 0 when the local server is ready: storage answers and the background worker
    /// ticks (for container HEALTHCHECK and packaging/install.sh).
    Healthcheck,
    /// Print a one-time login link for a user (authentik's `ak create_recovery_key`).
    RecoveryKey {
        username: String,
        /// How long the link stays valid: 30m, 2h, 1d (default 1h).
        #[arg(long, default_value = "1h")]
        duration: String,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Send the `test` email to ADDRESS at once through the configured SMTP server.
    TestEmail { address: String },
    /// Write a consistent snapshot of the data directory to FILE (a .tar.gz archive with
    /// a manifest and checksums); safe while the server runs.
    Backup { file: PathBuf },
    /// Unpack a backup into the data directory, which must be empty unless --force (the
    /// old contents are then moved aside). Stop the server first.
    Restore {
        file: PathBuf,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Set a user's password, read from standard input (never from the command line).
    SetPassword { username: String },
}

/// Loads the settings with CLI overrides applied; errors are one line naming the key.
pub fn load_settings(cli: &Cli) -> anyhow::Result<(Settings, Vec<String>)> {
    let (mut settings, warnings) = Settings::load(cli.config.as_deref(), std::env::vars())?;
    if let Some(dir) = &cli.data_dir {
        settings.data_dir = dir.clone();
    }
    settings.validate()?;
    Ok((settings, warnings))
}

pub fn check_config(settings: &Settings, warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    print!("{}", settings.to_masked_toml());
}

pub fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    let Some(listen) = settings.listen.http else {
        bail!("listen.http is off; nothing to check");
    };
    let target = if listen.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), listen.port())
    } else {
        listen
    };
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(3))
        .with_context(|| format!("cannot connect to {target}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(
        stream,
        "GET /-/health/ready/ HTTP/1.0\r\nHost: localhost\r\n\r\n"
    )?;
    let mut head = [0u8; 16];
    let read = stream.read(&mut head)?;
    let status_line = String::from_utf8_lossy(head.get(..read).unwrap_or_default()).to_string();
    if status_line.starts_with("HTTP/1.0 204") || status_line.starts_with("HTTP/1.1 204") {
        Ok(())
    } else {
        bail!("unexpected answer: {}", status_line.trim())
    }
}

fn open_store(settings: &Settings) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    crate::app::open_store_for_cli(settings)
}

/// `30m`, `2h`, `1d`, `90s`, or a number of seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let amount: u64 = number
        .parse()
        .with_context(|| format!("'{text}' is not a duration like 30m, 2h or 1d"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("'{text}' is not a duration like 30m, 2h or 1d"),
    };
    Ok(amount.saturating_mul(factor))
}

pub fn recovery_key(settings: &Settings, username: &str, duration: &str) -> anyhow::Result<String> {
    let lifetime = parse_duration(duration)?;
    let store = open_store(settings)?;
    let secret_box = SecretBox::from_secret_key(&load_secret_key(settings, &settings.data_dir)?);
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let key = generate_key();
    let username = username.to_owned();
    let token_key = key.clone();
    store
        .write(move |tx| {
            let user = tx
                .user_by_username(&username)?
                .ok_or(StoreError::NotFound)?;
            let draft = TokenDraft {
                identifier: format!(
                    "ak-recovery-{}-{}",
                    user.username.as_str(),
                    &token_key.get(..8).unwrap_or("key")
                ),
                user: user.id,
                intent: TokenIntent::Recovery,
                description: "Recovery link from the command line".into(),
                expires: Some(now.plus_secs(lifetime)),
                expiring: true,
                managed: None,
            };
            tx.insert_token(&build_token(draft, &token_key, &secret_box, now))?;
            tx.insert_event(&crate::model::Event {
                id: uuid::Uuid::new_v4(),
                action: EventAction::RecoveryLinkCreated,
                user: Some(crate::model::EventUser {
                    pk: user.id,
                    username: user.username.as_str().into(),
                }),
                client_ip: None,
                context: serde_json::json!({"source": "cli", "lifetime_secs": lifetime}),
                created: now,
            })
        })
        .map_err(|error| match error {
            StoreError::NotFound => anyhow::anyhow!("no such user"),
            other => other.into(),
        })?;
    Ok(format!("/recovery/use-token/{key}/"))
}

pub fn set_password(settings: &Settings, username: &str) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.strip_suffix('\n').unwrap_or(&password);
    let password = password.strip_suffix('\r').unwrap_or(password).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    let hashing = &settings.password_hashing;
    let hasher = PasswordHasher::new(
        PasswordParams {
            memory_kib: hashing.memory_kib,
            iterations: hashing.iterations,
            parallelism: hashing.parallelism,
        },
        1,
    )?;
    let hash = hasher.hash_blocking(&password)?;
    let store = open_store(settings)?;
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let username = username.to_owned();
    store
        .write(move |tx| {
            let user = tx
                .user_by_username(&username)?
                .ok_or(StoreError::NotFound)?;
            tx.set_password_hash(user.id, Some(&hash), now)?;
            tx.set_meta("setup_completed", "true")?;
            tx.insert_event(&crate::model::Event {
                id: uuid::Uuid::new_v4(),
                action: EventAction::PasswordSet,
                user: Some(crate::model::EventUser {
                    pk: user.id,
                    username: user.username.as_str().into(),
                }),
                client_ip: None,
                context: serde_json::json!({"source": "cli"}),
                created: now,
            })
        })
        .map_err(|error| match error {
            StoreError::NotFound => anyhow::anyhow!("no such user"),
            other => other.into(),
        })?;
    let _ = store.check_health();
    Ok(())
}

/// Sends the `test` template now (not through the queue) and records it in the outbox;
/// works beside a live server because it only touches the SQLite store.
pub fn test_email(settings: &Settings, address: &str) -> anyhow::Result<()> {
    let store = open_store(settings)?;
    let templates =
        crate::email::EmailTemplates::new(Some(settings.data_dir.join("templates").join("email")));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(crate::email::send_test_email(
        crate::store::Db::new(store),
        std::sync::Arc::new(crate::clock::SystemClock),
        &settings.email,
        &templates,
        address,
    ))?;
    Ok(())
}

/// `gatehouse backup FILE`: prints one line saying what was copied.
pub fn backup(settings: &Settings, file: &std::path::Path) -> anyhow::Result<String> {
    let report = crate::backup::backup(
        &settings.data_dir,
        file,
        settings.secret_key.is_some(),
        &|target| crate::app::snapshot_kv_offline(&settings.data_dir, target),
    )?;
    let manifest = &report.manifest;
    let bytes: u64 = manifest.files.iter().map(|f| f.size).sum();
    let mut line = format!(
        "backup written to {}: {} files, {bytes} bytes before compression, schema version {}, \
         ephemeral state {}",
        file.display(),
        manifest.files.len(),
        manifest.schema_version,
        report.kv_source
    );
    if !manifest.secret_key_included {
        line.push_str(
            "\nnote: the secret key comes from the configuration and is not in the archive; \
             keep it with the backup",
        );
    }
    Ok(line)
}

/// `gatehouse restore FILE [--force]`.
pub fn restore(settings: &Settings, file: &std::path::Path, force: bool) -> anyhow::Result<String> {
    let report = crate::backup::restore(file, &settings.data_dir, force)?;
    let manifest = &report.manifest;
    let mut line = format!(
        "restored {} files from a backup of {} (gatehouse {}, schema version {}) into {}",
        manifest.files.len(),
        manifest.created,
        manifest.gatehouse_version,
        manifest.schema_version,
        settings.data_dir.display()
    );
    if let Some(aside) = report.moved_aside {
        line.push_str(&format!(
            "\nthe previous contents are in {}",
            aside.display()
        ));
    }
    if !manifest.secret_key_included {
        line.push_str(
            "\nnote: the backup holds no secret key; configure the one it was taken with",
        );
    }
    Ok(line)
}

/// The base URL to print in front of links, from the listen addresses.
pub fn base_url(settings: &Settings) -> String {
    let host = |addr: SocketAddr| {
        if addr.ip().is_unspecified() {
            format!("localhost:{}", addr.port())
        } else {
            addr.to_string()
        }
    };
    match (settings.listen.http, settings.listen.https) {
        (Some(addr), _) => format!("http://{}", host(addr)),
        (None, Some(addr)) => format!("https://{}", host(addr)),
        _ => String::new(),
    }
}
