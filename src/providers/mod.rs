//! Protocol providers, one folder per protocol. Each engine is transport-free (parsed
//! request in, outcome out); the web layer speaks the wire.

pub mod ldap;
pub mod oauth2;
pub mod proxy;
pub mod saml;
