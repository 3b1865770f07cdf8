//! Providers: the protocol side of an application (authentik's model). Each kind is a
//! struct; the kinds form one tagged enum stored as JSON beside the few queried columns.
//! OAuth2/OpenID Connect is the first kind; the proxy provider (forward auth) is an OAuth
//! client underneath, as in authentik; SAML and LDAP join as they land.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{FlowId, ProviderId, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// Assigned by the store on insert (the value passed in is ignored).
    pub id: ProviderId,
    /// Unique among providers.
    pub name: String,
    /// The flow a signed-in user runs before the application gets anything (consent).
    pub authorization_flow: FlowId,
    /// The flow that ends the session on RP-initiated logout; the brand's when unset.
    #[serde(default)]
    pub invalidation_flow: Option<FlowId>,
    pub kind: ProviderKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProviderKind {
    #[serde(rename = "oauth2")]
    OAuth2(OAuth2Provider),
    Proxy(ProxyProvider),
    Ldap(LdapProvider),
    Saml(super::saml::SamlProvider),
}

impl Provider {
    /// The OAuth client side: an OAuth2 provider's, or the one a proxy provider signs
    /// users in through.
    pub fn oauth2(&self) -> Option<&OAuth2Provider> {
        match &self.kind {
            ProviderKind::OAuth2(oauth) => Some(oauth),
            ProviderKind::Proxy(proxy) => Some(&proxy.oauth),
            ProviderKind::Ldap(_) | ProviderKind::Saml(_) => None,
        }
    }

    /// Only for an OAuth2/OpenID provider proper (what `providers/oauth2/` lists).
    pub fn is_oauth2(&self) -> bool {
        matches!(self.kind, ProviderKind::OAuth2(_))
    }

    pub fn proxy(&self) -> Option<&ProxyProvider> {
        match &self.kind {
            ProviderKind::Proxy(proxy) => Some(proxy),
            ProviderKind::OAuth2(_) | ProviderKind::Ldap(_) | ProviderKind::Saml(_) => None,
        }
    }

    pub fn saml(&self) -> Option<&super::saml::SamlProvider> {
        match &self.kind {
            ProviderKind::Saml(saml) => Some(saml),
            _ => None,
        }
    }

    pub fn ldap(&self) -> Option<&LdapProvider> {
        match &self.kind {
            ProviderKind::Ldap(ldap) => Some(ldap),
            ProviderKind::OAuth2(_) | ProviderKind::Proxy(_) | ProviderKind::Saml(_) => None,
        }
    }

    /// The OAuth client id, for the store's unique index.
    pub fn client_id(&self) -> Option<&str> {
        self.oauth2().map(|oauth| oauth.client_id.as_str())
    }

    /// Where the launcher sends users when the application names no launch URL, as
    /// authentik derives it: the origin of the first exact redirect URI.
    pub fn default_launch_url(&self) -> Option<String> {
        if let Some(proxy) = self.proxy() {
            return Some(proxy.external_host.clone());
        }
        let oauth = self.oauth2()?;
        let first = oauth
            .redirect_uris
            .iter()
            .find(|uri| uri.matching_mode == MatchingMode::Strict)?;
        let url = url::Url::parse(&first.url).ok()?;
        matches!(url.scheme(), "http" | "https")
            .then(|| url.origin().ascii_serialization())
            .map(|origin| format!("{origin}/"))
    }

