//! A private scratch directory next to where the result goes (same filesystem, so the
//! final step is a rename), removed when dropped unless it was moved into place.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub struct Staging {
    path: PathBuf,
    keep: bool,
}

impl Staging {
    /// Creates `<parent>/.<stem>-<random>` with mode 0700.
    pub fn beside(target: &Path, stem: &str) -> anyhow::Result<Staging> {
        let parent = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let path = parent.join(format!(".{stem}-{}", crate::crypto::random_token(9)));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Staging { path, keep: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the directory to `target` (which must not exist) and keeps it.
    pub fn move_to(mut self, target: &Path) -> anyhow::Result<()> {
        std::fs::rename(&self.path, target).with_context(|| {
            format!(
                "cannot move {} to {}",
                self.path.display(),
                target.display()
            )
        })?;
        self.keep = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
