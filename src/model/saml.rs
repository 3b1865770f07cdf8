//! The SAML 2.0 side of an application (authentik's `SAMLProvider`) and SAML attribute
//! mappings. Algorithms and NameID formats are kept as the URIs SAML writes them with,
//! the way authentik's API shows them; the engine turns them into types when it signs.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::property_mapping::{MappingKind, PropertyMapping};

/// How the response travels back to the service provider (and the logout response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamlBinding {
    /// An auto-submitted form: what the Web Browser SSO profile asks for Responses.
    #[default]
    Post,
    /// DEFLATE + base64 in the query, the query signed (SAML bindings §3.4).
    Redirect,
}

pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
pub const NAMEID_X509: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName";
pub const NAMEID_WINDOWS: &str =
    "urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName";

/// The NameID formats gatehouse can fill, as the metadata lists them.
pub const NAMEID_FORMATS: [&str; 6] = [
    NAMEID_X509,
    NAMEID_WINDOWS,
    NAMEID_UNSPECIFIED,
    NAMEID_EMAIL,
    NAMEID_PERSISTENT,
    NAMEID_TRANSIENT,
];

pub const DIGEST_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SIGNATURE_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamlProvider {
    /// Where responses go: compared byte for byte with a request's
    /// AssertionConsumerServiceURL.
    pub acs_url: String,
    /// The service provider's entity id: the Issuer its requests must carry and the
    /// Audience of our assertions. Empty accepts any issuer (authentik's behaviour).
    #[serde(default)]
    pub audience: String,
    /// Our entity id; empty means the application's metadata URL.
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub sp_binding: SamlBinding,
    /// The SP's single logout URL; empty: logout ends on a gatehouse page.
    #[serde(default)]
    pub sls_url: String,
    #[serde(default = "redirect")]
    pub sls_binding: SamlBinding,
    /// A SAML property mapping whose value becomes the NameID (instead of the format's).
    #[serde(default)]
    pub name_id_mapping: Option<Uuid>,
    /// The NameID format when the request names none (or asks for "unspecified").
    #[serde(default = "default_name_id_policy")]
    pub default_name_id_policy: String,
    #[serde(default)]
    pub default_relay_state: String,
    /// authentik's signed timedeltas relative to now (`minutes=-5`).
    #[serde(default = "default_not_before")]
    pub assertion_valid_not_before: String,
    #[serde(default = "default_not_on_or_after")]
    pub assertion_valid_not_on_or_after: String,
    #[serde(default = "default_session_validity")]
    pub session_valid_not_on_or_after: String,
    /// Signs assertions and responses; `None` sends them unsigned.
    #[serde(default)]
    pub signing_kp: Option<Uuid>,
    /// When set, requests must be signed with this certificate.
    #[serde(default)]
    pub verification_kp: Option<Uuid>,
    /// The SP's certificate (RSA): assertions are encrypted for it (AES-256-GCM, the key
    /// wrapped with RSA-OAEP) when set.
    #[serde(default)]
    pub encryption_kp: Option<Uuid>,
    #[serde(default = "yes")]
    pub sign_assertion: bool,
    #[serde(default)]
    pub sign_response: bool,
    #[serde(default = "default_digest")]
    pub digest_algorithm: String,
    #[serde(default = "default_signature")]
    pub signature_algorithm: String,
    /// SAML attribute mappings whose values go into the AttributeStatement.
    #[serde(default)]
    pub property_mappings: Vec<Uuid>,
}

fn redirect() -> SamlBinding {
    SamlBinding::Redirect
}

fn yes() -> bool {
    true
}

fn default_name_id_policy() -> String {
    NAMEID_UNSPECIFIED.into()
}

fn default_not_before() -> String {
    "minutes=-5".into()
}

fn default_not_on_or_after() -> String {
    "minutes=5".into()
}

fn default_session_validity() -> String {
    "minutes=86400".into()
}

fn default_digest() -> String {
    DIGEST_SHA256.into()
}

