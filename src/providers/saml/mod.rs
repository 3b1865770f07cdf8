//! SAML 2.0 identity provider (issue 8): metadata, Web Browser SSO (SP- and
//! IdP-initiated, Redirect and POST bindings) and single logout. Transport-free: the web
//! adapter (`crate::web::saml`) hands in what the browser sent and turns `Outcome`s into
//! redirects, auto-submitting forms and pages.
//!
//! `xml` is the foundation (hardened parsing, a small owned DOM, exclusive
//! canonicalization and XML signatures, all pure Rust); `codec` moves messages in and out
//! of the bindings; `request` reads what service providers send; `response` and
//! `attributes` write what we answer; `sso`, `slo` and `metadata` are the endpoints.

pub mod attributes;
pub mod codec;
pub mod deliver;
pub mod metadata;
pub mod request;
pub mod response;
pub mod slo;
pub mod sso;
pub mod xml;

use std::sync::Arc;

use crate::clock::Clock;
use crate::crypto::SecretBox;
use crate::events::Events;
use crate::flow::FlowEngine;
use crate::policy::PolicyEngine;
use crate::session::Sessions;
use crate::store::{CatalogHandle, Db, Ephemeral};

/// What every endpoint of the provider uses; cheap to clone (handles only).
#[derive(Clone)]
pub struct SamlServices {
    pub db: Db,
    pub ephemeral: Ephemeral,
    pub catalog: CatalogHandle,
    pub secret_box: SecretBox,
    pub policies: PolicyEngine,
    pub events: Events,
    pub sessions: Sessions,
    pub flows: FlowEngine,
    pub clock: Arc<dyn Clock>,
    /// Keys persistent NameIDs and the `uid` attribute: stable across restarts,
    /// different between installations (the OAuth provider's subject key).
    pub subject_key: [u8; 32],
}

/// Kv namespaces of the SAML provider.
pub(crate) mod ns {
    /// Pending SSO id → `sso::PendingSso`.
    pub const PENDING: &str = "saml_pending";
    /// `<provider>:<request ID>` → seen marker: an AuthnRequest is answered once.
    pub const SEEN_REQUESTS: &str = "saml_seen_request";
}

/// The base of a SAML application's endpoints (`https://host/application/saml/<slug>`).
pub fn application_base(base_url: &str, slug: &str) -> String {
    format!("{base_url}/application/saml/{slug}")
}

/// Our entity id for a provider: its configured issuer, or the metadata URL.
pub fn issuer(base_url: &str, slug: &str, provider: &crate::model::SamlProvider) -> String {
    if provider.issuer.trim().is_empty() {
        format!("{}/metadata/", application_base(base_url, slug))
    } else {
        provider.issuer.trim().to_owned()
    }
}
