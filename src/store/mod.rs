//! The storage port. `Store` holds durable relational data (directory, configuration
//! objects, events) behind read and write scopes; `Kv` holds short-lived keyed state with
//! expiry (sessions, flow executions, one-time codes). Callers use the async `Db` facade
//! and the typed `Ephemeral` wrapper; only `app.rs` names a concrete adapter.

pub mod catalog;
pub mod db;
pub mod ephemeral;
pub mod error;
pub mod kv;
pub mod memory_kv;
pub mod migrations;
pub mod ports;
pub mod redb_kv;
pub mod sqlite;

#[cfg(test)]
mod contract;

pub use catalog::{Catalog, CatalogHandle, CatalogParts};
pub use db::Db;
pub use ephemeral::Ephemeral;
pub use error::{StoreError, StoreResult};
pub use kv::Kv;
pub use ports::{
    ApplicationReads, ApplicationWrites, BrandReads, BrandWrites, ConsentFilter, ConsentReads,
    ConsentWrites, DeviceFilter, DeviceReads, DeviceWrites, EventFilter, EventReads, EventWrites,
    FlowReads, FlowWrites, GroupReads, GroupWrites, InvitationReads, InvitationWrites,
    KeypairReads, KeypairWrites, ListQuery, MetaReads, MetaWrites, OAuthTokenReads,
    OAuthTokenWrites, OutboxReads, OutboxWrites, OutpostReads, OutpostWrites, Page, PolicyReads,
    PolicyWrites, PropertyMappingReads, PropertyMappingWrites, ProviderReads, ProviderWrites,
    ReadTx, RefreshTokenFilter, Store, StoreExt, TokenReads, TokenWrites, UserReads, UserWrites,
    WriteTx,
};