    /// authentik's `component` / `meta_model_name` pair for the API.
    pub fn component(&self) -> (&'static str, &'static str) {
        match self.kind {
            ProviderKind::OAuth2(_) => (
                "ak-provider-oauth2-form",
                "authentik_providers_oauth2.oauth2provider",
            ),
            ProviderKind::Proxy(_) => (
                "ak-provider-proxy-form",
                "authentik_providers_proxy.proxyprovider",
            ),
            ProviderKind::Ldap(_) => (
                "ak-provider-ldap-form",
                "authentik_providers_ldap.ldapprovider",
            ),
            ProviderKind::Saml(_) => (
                "ak-provider-saml-form",
                "authentik_providers_saml.samlprovider",
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// Can keep a secret (a server-side app): authenticates at the token endpoint.
    #[default]
    Confidential,
    /// Cannot (a single-page or native app): no secret, PKCE required.
    Public,
}

/// How a registered redirect URI is compared with the one a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchingMode {
    /// Byte-for-byte equality (RFC 6749 §3.1.2, OAuth 2.1).
    #[default]
    Strict,
    /// The whole URI must match the regular expression (anchored).
    Regex,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectUri {
    #[serde(default)]
    pub matching_mode: MatchingMode,
    pub url: String,
}

/// What the `sub` claim holds (authentik's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubMode {
    /// A per-installation hash of the user's id: stable, and reveals nothing.
    #[default]
    HashedUserId,
    UserId,
    UserUuid,
    UserUsername,
    UserEmail,
    /// The user's `upn` attribute, falling back to the hashed id.
    UserUpn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuerMode {
    /// `https://host/application/o/<slug>/`, one issuer per application.
    #[default]
    PerProvider,
    /// `https://host/application/o/`, one issuer for all.
    Global,
}

/// A signing key taken out of service, still published until tokens signed with it
/// have expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredKey {
    pub key: Uuid,
    pub until: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuth2Provider {
    #[serde(default)]
    pub client_type: ClientType,
    pub client_id: String,
    /// Sealed with the installation's `SecretBox`; empty for public clients.
    #[serde(default)]
    pub client_secret_sealed: String,
    #[serde(default)]
    pub redirect_uris: Vec<RedirectUri>,
    /// Scope mappings (ids of `PropertyMapping`s) the client may ask for.
    #[serde(default)]
    pub property_mappings: Vec<Uuid>,
    /// The key tokens are signed with; `None` means the default RSA key.
    #[serde(default)]
    pub signing_key: Option<Uuid>,
    #[serde(default)]
    pub retired_keys: Vec<RetiredKey>,
    /// authentik's timedelta strings (`minutes=1`, `hours=1;minutes=30`).
    #[serde(default = "default_code_validity")]
    pub access_code_validity: String,
    #[serde(default = "default_access_validity")]
    pub access_token_validity: String,
    #[serde(default = "default_refresh_validity")]
    pub refresh_token_validity: String,
    #[serde(default = "yes")]
    pub include_claims_in_id_token: bool,
    #[serde(default)]
    pub sub_mode: SubMode,
    #[serde(default)]
    pub issuer_mode: IssuerMode,
}

fn default_code_validity() -> String {
    "minutes=1".into()
}

fn default_access_validity() -> String {
    "hours=1".into()
}

fn default_refresh_validity() -> String {
    "days=30".into()
}

fn yes() -> bool {
    true
}

/// How a proxy provider protects its application (authentik's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyMode {
    /// gatehouse itself forwards requests for the external host to the internal host.
    Proxy,
    /// A reverse proxy asks gatehouse about each request for one external host.
    #[default]
    ForwardSingle,
    /// As `ForwardSingle`, for every host under the cookie domain with one sign-in.
    ForwardDomain,
}

/// A proxy provider: forward authentication for a reverse proxy, or gatehouse as the
/// reverse proxy. Users sign in through `oauth` (an OAuth client whose only redirect
/// URI is the callback on the external host), as with authentik's outpost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyProvider {
    pub oauth: OAuth2Provider,
    #[serde(default)]
    pub mode: ProxyMode,
    /// The URL users open (`https://app.example.com`); in domain mode, gatehouse's own.
    pub external_host: String,
    /// Where proxy mode forwards to (`http://10.0.0.5:8080`).
    #[serde(default)]
    pub internal_host: String,
    #[serde(default = "yes")]
    pub internal_host_ssl_validation: bool,
    /// Domain mode: the cookie's domain (`example.com`), one sign-in for every host in it.
    #[serde(default)]
    pub cookie_domain: String,
    /// One regular expression per line; a matching path passes without a sign-in.
    #[serde(default)]
    pub skip_path_regex: String,
    #[serde(default)]
    pub basic_auth_enabled: bool,
    /// User/group attribute holding the Basic user name; the username when empty.
    #[serde(default)]
    pub basic_auth_user_attribute: String,
    #[serde(default)]
    pub basic_auth_password_attribute: String,
    /// Accept `Authorization: Basic`/`Bearer` from clients that cannot follow a sign-in.
    #[serde(default = "yes")]
    pub intercept_header_auth: bool,
}

/// authentik's LDAP "access modes": `direct` asks the core per request, `cached` keeps
/// a copy. gatehouse answers searches from its in-memory view either way (it is in
/// process); the setting is kept for clients that read it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LdapAccessMode {
    #[default]
    Direct,
    Cached,
}

