//! The composition root: the only place that names concrete adapters (SQLite, redb),
//! builds the shared state, starts the listeners and the background worker, and stops
//! them in order. `main` and the integration tests start the server through here.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::web::Data;
use actix_web::{App, HttpServer};
use anyhow::Context;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::{GeoipSettings, Settings};
use crate::crypto::{PasswordHasher, PasswordParams, SecretBox, random_token};
use crate::email::{EmailTemplates, Mailer, SmtpTransport};
use crate::events::Events;
use crate::flow::{FlowEngine, FlowServices};
use crate::policy::{GeoipDatabases, GeoipDb, GeoipDbKind, PolicyEngine, Reputation};
use crate::providers::oauth2::OAuthServices;
use crate::session::Sessions;
use crate::store::memory_kv::MemoryKv;
use crate::store::redb_kv::RedbKv;
use crate::store::sqlite::SqliteStore;
use crate::store::{CatalogHandle, Db, Ephemeral, Kv};
use crate::web::templates::Templates;
use crate::web::{AppState, configure, security_headers};

/// Where ephemeral state lives; tests may keep it in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvChoice {
    Redb,
    Memory,
}

pub struct RunningApp {
    pub http_addr: Option<SocketAddr>,
    pub https_addr: Option<SocketAddr>,
    /// The path and query of the setup link while setup is pending.
    pub setup_path: Option<String>,
    /// Where the LDAP and LDAPS listeners accept, when they are on.
    pub ldap_addr: Option<SocketAddr>,
    pub ldaps_addr: Option<SocketAddr>,
    /// Where Prometheus scrapes `/metrics`, when `listen.metrics` is on.
    pub metrics_addr: Option<SocketAddr>,
    metrics: Option<ServerHandle>,
    handle: ServerHandle,
    server: JoinHandle<std::io::Result<()>>,
    worker: JoinHandle<()>,
    ldap: Vec<JoinHandle<()>>,
    kv: Arc<dyn Kv>,
    /// `gatehouse backup` asks through it for a copy of the redb state (redb only).
    control: Option<crate::backup::control::ControlSocket>,
    /// The SQLite file, checkpointed on a clean stop.
    database: std::path::PathBuf,
}

impl RunningApp {
    /// Stops accepting, lets requests in flight finish, then makes ephemeral state durable.
    pub async fn stop(self) {
        if let Some(control) = self.control {
            control.stop();
        }
        for listener in self.ldap {
            listener.abort();
        }
        if let Some(metrics) = self.metrics {
            metrics.stop(false).await;
        }
        self.handle.stop(true).await;
        let _ = self.server.await;
        self.worker.abort();
        let _ = self.worker.await;
        if let Err(error) = self.kv.flush() {
            tracing::error!(%error, "could not flush ephemeral state");
        }
        let database = self.database;
        match tokio::task::spawn_blocking(move || checkpoint_sqlite(&database)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "could not checkpoint the database"),
            Err(error) => tracing::warn!(%error, "could not checkpoint the database"),
        }
    }

    /// Runs until the server stops (it does not stop by itself).
    pub async fn wait_for_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await;
    }
}

/// Resolves on SIGTERM (systemd, docker stop) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

