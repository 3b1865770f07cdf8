//! The environment layers: mapping `AUTHENTIK_*` and `GATEHOUSE_*` variables to
//! setting paths, resolving `_FILE` / `file://` / `env://` values, and [`set`],
//! which parses one raw string into one leaf of [`Settings`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::ConfigError;
use super::secret::Secret;
use super::settings::{
    KNOWN_PATHS, LogFormat, Settings, StorageBackend, parse_cidr, parse_listen_addr,
};

const GATEHOUSE_PREFIX: &str = "GATEHOUSE_";
const AUTHENTIK_PREFIX: &str = "AUTHENTIK_";
const FILE_SUFFIX: &str = "_FILE";

/// `GATEHOUSE_*` names that belong to the command line, not to [`Settings`];
/// they are neither applied nor warned about.
const RESERVED: &[&str] = &["GATEHOUSE_CONFIG"];

/// Single-underscore shorthands accepted after `GATEHOUSE_` (lower-cased).
const SHORTHANDS: &[(&str, &str)] = &[
    ("log_level", "log.level"),
    ("log_format", "log.format"),
    ("bootstrap_password", "bootstrap.password"),
    ("bootstrap_token", "bootstrap.token"),
    ("bootstrap_email", "bootstrap.email"),
];

/// authentik's variable names that we honour (without the `AUTHENTIK_` prefix).
const AUTHENTIK_ALIASES: &[(&str, &str)] = &[
    ("SECRET_KEY", "secret_key"),
    ("COOKIE_DOMAIN", "cookie_domain"),
    ("LOG_LEVEL", "log.level"),
    ("LISTEN__HTTP", "listen.http"),
    ("LISTEN__HTTPS", "listen.https"),
    ("LISTEN__METRICS", "listen.metrics"),
    ("LISTEN__LDAP", "listen.ldap"),
    ("LISTEN__LDAPS", "listen.ldaps"),
    ("LISTEN__RADIUS", "listen.radius"),
    ("LISTEN__TRUSTED_PROXY_CIDRS", "listen.trusted_proxy_cidrs"),
    ("EMAIL__HOST", "email.host"),
    ("EMAIL__PORT", "email.port"),
    ("EMAIL__USERNAME", "email.username"),
    ("EMAIL__PASSWORD", "email.password"),
    ("EMAIL__USE_TLS", "email.use_tls"),
    ("EMAIL__USE_SSL", "email.use_ssl"),
    ("EMAIL__TIMEOUT", "email.timeout_secs"),
    ("EMAIL__FROM", "email.from"),
    ("POSTGRESQL__HOST", "postgresql.host"),
    ("POSTGRESQL__PORT", "postgresql.port"),
    ("POSTGRESQL__USER", "postgresql.user"),
    ("POSTGRESQL__PASSWORD", "postgresql.password"),
    ("POSTGRESQL__NAME", "postgresql.name"),
    ("POSTGRESQL__SSLMODE", "postgresql.sslmode"),
    ("BOOTSTRAP_PASSWORD", "bootstrap.password"),
    ("BOOTSTRAP_TOKEN", "bootstrap.token"),
    ("BOOTSTRAP_EMAIL", "bootstrap.email"),
    ("EVENTS__CONTEXT_PROCESSORS__GEOIP", "geoip.city_database"),
    ("EVENTS__CONTEXT_PROCESSORS__ASN", "geoip.asn_database"),
];

/// One variable that targets a setting.
struct Assignment<'a> {
    var: &'a str,
    value: &'a str,
    from_file: bool,
}

