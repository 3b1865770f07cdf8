//! Searching the directory view: the base and scope pick the candidates (an equality on
//! an indexed attribute narrows them first), the filter decides, the size limit stops,
//! and each entry is returned with the attributes asked for (`*` all user attributes,
//! `+` the operational ones, `1.1` none, names in any case).

use ldap3_proto::proto::{LdapFilter, LdapSearchScope};

use super::dn;
use super::entry::{Attribute, Entry};
use super::filter::matches;
use super::view::DirectoryView;

pub struct Query<'a> {
    pub base: &'a str,
    pub scope: LdapSearchScope,
    pub filter: &'a LdapFilter,
    /// 0 = no limit.
    pub size_limit: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Found<'v> {
    /// Every matching entry.
    All(Vec<&'v Entry>),
    /// The size limit was reached: these, then `sizeLimitExceeded`.
    Truncated(Vec<&'v Entry>),
    /// The base DN is not in the tree.
    NoSuchBase,
}

impl DirectoryView {
    pub fn search(&self, query: &Query<'_>) -> Found<'_> {
        let base = dn::normalize(query.base);
        if self.entry(&base).is_none() {
            return Found::NoSuchBase;
        }
        let in_scope = |entry: &Entry| match query.scope {
            LdapSearchScope::Base => entry.dn_norm == base,
            LdapSearchScope::OneLevel => dn::parent(&entry.dn_norm) == base,
            LdapSearchScope::Subtree => dn::is_within(&entry.dn_norm, &base),
            LdapSearchScope::Children => {
                entry.dn_norm != base && dn::is_within(&entry.dn_norm, &base)
            }
        };
        let mut found = Vec::new();
        let candidates: Box<dyn Iterator<Item = &Entry>> = match self.narrowed(query.filter) {
            Some(positions) => Box::new(positions.iter().filter_map(|i| self.entries.get(*i))),
            None => Box::new(self.entries.iter()),
        };
        for entry in candidates {
            if in_scope(entry) && matches(entry, query.filter) {
                if query.size_limit > 0 && found.len() >= query.size_limit {
                    return Found::Truncated(found);
                }
                found.push(entry);
            }
        }
        Found::All(found)
    }

    /// Candidates from the index when the filter is, or requires, an equality on an
    /// indexed attribute.
    fn narrowed(&self, filter: &LdapFilter) -> Option<&[usize]> {
        match filter {
            LdapFilter::Equality(name, value) => self.indexed(name, value),
            LdapFilter::And(parts) => parts.iter().find_map(|part| self.narrowed(part)),
            _ => None,
        }
    }
}

/// Which attributes a search asked for: `*` (or nothing) all user attributes, `+` the
/// operational ones, `1.1` none, and names in any case. Parsed once per search.
#[derive(Debug, Clone)]
pub struct Selection {
    all_user: bool,
    all_operational: bool,
    /// Lowercased.
    named: Vec<String>,
}

impl Selection {
    pub fn new(requested: &[String]) -> Selection {
        Selection {
            all_user: requested.is_empty() || requested.iter().any(|name| name == "*"),
            all_operational: requested.iter().any(|name| name == "+"),
            named: requested
                .iter()
                .map(|name| name.to_ascii_lowercase())
                .collect(),
        }
    }

    /// The attributes of `entry` this selection takes, in the entry's order.
    pub fn of<'e>(&'e self, entry: &'e Entry) -> impl Iterator<Item = &'e Attribute> + Clone {
        entry.attributes.iter().filter(move |attribute| {
            let by_kind = if attribute.operational {
                self.all_operational
            } else {
                self.all_user
            };
            by_kind || self.named.contains(&attribute.lower)
        })
    }
}