pub async fn start(
    settings: Settings,
    clock: Arc<dyn Clock>,
    kv_choice: KvChoice,
) -> anyhow::Result<RunningApp> {
    let started = std::time::Instant::now();
    let data_dir = settings.data_dir.clone();
    create_private_dir(&data_dir)?;
    let secret_key = load_secret_key(&settings, &data_dir)?;
    let store = SqliteStore::open(&data_dir.join("gatehouse.db"))
        .with_context(|| format!("opening {}", data_dir.join("gatehouse.db").display()))?;
    let (kv, control): (Arc<dyn Kv>, _) = match kv_choice {
        KvChoice::Redb => {
            let redb = Arc::new(RedbKv::open(&data_dir.join("ephemeral.redb"))?);
            let control = start_control_socket(&data_dir, Arc::clone(&redb));
            (redb, control)
        }
        KvChoice::Memory => (Arc::new(MemoryKv::new()), None),
    };
    let db = Db::new(Arc::new(store));
    let hashing = &settings.password_hashing;
    let hasher = PasswordHasher::new(
        PasswordParams {
            memory_kib: hashing.memory_kib,
            iterations: hashing.iterations,
            parallelism: hashing.parallelism,
        },
        hashing.max_concurrent,
    )?;
    let secret_box = SecretBox::from_secret_key(&secret_key);
    let report =
        crate::bootstrap::prepare(&db, &settings, &hasher, &secret_box, clock.as_ref()).await?;
    let catalog = CatalogHandle::default();
    catalog.reload(&db).await?;

    let ephemeral = Ephemeral::new(Arc::clone(&kv), Arc::clone(&clock));
    let sessions = Sessions::new(
        ephemeral.clone(),
        settings.session.idle_timeout_secs,
        settings.session.absolute_timeout_secs,
    );
    let events = Events::new(db.clone(), Arc::clone(&clock));
    let transport =
        SmtpTransport::new(&settings.email).map_err(|error| anyhow::anyhow!("email: {error}"))?;
    let mailer = Mailer::new(
        db.clone(),
        Arc::clone(&clock),
        Arc::new(transport),
        events.clone(),
    );
    let email_templates = EmailTemplates::new(Some(data_dir.join("templates").join("email")));
    let policies = PolicyEngine::new(Reputation::new(ephemeral.clone()), Arc::clone(&clock))
        .with_geoip(load_geoip(&settings.geoip)?);
    let flows = FlowEngine::new(FlowServices {
        db: db.clone(),
        ephemeral: ephemeral.clone(),
        catalog: catalog.clone(),
        sessions: sessions.clone(),
        hasher: hasher.clone(),
        events: events.clone(),
        mailer: mailer.clone(),
        email_templates,
        policies: policies.clone(),
        secret_box: secret_box.clone(),
        webauthn: Arc::new(crate::mfa::webauthn::RelyingParties::new()),
    });
    let oauth = OAuthServices {
        db: db.clone(),
        ephemeral: ephemeral.clone(),
        catalog: catalog.clone(),
        secret_box: secret_box.clone(),
        policies: policies.clone(),
        events: events.clone(),
        sessions: sessions.clone(),
        flows: flows.clone(),
        clock: Arc::clone(&clock),
        subject_key: crate::crypto::digest::hmac_sha256(
            secret_key.as_bytes(),
            b"gatehouse/oauth/subject/v1",
        ),
    };
    let ldap_services = Arc::new(crate::providers::ldap::LdapServices {
        db: db.clone(),
        catalog: catalog.clone(),
        sessions: sessions.clone(),
        policies: policies.clone(),
        events: events.clone(),
        clock: Arc::clone(&clock),
        directories: Default::default(),
        flows: flows.clone(),
        bind_cache: Default::default(),
    });
    // One certificate for HTTPS, LDAPS and StartTLS: read (or made) once at start.
    let listen = &settings.listen;
    let own_certificate =
        (listen.https.is_some() || listen.ldap.is_some() || listen.ldaps.is_some())
            .then(|| crate::crypto::tls::load_or_create_certified_key(&data_dir.join("tls")))
            .transpose()?;
    let tls = own_certificate
        .clone()
        .map(crate::crypto::tls::https_config)
        .transpose()?;
    let ldap_tls = own_certificate
        .map(|own| {
            let certificates = crate::providers::ldap::certificates::LdapCertificates::new(
                own,
                catalog.clone(),
                secret_box.clone(),
            );
            crate::crypto::tls::config_with_resolver(Arc::new(certificates)).map(Arc::new)
        })
        .transpose()?;
    let (ldap, ldap_addr, ldaps_addr) =
        start_ldap(&settings, ldap_tls.as_ref(), ldap_services).await?;
    let settings = Arc::new(settings);
    let state_hasher = hasher.clone();
    let state_db = db.clone();
    let worker_heartbeat = crate::tasks::heartbeat::Heartbeat::default();
    let state = Data::new(AppState {
        worker: worker_heartbeat.clone(),
        settings: Arc::clone(&settings),
        db,
        catalog,
        ephemeral: ephemeral.clone(),
        sessions,
        flows,
        hasher,
        events,
        policies,
        clock,
        templates: Templates::new(Some(data_dir.join("templates"))),
        secret_box,
        csrf_key: crate::crypto::digest::hmac_sha256(secret_key.as_bytes(), b"gatehouse/csrf/v1"),
        proxy: crate::providers::proxy::ProxyServices::new(oauth.clone()),
        upstreams: crate::web::outpost::upstream::Upstreams::new(),
        oauth,
    });

    let (server, http_addr, https_addr) = build_server(&settings, state, tls.as_ref())?;
    let (metrics_addr, metrics) = match settings.listen.metrics {
        Some(addr) => {
            let (bound, handle) = crate::metrics::listener::start(addr)?;
            (Some(bound), Some(handle))
        }
        None => (None, None),
    };
    let handle = server.handle();
    let server = tokio::spawn(server);
    let worker = tokio::spawn(crate::tasks::run(
        worker_heartbeat,
        ephemeral,
        Arc::clone(&kv),
        state_db,
        state_hasher,
        mailer,
    ));
    let setup_path = report
        .setup_token
        .map(|token| format!("/if/flow/initial-setup/?token={token}"));
    announce(http_addr, https_addr, setup_path.as_deref(), started);
    if ldap_addr.is_some() || ldaps_addr.is_some() {
        tracing::info!(ldap = ?ldap_addr, ldaps = ?ldaps_addr, "LDAP listeners ready");
    }
    Ok(RunningApp {
        http_addr,
        https_addr,
        setup_path,
        ldap_addr,
        ldaps_addr,
        metrics_addr,
        metrics,
        handle,
        server,
        worker,
        ldap,
        kv,
        control,
        database: data_dir.join("gatehouse.db"),
    })
}