/// Applies the `AUTHENTIK_*` layer, then the `GATEHOUSE_*` layer, to `settings`.
/// Returns warnings (unknown `GATEHOUSE_*` names, conflicting variables).
pub fn apply(
    settings: &mut Settings,
    env: &BTreeMap<String, String>,
) -> Result<Vec<String>, ConfigError> {
    let mut warnings = Vec::new();
    let mut authentik: BTreeMap<&str, Assignment<'_>> = BTreeMap::new();
    let mut gatehouse: BTreeMap<&str, Assignment<'_>> = BTreeMap::new();

    // BTreeMap iteration is sorted by name, so conflicts resolve the same way
    // every time: `X` beats `X_FILE`, `LOG_LEVEL` beats `LOG__LEVEL`.
    for (var, value) in env {
        let (layer, path, from_file) = if let Some(rest) = var.strip_prefix(AUTHENTIK_PREFIX) {
            let (name, from_file) = split_file_suffix(rest);
            match authentik_path(name) {
                Some(path) => (&mut authentik, path, from_file),
                None => continue,
            }
        } else if let Some(rest) = var.strip_prefix(GATEHOUSE_PREFIX) {
            if RESERVED.contains(&var.as_str()) {
                continue;
            }
            let (name, from_file) = split_file_suffix(rest);
            match gatehouse_path(name) {
                Some(path) => (&mut gatehouse, path, from_file),
                None => {
                    warnings.push(format!("unknown environment variable {var} ignored"));
                    continue;
                }
            }
        } else {
            continue;
        };
        if let Some(winner) = layer.get(path) {
            warnings.push(format!(
                "environment variable {var} ignored: {} also sets {path}",
                winner.var
            ));
            continue;
        }
        let assignment = Assignment {
            var,
            value,
            from_file,
        };
        layer.insert(path, assignment);
    }

    for layer in [authentik, gatehouse] {
        for (path, assignment) in layer {
            let value = resolve(&assignment, env)?;
            set(settings, path, &value).map_err(|message| ConfigError::Env {
                var: assignment.var.to_owned(),
                message,
            })?;
        }
    }
    Ok(warnings)
}

/// Splits a trailing `_FILE` off a variable name (after the prefix).
fn split_file_suffix(name: &str) -> (&str, bool) {
    match name.strip_suffix(FILE_SUFFIX) {
        Some(base) if !base.is_empty() => (base, true),
        _ => (name, false),
    }
}

fn authentik_path(name: &str) -> Option<&'static str> {
    AUTHENTIK_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, path)| *path)
}

/// `LISTEN__HTTP` → `listen.http`; shorthands like `LOG_LEVEL` → `log.level`.
fn gatehouse_path(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if let Some((_, path)) = SHORTHANDS.iter().find(|(short, _)| *short == lower) {
        return Some(path);
    }
    let dotted = lower.replace("__", ".");
    KNOWN_PATHS.iter().find(|known| **known == dotted).copied()
}

/// Produces the effective string for an assignment: file contents for
/// `*_FILE` and `file://`, another variable for `env://`, else the value.
fn resolve(
    assignment: &Assignment<'_>,
    env: &BTreeMap<String, String>,
) -> Result<String, ConfigError> {
    let var = assignment.var;
    let value = assignment.value;
    if assignment.from_file {
        return read_value_file(var, Path::new(value));
    }
    if let Some(path) = value.strip_prefix("file://") {
        return read_value_file(var, Path::new(path));
    }
    if let Some(name) = value.strip_prefix("env://") {
        return env.get(name).cloned().ok_or_else(|| ConfigError::Env {
            var: var.to_owned(),
            message: format!("{value}: variable {name} is not set"),
        });
    }
    Ok(value.to_owned())
}

fn read_value_file(var: &str, path: &Path) -> Result<String, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.trim_end().to_owned()),
        Err(err) => Err(ConfigError::Env {
            var: var.to_owned(),
            message: format!("cannot read {}: {}", path.display(), super::io_reason(&err)),
        }),
    }
}

