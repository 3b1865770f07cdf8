//! End-to-end tests of [`Settings::load`]: layering, env naming, value
//! sources, warnings and masking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load_env(pairs: &[(&str, &str)]) -> Result<(Settings, Vec<String>), ConfigError> {
    Settings::load(None, env(pairs))
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn addr(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn defaults() {
    let (s, warnings) = load_env(&[]).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(s.data_dir, Path::new("./data"));
    assert!(s.secret_key.is_none() && s.cookie_domain.is_none());
    assert_eq!(s.log.level, "info");
    assert_eq!(s.log.format, LogFormat::Text);
    assert_eq!(s.listen.http, addr("0.0.0.0:9000"));
    assert_eq!(s.listen.https, addr("0.0.0.0:9443"));
    assert_eq!(s.listen.metrics, addr("0.0.0.0:9300"));
    assert_eq!(s.listen.ldap, addr("0.0.0.0:3389"));
    assert_eq!(s.listen.ldaps, addr("0.0.0.0:6636"));
    assert_eq!(s.listen.radius, addr("0.0.0.0:1812"));
    assert_eq!(s.listen.trusted_proxy_cidrs.len(), 6);
    assert_eq!((s.email.host.as_str(), s.email.port), ("localhost", 25));
    assert_eq!(s.email.timeout_secs, 10);
    assert_eq!(s.email.from, "gatehouse@localhost");
    assert_eq!(
        (s.postgresql.port, s.postgresql.sslmode.as_str()),
        (5432, "prefer")
    );
    assert_eq!(s.storage.backend, StorageBackend::Sqlite);
    assert_eq!(s.password_hashing.memory_kib, 19_456);
    assert_eq!(
        (
            s.password_hashing.iterations,
            s.password_hashing.parallelism
        ),
        (2, 1)
    );
    assert!(s.password_hashing.max_concurrent >= 1);
    assert_eq!(s.session.idle_timeout_secs, 7 * 86_400);
    assert_eq!(s.session.absolute_timeout_secs, 30 * 86_400);
    assert_eq!(
        (
            s.web.workers,
            s.web.max_body_bytes,
            s.web.request_timeout_secs
        ),
        (2, 1_048_576, 30)
    );
    assert!(!s.web.secure_cookies_on_http);
}

#[test]
fn file_overrides_defaults() {
    let f = toml_file(
        r#"
data_dir = "/var/lib/gatehouse"
secret_key = "from-file"

[log]
level = "info,gatehouse=debug"
format = "json"

[listen]
http = "127.0.0.1:8000"
ldap = "off"
trusted_proxy_cidrs = ["10.1.0.0/16", "192.0.2.7"]

[email]
port = 587
use_tls = true

[storage]
backend = "postgresql"
"#,
    );
    let (s, _) = Settings::load(Some(f.path()), env(&[])).unwrap();
    assert_eq!(s.data_dir, Path::new("/var/lib/gatehouse"));
    assert_eq!(s.secret_key.as_ref().unwrap().expose(), "from-file");
    assert_eq!(s.log.format, LogFormat::Json);
    assert_eq!(s.listen.http, addr("127.0.0.1:8000"));
    assert_eq!(s.listen.ldap, None);
    assert_eq!(
        s.listen.https,
        addr("0.0.0.0:9443"),
        "untouched keys keep defaults"
    );
    assert_eq!(s.listen.trusted_proxy_cidrs[1].to_string(), "192.0.2.7/32");
    assert_eq!(s.email.port, 587);
    assert!(s.email.use_tls);
    assert_eq!(s.storage.backend, StorageBackend::Postgresql);
}

#[test]
fn unknown_file_key_is_an_error_naming_it() {
    let f = toml_file("[listen]\nhtp = \"0.0.0.0:1\"\n");
    let err = Settings::load(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown key `listen.htp`"), "{err}");
    assert!(
        err.starts_with(&format!("config file {}: ", f.path().display())),
        "{err}"
    );
}

#[test]
fn missing_file_is_a_one_line_error() {
    let err = Settings::load(Some(Path::new("./no-such-gatehouse.toml")), env(&[]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "config file ./no-such-gatehouse.toml: cannot read: No such file or directory"
    );
}

#[test]
fn precedence_gatehouse_over_authentik_over_file() {
    let f = toml_file("secret_key = \"file\"\n[email]\nhost = \"file-host\"\nport = 2525\n");
    let vars = env(&[
        ("AUTHENTIK_SECRET_KEY", "authentik"),
        ("GATEHOUSE_SECRET_KEY", "gatehouse"),
        ("AUTHENTIK_EMAIL__HOST", "ak-host"),
    ]);
    let (s, warnings) = Settings::load(Some(f.path()), vars).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.secret_key.unwrap().expose(), "gatehouse");
    assert_eq!(s.email.host, "ak-host");
    assert_eq!(s.email.port, 2525);
}

#[test]
fn nesting_and_shorthands() {
    let (s, warnings) = load_env(&[
        ("GATEHOUSE_LISTEN__HTTP", "[::1]:8080"),
        ("GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB", "65536"),
        ("GATEHOUSE_WEB__WORKERS", "8"),
        ("GATEHOUSE_DATA_DIR", "/srv/gh"),
        ("GATEHOUSE_LOG_LEVEL", "debug"),
        ("GATEHOUSE_LOG_FORMAT", "JSON"),
        ("GATEHOUSE_BOOTSTRAP_EMAIL", "admin@example.com"),
        ("GATEHOUSE_EMAIL__USE_SSL", "Yes"),
        (
            "GATEHOUSE_LISTEN__TRUSTED_PROXY_CIDRS",
            "10.0.0.0/8, fd00::/8",
        ),
        ("AUTHENTIK_EMAIL__TIMEOUT", "60"),
        ("AUTHENTIK_LOG_LEVEL", "warning"),
        ("AUTHENTIK_POSTGRESQL__PORT", "6543"),
        ("AUTHENTIK_REDIS__HOST", "ignored-silently"),
        ("AUTHENTIK_ERROR_REPORTING__ENABLED", "true"),
        ("PATH", "/usr/bin"),
    ])
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.listen.http, addr("[::1]:8080"));
    assert_eq!(s.password_hashing.memory_kib, 65536);
    assert_eq!(s.web.workers, 8);
    assert_eq!(s.data_dir, Path::new("/srv/gh"));
    assert_eq!(s.log.level, "debug", "GATEHOUSE_ beats AUTHENTIK_");
    assert_eq!(s.log.format, LogFormat::Json);
    assert_eq!(s.bootstrap.email.as_deref(), Some("admin@example.com"));
    assert!(s.email.use_ssl);
    assert_eq!(s.listen.trusted_proxy_cidrs.len(), 2);
    assert_eq!(s.email.timeout_secs, 60);
    assert_eq!(s.postgresql.port, 6543);

    let (s, _) = load_env(&[("AUTHENTIK_LOG_LEVEL", "warning")]).unwrap();
    assert_eq!(s.log.level, "warn");
}

#[test]
fn file_suffix_and_value_forms() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "s3cret-from-file\n").unwrap();
    let pg = dir.path().join("pg");
    std::fs::write(&pg, "pg-pass  \n").unwrap();
    let key_str = key.to_str().unwrap();
    let (s, warnings) = load_env(&[
        ("GATEHOUSE_SECRET_KEY_FILE", key_str),
        (
            "AUTHENTIK_POSTGRESQL__PASSWORD",
            &format!("file://{}", pg.display()),
        ),
        ("GATEHOUSE_BOOTSTRAP_TOKEN", "env://MY_TOKEN"),
        ("MY_TOKEN", "tok-123"),
    ])
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.secret_key.unwrap().expose(), "s3cret-from-file");
    assert_eq!(s.postgresql.password.unwrap().expose(), "pg-pass");
    assert_eq!(s.bootstrap.token.unwrap().expose(), "tok-123");

    let (s, _) = load_env(&[("AUTHENTIK_POSTGRESQL__PASSWORD_FILE", key_str)]).unwrap();
    assert_eq!(s.postgresql.password.unwrap().expose(), "s3cret-from-file");

    // The direct value beats its _FILE twin, with a warning.
    let (s, warnings) = load_env(&[
        ("GATEHOUSE_SECRET_KEY", "direct"),
        ("GATEHOUSE_SECRET_KEY_FILE", key_str),
    ])
    .unwrap();
    assert_eq!(s.secret_key.unwrap().expose(), "direct");
    assert_eq!(warnings.len(), 1, "{warnings:?}");

    let err = load_env(&[("GATEHOUSE_SECRET_KEY_FILE", "/nonexistent/gatehouse-key")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "GATEHOUSE_SECRET_KEY_FILE: cannot read /nonexistent/gatehouse-key: No such file or directory"
    );
    let err = load_env(&[("GATEHOUSE_SECRET_KEY", "env://NOPE")])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("GATEHOUSE_SECRET_KEY: ") && err.contains("NOPE"),
        "{err}"
    );
}

