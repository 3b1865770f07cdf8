//! Evaluating search filters against an entry (RFC 4511 §4.5.1.7). Attribute names are
//! case-insensitive, and so are the values gatehouse serves (names, emails, DNs, object
//! classes); ordering compares numbers as numbers. Extensible matches are not
//! supported and match nothing, as an unrecognized matching rule does (§4.5.1.7.7
//! would make it Undefined, which a search treats as false).

use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};

use super::entry::{Entry, same_text};

pub fn matches(entry: &Entry, filter: &LdapFilter) -> bool {
    match filter {
        LdapFilter::And(parts) => parts.iter().all(|part| matches(entry, part)),
        LdapFilter::Or(parts) => parts.iter().any(|part| matches(entry, part)),
        LdapFilter::Not(inner) => !matches(entry, inner),
        LdapFilter::Equality(name, wanted) | LdapFilter::Approx(name, wanted) => {
            values(entry, name).any(|value| equal(name, value, wanted))
        }
        LdapFilter::Present(name) => {
            name.eq_ignore_ascii_case("objectclass") || entry.get(name).is_some()
        }
        LdapFilter::Substring(name, pattern) => {
            values(entry, name).any(|value| substring(value, pattern))
        }
        LdapFilter::GreaterOrEqual(name, bound) => {
            values(entry, name).any(|value| order(value, bound).is_ge())
        }
        LdapFilter::LessOrEqual(name, bound) => {
            values(entry, name).any(|value| order(value, bound).is_le())
        }
        LdapFilter::Extensible(_) => false,
    }
}

fn values<'e>(entry: &'e Entry, name: &str) -> impl Iterator<Item = &'e str> {
    entry
        .get(name)
        .into_iter()
        .flat_map(|attribute| attribute.values.iter().map(String::as_str))
}

fn equal(name: &str, value: &str, wanted: &str) -> bool {
    // DN-valued attributes compare as DNs (spacing and case).
    let is_dn = ["member", "uniquemember", "memberof"]
        .iter()
        .any(|dn_attribute| name.eq_ignore_ascii_case(dn_attribute));
    if is_dn {
        super::dn::normalize(value) == super::dn::normalize(wanted)
    } else {
        same_text(value, wanted)
    }
}

fn substring(value: &str, pattern: &LdapSubstringFilter) -> bool {
    let value = value.to_lowercase();
    let mut rest = value.as_str();
    if let Some(initial) = &pattern.initial {
        let initial = initial.to_lowercase();
        match rest.strip_prefix(initial.as_str()) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    for part in &pattern.any {
        let part = part.to_lowercase();
        match rest.find(part.as_str()) {
            Some(at) => rest = rest.get(at + part.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    match &pattern.final_ {
        Some(last) => rest.ends_with(last.to_lowercase().as_str()),
        None => true,
    }
}

fn order(value: &str, bound: &str) -> std::cmp::Ordering {
    match (value.trim().parse::<i64>(), bound.trim().parse::<i64>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => value.to_lowercase().cmp(&bound.to_lowercase()),
    }
}
