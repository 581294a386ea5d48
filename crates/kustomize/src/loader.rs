//! File access for one kustomization directory, confined to that directory.
//!
//! kustomize's default load restrictor (`LoadRestrictionsRootOnly`): files a kustomization
//! names (resources, patches, generator inputs, …) must resolve — symlinks followed — to a
//! path inside the kustomization's own directory. Other kustomization directories (bases,
//! components) may live elsewhere; each is confined to its own root in turn.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Reads files relative to one kustomization root.
#[derive(Debug, Clone)]
pub struct Loader {
    root: PathBuf,
}

impl Loader {
    /// `root` must already be canonical.
    pub fn new(root: PathBuf) -> Self {
        Loader { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves `rel` inside the root, refusing anything that lands outside it.
    pub fn resolve_file(&self, rel: &str) -> Result<PathBuf> {
        let joined = self.root.join(rel);
        let real = joined.canonicalize().map_err(|source| Error::Io {
            path: joined.clone(),
            source,
        })?;
        if !real.starts_with(&self.root) {
            return Err(Error::OutsideRoot {
                path: real,
                root: self.root.clone(),
            });
        }
        Ok(real)
    }

    pub fn read_bytes(&self, rel: &str) -> Result<Vec<u8>> {
        let path = self.resolve_file(rel)?;
        let meta = std::fs::metadata(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        if meta.len() > crate::yaml::MAX_FILE_BYTES as u64 {
            return Err(Error::invalid(path.display().to_string(), "file too large"));
        }
        std::fs::read(&path).map_err(|source| Error::Io { path, source })
    }

    pub fn read_string(&self, rel: &str) -> Result<String> {
        let bytes = self.read_bytes(rel)?;
        String::from_utf8(bytes).map_err(|_| {
            Error::invalid(
                self.root.join(rel).display().to_string(),
                "file is not valid UTF-8",
            )
        })
    }
}

/// Whether a `resources` entry names a remote base (git or HTTP) rather than a local path.
pub fn looks_remote(entry: &str) -> bool {
    let lower = entry.to_ascii_lowercase();
    [
        "https://",
        "http://",
        "git::",
        "git@",
        "ssh://",
        "github.com/",
        "gitlab.com/",
        "bitbucket.org/",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
        || lower.contains(".git?ref=")
        || lower.contains(".git//")
}