#[test]
fn bad_values_name_the_variable() {
    let err = load_env(&[("GATEHOUSE_EMAIL__PORT", "abc")])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("GATEHOUSE_EMAIL__PORT: 'abc'"), "{err}");
    assert!(!err.contains('\n'));
    let err = load_env(&[("AUTHENTIK_EMAIL__PORT", "99999")])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("AUTHENTIK_EMAIL__PORT: "), "{err}");
    let err = load_env(&[("GATEHOUSE_LISTEN__HTTP", "abc")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "GATEHOUSE_LISTEN__HTTP: 'abc' is not a socket address (expected host:port, or \"off\")"
    );
    let err = load_env(&[("GATEHOUSE_WEB__SECURE_COOKIES_ON_HTTP", "perhaps")])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("GATEHOUSE_WEB__SECURE_COOKIES_ON_HTTP: "),
        "{err}"
    );
    // Validation runs after the env layer.
    let err = load_env(&[("GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB", "4")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "password_hashing.memory_kib: must be at least 8 × parallelism (got 4)"
    );
}

#[test]
fn off_and_empty_values() {
    let (s, _) = load_env(&[
        ("GATEHOUSE_LISTEN__LDAP", "off"),
        ("AUTHENTIK_LISTEN__RADIUS", "OFF"),
        ("GATEHOUSE_LISTEN__METRICS", ""),
        ("GATEHOUSE_COOKIE_DOMAIN", ""),
    ])
    .unwrap();
    assert_eq!(
        (s.listen.ldap, s.listen.radius, s.listen.metrics),
        (None, None, None)
    );
    assert_eq!(s.listen.http, addr("0.0.0.0:9000"));
    assert!(s.cookie_domain.is_none());
    let (s, _) = load_env(&[("AUTHENTIK_COOKIE_DOMAIN", "example.com")]).unwrap();
    assert_eq!(s.cookie_domain.as_deref(), Some("example.com"));
}

