//! The archive on disk: a gzip-compressed tar whose first entry is `manifest.json`,
//! followed by the files under `data/`. Reading is done in two passes over the stream:
//! `verify` checks every entry against the manifest without writing anything, then
//! `extract` writes and checks again (the file could have changed in between).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::manifest::{FORMAT_VERSION, MANIFEST_NAME, Manifest, hex, is_safe_relative};
use super::snapshot::{create_private, create_private_dirs};

const DATA_PREFIX: &str = "data/";
/// A manifest lists a few dozen files; anything much larger is not one.
const MANIFEST_LIMIT: u64 = 1024 * 1024;

/// Writes the archive next to `output` and renames it into place.
pub fn write(output: &Path, staging: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let name = output
        .file_name()
        .with_context(|| format!("{} is not a file name", output.display()))?
        .to_string_lossy();
    let partial = output.with_file_name(format!(
        ".{name}.partial-{}",
        crate::crypto::random_token(6)
    ));
    let result = write_to(&partial, staging, manifest).and_then(|()| {
        std::fs::rename(&partial, output)
            .with_context(|| format!("cannot rename into {}", output.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn write_to(path: &Path, staging: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let file = create_private(path)?;
    let mut builder = tar::Builder::new(GzEncoder::new(file, Compression::default()));
    let mtime = crate::clock::Clock::now(&crate::clock::SystemClock)
        .0
        .max(0) as u64;
    let json = serde_json::to_vec_pretty(manifest)?;
    append(
        &mut builder,
        MANIFEST_NAME,
        json.len() as u64,
        mtime,
        &json[..],
    )?;
    for entry in &manifest.files {
        let source = File::open(staging.join(&entry.path))?;
        let name = format!("{DATA_PREFIX}{}", entry.path);
        append(&mut builder, &name, entry.size, mtime, source)?;
    }
    let file = builder.into_inner()?.finish()?;
    file.sync_all()?;
    Ok(())
}

fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    mtime: u64,
    data: impl Read,
) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, name, data)
        .with_context(|| format!("cannot add {name} to the archive"))
}

fn open(archive: &Path) -> anyhow::Result<tar::Archive<GzDecoder<File>>> {
    let file = File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    Ok(tar::Archive::new(GzDecoder::new(file)))
}

/// Pass one: reads the manifest and checks every file's size and SHA-256 against it.
/// Nothing is written.
pub fn verify(archive: &Path) -> anyhow::Result<Manifest> {
    walk(archive, |_, reader| {
        let (_, sum) = super::manifest::digest(reader)?;
        Ok(sum)
    })
}

/// Pass two: writes every file under `into` (0600 files, 0700 directories) and checks its
/// checksum again while writing.
pub fn extract(archive: &Path, into: &Path) -> anyhow::Result<Manifest> {
    walk(archive, |relative, reader| {
        let target = into.join(relative);
        if let Some(parent) = target.parent() {
            create_private_dirs(parent)?;
        }
        let mut file = create_private(&target)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = reader.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            let chunk = buffer.get(..read).unwrap_or_default();
            hasher.update(chunk);
            file.write_all(chunk)?;
        }
        file.sync_all()?;
        Ok(hex(&hasher.finalize()))
    })
}

/// Reads the archive in order, hands each data file to `each` (which returns the
/// checksum it saw) and checks the result against the manifest: every listed file
/// exactly once, nothing unlisted, every checksum equal.
fn walk(
    archive: &Path,
    mut each: impl FnMut(&str, &mut dyn Read) -> anyhow::Result<String>,
) -> anyhow::Result<Manifest> {
    let mut tar = open(archive)?;
    let mut entries = tar
        .entries()
        .with_context(|| format!("{} is not a gatehouse backup", archive.display()))?;
    let manifest = read_manifest(entries.next(), archive)?;
    let mut expected: BTreeMap<&str, &str> = manifest
        .files
        .iter()
        .map(|file| (file.path.as_str(), file.sha256.as_str()))
        .collect();
    for entry in entries {
        let mut entry = entry.context("the archive is damaged")?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let Some(relative) = name.strip_prefix(DATA_PREFIX) else {
            bail!("unexpected entry {name:?} in the archive");
        };
        if entry.header().entry_type() != tar::EntryType::Regular {
            bail!("{name} is not a regular file");
        }
        let Some(want) = expected.remove(relative) else {
            bail!("{name} is not listed in the manifest (or appears twice)");
        };
        let seen = each(relative, &mut entry).with_context(|| format!("reading {name}"))?;
        if seen != want {
            bail!("{name} does not match its checksum in the manifest: the archive is damaged");
        }
    }
    if let Some(missing) = expected.keys().next() {
        bail!("{missing} is listed in the manifest but missing from the archive");
    }
    Ok(manifest)
}

fn read_manifest<R: Read>(
    first: Option<std::io::Result<tar::Entry<'_, R>>>,
    archive: &Path,
) -> anyhow::Result<Manifest> {
    let not_a_backup = || format!("{} is not a gatehouse backup", archive.display());
    let entry = first
        .with_context(not_a_backup)?
        .with_context(not_a_backup)?;
    if entry.path()?.to_string_lossy() != MANIFEST_NAME {
        bail!(
            "{} (its first entry is not {MANIFEST_NAME})",
            not_a_backup()
        );
    }
    let mut json = Vec::new();
    entry.take(MANIFEST_LIMIT).read_to_end(&mut json)?;
    let manifest: Manifest = serde_json::from_slice(&json)
        .with_context(|| format!("{}: the manifest does not parse", not_a_backup()))?;
    if manifest.format_version != FORMAT_VERSION {
        bail!(
            "backup format {} is not one this gatehouse ({}) reads (it reads format {FORMAT_VERSION})",
            manifest.format_version,
            env!("CARGO_PKG_VERSION")
        );
    }
    if let Some(bad) = manifest.files.iter().find(|f| !is_safe_relative(&f.path)) {
        bail!("the manifest names an unsafe path {:?}", bad.path);
    }
    Ok(manifest)
}
