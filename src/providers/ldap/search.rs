//! Searching the directory view: the base and scope pick the candidates (an equality on
//! an indexed attribute narrows them first), the filter decides, the size limit stops,
//! and each entry is returned with the attributes asked for (`*` all user attributes,
//! `+` the operational ones, `1.1` none, names in any case).

use ldap3_proto::proto::{LdapFilter, LdapPartialAttribute, LdapSearchScope};

use super::dn;
use super::entry::Entry;
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

/// The attributes of `entry` a search asked for, ready for the wire.
pub fn selected(entry: &Entry, requested: &[String]) -> Vec<LdapPartialAttribute> {
    let all_user = requested.is_empty() || requested.iter().any(|name| name == "*");
    let all_operational = requested.iter().any(|name| name == "+");
    entry
        .attributes
        .iter()
        .filter(|attribute| {
            let named = requested
                .iter()
                .any(|name| name.eq_ignore_ascii_case(&attribute.lower));
            named
                || (attribute.operational && all_operational)
                || (!attribute.operational && all_user)
        })
        .map(|attribute| LdapPartialAttribute {
            atype: attribute.name.clone(),
            vals: attribute
                .values
                .iter()
                .map(|value| value.as_bytes().to_vec())
                .collect(),
        })
        .collect()
}