/// Folds the write-ahead log into the database file once nothing writes any more, so a
/// stopped server leaves one self-contained file (committed data is safe either way:
/// this is tidiness for copies and upgrades, not durability).
fn checkpoint_sqlite(path: &Path) -> Result<(), rusqlite::Error> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(2))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
}

/// The control socket that lets `gatehouse backup` copy the redb state, which only this
/// process may open. Without it the server still runs (a data directory whose path is
/// too long for a Unix socket, say), and a backup then says the state cannot be copied.
fn start_control_socket(
    data_dir: &Path,
    redb: Arc<RedbKv>,
) -> Option<crate::backup::control::ControlSocket> {
    let snapshot: crate::backup::control::KvSnapshotter =
        Arc::new(move |target: &Path| Ok(redb.snapshot_to(target)?));
    match crate::backup::control::ControlSocket::start(data_dir, snapshot) {
        Ok(control) => Some(control),
        Err(error) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "no control socket; `gatehouse backup` will not work while the server runs"
            );
            None
        }
    }
}

/// For `gatehouse backup` when no server runs: copies `ephemeral.redb` into `target`
/// through redb (never a raw file copy); `Ok(false)` when there is no such file.
pub fn snapshot_kv_offline(data_dir: &Path, target: &Path) -> anyhow::Result<bool> {
    let path = data_dir.join("ephemeral.redb");
    if !path.is_file() {
        return Ok(false);
    }
    RedbKv::open(&path)?.snapshot_to(target)?;
    Ok(true)
}