#[test]
fn unknown_gatehouse_variable_warns() {
    let (_, warnings) = load_env(&[
        ("GATEHOUSE_FOO", "1"),
        ("GATEHOUSE_LISTEN__HTP", "x"),
        ("GATEHOUSE_CONFIG", "/etc/gatehouse.toml"),
    ])
    .unwrap();
    assert_eq!(
        warnings,
        vec![
            "unknown environment variable GATEHOUSE_FOO ignored".to_owned(),
            "unknown environment variable GATEHOUSE_LISTEN__HTP ignored".to_owned(),
        ]
    );
}

fn settings_with_secrets() -> Settings {
    let (s, _) = load_env(&[
        ("GATEHOUSE_SECRET_KEY", "sk-VERY-SECRET-1"),
        ("GATEHOUSE_EMAIL__PASSWORD", "mail-VERY-SECRET-2"),
        ("GATEHOUSE_POSTGRESQL__PASSWORD", "pg-VERY-SECRET-3"),
        ("GATEHOUSE_BOOTSTRAP_PASSWORD", "bs-VERY-SECRET-4"),
        ("GATEHOUSE_BOOTSTRAP_TOKEN", "tok-VERY-SECRET-5"),
        ("GATEHOUSE_LISTEN__RADIUS", "off"),
    ])
    .unwrap();
    s
}

