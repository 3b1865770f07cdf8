//! `gatehouse restore <file>`: check the whole archive first (pass one writes nothing),
//! unpack it into a staging directory beside the data directory, then rename it into
//! place. A data directory that is not empty is replaced only with `--force`, and even
//! then it is moved aside, never deleted.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::archive;
use super::control;
use super::manifest::Manifest;
use super::snapshot::create_private_dirs;
use super::staging::Staging;

pub struct RestoreReport {
    pub manifest: Manifest,
    /// Where the previous contents went, when `--force` replaced a directory.
    pub moved_aside: Option<PathBuf>,
}

pub fn restore(archive_path: &Path, data_dir: &Path, force: bool) -> anyhow::Result<RestoreReport> {
    if control::connect(data_dir)?.is_some() {
        bail!(
            "a gatehouse server is running on {}; stop it before restoring",
            data_dir.display()
        );
    }
    let occupied = is_occupied(data_dir)?;
    if occupied && !force {
        bail!(
            "{} is not empty; restore into an empty directory, or pass --force to replace it \
             (its contents are then moved aside, not deleted)",
            data_dir.display()
        );
    }
    let manifest = archive::verify(archive_path)?;
    check_schema(&manifest)?;

    let parent = data_dir
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_private_dirs(parent)?;
    let staging = Staging::beside(data_dir, "gatehouse-restore")?;
    archive::extract(archive_path, staging.path())?;
    // Run as root (the usual case for /var/lib/gatehouse), the files would belong to
    // root and the service account could not read them: give them the owner of the
    // directory they replace (systemd's StateDirectory or the tmpfiles entry made it).
    if let Some(owner) = owner_of(data_dir) {
        chown_tree(staging.path(), owner)?;
    }

    let moved_aside = if occupied {
        let aside = aside_name(data_dir);
        std::fs::rename(data_dir, &aside).with_context(|| {
            format!(
                "cannot move {} aside to {}",
                data_dir.display(),
                aside.display()
            )
        })?;
        Some(aside)
    } else {
        if data_dir.exists() {
            std::fs::remove_dir(data_dir)
                .with_context(|| format!("cannot replace the empty {}", data_dir.display()))?;
        }
        None
    };
    if let Err(error) = staging.move_to(data_dir) {
        // Put the previous contents back rather than leave no data directory at all.
        if let Some(aside) = &moved_aside {
            let _ = std::fs::rename(aside, data_dir);
        }
        return Err(error);
    }
    Ok(RestoreReport {
        manifest,
        moved_aside,
    })
}

#[cfg(unix)]
fn owner_of(path: &Path) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.uid(), metadata.gid()))
}

#[cfg(not(unix))]
fn owner_of(_: &Path) -> Option<(u32, u32)> {
    None
}

/// Changes the owner of `root` and everything under it (no-op when it already matches,
/// which is the case whenever restore does not run as root).
#[cfg(unix)]
fn chown_tree(root: &Path, (uid, gid): (u32, u32)) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path)?;
        if metadata.uid() != uid || metadata.gid() != gid {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
                .with_context(|| format!("cannot give {} to uid {uid}", path.display()))?;
        }
        if metadata.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn chown_tree(_: &Path, _: (u32, u32)) -> anyhow::Result<()> {
    Ok(())
}

fn is_occupied(data_dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(data_dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", data_dir.display())),
    }
}

/// A database from a newer gatehouse would be refused at start anyway; say so now,
/// before anything is replaced.
fn check_schema(manifest: &Manifest) -> anyhow::Result<()> {
    let newest = crate::store::migrations::known_versions()
        .last()
        .map(|(version, _)| *version)
        .unwrap_or(0);
    if manifest.schema_version > newest {
        bail!(
            "the backup's database schema is version {} (written by gatehouse {}), newer \
             than this gatehouse {} supports ({newest}); restore it with gatehouse {} or newer",
            manifest.schema_version,
            manifest.gatehouse_version,
            env!("CARGO_PKG_VERSION"),
            manifest.gatehouse_version,
        );
    }
    Ok(())
}

fn aside_name(data_dir: &Path) -> PathBuf {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock).0;
    let name = data_dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    data_dir.with_file_name(format!("{name}.before-restore-{now}"))
}