/// The LDAP (with StartTLS) and LDAPS listeners that are configured, with gatehouse's
/// TLS certificate (`data/tls/`).
async fn start_ldap(
    settings: &Settings,
    tls: Option<&Arc<rustls::ServerConfig>>,
    services: Arc<crate::providers::ldap::LdapServices>,
) -> anyhow::Result<(Vec<JoinHandle<()>>, Option<SocketAddr>, Option<SocketAddr>)> {
    use crate::providers::ldap::server::{Limits, Transport, serve};
    let Some(tls) =
        tls.filter(|_| settings.listen.ldap.is_some() || settings.listen.ldaps.is_some())
    else {
        return Ok((Vec::new(), None, None));
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(tls));
    let mut tasks = Vec::new();
    let mut bind =
        async |addr: SocketAddr, key: &str, transport: Transport| -> anyhow::Result<SocketAddr> {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} ({key})"))?;
            let bound = listener.local_addr()?;
            tasks.push(tokio::spawn(serve(
                listener,
                Arc::clone(&services),
                Limits::default(),
                transport,
            )));
            Ok(bound)
        };
    let ldap = match settings.listen.ldap {
        Some(addr) => {
            let transport = Transport::Plain {
                starttls: Some(acceptor.clone()),
            };
            Some(bind(addr, "listen.ldap", transport).await?)
        }
        None => None,
    };
    let ldaps = match settings.listen.ldaps {
        Some(addr) => Some(bind(addr, "listen.ldaps", Transport::Ldaps(acceptor)).await?),
        None => None,
    };
    Ok((tasks, ldap, ldaps))
}

/// The `[geoip]` databases, read into memory once here so that policy evaluation does no
/// I/O. A file that is not a usable database stops the start, naming the key to fix.
fn load_geoip(settings: &GeoipSettings) -> anyhow::Result<GeoipDatabases> {
    let city = settings.city_database.as_deref();
    let asn = settings.asn_database.as_deref();
    Ok(GeoipDatabases {
        city: load_geoip_file("geoip.city_database", city, GeoipDbKind::Country)?,
        asn: load_geoip_file("geoip.asn_database", asn, GeoipDbKind::Asn)?,
    })
}

fn load_geoip_file(
    key: &str,
    path: Option<&Path>,
    kind: GeoipDbKind,
) -> anyhow::Result<Option<Arc<GeoipDb>>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let database = GeoipDb::open(path, kind)
        .map_err(|error| anyhow::anyhow!("{key} ({}): {error}", path.display()))?;
    tracing::info!(
        key,
        path = %path.display(),
        database_type = database.database_type(),
        build_epoch = database.build_epoch(),
        "GeoIP database loaded"
    );
    Ok(Some(Arc::new(database)))
}

type Bound = (
    actix_web::dev::Server,
    Option<SocketAddr>,
    Option<SocketAddr>,
);

fn build_server(
    settings: &Settings,
    state: Data<AppState>,
    tls: Option<&Arc<rustls::ServerConfig>>,
) -> anyhow::Result<Bound> {
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(security_headers))
            .wrap(actix_web::middleware::from_fn(
                crate::metrics::http::record_duration,
            ))
            .configure(|config| configure(config, state.clone()))
    })
    .workers(settings.web.workers)
    .client_request_timeout(Duration::from_secs(settings.web.request_timeout_secs))
    .client_disconnect_timeout(Duration::from_secs(5))
    .keep_alive(Duration::from_secs(75))
    .max_connection_rate(256)
    .shutdown_timeout(10)
    .disable_signals();
    if let Some(addr) = settings.listen.http {
        server = server
            .bind(addr)
            .with_context(|| format!("listen.http: cannot listen on {addr}"))?;
    }
    if let (Some(addr), Some(tls)) = (settings.listen.https, tls) {
        server = server
            .bind_rustls_0_23(addr, (**tls).clone())
            .with_context(|| format!("listen.https: cannot listen on {addr}"))?;
    }
    let mut http_addr = None;
    let mut https_addr = None;
    for (addr, scheme) in server.addrs_with_scheme() {
        match scheme {
            "https" => https_addr = https_addr.or(Some(addr)),
            _ => http_addr = http_addr.or(Some(addr)),
        }
    }
    Ok((server.run(), http_addr, https_addr))
}

