#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use ldap3_proto::proto::{LdapFilter, LdapSearchScope, LdapSubstringFilter};
use serde_json::json;

use super::search::{Found, Query, Selection};
use super::view::{
    DEFAULT_BASE_DN, DEFAULT_GID_START, DEFAULT_UID_START, DirectoryView, ViewSettings,
};
use crate::model::{Group, GroupId, Timestamp, User, UserId, UserType, Username};

fn user(id: i64, username: &str, name: &str) -> User {
    User {
        id: UserId(id),
        uuid: uuid::Uuid::new_v4(),
        username: Username::parse(username).unwrap(),
        name: name.into(),
        email: format!("{username}@example.com"),
        is_active: true,
        user_type: UserType::Internal,
        path: "users".into(),
        attributes: json!({"department": "ops", "phones": ["1", "2"], "nested": {"x": 1}})
            .as_object()
            .cloned()
            .unwrap(),
        last_login: None,
        password_hash: None,
        password_changed: None,
        created: Timestamp(0),
    }
}

fn group(num_pk: i64, name: &str, superuser: bool) -> Group {
    Group {
        id: GroupId::random(),
        num_pk,
        name: name.into(),
        parent: None,
        is_superuser: superuser,
        attributes: serde_json::Map::new(),
    }
}

fn view() -> DirectoryView {
    let users = vec![user(1, "alice", "Alice Liddell"), user(2, "bob", "Bob")];
    let admins = group(1, "admins", true);
    let staff = group(2, "staff", false);
    let memberships = vec![
        (UserId(1), admins.id),
        (UserId(1), staff.id),
        (UserId(2), staff.id),
    ];
    DirectoryView::build(
        &ViewSettings {
            base_dn: DEFAULT_BASE_DN.into(),
            uid_start: DEFAULT_UID_START,
            gid_start: DEFAULT_GID_START,
        },
        &users,
        &[admins, staff],
        &memberships,
    )
}

fn search<'v>(
    view: &'v DirectoryView,
    base: &str,
    scope: LdapSearchScope,
    filter: LdapFilter,
) -> Vec<&'v str> {
    match view.search(&Query {
        base,
        scope,
        filter: &filter,
        size_limit: 0,
    }) {
        Found::All(entries) => entries.iter().map(|entry| entry.dn.as_str()).collect(),
        other => panic!("{other:?}"),
    }
}

const BASE: &str = "dc=ldap,dc=goauthentik,dc=io";

#[test]
fn users_carry_authentiks_attributes() {
    let view = view();
    let found = search(
        &view,
        BASE,
        LdapSearchScope::Subtree,
        LdapFilter::Equality("UID".into(), "Alice".into()),
    );
    assert_eq!(found, ["cn=alice,ou=users,DC=ldap,DC=goauthentik,DC=io"]);
    let alice = view
        .entry("cn=alice,ou=users,dc=ldap,dc=goauthentik,dc=io")
        .unwrap();
    let value = |name: &str| {
        alice
            .get(name)
            .map(|a| a.values.clone())
            .unwrap_or_default()
    };
    assert_eq!(value("uidNumber"), ["2001"]);
    assert_eq!(value("gidnumber"), ["2001"]);
    assert_eq!(value("givenName"), ["Alice"]);
    assert_eq!(value("sn"), ["Liddell"]);
    assert_eq!(value("ak-superuser"), ["true"]);
    assert_eq!(value("memberOf").len(), 2);
    assert_eq!(value("department"), ["ops"]);
    assert_eq!(value("phones"), ["1", "2"]);
    assert!(alice.get("nested").is_none());
    assert_eq!(
        view.user_of_dn("cn=alice,ou=users,dc=ldap,dc=goauthentik,dc=io"),
        Some(UserId(1))
    );
}

#[test]
fn filters_scopes_and_groups() {
    let view = view();
    // memberOf with different spacing and case.
    let members = search(
        &view,
        BASE,
        LdapSearchScope::Subtree,
        LdapFilter::And(vec![
            LdapFilter::Equality("objectClass".into(), "inetOrgPerson".into()),
            LdapFilter::Equality(
                "memberOf".into(),
                "CN=admins, ou=groups,dc=ldap,dc=goauthentik,dc=io".into(),
            ),
        ]),
    );
    assert_eq!(members.len(), 1);
    let staff = view
        .entry("cn=staff,ou=groups,dc=ldap,dc=goauthentik,dc=io")
        .unwrap();
    assert_eq!(staff.get("memberUid").unwrap().values, ["alice", "bob"]);
    assert_eq!(staff.get("gidNumber").unwrap().values, ["4002"]);
    // Substrings, presence, negation, ordering.
    let sub = LdapFilter::Substring(
        "cn".into(),
        LdapSubstringFilter {
            initial: Some("AL".into()),
            any: vec![],
            final_: Some("e".into()),
        },
    );
    assert_eq!(
        search(&view, BASE, LdapSearchScope::Subtree, sub).len(),
        2,
        "alice and her virtual group"
    );
    let users_ou = "ou=users,dc=ldap,dc=goauthentik,dc=io";
    assert_eq!(
        search(
            &view,
            users_ou,
            LdapSearchScope::OneLevel,
            LdapFilter::Present("objectClass".into())
        )
        .len(),
        2
    );
    assert_eq!(
        search(
            &view,
            users_ou,
            LdapSearchScope::Base,
            LdapFilter::Present("objectClass".into())
        )
        .len(),
        1
    );
    let not_alice = LdapFilter::And(vec![
        LdapFilter::Equality("objectClass".into(), "posixAccount".into()),
        LdapFilter::Not(Box::new(LdapFilter::Equality("cn".into(), "alice".into()))),
    ]);
    assert_eq!(
        search(&view, BASE, LdapSearchScope::Subtree, not_alice).len(),
        1
    );
    let high = LdapFilter::GreaterOrEqual("uidNumber".into(), "2002".into());
    assert_eq!(
        search(&view, users_ou, LdapSearchScope::Subtree, high).len(),
        1
    );
    // Unknown base, size limit.
    let filter = LdapFilter::Present("objectClass".into());
    assert_eq!(
        view.search(&Query {
            base: "dc=other",
            scope: LdapSearchScope::Subtree,
            filter: &filter,
            size_limit: 0
        }),
        Found::NoSuchBase
    );
    match view.search(&Query {
        base: BASE,
        scope: LdapSearchScope::Subtree,
        filter: &filter,
        size_limit: 3,
    }) {
        Found::Truncated(entries) => assert_eq!(entries.len(), 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn attribute_selection() {
    let view = view();
    let alice = view
        .entry("cn=alice,ou=users,dc=ldap,dc=goauthentik,dc=io")
        .unwrap();
    let names = |requested: &[&str]| -> Vec<String> {
        let requested: Vec<String> = requested.iter().map(|s| (*s).to_owned()).collect();
        Selection::new(&requested)
            .of(alice)
            .map(|a| a.name.clone())
            .collect()
    };
    assert!(names(&[]).contains(&"mail".to_owned()));
    assert!(!names(&["*"]).contains(&"entryUUID".to_owned()));
    assert_eq!(names(&["+"]), ["entryUUID"]);
    assert!(names(&["1.1"]).is_empty());
    assert_eq!(names(&["MAIL", "cn"]), ["cn", "mail"]);
}
