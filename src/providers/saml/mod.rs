//! SAML 2.0 identity provider (issue 8). `xml` is its foundation: hardened parsing, a small
//! owned DOM, exclusive canonicalization and XML signatures, all pure Rust.

pub mod xml;
