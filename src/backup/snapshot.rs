//! `gatehouse backup <file>`: copy every piece into a private staging directory next to
//! the archive, hash them into the manifest, write the archive beside its final name and
//! rename it into place, so an interrupted backup never leaves a truncated archive.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::control;
use super::manifest::{FORMAT_VERSION, FileEntry, Manifest, digest};
use super::staging::Staging;
use super::{COPIED_DIRS, DATABASE_FILE, KV_FILE, SECRET_KEY_FILE};

/// What a finished backup holds, for the command's one-line report.
pub struct BackupReport {
    pub manifest: Manifest,
    /// How the ephemeral state was copied: by the running server, or directly.
    pub kv_source: &'static str,
}

/// `offline_kv` copies the redb file when no server runs (`app.rs` owns that adapter);
/// it returns `Ok(false)` when there is no such file.
pub fn backup(
    data_dir: &Path,
    output: &Path,
    secret_key_in_config: bool,
    offline_kv: &dyn Fn(&Path) -> anyhow::Result<bool>,
) -> anyhow::Result<BackupReport> {
    let database = data_dir.join(DATABASE_FILE);
    if !database.is_file() {
        bail!("no database at {} (wrong --data-dir?)", database.display());
    }
    let staging = Staging::beside(output, "gatehouse-backup")?;
    let schema_version =
        super::sqlite_copy::copy_database(&database, &staging.path().join(DATABASE_FILE))?;
    let kv_target = staging.path().join(KV_FILE);
    let kv_source = match control::connect(data_dir)? {
        Some(stream) => {
            control::fetch_kv_snapshot(stream, &kv_target)?;
            "copied by the running server"
        }
        None if offline_kv(&kv_target)? => "copied directly (no server running)",
        None => "none (no ephemeral.redb)",
    };
    let mut relative: Vec<String> = vec![DATABASE_FILE.into()];
    if kv_target.is_file() {
        relative.push(KV_FILE.into());
    }
    let secret_key = data_dir.join(SECRET_KEY_FILE);
    let secret_key_included = !secret_key_in_config && secret_key.is_file();
    if secret_key_included {
        copy_private(&secret_key, &staging.path().join(SECRET_KEY_FILE))?;
        relative.push(SECRET_KEY_FILE.into());
    }
    for dir in COPIED_DIRS {
        for file in files_under(&data_dir.join(dir), data_dir)? {
            copy_private(&data_dir.join(&file), &staging.path().join(&file))?;
            relative.push(file);
        }
    }
    let mut files = Vec::with_capacity(relative.len());
    for path in relative {
        let opened = File::open(staging.path().join(&path))
            .with_context(|| format!("cannot read the staged {path}"))?;
        let (size, sha256) = digest(opened)?;
        files.push(FileEntry { path, size, sha256 });
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        gatehouse_version: env!("CARGO_PKG_VERSION").into(),
        created: crate::clock::Clock::now(&crate::clock::SystemClock).to_rfc3339(),
        schema_version,
        secret_key_included,
        files,
    };
    super::archive::write(output, staging.path(), &manifest)?;
    Ok(BackupReport {
        manifest,
        kv_source,
    })
}

/// Regular files under `dir`, relative to `root`, `/`-separated, sorted; none when `dir`
/// does not exist. Symbolic links are skipped: a backup copies the data, not the host.
fn files_under(dir: &Path, root: &Path) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut pending: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot list {}", current.display()));
            }
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                let path = entry.path();
                let inside = path
                    .strip_prefix(root)
                    .with_context(|| format!("{} is outside {}", path.display(), root.display()))?;
                let parts: Vec<String> = inside
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.push(parts.join("/"));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Copies a file into the staging directory, creating parents, mode 0600.
fn copy_private(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(parent) = to.parent() {
        create_private_dirs(parent)?;
    }
    let mut source = File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    let mut target = create_private(to)?;
    std::io::copy(&mut source, &mut target)?;
    target.sync_all()?;
    Ok(())
}

/// Creates a new file readable by its owner only (the archive holds the secret key).
pub fn create_private(path: &Path) -> anyhow::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

pub fn create_private_dirs(path: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(path)
        .with_context(|| format!("cannot create {}", path.display()))
}
