//! Distinguished names as LDAP clients write them: attribute types are
//! case-insensitive, spaces around `=` and `,` do not count, and the values gatehouse
//! serves (user and group names, `ou`s, `dc`s) compare case-insensitively. Values put
//! into a DN are escaped as RFC 4514 asks.

/// The comparable form of a DN: lowercased, spaces around separators removed. Escaped
/// characters are kept escaped, so `cn=a\,b` stays one RDN.
pub fn normalize(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    for (index, rdn) in split_rdns(dn).into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        match rdn.split_once('=') {
            Some((kind, value)) => {
                out.push_str(&kind.trim().to_lowercase());
                out.push('=');
                out.push_str(&value.trim().to_lowercase());
            }
            None => out.push_str(&rdn.trim().to_lowercase()),
        }
    }
    out
}

/// The RDNs of a DN, split on unescaped commas.
fn split_rdns(dn: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (index, byte) in dn.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b',' => {
                parts.push(dn.get(start..index).unwrap_or_default());
                start = index + 1;
            }
            _ => {}
        }
    }
    let last = dn.get(start..).unwrap_or_default();
    if !last.trim().is_empty() || !parts.is_empty() {
        parts.push(last);
    }
    parts.retain(|part| !part.trim().is_empty());
    parts
}

/// A value escaped for use in a DN (RFC 4514 §2.4).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (index, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (index == 0 && (c == ' ' || c == '#'))
            || (index == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether normalized `dn` is `base` or below it.
pub fn is_within(dn: &str, base: &str) -> bool {
    base.is_empty()
        || dn == base
        || (dn.len() > base.len()
            && dn.ends_with(base)
            && dn.as_bytes().get(dn.len() - base.len() - 1) == Some(&b','))
}

/// The normalized parent of a normalized DN (`""` for a single RDN).
pub fn parent(dn: &str) -> &str {
    let mut escaped = false;
    for (index, byte) in dn.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b',' => return dn.get(index + 1..).unwrap_or_default(),
            _ => {}
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_normalize_and_nest() {
        assert_eq!(
            normalize("CN=Alice , OU=Users,DC=ldap, dc=goauthentik,DC=io"),
            "cn=alice,ou=users,dc=ldap,dc=goauthentik,dc=io"
        );
        assert_eq!(normalize("cn=a\\,b,ou=x"), "cn=a\\,b,ou=x");
        assert_eq!(parent("cn=a\\,b,ou=x"), "ou=x");
        assert_eq!(parent("ou=x"), "");
        assert!(is_within("cn=a,ou=users,dc=x", "dc=x"));
        assert!(is_within("dc=x", "dc=x"));
        assert!(!is_within("cn=a,ou=users,dc=xy", "dc=y"));
        assert!(is_within("dc=x", ""));
        assert_eq!(escape_value("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_value(" lead#"), "\\ lead#");
        assert_eq!(escape_value("#x "), "\\#x\\ ");
    }
}
