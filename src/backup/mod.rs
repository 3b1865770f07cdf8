//! `gatehouse backup` and `gatehouse restore`: one tar.gz archive holding a consistent
//! copy of the data directory (the SQLite database through SQLite's online backup API,
//! the redb ephemeral state as one read transaction saw it, the secret key, the TLS
//! certificate and custom templates) with a manifest of SHA-256 checksums.
//!
//! This module owns the archive format and the files it reads and writes; it never opens
//! the live redb file (the server holds it): the running server copies it when asked over
//! the control socket (`control.rs`), and `app.rs` copies it when no server runs.

pub mod archive;
pub mod control;
pub mod manifest;
pub mod restore;
pub mod snapshot;
mod sqlite_copy;
mod staging;

pub use restore::restore;
pub use snapshot::backup;

/// Names inside the data directory (and inside the archive, under `data/`).
pub const DATABASE_FILE: &str = "gatehouse.db";
pub const KV_FILE: &str = "ephemeral.redb";
pub const SECRET_KEY_FILE: &str = "secret.key";
/// Directories copied whole when present: the HTTPS/LDAPS certificate and custom templates.
pub const COPIED_DIRS: &[&str] = &["tls", "templates"];
