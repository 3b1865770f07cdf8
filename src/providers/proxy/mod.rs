//! The proxy provider: forward authentication for Traefik, Caddy and nginx, and proxy
//! mode (gatehouse as the reverse proxy), served by the embedded outpost.
//!
//! The hot path — a request with a valid session cookie — is answered from memory: the
//! routes of the current catalog snapshot (`routes`) find the provider by host, and the
//! admitted-identity cache (`cache`) holds the rendered headers. The Kv keeps the
//! sessions themselves (`session`), so they survive restarts; the directory and the
//! policies are consulted only at sign-in (`signin`, `identity`) and when the identity
//! epoch says users, groups, sessions or rules have changed since.

pub mod cache;
pub mod identity;
pub mod intercept;
pub mod routes;
pub mod session;
pub mod signin;

use std::sync::Arc;

use crate::crypto::digest::hmac_sha256;
use crate::providers::oauth2::OAuthServices;

/// What the outpost endpoints use; built once in `app.rs`.
#[derive(Clone)]
pub struct ProxyServices {
    pub oauth: OAuthServices,
    pub cache: Arc<cache::AdmittedCache>,
    pub routes: Arc<routes::RoutesCache>,
    /// Signs the sign-in `state` and the browser nonce.
    state_key: [u8; 32],
}

impl ProxyServices {
    pub fn new(oauth: OAuthServices) -> ProxyServices {
        let state_key = hmac_sha256(&oauth.subject_key, b"gatehouse/proxy/state/v1");
        ProxyServices {
            oauth,
            cache: Arc::default(),
            routes: Arc::default(),
            state_key,
        }
    }

    /// The routes of the current configuration.
    pub fn routes(&self) -> Arc<routes::Routes> {
        self.routes.current(&self.oauth.catalog)
    }
}
