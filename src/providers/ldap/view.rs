//! The directory tree an LDAP provider serves, authentik's layout: users under
//! `ou=users`, groups under `ou=groups`, and a per-user primary group under
//! `ou=virtual-groups` (POSIX clients want a group whose gidNumber is the user's).
//! Built in memory from the users, groups and memberships, so a search never reads the
//! database; equality on the usual naming attributes is indexed.

use std::collections::HashMap;

use serde_json::Value;

use crate::model::{Group, GroupId, User, UserId};

use super::dn::escape_value;
use super::entry::Entry;

/// authentik's default base DN.
pub const DEFAULT_BASE_DN: &str = "DC=ldap,DC=goauthentik,DC=io";
/// authentik's defaults for POSIX ids: uidNumber = start + user id, gidNumber = start +
/// the group's numeric id.
pub const DEFAULT_UID_START: i64 = 2000;
pub const DEFAULT_GID_START: i64 = 4000;

/// Attributes whose equality filters are answered from an index.
const INDEXED: [&str; 6] = ["cn", "uid", "mail", "uidnumber", "gidnumber", "objectclass"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewSettings {
    pub base_dn: String,
    pub uid_start: i64,
    pub gid_start: i64,
}

#[derive(Debug, Default)]
pub struct DirectoryView {
    pub(super) entries: Vec<Entry>,
    pub(super) base_norm: String,
    by_dn: HashMap<String, usize>,
    /// (lowercased attribute, lowercased value) → entries.
    index: HashMap<(String, String), Vec<usize>>,
    /// The user each user entry stands for (binds look users up by DN).
    users_by_entry: HashMap<usize, UserId>,
    /// Every attribute name the entries use, once each (for the subschema entry).
    attribute_names: Vec<String>,
}

impl DirectoryView {
    pub fn build(
        settings: &ViewSettings,
        users: &[User],
        groups: &[Group],
        memberships: &[(UserId, GroupId)],
    ) -> DirectoryView {
        let base = settings.base_dn.trim();
        let mut view = DirectoryView {
            base_norm: super::dn::normalize(base),
            ..DirectoryView::default()
        };
        view.push(base_entry(base));
        for ou in ["users", "groups", "virtual-groups"] {
            let mut entry = Entry::new(format!("ou={ou},{base}"));
            entry.add("objectClass", ["top", "organizationalUnit"]);
            entry.add("ou", [ou]);
            view.push(entry);
        }
        let user_dn = |user: &User| {
            format!(
                "cn={},ou=users,{base}",
                escape_value(user.username.as_str())
            )
        };
        let group_dn = |group: &Group| format!("cn={},ou=groups,{base}", escape_value(&group.name));
        let groups_by_id: HashMap<GroupId, &Group> = groups.iter().map(|g| (g.id, g)).collect();
        let mut groups_of: HashMap<UserId, Vec<&Group>> = HashMap::new();
        let mut members_of: HashMap<GroupId, Vec<UserId>> = HashMap::new();
        for (user, group) in memberships {
            if let Some(group) = groups_by_id.get(group) {
                groups_of.entry(*user).or_default().push(group);
                members_of.entry(group.id).or_default().push(*user);
            }
        }
        let users_by_id: HashMap<UserId, &User> = users.iter().map(|u| (u.id, u)).collect();
        for user in users {
            let uid_number = settings.uid_start + user.id.0;
            let memberships = groups_of.get(&user.id).map_or(&[][..], Vec::as_slice);
            let mut entry = Entry::new(user_dn(user));
            entry.add(
                "objectClass",
                [
                    "top",
                    "person",
                    "organizationalPerson",
                    "inetOrgPerson",
                    "user",
                    "posixAccount",
                    "goauthentik.io/ldap/user",
                ],
            );
            let username = user.username.as_str();
            entry.add("cn", [username]);
            entry.add("uid", [username]);
            entry.add("name", [user.name.as_str()]);
            entry.add("displayName", [user.name.as_str()]);
            entry.add("mail", [user.email.as_str()]);
            let (given, surname) = split_name(&user.name);
            entry.add("givenName", [given]);
            entry.add(
                "sn",
                [if surname.is_empty() {
                    username
                } else {
                    surname
                }],
            );
            entry.add("memberOf", memberships.iter().map(|group| group_dn(group)));
            entry.add("uidNumber", [uid_number.to_string()]);
            entry.add("gidNumber", [uid_number.to_string()]);
            entry.add("homeDirectory", [format!("/home/{username}")]);
            entry.add("loginShell", ["/bin/bash"]);
            entry.add("ak-active", [user.is_active.to_string()]);
            entry.add(
                "ak-superuser",
                [memberships
                    .iter()
                    .any(|group| group.is_superuser)
                    .to_string()],
            );
            add_custom_attributes(&mut entry, &user.attributes);
            entry.add_operational("entryUUID", [user.uuid.to_string()]);
            let index = view.push(entry);
            view.users_by_entry.insert(index, user.id);

            let mut primary = Entry::new(format!(
                "cn={},ou=virtual-groups,{base}",
                escape_value(username)
            ));
            primary.add(
                "objectClass",
                [
                    "top",
                    "groupOfNames",
                    "posixGroup",
                    "goauthentik.io/ldap/virtual-group",
                ],
            );
            primary.add("cn", [username]);
            primary.add("gidNumber", [uid_number.to_string()]);
            primary.add("member", [user_dn(user)]);
            primary.add("memberUid", [username]);
            view.push(primary);
        }
        for group in groups {
            let members: Vec<&User> = members_of
                .get(&group.id)
                .map(|ids| {
                    ids.iter()
                        .filter_map(|id| users_by_id.get(id).copied())
                        .collect()
                })
                .unwrap_or_default();
            let mut entry = Entry::new(group_dn(group));
            entry.add(
                "objectClass",
                [
                    "top",
                    "group",
                    "groupOfNames",
                    "groupOfUniqueNames",
                    "posixGroup",
                    "goauthentik.io/ldap/group",
                ],
            );
            entry.add("cn", [group.name.as_str()]);
            entry.add(
                "gidNumber",
                [(settings.gid_start + group.num_pk).to_string()],
            );
            entry.add("member", members.iter().map(|user| user_dn(user)));
            entry.add("uniqueMember", members.iter().map(|user| user_dn(user)));
            entry.add(
                "memberUid",
                members.iter().map(|user| user.username.as_str()),
            );
            if let Some(parent) = group.parent.and_then(|id| groups_by_id.get(&id)) {
                entry.add("memberOf", [group_dn(parent)]);
            }
            add_custom_attributes(&mut entry, &group.attributes);
            entry.add_operational("entryUUID", [group.id.to_string()]);
            view.push(entry);
        }
        let mut seen = std::collections::HashSet::new();
        for attribute in view.entries.iter().flat_map(|entry| &entry.attributes) {
            if seen.insert(attribute.lower.as_str()) {
                view.attribute_names.push(attribute.name.clone());
            }
        }
        view
    }

    /// Every attribute name the entries use, in the spelling served.
    pub fn attribute_names(&self) -> impl Iterator<Item = &str> {
        self.attribute_names.iter().map(String::as_str)
    }

    fn push(&mut self, entry: Entry) -> usize {
        let index = self.entries.len();
        self.by_dn.insert(entry.dn_norm.clone(), index);
        for attribute in &entry.attributes {
            if INDEXED.contains(&attribute.lower.as_str()) {
                for value in &attribute.values {
                    self.index
                        .entry((attribute.lower.clone(), value.to_lowercase()))
                        .or_default()
                        .push(index);
                }
            }
        }
        self.entries.push(entry);
        index
    }

    pub fn base_dn_norm(&self) -> &str {
        &self.base_norm
    }

    /// The entry with this (normalized) DN.
    pub fn entry(&self, dn_norm: &str) -> Option<&Entry> {
        self.by_dn
            .get(dn_norm)
            .and_then(|index| self.entries.get(*index))
    }

    /// The user whose entry has this (normalized) DN.
    pub fn user_of_dn(&self, dn_norm: &str) -> Option<UserId> {
        self.by_dn
            .get(dn_norm)
            .and_then(|index| self.users_by_entry.get(index).copied())
    }

    /// Entry positions whose indexed attribute `name` equals `value`; `None` when the
    /// attribute is not indexed.
    pub(super) fn indexed(&self, name: &str, value: &str) -> Option<&[usize]> {
        let name = name.to_ascii_lowercase();
        if !INDEXED.contains(&name.as_str()) {
            return None;
        }
        Some(
            self.index
                .get(&(name, value.to_lowercase()))
                .map_or(&[][..], Vec::as_slice),
        )
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn base_entry(base: &str) -> Entry {
    let mut entry = Entry::new(base.to_owned());
    entry.add("objectClass", ["top", "domain"]);
    let first = base.split(',').next().and_then(|rdn| rdn.split_once('='));
    if let Some((kind, value)) = first {
        entry.add(kind.trim(), [value.trim()]);
    }
    entry
}

/// "Ada King Lovelace" → ("Ada", "Lovelace").
fn split_name(name: &str) -> (&str, &str) {
    let name = name.trim();
    match (
        name.split_whitespace().next(),
        name.split_whitespace().last(),
    ) {
        (Some(first), Some(last)) if first.len() < name.len() => (first, last),
        (Some(first), _) => (first, ""),
        _ => ("", ""),
    }
}

/// User and group attributes as LDAP attributes: text, numbers and booleans as values,
/// lists as several values; nested objects are left out. Names LDAP cannot carry
/// (anything but letters, digits, `-`, `.`, `/`, `_`) are skipped.
fn add_custom_attributes(entry: &mut Entry, attributes: &serde_json::Map<String, Value>) {
    for (name, value) in attributes {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/' | '_'));
        if !valid || entry.get(name).is_some() {
            continue;
        }
        let values: Vec<String> = match value {
            Value::Array(items) => items.iter().filter_map(scalar).collect(),
            other => scalar(other).into_iter().collect(),
        };
        entry.add(name, values);
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}
