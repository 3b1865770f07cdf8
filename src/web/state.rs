//! The state every handler sees, built once in `app.rs`. No process globals.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::{PasswordHasher, SecretBox};
use crate::events::Events;
use crate::flow::FlowEngine;
use crate::session::Sessions;
use crate::store::{CatalogHandle, Db, Ephemeral};

use super::templates::Templates;

pub struct AppState {
    /// The background worker's heartbeat (readiness fails when it stops).
    pub worker: crate::tasks::heartbeat::Heartbeat,
    pub settings: Arc<Settings>,
    pub db: Db,
    pub catalog: CatalogHandle,
    pub ephemeral: Ephemeral,
    pub sessions: Sessions,
    pub flows: FlowEngine,
    pub hasher: PasswordHasher,
    pub events: Events,
    /// Cached policy results are dropped whenever configuration changes.
    pub policies: crate::policy::PolicyEngine,
    pub clock: Arc<dyn Clock>,
    pub templates: Templates,
    /// Seals token keys at rest.
    pub secret_box: SecretBox,
    /// Key for CSRF tokens, derived from the secret key.
    pub csrf_key: [u8; 32],
    /// The OAuth2/OpenID Connect provider's engine.
    pub oauth: crate::providers::oauth2::OAuthServices,
    /// Forward auth and proxy mode (the embedded outpost).
    pub proxy: crate::providers::proxy::ProxyServices,
    /// Proxy mode's pooled connections to internal hosts.
    pub upstreams: super::outpost::upstream::Upstreams,
}

impl AppState {
    /// Records what an API caller did, with who and from where.
    pub async fn audit(
        &self,
        caller: &super::extract::ApiCaller,
        action: crate::model::EventAction,
        context: serde_json::Value,
    ) {
        // Every admin change passes here: identities derived from users, groups,
        // tokens and access rules (forward-auth sessions) are rebuilt on next use.
        self.sessions.identity_changed();
        self.events
            .record(
                action,
                Some(&caller.user),
                caller.client_ip.as_deref(),
                context,
            )
            .await;
    }

    /// Call after any configuration write: rebuilds the catalog snapshot and forgets
    /// cached policy results (which may depend on what changed).
    pub async fn configuration_changed(&self) -> crate::store::StoreResult<()> {
        self.policies.clear_cache();
        self.sessions.identity_changed();
        self.catalog.reload(&self.db).await
    }
}