fn default_signature() -> String {
    SIGNATURE_RSA_SHA256.into()
}

/// Validity windows in seconds relative to the moment of issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamlWindows {
    pub not_before: i64,
    pub not_on_or_after: i64,
    pub session_not_on_or_after: i64,
}

/// authentik's timedelta with an optional sign on each amount (`minutes=-5`).
pub fn parse_signed_timedelta(text: &str) -> Result<i64, String> {
    let mut total: i64 = 0;
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (unit, amount) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not unit=amount"))?;
        let (negative, magnitude) = match amount.trim().strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, amount.trim()),
        };
        let secs = super::stage::parse_timedelta(&format!("{unit}={magnitude}"))?;
        let secs = i64::try_from(secs).map_err(|_| format!("'{part}' is too long"))?;
        total = total.saturating_add(if negative { -secs } else { secs });
    }
    Ok(total)
}

impl SamlProvider {
    pub fn new(acs_url: String) -> SamlProvider {
        SamlProvider {
            acs_url,
            audience: String::new(),
            issuer: String::new(),
            sp_binding: SamlBinding::Post,
            sls_url: String::new(),
            sls_binding: SamlBinding::Redirect,
            name_id_mapping: None,
            default_name_id_policy: default_name_id_policy(),
            default_relay_state: String::new(),
            assertion_valid_not_before: default_not_before(),
            assertion_valid_not_on_or_after: default_not_on_or_after(),
            session_valid_not_on_or_after: default_session_validity(),
            signing_kp: None,
            verification_kp: None,
            encryption_kp: None,
            sign_assertion: true,
            sign_response: false,
            digest_algorithm: default_digest(),
            signature_algorithm: default_signature(),
            property_mappings: Vec::new(),
        }
    }

    /// The three windows, or which field does not parse. The assertion must be valid
    /// for some time: not-on-or-after has to lie after not-before.
    pub fn windows(&self) -> Result<SamlWindows, (&'static str, String)> {
        let parse = |field: &'static str, text: &str| {
            parse_signed_timedelta(text).map_err(|message| (field, message))
        };
        let windows = SamlWindows {
            not_before: parse(
                "assertion_valid_not_before",
                &self.assertion_valid_not_before,
            )?,
            not_on_or_after: parse(
                "assertion_valid_not_on_or_after",
                &self.assertion_valid_not_on_or_after,
            )?,
            session_not_on_or_after: parse(
                "session_valid_not_on_or_after",
                &self.session_valid_not_on_or_after,
            )?,
        };
        if windows.not_on_or_after <= windows.not_before.max(0) {
            return Err((
                "assertion_valid_not_on_or_after",
                "must lie after now and after assertion_valid_not_before".into(),
            ));
        }
        Ok(windows)
    }
}

/// A SAML attribute mapping: the attribute's name (a URI, usually) and the expression
/// that computes its value(s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamlMapping {
    pub saml_name: String,
    #[serde(default)]
    pub friendly_name: String,
    pub expression: String,
}

pub const SAML_MANAGED_PREFIX: &str = "goauthentik.io/providers/saml/";

/// authentik's default SAML mappings, computed natively (they run on every sign-in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardSamlAttribute {
    Upn,
    Name,
    Email,
    Username,
    Uid,
    Groups,
    WindowsAccountName,
}

impl StandardSamlAttribute {
    pub const ALL: [StandardSamlAttribute; 7] = [
        StandardSamlAttribute::Upn,
        StandardSamlAttribute::Name,
        StandardSamlAttribute::Email,
        StandardSamlAttribute::Username,
        StandardSamlAttribute::Uid,
        StandardSamlAttribute::Groups,
        StandardSamlAttribute::WindowsAccountName,
    ];