#[test]
fn masked_toml_hides_secrets_and_round_trips() {
    let s = settings_with_secrets();
    let text = s.to_masked_toml();
    assert!(!text.contains("VERY-SECRET"), "{text}");
    assert!(text.contains(MASK));
    assert!(text.contains("radius = \"off\""), "{text}");
    assert!(text.contains("http = \"0.0.0.0:9000\""), "{text}");
    // The dump is itself a valid config file.
    let f = toml_file(&text);
    let (back, _) = Settings::load(Some(f.path()), env(&[])).unwrap();
    assert_eq!(back.listen.radius, None);
    assert_eq!(back.secret_key.unwrap().expose(), MASK);
}

#[test]
fn debug_hides_secrets() {
    let s = settings_with_secrets();
    let debug = format!("{s:?} {s:#?}");
    assert!(!debug.contains("VERY-SECRET"), "{debug}");
    assert!(debug.contains(MASK));
}

#[test]
fn known_paths_match_the_structs() {
    let s = settings_with_secrets();
    let mut s = s;
    s.cookie_domain = Some("example.com".into());
    s.bootstrap.email = Some("a@b".into());
    s.geoip.city_database = Some("/geoip/GeoLite2-City.mmdb".into());
    s.geoip.asn_database = Some("/geoip/GeoLite2-ASN.mmdb".into());
    let value = toml::Value::try_from(&s).unwrap();
    let mut leaves = Vec::new();
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, v, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }
    walk("", &value, &mut leaves);
    leaves.sort();
    let mut known: Vec<String> = KNOWN_PATHS.iter().map(|p| (*p).to_owned()).collect();
    known.sort();
    assert_eq!(leaves, known);
}

#[test]
fn set_for_cli_overrides() {
    let mut s = Settings::default();
    s.set("listen.ldap", "off").unwrap();
    assert_eq!(s.listen.ldap, None);
    let err = s.set("web.workers", "many").unwrap_err().to_string();
    assert!(err.starts_with("web.workers: 'many'"), "{err}");
    assert!(s.set("web.wrokers", "1").is_err());
}

#[test]
fn geoip_databases_from_authentik_names_gatehouse_names_and_the_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/geoip");
    let city = dir.join("GeoLite2-Country-Test.mmdb");
    let asn = dir.join("GeoLite2-ASN-Test.mmdb");
    let (city_text, asn_text) = (city.to_str().unwrap(), asn.to_str().unwrap());
    let (s, warnings) = load_env(&[
        ("AUTHENTIK_EVENTS__CONTEXT_PROCESSORS__GEOIP", city_text),
        ("AUTHENTIK_EVENTS__CONTEXT_PROCESSORS__ASN", asn_text),
    ])
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.geoip.city_database.as_deref(), Some(city.as_path()));
    assert_eq!(s.geoip.asn_database.as_deref(), Some(asn.as_path()));

    // authentik users switch GeoIP off with an empty path.
    let (s, _) = load_env(&[
        ("AUTHENTIK_EVENTS__CONTEXT_PROCESSORS__GEOIP", city_text),
        ("GATEHOUSE_GEOIP__CITY_DATABASE", ""),
        ("GATEHOUSE_GEOIP__ASN_DATABASE", asn_text),
    ])
    .unwrap();
    assert_eq!(s.geoip.city_database, None);
    assert_eq!(s.geoip.asn_database.as_deref(), Some(asn.as_path()));

    let err = load_env(&[("GATEHOUSE_GEOIP__CITY_DATABASE", "/nonexistent/City.mmdb")])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("geoip.city_database: /nonexistent/City.mmdb"),
        "{err}"
    );

    let f = toml_file(&format!("[geoip]\nasn_database = {asn_text:?}\n"));
    let (s, _) = Settings::load(Some(f.path()), env(&[])).unwrap();
    assert_eq!(s.geoip.asn_database.as_deref(), Some(asn.as_path()));
}
