//! The checks one provider field at a time: references to other configuration objects
//! (flows, scope mappings, keys) resolved against the catalog, and redirect URIs. Each
//! returns the message a field error carries, in Django REST framework's wording where
//! it has one.

use uuid::Uuid;

use crate::model::{FlowDesignation, FlowId, MatchingMode, RedirectUri};
use crate::store::Catalog;

/// Bound on a compiled redirect-URI pattern, against patterns that blow up in size.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

pub fn parse_uuid(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text.trim()).map_err(|_| format!("\u{201c}{text}\u{201d} is not a valid UUID."))
}

fn does_not_exist(pk: &str) -> String {
    format!("Invalid pk \"{pk}\" - object does not exist.")
}

/// A flow by pk, which must be meant for `designation` (authentik offers only those).
pub fn flow(catalog: &Catalog, pk: &str, designation: FlowDesignation) -> Result<FlowId, String> {
    let id = FlowId(parse_uuid(pk)?);
    let flow = catalog
        .flows()
        .into_iter()
        .find(|flow| flow.id == id)
        .ok_or_else(|| does_not_exist(pk))?;
    if flow.designation == designation {
        Ok(id)
    } else {
        Err(format!(
            "Flow \"{}\" is an {} flow; a flow with designation {} is needed here.",
            flow.slug,
            flow.designation.as_str(),
            designation.as_str()
        ))
    }
}

/// Scope mappings by pk, each once, in the order given.
pub fn scope_mappings(catalog: &Catalog, pks: &[String]) -> Result<Vec<Uuid>, String> {
    let mut ids = Vec::with_capacity(pks.len());
    for pk in pks {
        let id = parse_uuid(pk)?;
        let mapping = catalog
            .property_mapping(id)
            .ok_or_else(|| does_not_exist(pk))?;
        if mapping.scope().is_none() {
            return Err(format!("\"{}\" is not a scope mapping.", mapping.name));
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A key tokens can be signed with: an existing pair that holds its private key.
pub fn signing_key(catalog: &Catalog, pk: &str) -> Result<Uuid, String> {
    let id = parse_uuid(pk)?;
    let pair = catalog.keypair(id).ok_or_else(|| does_not_exist(pk))?;
    if pair.has_key() {
        Ok(id)
    } else {
        Err(format!(
            "Key \"{}\" has only a certificate; signing needs its private key.",
            pair.name
        ))
    }
}

/// One registered redirect URI: a pattern must compile; an exact URI must be absolute.
pub fn redirect_uri(uri: &RedirectUri) -> Result<(), String> {
    let url = uri.url.as_str();
    if url.trim().is_empty() {
        return Err("A redirect URI may not be blank.".into());
    }
    match uri.matching_mode {
        MatchingMode::Regex => regex::RegexBuilder::new(&format!("^(?:{url})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(|_| ())
            .map_err(|error| format!("\"{url}\" is not a valid regular expression: {error}")),
        MatchingMode::Strict => absolute_uri(url),
    }
}

/// A light check, not a full RFC 3986 parser: a scheme, something after it, and for
/// web schemes a host. Private-use schemes of native apps (`com.example.app:/cb`, RFC
/// 8252 §7.1) pass; schemes that run code in the browser do not.
fn absolute_uri(url: &str) -> Result<(), String> {
    let invalid = || format!("\"{url}\" is not an absolute URL (scheme://host/path).");
    let (scheme, rest) = url.split_once(':').ok_or_else(invalid)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok || rest.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let scheme = scheme.to_ascii_lowercase();
    if ["javascript", "data", "vbscript"].contains(&scheme.as_str()) {
        return Err(format!(
            "\"{url}\" runs code in the browser; it cannot be a redirect URI."
        ));
    }
    let web = scheme == "http" || scheme == "https";
    if web
        && rest
            .strip_prefix("//")
            .is_none_or(|after| after.starts_with(['/', '?', '#']) || after.is_empty())
    {
        return Err(invalid());
    }
    // RFC 6749 §3.1.2: the redirection endpoint URI must not include a fragment.
    if url.contains('#') {
        return Err(format!(
            "\"{url}\" has a fragment (#...), which a redirect URI must not have."
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn strict(url: &str) -> Result<(), String> {
        redirect_uri(&RedirectUri {
            matching_mode: MatchingMode::Strict,
            url: url.into(),
        })
    }

    fn pattern(url: &str) -> Result<(), String> {
        redirect_uri(&RedirectUri {
            matching_mode: MatchingMode::Regex,
            url: url.into(),
        })
    }

    #[test]
    fn exact_redirect_uris_must_be_absolute() {
        assert_eq!(strict("https://app.example.com/cb"), Ok(()));
        assert_eq!(strict("http://localhost:8080/"), Ok(()));
        assert_eq!(strict("com.example.app:/oauth2redirect"), Ok(()));
        for bad in [
            "",
            "  ",
            "/relative/path",
            "app.example.com/cb",
            "https://",
            "https:///path",
            "https:app.example.com",
            "https://app.example.com/cb#frag",
            "https://app.example.com/a b",
            "javascript:alert(1)",
            "1http://x/",
        ] {
            assert!(strict(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn patterns_must_compile() {
        assert_eq!(pattern(r"https://.*\.example\.com/cb"), Ok(()));
        let error = pattern("https://(unclosed.example.com/").unwrap_err();
        assert!(error.contains("not a valid regular expression"), "{error}");
        assert!(pattern("").is_err());
    }
}