/// Parses `raw` into the leaf at `path`. The error is a reason only; the
/// caller prefixes the variable or key it came from.
pub fn set(settings: &mut Settings, path: &str, raw: &str) -> Result<(), String> {
    let s = settings;
    match path {
        "data_dir" => s.data_dir = PathBuf::from(raw),
        "secret_key" => s.secret_key = opt_secret(raw),
        "cookie_domain" => s.cookie_domain = opt_string(raw),
        "log.level" => s.log.level = log_level(raw),
        "log.format" => s.log.format = log_format(raw)?,
        "listen.http" => s.listen.http = parse_listen_addr(raw)?,
        "listen.https" => s.listen.https = parse_listen_addr(raw)?,
        "listen.metrics" => s.listen.metrics = parse_listen_addr(raw)?,
        "listen.ldap" => s.listen.ldap = parse_listen_addr(raw)?,
        "listen.ldaps" => s.listen.ldaps = parse_listen_addr(raw)?,
        "listen.radius" => s.listen.radius = parse_listen_addr(raw)?,
        "listen.trusted_proxy_cidrs" => s.listen.trusted_proxy_cidrs = cidrs(raw)?,
        "email.host" => s.email.host = raw.to_owned(),
        "email.port" => s.email.port = number(raw)?,
        "email.username" => s.email.username = raw.to_owned(),
        "email.password" => s.email.password = opt_secret(raw),
        "email.use_tls" => s.email.use_tls = boolean(raw)?,
        "email.use_ssl" => s.email.use_ssl = boolean(raw)?,
        "email.timeout_secs" => s.email.timeout_secs = number(raw)?,
        "email.from" => s.email.from = raw.to_owned(),
        "postgresql.host" => s.postgresql.host = raw.to_owned(),
        "postgresql.port" => s.postgresql.port = number(raw)?,
        "postgresql.user" => s.postgresql.user = raw.to_owned(),
        "postgresql.password" => s.postgresql.password = opt_secret(raw),
        "postgresql.name" => s.postgresql.name = raw.to_owned(),
        "postgresql.sslmode" => s.postgresql.sslmode = raw.trim().to_owned(),
        "storage.backend" => s.storage.backend = backend(raw)?,
        "password_hashing.memory_kib" => s.password_hashing.memory_kib = number(raw)?,
        "password_hashing.iterations" => s.password_hashing.iterations = number(raw)?,
        "password_hashing.parallelism" => s.password_hashing.parallelism = number(raw)?,
        "password_hashing.max_concurrent" => s.password_hashing.max_concurrent = number(raw)?,
        "session.idle_timeout_secs" => s.session.idle_timeout_secs = number(raw)?,
        "session.absolute_timeout_secs" => s.session.absolute_timeout_secs = number(raw)?,
        "bootstrap.password" => s.bootstrap.password = opt_secret(raw),
        "bootstrap.token" => s.bootstrap.token = opt_secret(raw),
        "bootstrap.email" => s.bootstrap.email = opt_string(raw),
        "web.workers" => s.web.workers = number(raw)?,
        "web.max_body_bytes" => s.web.max_body_bytes = number(raw)?,
        "web.request_timeout_secs" => s.web.request_timeout_secs = number(raw)?,
        "web.secure_cookies_on_http" => s.web.secure_cookies_on_http = boolean(raw)?,
        "geoip.city_database" => s.geoip.city_database = opt_path(raw),
        "geoip.asn_database" => s.geoip.asn_database = opt_path(raw),
        _ => return Err(format!("`{path}` is not a setting")),
    }
    Ok(())
}

/// Empty means "not set".
fn opt_string(raw: &str) -> Option<String> {
    (!raw.is_empty()).then(|| raw.to_owned())
}

/// Empty means "not set" (authentik users disable GeoIP with an empty path).
fn opt_path(raw: &str) -> Option<PathBuf> {
    (!raw.is_empty()).then(|| PathBuf::from(raw))
}

/// Empty means "not set".
fn opt_secret(raw: &str) -> Option<Secret> {
    (!raw.is_empty()).then(|| Secret::new(raw))
}

/// authentik documents `warning`; `tracing` spells it `warn`.
fn log_level(raw: &str) -> String {
    let value = raw.trim();
    if value.eq_ignore_ascii_case("warning") {
        "warn".to_owned()
    } else {
        value.to_owned()
    }
}

