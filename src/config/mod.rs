//! Typed, strict configuration for gatehouse.
//!
//! Layers, lowest to highest priority: built-in defaults, an optional TOML
//! file, authentik's own `AUTHENTIK_*` variables (a fixed list of aliases),
//! then `GATEHOUSE_*` variables. Command-line flags are applied by the caller
//! afterwards, followed by another [`Settings::validate`]. Nothing here reads
//! process globals: the environment is passed in.
//!
//! Environment names are the key path upper-cased with `__` between levels
//! (`GATEHOUSE_LISTEN__HTTP`, `GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB`), plus
//! shorthands `GATEHOUSE_LOG_LEVEL`, `GATEHOUSE_LOG_FORMAT` and
//! `GATEHOUSE_BOOTSTRAP_{PASSWORD,TOKEN,EMAIL}`. A `_FILE` suffix reads the
//! value from the named file; values `file:///path` and `env://NAME` are
//! resolved as authentik does.

mod env;
mod file;
mod secret;
mod settings;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use secret::{MASK, Secret};
pub use settings::{
    BootstrapSettings, EmailSettings, GeoipSettings, KNOWN_PATHS, ListenSettings, LogFormat,
    LogSettings, PasswordHashSettings, PostgresSettings, SessionSettings, Settings, StorageBackend,
    StorageSettings, WebSettings, default_trusted_proxy_cidrs,
};

/// A configuration problem. `Display` is a single line naming the file,
/// variable or key, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read at all.
    #[error("config file {}: cannot read: {reason}", path.display())]
    FileRead { path: PathBuf, reason: String },
    /// The config file is not valid TOML, or does not match the schema.
    #[error("config file {}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// An environment variable has an unusable value.
    #[error("{var}: {message}")]
    Env { var: String, message: String },
    /// A setting is out of range or inconsistent with another.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

/// An I/O error's reason without the trailing ` (os error N)`.
fn io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text.get(..at).unwrap_or(&text).to_owned(),
        _ => text,
    }
}

impl Settings {
    /// Builds the settings from defaults, the optional `config_file`, and the
    /// injected environment `env`, then validates them.
    ///
    /// Returns the settings and one-line warnings (e.g. unknown
    /// `GATEHOUSE_*` variables), which the caller should log.
    pub fn load(
        config_file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Settings, Vec<String>), ConfigError> {
        let env: BTreeMap<String, String> = env.into_iter().collect();
        let mut settings = match config_file {
            Some(path) => file::load(path)?,
            None => Settings::default(),
        };
        let warnings = env::apply(&mut settings, &env)?;
        settings.validate()?;
        Ok((settings, warnings))
    }

    /// Sets one leaf from a string, with the same parsing as the environment
    /// layer (e.g. `set("listen.ldap", "off")`). Meant for CLI overrides;
    /// call [`Settings::validate`] afterwards.
    pub fn set(&mut self, path: &str, raw: &str) -> Result<(), ConfigError> {
        env::set(self, path, raw).map_err(|message| ConfigError::Invalid {
            key: path.to_owned(),
            message,
        })
    }

    /// Range and consistency checks; `load` runs them, and callers should
    /// run them again after applying command-line overrides.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate::validate(self)
    }

    /// The effective settings as TOML, secrets shown as `********` and
    /// disabled listeners as `"off"`. Unset optional values are omitted.
    pub fn to_masked_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|err| {
            format!(
                "# cannot render settings: {}\n",
                file::one_line(&err.to_string())
            )
        })
    }
}
