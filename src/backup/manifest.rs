//! The archive's table of contents: what wrote it, when, at which schema version, and
//! every file with its size and SHA-256, so `restore` can check all of it before writing.

use std::io::Read;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bumped when the layout changes in a way an older `restore` would misread.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's name in the archive; it is always the first entry.
pub const MANIFEST_NAME: &str = "manifest.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format_version: u32,
    pub gatehouse_version: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// The newest applied migration of the copied SQLite database.
    pub schema_version: u32,
    /// False when the secret key comes from the configuration: it is then not in the
    /// archive and must be kept with it.
    pub secret_key_included: bool,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative to the data directory, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// Hashes a stream; returns `(size, hex digest)`.
pub fn digest(mut reader: impl Read) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size: u64 = 0;
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(buffer.get(..read).unwrap_or_default());
        size = size.saturating_add(read as u64);
    }
    Ok((size, hex(&hasher.finalize())))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A manifest path must stay inside the data directory: relative, plain names only
/// (no `..`, no root, no `.`), so a crafted archive cannot write elsewhere.
pub fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && Path::new(path)
            .components()
            .all(|component| matches!(component, Component::Normal(_)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_safe() {
        assert!(is_safe_relative("gatehouse.db"));
        assert!(is_safe_relative("tls/key.pem"));
        for bad in ["", "/etc/passwd", "../x", "tls/../../x", "./x", "a\\b"] {
            assert!(!is_safe_relative(bad), "{bad}");
        }
    }

    #[test]
    fn digest_is_sha256_in_hex() {
        let (size, sum) = digest(&b"abc"[..]).unwrap();
        assert_eq!(size, 3);
        assert_eq!(
            sum,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
