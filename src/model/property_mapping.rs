//! Property mappings: how user data becomes protocol data. A scope mapping says which
//! claims an OAuth scope adds; SAML attribute mappings will join as another kind.
//!
//! The managed mappings for the standard scopes are computed in Rust (they run on every
//! token); their `expression` text only documents what they return. Mappings an admin
//! writes are Rhai expressions evaluated with the user in scope.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyMapping {
    pub id: Uuid,
    /// Unique among mappings.
    pub name: String,
    /// Set on the mappings gatehouse creates and keeps (authentik's `managed`).
    #[serde(default)]
    pub managed: Option<String>,
    pub kind: MappingKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MappingKind {
    Scope(ScopeMapping),
    /// A SAML attribute (see `super::saml`).
    Saml(super::saml::SamlMapping),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeMapping {
    /// The OAuth scope that selects this mapping (`email`, `profile`, `gitea`...).
    pub scope_name: String,
    /// Shown on the consent page; empty hides the scope there.
    #[serde(default)]
    pub description: String,
    pub expression: String,
}

/// The standard scopes whose claims are built in (see `StandardScope`).
pub const MANAGED_PREFIX: &str = "goauthentik.io/providers/oauth2/scope-";

/// The scopes with built-in claims, by their managed name's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardScope {
    OpenId,
    Email,
    Profile,
    OfflineAccess,
}

impl StandardScope {
    pub const ALL: [StandardScope; 4] = [
        StandardScope::OpenId,
        StandardScope::Email,
        StandardScope::Profile,
        StandardScope::OfflineAccess,
    ];

    pub fn scope_name(self) -> &'static str {
        match self {
            StandardScope::OpenId => "openid",
            StandardScope::Email => "email",
            StandardScope::Profile => "profile",
            StandardScope::OfflineAccess => "offline_access",
        }
    }

    pub fn managed(self) -> String {
        format!("{MANAGED_PREFIX}{}", self.scope_name())
    }

    pub fn from_managed(managed: &str) -> Option<StandardScope> {
        let name = managed.strip_prefix(MANAGED_PREFIX)?;
        StandardScope::ALL
            .into_iter()
            .find(|scope| scope.scope_name() == name)
    }

    /// authentik's names for the default mappings.
    pub fn display_name(self) -> &'static str {
        match self {
            StandardScope::OpenId => "authentik default OAuth Mapping: OpenID 'openid'",
            StandardScope::Email => "authentik default OAuth Mapping: OpenID 'email'",
            StandardScope::Profile => "authentik default OAuth Mapping: OpenID 'profile'",
            StandardScope::OfflineAccess => {
                "authentik default OAuth Mapping: OpenID 'offline_access'"
            }
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            StandardScope::OpenId => "",
            StandardScope::Email => "Email address",
            StandardScope::Profile => "General Profile Information",
            StandardScope::OfflineAccess => "Access to request new tokens without interaction",
        }
    }

    /// What the built-in computation returns, written as the expression an admin would.
    pub fn documented_expression(self) -> &'static str {
        match self {
            StandardScope::OpenId => {
                "# sub, iss, aud, exp, iat, auth_time, nonce are always added\n#{}"
            }
            StandardScope::Email => "#{ email: user.email, email_verified: true }",
            StandardScope::Profile => {
                "#{ name: user.name, given_name: user.name, preferred_username: user.username,\n   nickname: user.username, groups: user.groups }"
            }
            StandardScope::OfflineAccess => "# issues a refresh token\n#{}",
        }
    }

    pub fn mapping(self) -> PropertyMapping {
        PropertyMapping {
            id: Uuid::new_v4(),
            name: self.display_name().to_owned(),
            managed: Some(self.managed()),
            kind: MappingKind::Scope(ScopeMapping {
                scope_name: self.scope_name().to_owned(),
                description: self.description().to_owned(),
                expression: self.documented_expression().to_owned(),
            }),
        }
    }
}

impl PropertyMapping {
    pub fn scope(&self) -> Option<&ScopeMapping> {
        match &self.kind {
            MappingKind::Scope(scope) => Some(scope),
            MappingKind::Saml(_) => None,
        }
    }

    pub fn saml(&self) -> Option<&super::saml::SamlMapping> {
        match &self.kind {
            MappingKind::Saml(saml) => Some(saml),
            MappingKind::Scope(_) => None,
        }
    }

    /// The default SAML attribute this mapping computes natively, if it is a managed one.
    pub fn standard_saml(&self) -> Option<super::saml::StandardSamlAttribute> {
        self.managed
            .as_deref()
            .and_then(super::saml::StandardSamlAttribute::from_managed)
    }

    /// The standard scope this mapping computes natively, if it is a managed one.
    pub fn standard(&self) -> Option<StandardScope> {
        self.managed
            .as_deref()
            .and_then(StandardScope::from_managed)
    }
}
