//! The one integration-test binary: every test starts its own server through the same
//! start-up as `main` (ephemeral ports, temporary data directory, manual clock) and
//! drives it over the network with a real HTTP client and cookie jar.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod harness;

mod api_auth;
mod api_resources;
mod applications;
mod architecture;
mod audit_api;
mod backup;
mod bootstrap;
mod brands;
mod cli;
mod config;
mod devices_page;
mod email;
mod enrollment;
mod executor_login;
mod flow_admin;
mod flows_policies;
mod forward_auth;
mod keypairs;
mod ldap_api;
mod ldap_server;
mod limits;
mod metrics;
mod mfa_api;
mod mfa_configure;
mod mfa_email;
mod mfa_flows;
mod oauth_api;
mod oauth_flows;
mod page_login;
mod proxy_upstream;
mod saml_api;
mod saml_keys;
mod saml_slo;
mod saml_sso;
mod service;
mod sessions;
mod setup;
mod webauthn_flows;
