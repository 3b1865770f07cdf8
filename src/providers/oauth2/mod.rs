//! The OAuth 2.0 / OpenID Connect provider: authorization (with the flow engine for
//! login and consent), the token endpoint's grants, userinfo, introspection (RFC 7662),
//! revocation (RFC 7009), the device grant (RFC 8628), RP-initiated logout and discovery.
//!
//! Configuration (clients, keys, scope mappings) comes from the catalog snapshot and keys
//! are held decoded in memory, so the token endpoint reads the database only for what is
//! state: the user, and refresh tokens. Short-lived state (codes, pending authorizations,
//! device codes, revocation markers) lives in the Kv.

pub mod authorize;
pub mod claims;
pub mod client;
pub mod device;
pub mod discovery;
pub mod error;
pub mod grants;
pub mod introspect;
pub mod jwt;
pub mod logout;
pub mod userinfo;

use std::sync::Arc;

use crate::clock::Clock;
use crate::crypto::SecretBox;
use crate::events::Events;
use crate::flow::FlowEngine;
use crate::policy::PolicyEngine;
use crate::session::Sessions;
use crate::store::{CatalogHandle, Db, Ephemeral};

pub use error::OAuthError;

/// What every endpoint of the provider uses; built once in `app.rs`.
#[derive(Clone)]
pub struct OAuthServices {
    pub db: Db,
    pub ephemeral: Ephemeral,
    pub catalog: CatalogHandle,
    pub secret_box: SecretBox,
    pub policies: PolicyEngine,
    pub events: Events,
    pub sessions: Sessions,
    pub flows: FlowEngine,
    pub clock: Arc<dyn Clock>,
    /// Key for `sub_mode = hashed_user_id`, derived from the installation's secret key:
    /// subjects stay stable across restarts and differ between installations.
    pub subject_key: [u8; 32],
}

/// Kv namespaces, in one place so no two features share one by accident.
pub(crate) mod ns {
    /// `sha256(code)` → `CodeGrant`, single use.
    pub const CODES: &str = "oauth_code";
    /// Grant (family) id → revoked marker, until its tokens have expired.
    pub const REVOKED_GRANTS: &str = "oauth_grant_revoked";
    /// Access token `jti` → revoked marker, until the token expires.
    pub const REVOKED_TOKENS: &str = "oauth_token_revoked";
    /// Pending authorization id → `PendingAuthorization`.
    pub const PENDING: &str = "oauth_pending";
    /// `sha256(device_code)` → `DeviceGrant`.
    pub const DEVICE_CODES: &str = "oauth_device";
    /// Normalized user code → `sha256(device_code)`.
    pub const USER_CODES: &str = "oauth_user_code";
}

/// The issuer for a provider as seen through `base` (`https://auth.example.com`).
pub fn issuer(base: &str, provider: &crate::model::OAuth2Provider, app_slug: &str) -> String {
    match provider.issuer_mode {
        crate::model::IssuerMode::PerProvider => format!("{base}/application/o/{app_slug}/"),
        crate::model::IssuerMode::Global => format!("{base}/application/o/"),
    }
}
