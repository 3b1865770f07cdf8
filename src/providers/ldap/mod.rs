//! The LDAP provider (authentik's model, served in process): the directory view of users
//! and groups (`view`, `entry`, `dn`, kept in memory by `directory`), filters (`filter`)
//! and searches (`search`), binds (`bind`), and the listener that speaks the wire
//! (`server`).

use std::sync::Arc;

use crate::clock::Clock;
use crate::events::Events;
use crate::policy::PolicyEngine;
use crate::session::Sessions;
use crate::store::{CatalogHandle, Db};

pub mod bind;
pub mod bind_cache;
pub mod certificates;
pub mod directory;
pub mod dn;
pub mod entry;
pub mod filter;
pub mod schema;
pub mod search;
pub mod server;
pub mod view;
pub mod wire;

/// What binds and searches use; built once in `app.rs`.
pub struct LdapServices {
    pub db: Db,
    pub catalog: CatalogHandle,
    /// For the identity epoch (when to rebuild directory views).
    pub sessions: Sessions,
    pub policies: PolicyEngine,
    pub events: Events,
    pub clock: Arc<dyn Clock>,
    pub directories: directory::Directories,
    /// Runs bind flows headless.
    pub flows: crate::flow::engine::FlowEngine,
    pub bind_cache: bind_cache::BindCache,
}

#[cfg(test)]
mod tests;
