//! The LDAP provider (authentik's model, served in process): the directory view of users
//! and groups (`view`, `entry`, `dn`), filters (`filter`) and searches (`search`). The
//! listener and binds build on these.

pub mod dn;
pub mod entry;
pub mod filter;
pub mod search;
pub mod view;

#[cfg(test)]
mod tests;
