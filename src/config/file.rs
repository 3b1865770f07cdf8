//! The TOML config-file layer: parsing, and turning serde/TOML failures into
//! one-line errors that name the offending key.

use std::path::Path;

use serde::Deserialize;
use toml::{Table, Value};

use super::ConfigError;
use super::settings::{KNOWN_PATHS, Settings, is_section};

/// Reads and parses the config file at `path`.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError::FileRead {
        path: path.to_path_buf(),
        reason: super::io_reason(&err),
    })?;
    parse(path, &text)
}

/// Parses TOML text; `path` is only used in error messages.
pub fn parse(path: &Path, text: &str) -> Result<Settings, ConfigError> {
    let fail = |message: String| ConfigError::File {
        path: path.to_path_buf(),
        message,
    };
    let table: Table = text.parse().map_err(|err: toml::de::Error| {
        let position = err
            .span()
            .map(|span| line_col(text, span.start))
            .map(|(line, col)| format!("line {line}, column {col}: "))
            .unwrap_or_default();
        fail(format!("{position}{}", one_line(err.message())))
    })?;

    let mut leaves = Vec::new();
    collect_leaves("", &table, &mut leaves);
    for (key, _) in &leaves {
        if !KNOWN_PATHS.contains(&key.as_str()) && !is_section(key) {
            let hint = suggestion(key)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(fail(format!("unknown key `{key}`{hint}")));
        }
    }

    match Settings::deserialize(Value::Table(table.clone())) {
        Ok(settings) => Ok(settings),
        Err(whole) => {
            // Find the leaf that fails on its own, so the message names it.
            for (key, value) in &leaves {
                if let Err(err) = Settings::deserialize(Value::Table(single_leaf(key, value))) {
                    return Err(fail(format!("`{key}`: {}", one_line(err.message()))));
                }
            }
            Err(fail(one_line(whole.message())))
        }
    }
}

/// Flattens the table into `(dotted.key, value)` pairs, descending only into
/// tables that are known sections (so unknown tables are reported whole).
fn collect_leaves<'a>(prefix: &str, table: &'a Table, out: &mut Vec<(String, &'a Value)>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Table(inner) if is_section(&path) => collect_leaves(&path, inner, out),
            _ => out.push((path, value)),
        }
    }
}

/// Builds `{ a = { b = value } }` for the key `a.b`.
fn single_leaf(key: &str, value: &Value) -> Table {
    let mut parts = key.rsplit('.');
    let mut table = Table::new();
    if let Some(last) = parts.next() {
        table.insert(last.to_owned(), value.clone());
    }
    for part in parts {
        let mut outer = Table::new();
        outer.insert(part.to_owned(), Value::Table(table));
        table = outer;
    }
    table
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Collapses a possibly multi-line message onto one line.
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The known key closest to `key`, if it is plausibly a typo.
fn suggestion(key: &str) -> Option<&'static str> {
    KNOWN_PATHS
        .iter()
        .map(|known| (edit_distance(key, known), *known))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, known)| known)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute =
                prev.get(j).copied().unwrap_or(usize::MAX - 1) + usize::from(ca != *cb);
            let delete = prev.get(j + 1).copied().unwrap_or(usize::MAX - 1) + 1;
            let insert = cur.get(j).copied().unwrap_or(usize::MAX - 1) + 1;
            cur.push(substitute.min(delete).min(insert));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
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

    fn parse_err(text: &str) -> String {
        parse(Path::new("./x.toml"), text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        assert_eq!(
            parse_err("[listen]\nhtp = \"0.0.0.0:1\"\n"),
            "config file ./x.toml: unknown key `listen.htp` (did you mean `listen.http`?)"
        );
        assert_eq!(
            parse_err("[nonsense]\nx = 1\n"),
            "config file ./x.toml: unknown key `nonsense`"
        );
        assert!(parse_err("listen.http.port = 5").contains("`listen.http`"));
    }

    #[test]
    fn type_errors_name_the_key() {
        let err = parse_err("[email]\nport = \"twenty-five\"\n");
        assert!(
            err.starts_with("config file ./x.toml: `email.port`: "),
            "{err}"
        );
        let err = parse_err("[listen]\nhttp = \"abc\"\n");
        assert_eq!(
            err,
            "config file ./x.toml: `listen.http`: 'abc' is not a socket address (expected host:port, or \"off\")"
        );
        let err = parse_err("listen = 5\n");
        assert!(err.contains("`listen`"), "{err}");
        let err = parse_err("secret_key = 123456789\n");
        assert!(
            err.contains("`secret_key`") && !err.contains("123456789"),
            "{err}"
        );
    }

    #[test]
    fn syntax_errors_are_one_line_with_position() {
        let err = parse_err("data_dir = \"x\"\n[email\nport = 1\n");
        assert!(
            err.starts_with("config file ./x.toml: line 2, column "),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("listen.htp", "listen.http"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