fn log_format(raw: &str) -> Result<LogFormat, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!(
            "'{raw}' is not a log format (expected \"text\" or \"json\")"
        )),
    }
}

fn backend(raw: &str) -> Result<StorageBackend, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "sqlite" => Ok(StorageBackend::Sqlite),
        "postgresql" | "postgres" => Ok(StorageBackend::Postgresql),
        _ => Err(format!(
            "'{raw}' is not a storage backend (expected \"sqlite\" or \"postgresql\")"
        )),
    }
}

/// Comma-separated CIDRs; empty entries are skipped, so `""` means none.
fn cidrs(raw: &str) -> Result<Vec<ipnet::IpNet>, String> {
    raw.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(parse_cidr)
        .collect()
}

fn boolean(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "'{raw}' is not a boolean (expected true/false, yes/no, on/off or 1/0)"
        )),
    }
}

/// Unsigned integer types a setting can have.
trait Unsigned: FromStr {
    const MAX: u128;
}

macro_rules! unsigned {
    ($($t:ty),*) => { $(impl Unsigned for $t { const MAX: u128 = <$t>::MAX as u128; })* };
}
unsigned!(u16, u32, u64, usize);

fn number<T: Unsigned>(raw: &str) -> Result<T, String> {
    let value = raw.trim();
    if let Ok(n) = value.parse::<T>() {
        return Ok(n);
    }
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        Err(format!("'{raw}' is too large (maximum {})", T::MAX))
    } else {
        Err(format!(
            "'{raw}' is not a number (expected a whole number from 0 to {})",
            T::MAX
        ))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    #[test]
    fn every_known_path_is_settable() {
        for path in KNOWN_PATHS {
            let sample = match *path {
                p if p.starts_with("listen.") && p != "listen.trusted_proxy_cidrs" => "127.0.0.1:1",
                "listen.trusted_proxy_cidrs" => "10.0.0.0/8, 192.0.2.1",
                "log.format" => "json",
                "storage.backend" => "postgresql",
                "email.use_tls" | "email.use_ssl" | "web.secure_cookies_on_http" => "yes",
                p if p.ends_with("port")
                    || p.ends_with("_secs")
                    || p.starts_with("password_hashing.")
                    || p.starts_with("web.") =>
                {
                    "42"
                }
                _ => "value",
            };
            set(&mut Settings::default(), path, sample).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
        assert!(set(&mut Settings::default(), "nope", "x").is_err());
    }

    #[test]
    fn every_known_path_has_a_gatehouse_name() {
        for path in KNOWN_PATHS {
            let var = path.replace('.', "__").to_ascii_uppercase();
            assert_eq!(gatehouse_path(&var), Some(*path), "{var}");
        }
        for (_, path) in AUTHENTIK_ALIASES.iter().chain(SHORTHANDS) {
            assert!(KNOWN_PATHS.contains(path), "{path}");
        }
    }

    #[test]
    fn scalar_parsers() {
        for t in ["true", "TRUE", "1", "yes", "On"] {
            assert!(boolean(t).unwrap());
        }
        for f in ["false", "0", "No", "off"] {
            assert!(!boolean(f).unwrap());
        }
        assert!(boolean("maybe").unwrap_err().contains("'maybe'"));
        assert_eq!(number::<u16>(" 25 ").unwrap(), 25);
        assert!(number::<u16>("70000").unwrap_err().contains("too large"));
        assert!(number::<u16>("-1").unwrap_err().contains("not a number"));
        assert_eq!(cidrs("").unwrap(), Vec::<ipnet::IpNet>::new());
        assert_eq!(cidrs("10.0.0.0/8,::1").unwrap().len(), 2);
        assert!(cidrs("10.0.0.0/8,bogus").unwrap_err().contains("'bogus'"));
        assert_eq!(log_level("WARNING"), "warn");
    }
}
