//! The subschema entry (`cn=subschema`): the attribute types and object classes the
//! directory serves, with their standard OIDs and syntaxes, so schema-reading clients
//! (Apache Directory Studio, python-ldap3 with `get_info=ALL`, PHP's ldap_* in
//! Nextcloud) know how to show and compare values. authentik's own names (`ak-active`,
//! the `goauthentik.io/...` classes) have no registered OIDs; they are described with
//! the `<name>-oid` form OpenLDAP accepts for that case.

use super::entry::Entry;

const DIRECTORY_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.15";
const IA5_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.26";
const INTEGER: &str = "1.3.6.1.4.1.1466.115.121.1.27";
const DN: &str = "1.3.6.1.4.1.1466.115.121.1.12";
const BOOLEAN: &str = "1.3.6.1.4.1.1466.115.121.1.7";
const OID: &str = "1.3.6.1.4.1.1466.115.121.1.38";
const UUID: &str = "1.3.6.1.1.16.1";

/// (OID, name, syntax, single-valued).
const ATTRIBUTE_TYPES: [(&str, &str, &str, bool); 41] = [
    ("2.5.4.0", "objectClass", OID, false),
    ("2.5.4.3", "cn", DIRECTORY_STRING, false),
    ("2.5.4.4", "sn", DIRECTORY_STRING, false),
    ("2.5.4.11", "ou", DIRECTORY_STRING, false),
    ("2.5.4.31", "member", DN, false),
    ("2.5.4.41", "name", DIRECTORY_STRING, false),
    ("2.5.4.42", "givenName", DIRECTORY_STRING, false),
    ("2.5.4.50", "uniqueMember", DN, false),
    ("0.9.2342.19200300.100.1.1", "uid", DIRECTORY_STRING, false),
    ("0.9.2342.19200300.100.1.3", "mail", IA5_STRING, false),
    ("0.9.2342.19200300.100.1.25", "dc", IA5_STRING, true),
    (
        "2.16.840.1.113730.3.1.241",
        "displayName",
        DIRECTORY_STRING,
        true,
    ),
    ("1.2.840.113556.1.2.102", "memberOf", DN, false),
    ("1.3.6.1.1.1.1.0", "uidNumber", INTEGER, true),
    ("1.3.6.1.1.1.1.1", "gidNumber", INTEGER, true),
    ("1.3.6.1.1.1.1.3", "homeDirectory", IA5_STRING, true),
    ("1.3.6.1.1.1.1.4", "loginShell", IA5_STRING, true),
    ("1.3.6.1.1.1.1.12", "memberUid", IA5_STRING, false),
    ("1.3.6.1.1.16.4", "entryUUID", UUID, true),
    ("ak-active-oid", "ak-active", BOOLEAN, true),
    ("ak-superuser-oid", "ak-superuser", BOOLEAN, true),
    // The root DSE's and this entry's own attributes: clients that check names against
    // the schema ask for them when they refresh their server information.
    ("2.5.21.5", "attributeTypes", DIRECTORY_STRING, false),
    ("2.5.21.6", "objectClasses", DIRECTORY_STRING, false),
    ("2.5.21.4", "matchingRules", DIRECTORY_STRING, false),
    ("2.5.21.8", "matchingRuleUse", DIRECTORY_STRING, false),
    (
        "1.3.6.1.4.1.1466.101.120.16",
        "ldapSyntaxes",
        DIRECTORY_STRING,
        false,
    ),
    ("2.5.21.2", "dITContentRules", DIRECTORY_STRING, false),
    ("2.5.21.1", "dITStructureRules", DIRECTORY_STRING, false),
    ("2.5.21.7", "nameForms", DIRECTORY_STRING, false),
    ("2.5.18.1", "createTimestamp", DIRECTORY_STRING, true),
    ("2.5.18.2", "modifyTimestamp", DIRECTORY_STRING, true),
    ("2.5.18.10", "subschemaSubentry", DN, true),
    ("1.3.6.1.4.1.1466.101.120.5", "namingContexts", DN, false),
    ("1.3.6.1.4.1.1466.101.120.6", "altServer", IA5_STRING, false),
    (
        "1.3.6.1.4.1.1466.101.120.7",
        "supportedExtension",
        OID,
        false,
    ),
    (
        "1.3.6.1.4.1.1466.101.120.13",
        "supportedControl",
        OID,
        false,
    ),
    (
        "1.3.6.1.4.1.1466.101.120.14",
        "supportedSASLMechanisms",
        DIRECTORY_STRING,
        false,
    ),
    (
        "1.3.6.1.4.1.1466.101.120.15",
        "supportedLDAPVersion",
        INTEGER,
        false,
    ),
    ("1.3.6.1.4.1.4203.1.3.5", "supportedFeatures", OID, false),
    ("1.3.6.1.1.4", "vendorName", DIRECTORY_STRING, true),
    ("1.3.6.1.1.5", "vendorVersion", DIRECTORY_STRING, true),
];