fn announce(
    http: Option<SocketAddr>,
    https: Option<SocketAddr>,
    setup_path: Option<&str>,
    started: std::time::Instant,
) {
    let elapsed_ms = started.elapsed().as_millis();
    tracing::info!(http = ?http, https = ?https, elapsed_ms, "gatehouse is ready");
    if let Some(path) = setup_path {
        let base = match (http, https) {
            (Some(addr), _) => format!("http://{}", display_host(addr)),
            (None, Some(addr)) => format!("https://{}", display_host(addr)),
            _ => String::new(),
        };
        tracing::warn!(
            "initial setup: open {base}{path} to choose the akadmin password (the link works once; \
             restart for a new one)"
        );
    }
}

/// `0.0.0.0:9000` is not something to type into a browser: show `localhost:9000`.
fn display_host(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data_dir: cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// The configured secret key, or the one kept in `secret.key` (generated on first start,
/// mode 0600). It signs CSRF tokens and seals secrets at rest, so it must not change.
pub fn load_secret_key(settings: &Settings, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(key) = &settings.secret_key {
        return Ok(key.expose().to_owned());
    }
    let path = data_dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Ok(_) | Err(_)
            if !path.exists()
                || std::fs::metadata(&path)
                    .map(|m| m.len() == 0)
                    .unwrap_or(true) =>
        {
            let key = random_token(48);
            crate::fsutil::write_private(&path, key.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new secret key");
            Ok(key)
        }
        Ok(_) => Ok(String::new()),
        Err(error) => Err(anyhow::anyhow!("cannot read {}: {error}", path.display())),
    }
}

pub use crate::clock::SystemClock;

/// The store for CLI commands that run beside a live server: SQLite is safe to share
/// between processes (the server's redb file is not, so the CLI never opens it).
pub fn open_store_for_cli(settings: &Settings) -> anyhow::Result<Arc<dyn crate::store::Store>> {
    let path = settings.data_dir.join("gatehouse.db");
    if !path.exists() {
        anyhow::bail!(
            "no database at {} (start the server once first, or pass --data-dir)",
            path.display()
        );
    }
    Ok(Arc::new(SqliteStore::open(&path)?))
}

/// Starts with the system clock and redb, as `gatehouse serve` does.
pub async fn start_default(settings: Settings) -> anyhow::Result<RunningApp> {
    start(settings, Arc::new(SystemClock), KvChoice::Redb).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn geoip_databases_load_and_a_bad_file_names_its_key() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/geoip");
        let none = load_geoip(&GeoipSettings::default()).unwrap();
        assert!(none.city.is_none() && none.asn.is_none());
        let both = load_geoip(&GeoipSettings {
            city_database: Some(dir.join("GeoLite2-Country-Test.mmdb")),
            asn_database: Some(dir.join("GeoLite2-ASN-Test.mmdb")),
        })
        .unwrap();
        assert!(both.city.is_some() && both.asn.is_some());

        let swapped = GeoipSettings {
            city_database: None,
            asn_database: Some(dir.join("GeoLite2-Country-Test.mmdb")),
        };
        let error = load_geoip(&swapped).unwrap_err().to_string();
        assert!(error.starts_with("geoip.asn_database ("), "{error}");
        assert!(error.ends_with("expected an ASN database"), "{error}");
        let not_a_database = GeoipSettings {
            city_database: Some(dir.join("make_fixtures.py")),
            asn_database: None,
        };
        let error = load_geoip(&not_a_database).unwrap_err().to_string();
        assert!(error.starts_with("geoip.city_database ("), "{error}");
        assert!(error.contains("not a MaxMind DB file"), "{error}");
    }
}