/// An LDAP provider: a read-only directory of users and groups for legacy apps. Binds
/// run the provider's bind flow (`authorization_flow`) headless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LdapProvider {
    pub base_dn: String,
    /// Members of this group (or superusers) may search; others see only themselves.
    #[serde(default)]
    pub search_group: Option<super::GroupId>,
    #[serde(default)]
    pub bind_mode: LdapAccessMode,
    #[serde(default)]
    pub search_mode: LdapAccessMode,
    /// A TOTP or recovery code appended to the password (`password;123456`).
    #[serde(default)]
    pub mfa_support: bool,
    pub uid_start_number: i64,
    pub gid_start_number: i64,
    #[serde(default)]
    pub tls_server_name: String,
    /// The certificate LDAPS and StartTLS present; `None` uses gatehouse's own.
    #[serde(default)]
    pub certificate: Option<Uuid>,
}

/// The path prefix authentik's outposts answer on, on every protected host.
pub const OUTPOST_PATH_PREFIX: &str = "/outpost.goauthentik.io";

impl ProxyProvider {
    /// The callback URL on the external host: the OAuth client's one redirect URI.
    pub fn callback_url(&self) -> String {
        format!(
            "{}{OUTPOST_PATH_PREFIX}/callback?X-authentik-auth-callback=true",
            self.external_host.trim_end_matches('/')
        )
    }

    /// Makes the OAuth side follow the proxy settings: the callback as the only redirect
    /// URI. Called whenever the external host may have changed.
    pub fn sync_redirect_uri(&mut self) {
        self.oauth.redirect_uris = vec![RedirectUri {
            matching_mode: MatchingMode::Strict,
            url: self.callback_url(),
        }];
    }
}

/// Token lifetimes in seconds, parsed once from the timedelta strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub code: u64,
    pub access: u64,
    pub refresh: u64,
}

impl OAuth2Provider {
    pub fn new(client_id: String, client_secret_sealed: String) -> OAuth2Provider {
        OAuth2Provider {
            client_type: ClientType::Confidential,
            client_id,
            client_secret_sealed,
            redirect_uris: Vec::new(),
            property_mappings: Vec::new(),
            signing_key: None,
            retired_keys: Vec::new(),
            access_code_validity: default_code_validity(),
            access_token_validity: default_access_validity(),
            refresh_token_validity: default_refresh_validity(),
            include_claims_in_id_token: true,
            sub_mode: SubMode::HashedUserId,
            issuer_mode: IssuerMode::PerProvider,
        }
    }

    /// How long a revoked token family must stay marked: as long as any of its tokens
    /// could still be presented (its refresh tokens, or an access token minted last).
    /// A provider whose lifetimes do not parse falls back to the defaults' 30 days.
    pub fn family_ttl_secs(&self) -> u64 {
        self.lifetimes().map_or(30 * 86_400, |lifetimes| {
            lifetimes.refresh.max(lifetimes.access)
        })
    }

    /// The lifetimes, or which field does not parse. A zero lifetime is refused too: a
    /// token valid for no time at all is a configuration mistake.
    pub fn lifetimes(&self) -> Result<Lifetimes, (&'static str, String)> {
        let parse = |field: &'static str, text: &str| match super::stage::parse_timedelta(text) {
            Ok(0) => Err((field, "must be longer than zero".to_owned())),
            Ok(secs) => Ok(secs),
            Err(message) => Err((field, message)),
        };
        Ok(Lifetimes {
            code: parse("access_code_validity", &self.access_code_validity)?,
            access: parse("access_token_validity", &self.access_token_validity)?,
            refresh: parse("refresh_token_validity", &self.refresh_token_validity)?,
        })
    }

    /// Signs with `key` from now on. The key it replaces stays published (in
    /// `retired_keys`) for `keep_for` seconds, the lifetime of the tokens it signed, so
    /// relying parties can still verify them; retired keys past their time are dropped.
    /// The default key (`None`) is published anyway and is never retired.
    pub fn replace_signing_key(&mut self, key: Option<Uuid>, now: Timestamp, keep_for: u64) {
        self.retired_keys.retain(|retired| retired.until > now);
        if key == self.signing_key {
            return;
        }
        if let Some(previous) = self.signing_key {
            let until = now.plus_secs(keep_for);
            match self
                .retired_keys
                .iter_mut()
                .find(|retired| retired.key == previous)
            {
                Some(retired) => retired.until = retired.until.max(until),
                None => self.retired_keys.push(RetiredKey {
                    key: previous,
                    until,
                }),
            }
        }
        // A key brought back into service is no longer retired.
        self.retired_keys.retain(|retired| Some(retired.key) != key);
        self.signing_key = key;
    }
}

