//! Cross-field and range checks on a fully merged [`Settings`].

use std::path::Path;

use super::ConfigError;
use super::settings::Settings;

const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];
const SSLMODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Returns the first problem found, naming the key.
pub fn validate(s: &Settings) -> Result<(), ConfigError> {
    if s.data_dir.as_os_str().is_empty() {
        return Err(invalid("data_dir", "must not be empty"));
    }
    check_log_level(&s.log.level).map_err(|m| invalid("log.level", m))?;

    let ph = &s.password_hashing;
    if ph.parallelism == 0 || ph.parallelism > 16 {
        return Err(invalid(
            "password_hashing.parallelism",
            format!("must be between 1 and 16 (got {})", ph.parallelism),
        ));
    }
    if u64::from(ph.memory_kib) < 8 * u64::from(ph.parallelism) {
        return Err(invalid(
            "password_hashing.memory_kib",
            format!("must be at least 8 × parallelism (got {})", ph.memory_kib),
        ));
    }
    if ph.iterations == 0 {
        return Err(invalid(
            "password_hashing.iterations",
            "must be at least 1 (got 0)",
        ));
    }
    if ph.max_concurrent == 0 {
        return Err(invalid(
            "password_hashing.max_concurrent",
            "must be at least 1 (got 0)",
        ));
    }

    let session = &s.session;
    if session.idle_timeout_secs == 0 {
        return Err(invalid(
            "session.idle_timeout_secs",
            "must be greater than 0",
        ));
    }
    if session.absolute_timeout_secs == 0 {
        return Err(invalid(
            "session.absolute_timeout_secs",
            "must be greater than 0",
        ));
    }
    if session.absolute_timeout_secs < session.idle_timeout_secs {
        return Err(invalid(
            "session.absolute_timeout_secs",
            format!(
                "must be at least session.idle_timeout_secs ({}) (got {})",
                session.idle_timeout_secs, session.absolute_timeout_secs
            ),
        ));
    }

    if !(1..=64).contains(&s.web.workers) {
        return Err(invalid(
            "web.workers",
            format!("must be between 1 and 64 (got {})", s.web.workers),
        ));
    }
    if s.web.max_body_bytes < 1024 {
        return Err(invalid(
            "web.max_body_bytes",
            format!("must be at least 1024 (got {})", s.web.max_body_bytes),
        ));
    }

    if s.email.port == 0 {
        return Err(invalid("email.port", "must not be 0"));
    }
    if s.email.use_tls && s.email.use_ssl {
        return Err(invalid(
            "email.use_tls",
            "cannot be combined with email.use_ssl (STARTTLS or implicit TLS, not both)",
        ));
    }
    if !SSLMODES.contains(&s.postgresql.sslmode.as_str()) {
        return Err(invalid(
            "postgresql.sslmode",
            format!(
                "'{}' is not one of {}",
                s.postgresql.sslmode,
                SSLMODES.join(", ")
            ),
        ));
    }
    check_file("geoip.city_database", s.geoip.city_database.as_deref())?;
    check_file("geoip.asn_database", s.geoip.asn_database.as_deref())?;
    Ok(())
}

/// A configured file must be there now: a GeoIP policy that errors on every request
/// because of a typo in a path is worse than a server that refuses to start.
fn check_file(key: &str, path: Option<&Path>) -> Result<(), ConfigError> {
    match path {
        Some(path) if !path.is_file() => Err(invalid(
            key,
            format!("{} does not exist or is not a file", path.display()),
        )),
        _ => Ok(()),
    }
}

fn is_level(s: &str) -> bool {
    LEVELS.iter().any(|level| level.eq_ignore_ascii_case(s))
}

/// Accepts a level or a comma-separated list of `level` / `target=level`
/// directives (the subset of `tracing`'s `EnvFilter` syntax we document).
fn check_log_level(raw: &str) -> Result<(), String> {
    if raw.trim().is_empty() {
        return Err(format!(
            "must be one of {} or a filter like \"info,gatehouse=debug\"",
            LEVELS.join("|")
        ));
    }
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let ok = match part.rsplit_once('=') {
            Some((target, level)) => !target.trim().is_empty() && is_level(level.trim()),
            None => is_level(part),
        };
        if !ok {
            return Err(format!(
                "'{part}' is not a level ({}) or target=level directive",
                LEVELS.join("|")
            ));
        }
    }
    Ok(())
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

    fn err(s: &Settings) -> String {
        validate(s).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_valid() {
        validate(&Settings::default()).unwrap();
    }

    #[test]
    fn log_levels() {
        for ok in [
            "info",
            "WARN",
            "info,gatehouse=debug",
            "gatehouse::web=trace, off",
        ] {
            check_log_level(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "loud", "info,gatehouse=loud", "=debug"] {
            assert!(check_log_level(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges() {
        let mut s = Settings::default();
        s.password_hashing.memory_kib = 4;
        assert_eq!(
            err(&s),
            "password_hashing.memory_kib: must be at least 8 × parallelism (got 4)"
        );

        let mut s = Settings::default();
        s.password_hashing.parallelism = 17;
        assert!(err(&s).starts_with("password_hashing.parallelism:"));

        let mut s = Settings::default();
        s.session.absolute_timeout_secs = 10;
        assert!(err(&s).starts_with("session.absolute_timeout_secs:"));

        let mut s = Settings::default();
        s.web.workers = 0;
        assert!(err(&s).starts_with("web.workers:"));

        let mut s = Settings::default();
        s.web.max_body_bytes = 10;
        assert!(err(&s).starts_with("web.max_body_bytes:"));

        let mut s = Settings::default();
        s.email.port = 0;
        assert!(err(&s).starts_with("email.port:"));

        let s = Settings {
            data_dir: "".into(),
            ..Settings::default()
        };
        assert!(err(&s).starts_with("data_dir:"));

        let mut s = Settings::default();
        s.log.level = "verbose".into();
        assert!(err(&s).starts_with("log.level:"));
    }

    #[test]
    fn geoip_databases_must_exist() {
        let mut s = Settings::default();
        s.geoip.asn_database = Some("/nonexistent/GeoLite2-ASN.mmdb".into());
        assert_eq!(
            err(&s),
            "geoip.asn_database: /nonexistent/GeoLite2-ASN.mmdb does not exist or is not a file"
        );
        s.geoip.asn_database = None;
        s.geoip.city_database = Some(std::env::temp_dir());
        assert!(err(&s).starts_with("geoip.city_database:"));
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/geoip/GeoLite2-Country-Test.mmdb");
        s.geoip.city_database = Some(fixture);
        validate(&s).unwrap();
    }
}
