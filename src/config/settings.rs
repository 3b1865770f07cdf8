//! The typed settings tree: every struct, its defaults, its serde shape, and the
//! list of dotted key paths ([`KNOWN_PATHS`]) shared by the file and env layers.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::secret::Secret;

/// Every leaf key, as a dotted path. The env layer and the config-file checks
/// both use this list; a test keeps it in sync with the structs.
pub const KNOWN_PATHS: &[&str] = &[
    "data_dir",
    "secret_key",
    "cookie_domain",
    "log.level",
    "log.format",
    "listen.http",
    "listen.https",
    "listen.metrics",
    "listen.ldap",
    "listen.ldaps",
    "listen.radius",
    "listen.trusted_proxy_cidrs",
    "email.host",
    "email.port",
    "email.username",
    "email.password",
    "email.use_tls",
    "email.use_ssl",
    "email.timeout_secs",
    "email.from",
    "postgresql.host",
    "postgresql.port",
    "postgresql.user",
    "postgresql.password",
    "postgresql.name",
    "postgresql.sslmode",
    "storage.backend",
    "password_hashing.memory_kib",
    "password_hashing.iterations",
    "password_hashing.parallelism",
    "password_hashing.max_concurrent",
    "session.idle_timeout_secs",
    "session.absolute_timeout_secs",
    "bootstrap.password",
    "bootstrap.token",
    "bootstrap.email",
    "web.workers",
    "web.max_body_bytes",
    "web.request_timeout_secs",
    "web.secure_cookies_on_http",
    "geoip.city_database",
    "geoip.asn_database",
];

/// Whether `path` names a section (a table) rather than a leaf.
pub fn is_section(path: &str) -> bool {
    KNOWN_PATHS.iter().any(|known| {
        known
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// The whole configuration. See the module docs of [`crate::config`] for how
/// the layers combine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub secret_key: Option<Secret>,
    pub cookie_domain: Option<String>,
    pub log: LogSettings,
    pub listen: ListenSettings,
    pub email: EmailSettings,
    pub postgresql: PostgresSettings,
    pub storage: StorageSettings,
    pub password_hashing: PasswordHashSettings,
    pub session: SessionSettings,
    pub bootstrap: BootstrapSettings,
    pub web: WebSettings,
    pub geoip: GeoipSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            secret_key: None,
            cookie_domain: None,
            log: LogSettings::default(),
            listen: ListenSettings::default(),
            email: EmailSettings::default(),
            postgresql: PostgresSettings::default(),
            storage: StorageSettings::default(),
            password_hashing: PasswordHashSettings::default(),
            session: SessionSettings::default(),
            bootstrap: BootstrapSettings::default(),
            web: WebSettings::default(),
            geoip: GeoipSettings::default(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Logging: a level or `tracing` filter directive, and the output format.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

/// Listener addresses (`None` = disabled) and which peers may set
/// `X-Forwarded-*` headers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenSettings {
    #[serde(with = "listen_addr")]
    pub http: Option<SocketAddr>,
    #[serde(with = "listen_addr")]
    pub https: Option<SocketAddr>,
    #[serde(with = "listen_addr")]
    pub metrics: Option<SocketAddr>,
    #[serde(with = "listen_addr")]
    pub ldap: Option<SocketAddr>,
    #[serde(with = "listen_addr")]
    pub ldaps: Option<SocketAddr>,
    #[serde(with = "listen_addr")]
    pub radius: Option<SocketAddr>,
    #[serde(with = "cidr_list")]
    pub trusted_proxy_cidrs: Vec<IpNet>,
}

fn any_v4(port: u16) -> Option<SocketAddr> {
    Some(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port))
}

/// The default trusted proxy ranges: loopback, private and link-local networks.
pub fn default_trusted_proxy_cidrs() -> Vec<IpNet> {
    [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fe80::/10",
        "::1/128",
    ]
    .iter()
    .filter_map(|s| s.parse().ok())
    .collect()
}

impl Default for ListenSettings {
    fn default() -> Self {
        Self {
            http: any_v4(9000),
            https: any_v4(9443),
            metrics: any_v4(9300),
            ldap: any_v4(3389),
            ldaps: any_v4(6636),
            radius: any_v4(1812),
            trusted_proxy_cidrs: default_trusted_proxy_cidrs(),
        }
    }
}

/// Outgoing mail (SMTP).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Option<Secret>,
    pub use_tls: bool,
    pub use_ssl: bool,
    pub timeout_secs: u64,
    pub from: String,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            host: "localhost".to_owned(),
            port: 25,
            username: String::new(),
            password: None,
            use_tls: false,
            use_ssl: false,
            timeout_secs: 10,
            from: "gatehouse@localhost".to_owned(),
        }
    }
}