/// A refresh token as stored: only the SHA-256 of the token itself. Every token issued
/// from one authorization shares a `grant` (the family): rotation marks the presented
/// token used and issues the next one in the family; presenting a used token again
/// revokes the whole family (RFC 9700 §4.14.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub token_hash: String,
    pub grant: Uuid,
    pub provider: ProviderId,
    pub user: super::UserId,
    pub scopes: Vec<String>,
    /// When the user authenticated for the grant (the `auth_time` claim).
    pub auth_time: Timestamp,
    pub expires: Timestamp,
    pub created: Timestamp,
    pub used: bool,
    pub revoked: bool,
}

/// How many hex digits of the hash make a refresh token's API id: 52 bits, which a
/// JavaScript number holds exactly.
const API_PK_HEX_DIGITS: usize = 13;

impl RefreshToken {
    /// The token's id in the API, where authentik has an integer pk: the first 52 bits
    /// of its hash. The hash itself (let alone the token) is never shown.
    pub fn api_pk(&self) -> i64 {
        self.token_hash
            .get(..API_PK_HEX_DIGITS)
            .and_then(|digits| i64::from_str_radix(digits, 16).ok())
            .unwrap_or_default()
    }

    /// The hash prefix an API id stands for; `None` for a number no token can have.
    pub fn hash_prefix_of(api_pk: i64) -> Option<String> {
        (0..1_i64 << (4 * API_PK_HEX_DIGITS))
            .contains(&api_pk)
            .then(|| format!("{api_pk:0width$x}", width = API_PK_HEX_DIGITS))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse_and_refuse_zero() {
        let mut provider = OAuth2Provider::new("id".into(), String::new());
        assert_eq!(
            provider.lifetimes(),
            Ok(Lifetimes {
                code: 60,
                access: 3600,
                refresh: 30 * 86_400
            })
        );
        provider.access_token_validity = "minutes=0".into();
        assert_eq!(
            provider.lifetimes().map_err(|(field, _)| field),
            Err("access_token_validity")
        );
    }

    #[test]
    fn a_replaced_signing_key_stays_published_until_its_tokens_expire() {
        let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
        let mut provider = OAuth2Provider::new("id".into(), String::new());
        provider.replace_signing_key(Some(first), Timestamp(100), 3600);
        assert!(
            provider.retired_keys.is_empty(),
            "the default key is never retired"
        );
        provider.replace_signing_key(Some(second), Timestamp(200), 3600);
        assert_eq!(provider.signing_key, Some(second));
        assert_eq!(
            provider.retired_keys,
            vec![RetiredKey {
                key: first,
                until: Timestamp(3800)
            }]
        );
        // The same key again changes nothing; back to the first un-retires it.
        provider.replace_signing_key(Some(second), Timestamp(300), 3600);
        assert_eq!(provider.retired_keys.len(), 1);
        provider.replace_signing_key(Some(first), Timestamp(400), 60);
        assert_eq!(
            provider.retired_keys,
            vec![RetiredKey {
                key: second,
                until: Timestamp(460)
            }]
        );
        // Past its time a retired key goes at the next change.
        provider.replace_signing_key(Some(first), Timestamp(461), 60);
        assert!(provider.retired_keys.is_empty());
    }

    #[test]
    fn providers_round_trip_as_tagged_json() {
        let provider = Provider {
            id: ProviderId(7),
            name: "Grafana".into(),
            authorization_flow: FlowId(Uuid::new_v4()),
            invalidation_flow: None,
            kind: ProviderKind::OAuth2(OAuth2Provider::new("abc".into(), String::new())),
        };
        let json = serde_json::to_value(&provider).unwrap();
        assert_eq!(json["kind"]["type"], "oauth2");
        let back: Provider = serde_json::from_value(json).unwrap();
        assert_eq!(back, provider);
        assert_eq!(back.client_id(), Some("abc"));
    }

    #[test]
    fn refresh_token_api_ids_are_hash_prefixes() {
        let token = RefreshToken {
            token_hash: format!("{:013x}fffff", 0x1_2345_6789_abcd_u64),
            grant: Uuid::new_v4(),
            provider: ProviderId(1),
            user: crate::model::UserId(1),
            scopes: Vec::new(),
            auth_time: Timestamp(0),
            expires: Timestamp(0),
            created: Timestamp(0),
            used: false,
            revoked: false,
        };
        assert_eq!(token.api_pk(), 0x1_2345_6789_abcd);
        let prefix = RefreshToken::hash_prefix_of(token.api_pk()).unwrap();
        assert!(token.token_hash.starts_with(&prefix), "{prefix}");
        assert_eq!(RefreshToken::hash_prefix_of(5).unwrap(), "0000000000005");
        assert_eq!(RefreshToken::hash_prefix_of(-1), None);
        assert_eq!(RefreshToken::hash_prefix_of(1 << 52), None);
    }
}