/// (OID, name, superior, kind, must, may). Every class an entry carries is here:
/// schema-checking clients (python-ldap3) refuse a filter on a class they do not know.
const OBJECT_CLASSES: [(&str, &str, &str, &str, &str, &str); 17] = [
    ("2.5.6.0", "top", "", "ABSTRACT", "objectClass", ""),
    ("2.5.6.6", "person", "top", "STRUCTURAL", "sn $ cn", ""),
    (
        "2.5.6.7",
        "organizationalPerson",
        "person",
        "STRUCTURAL",
        "",
        "ou",
    ),
    (
        "2.16.840.1.113730.3.2.2",
        "inetOrgPerson",
        "organizationalPerson",
        "STRUCTURAL",
        "",
        "displayName $ givenName $ mail $ uid",
    ),
    (
        "1.3.6.1.1.1.2.0",
        "posixAccount",
        "top",
        "AUXILIARY",
        "cn $ uid $ uidNumber $ gidNumber $ homeDirectory",
        "loginShell",
    ),
    (
        "1.3.6.1.1.1.2.2",
        "posixGroup",
        "top",
        "AUXILIARY",
        "cn $ gidNumber",
        "memberUid",
    ),
    (
        "2.5.6.9",
        "groupOfNames",
        "top",
        "STRUCTURAL",
        "cn",
        "member",
    ),
    (
        "2.5.6.17",
        "groupOfUniqueNames",
        "top",
        "STRUCTURAL",
        "cn",
        "uniqueMember",
    ),
    (
        "2.5.6.5",
        "organizationalUnit",
        "top",
        "STRUCTURAL",
        "ou",
        "",
    ),
    (
        "0.9.2342.19200300.100.4.13",
        "domain",
        "top",
        "STRUCTURAL",
        "dc",
        "",
    ),
    (
        "goauthentik-user-oid",
        "goauthentik.io/ldap/user",
        "top",
        "AUXILIARY",
        "",
        "ak-active $ ak-superuser $ memberOf $ name",
    ),
    (
        "goauthentik-group-oid",
        "goauthentik.io/ldap/group",
        "top",
        "AUXILIARY",
        "",
        "memberOf",
    ),
    (
        "1.2.840.113556.1.5.9",
        "user",
        "organizationalPerson",
        "STRUCTURAL",
        "",
        "memberOf $ name",
    ),
    (
        "1.2.840.113556.1.5.8",
        "group",
        "top",
        "STRUCTURAL",
        "cn",
        "member $ memberOf",
    ),
    ("2.5.20.1", "subschema", "top", "AUXILIARY", "", ""),
    (
        "goauthentik-virtual-group-oid",
        "goauthentik.io/ldap/virtual-group",
        "top",
        "AUXILIARY",
        "",
        "memberUid",
    ),
    (
        "1.3.6.1.4.1.1466.101.120.111",
        "extensibleObject",
        "top",
        "AUXILIARY",
        "",
        "",
    ),
];

/// The subschema entry; `custom` are attribute names the directory holds beyond the
/// standard ones (user and group attributes), described as text.
pub fn subschema<'a>(custom: impl Iterator<Item = &'a str>) -> Entry {
    let mut entry = Entry::new("cn=subschema".to_owned());
    entry.add("objectClass", ["top", "subschema"]);
    entry.add("cn", ["subschema"]);
    let standard = ATTRIBUTE_TYPES.iter().map(|(oid, name, syntax, single)| {
        let single = if *single { " SINGLE-VALUE" } else { "" };
        format!("( {oid} NAME '{name}' SYNTAX {syntax}{single} )")
    });
    let known = |name: &str| {
        ATTRIBUTE_TYPES
            .iter()
            .any(|(_, known, _, _)| known.eq_ignore_ascii_case(name))
    };
    let custom = custom
        .filter(|name| !known(name))
        .map(|name| format!("( {name}-oid NAME '{name}' SYNTAX {DIRECTORY_STRING} )"))
        .collect::<Vec<_>>();
    entry.add("attributeTypes", standard.chain(custom));
    entry.add(
        "objectClasses",
        OBJECT_CLASSES
            .iter()
            .map(|(oid, name, superior, kind, must, may)| {
                let mut text = format!("( {oid} NAME '{name}'");
                if !superior.is_empty() {
                    text.push_str(&format!(" SUP {superior}"));
                }
                text.push_str(&format!(" {kind}"));
                if !must.is_empty() {
                    text.push_str(&format!(" MUST ( {must} )"));
                }
                if !may.is_empty() {
                    text.push_str(&format!(" MAY ( {may} )"));
                }
                text.push_str(" )");
                text
            }),
    );
    entry
}