    fn key(self) -> &'static str {
        match self {
            StandardSamlAttribute::Upn => "upn",
            StandardSamlAttribute::Name => "name",
            StandardSamlAttribute::Email => "email",
            StandardSamlAttribute::Username => "username",
            StandardSamlAttribute::Uid => "uid",
            StandardSamlAttribute::Groups => "groups",
            StandardSamlAttribute::WindowsAccountName => "ms-windowsaccountname",
        }
    }

    pub fn managed(self) -> String {
        format!("{SAML_MANAGED_PREFIX}{}", self.key())
    }

    pub fn from_managed(managed: &str) -> Option<StandardSamlAttribute> {
        let key = managed.strip_prefix(SAML_MANAGED_PREFIX)?;
        StandardSamlAttribute::ALL
            .into_iter()
            .find(|attribute| attribute.key() == key)
    }

    pub fn saml_name(self) -> &'static str {
        match self {
            StandardSamlAttribute::Upn => {
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
            }
            StandardSamlAttribute::Name => {
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
            }
            StandardSamlAttribute::Email => {
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
            }
            StandardSamlAttribute::Username => {
                "http://schemas.goauthentik.io/2021/02/saml/username"
            }
            StandardSamlAttribute::Uid => "http://schemas.goauthentik.io/2021/02/saml/uid",
            StandardSamlAttribute::Groups => "http://schemas.xmlsoap.org/claims/Group",
            StandardSamlAttribute::WindowsAccountName => {
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/windowsaccountname"
            }
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            StandardSamlAttribute::Upn => "authentik default SAML Mapping: UPN",
            StandardSamlAttribute::Name => "authentik default SAML Mapping: Name",
            StandardSamlAttribute::Email => "authentik default SAML Mapping: Email",
            StandardSamlAttribute::Username => "authentik default SAML Mapping: Username",
            StandardSamlAttribute::Uid => "authentik default SAML Mapping: User ID",
            StandardSamlAttribute::Groups => "authentik default SAML Mapping: Groups",
            StandardSamlAttribute::WindowsAccountName => {
                "authentik default SAML Mapping: WindowsAccountname (Username)"
            }
        }
    }

    /// What the native computation returns, as the expression an admin would write.
    pub fn documented_expression(self) -> &'static str {
        match self {
            StandardSamlAttribute::Upn => "user.attributes.upn ?? user.email",
            StandardSamlAttribute::Name => "user.name",
            StandardSamlAttribute::Email => "user.email",
            StandardSamlAttribute::Username | StandardSamlAttribute::WindowsAccountName => {
                "user.username"
            }
            StandardSamlAttribute::Uid => "# a per-installation hash of the user's id",
            StandardSamlAttribute::Groups => "user.groups",
        }
    }

    pub fn mapping(self) -> PropertyMapping {
        PropertyMapping {
            id: Uuid::new_v4(),
            name: self.display_name().to_owned(),
            managed: Some(self.managed()),
            kind: MappingKind::Saml(SamlMapping {
                saml_name: self.saml_name().to_owned(),
                friendly_name: String::new(),
                expression: self.documented_expression().to_owned(),
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn signed_timedeltas_parse() {
        assert_eq!(parse_signed_timedelta("minutes=-5"), Ok(-300));
        assert_eq!(parse_signed_timedelta("minutes=5"), Ok(300));
        assert_eq!(parse_signed_timedelta("hours=1;minutes=-30"), Ok(1800));
        assert!(parse_signed_timedelta("minutes=x").is_err());
    }

    #[test]
    fn windows_must_leave_time_to_use_the_assertion() {
        let mut provider = SamlProvider::new("https://sp/acs".into());
        assert_eq!(
            provider.windows(),
            Ok(SamlWindows {
                not_before: -300,
                not_on_or_after: 300,
                session_not_on_or_after: 86400 * 60
            })
        );
        provider.assertion_valid_not_on_or_after = "minutes=-1".into();
        assert_eq!(
            provider.windows().map_err(|(field, _)| field),
            Err("assertion_valid_not_on_or_after")
        );
    }

    #[test]
    fn managed_keys_round_trip() {
        for attribute in StandardSamlAttribute::ALL {
            assert_eq!(
                StandardSamlAttribute::from_managed(&attribute.managed()),
                Some(attribute)
            );
        }
    }
}