/// PostgreSQL connection (used when `storage.backend = "postgresql"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub name: String,
    pub sslmode: String,
}

impl Default for PostgresSettings {
    fn default() -> Self {
        Self {
            host: "localhost".to_owned(),
            port: 5432,
            user: "gatehouse".to_owned(),
            password: None,
            name: "gatehouse".to_owned(),
            sslmode: "prefer".to_owned(),
        }
    }
}

/// Which database holds the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    #[default]
    Sqlite,
    Postgresql,
}

/// Storage selection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    pub backend: StorageBackend,
}

/// Argon2id cost parameters and how many hashes may run at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordHashSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub max_concurrent: usize,
}

impl Default for PasswordHashSettings {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            max_concurrent: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .max(1),
        }
    }
}

/// Session lifetimes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    pub idle_timeout_secs: u64,
    pub absolute_timeout_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        const DAY: u64 = 24 * 60 * 60;
        Self {
            idle_timeout_secs: 7 * DAY,
            absolute_timeout_secs: 30 * DAY,
        }
    }
}

/// First-start credentials for the initial admin account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapSettings {
    pub password: Option<Secret>,
    pub token: Option<Secret>,
    pub email: Option<String>,
}

/// HTTP server tuning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    pub workers: usize,
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    pub secure_cookies_on_http: bool,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            workers: 2,
            max_body_bytes: 1_048_576,
            request_timeout_secs: 30,
            secure_cookies_on_http: false,
        }
    }
}

/// MaxMind DB files for the GeoIP policy (GeoLite2/GeoIP2 City or Country, and ASN),
/// read into memory at start; unset, GeoIP policies cannot be evaluated. authentik has
/// defaults under `/geoip/`; here nothing is assumed, so a missing file is never silent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoipSettings {
    pub city_database: Option<PathBuf>,
    pub asn_database: Option<PathBuf>,
}

/// Parses a listener address: `""`/`"off"` disable it, anything else must be
/// an `ip:port` socket address.
pub fn parse_listen_addr(raw: &str) -> Result<Option<SocketAddr>, String> {
    let value = raw.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| format!("'{raw}' is not a socket address (expected host:port, or \"off\")"))
}

/// Parses one CIDR; a bare IP address means a single host (/32 or /128).
pub fn parse_cidr(raw: &str) -> Result<IpNet, String> {
    let value = raw.trim();
    if let Ok(net) = value.parse::<IpNet>() {
        return Ok(net);
    }
    value
        .parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("'{raw}' is not a CIDR network (expected e.g. 10.0.0.0/8 or ::1/128)"))
}

/// Serde for `Option<SocketAddr>` as a string, `"off"` meaning `None`.
mod listen_addr {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(addr: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match addr {
            Some(a) => s.collect_str(a),
            None => s.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let raw = String::deserialize(d)?;
        super::parse_listen_addr(&raw).map_err(D::Error::custom)
    }
}

/// Serde for a list of CIDRs as an array of strings.
mod cidr_list {
    use ipnet::IpNet;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(nets.len()))?;
        for net in nets {
            seq.serialize_element(&net.to_string())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        let raw = Vec::<String>::deserialize(d)?;
        raw.iter()
            .map(|s| super::parse_cidr(s).map_err(D::Error::custom))
            .collect()
    }
}
