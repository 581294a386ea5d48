//! Artifact storage under `--storage-path`: `<kind>/<namespace>/<name>/<file>.tar.gz`, written
//! atomically, with retention (`--artifact-retention-records`, `--artifact-retention-ttl`),
//! garbage collection and removal on deletion.
//!
//! ```text
//!  <storage-path>/
//!    gitrepository/<namespace>/<name>/<commit>.tar.gz   ◄── status.artifact.path
//!                                     <older>.tar.gz    ◄── kept until retention drops it
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use driftless_core::artifact::{Digest, DiskTree, PackError, PackTree, Revision, pack_tree};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An object name or kind that would escape the storage root.
    #[error("invalid artifact location {0:?}")]
    InvalidLocation(String),
    /// Packing the tree failed.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// Filesystem trouble.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StorageError {
    let context = context.into();
    move |source| StorageError::Io { context, source }
}

/// How many old artifacts to keep, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// `--artifact-retention-records`: at most this many artifacts per object, current included.
    pub records: usize,
    /// `--artifact-retention-ttl`: older non-current artifacts are removed.
    pub ttl: Duration,
}

impl Default for Retention {
    /// Flux's defaults: 2 records, 60 s.
    fn default() -> Self {
        Self {
            records: 2,
            ttl: Duration::from_secs(60),
        }
    }
}

/// The storage root and how its files are advertised.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    advertised: String,
    retention: Retention,
}

/// What a stored artifact is: the fields of `status.artifact`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtifact {
    /// Path relative to the storage root, `/`-separated.
    pub path: String,
    /// `http://<advertised>/<path>`.
    pub url: String,
    /// The source revision packed.
    pub revision: String,
    /// `sha256:<hex>` of the file.
    pub digest: String,
    /// Size of the file in bytes.
    pub size: u64,
}

/// One object's place in storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey<'a> {
    /// Lower-case kind, e.g. `gitrepository`.
    pub kind: &'a str,
    /// Namespace.
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
}

impl ObjectKey<'_> {
    fn rel_dir(&self) -> Result<PathBuf, StorageError> {
        let mut dir = PathBuf::new();
        for part in [self.kind, self.namespace, self.name] {
            if !is_safe_component(part) {
                return Err(StorageError::InvalidLocation(format!(
                    "{}/{}/{}",
                    self.kind, self.namespace, self.name
                )));
            }
            dir.push(part);
        }
        Ok(dir)
    }
}

/// A single normal path component: no separators, not `.`/`..`, not empty.
fn is_safe_component(part: &str) -> bool {
    !part.is_empty() && part != "." && part != ".." && !part.contains(['/', '\\', '\0'])
}

impl Storage {
    /// Storage rooted at `root` (created if missing), advertising `advertised` (`host:port`).
    pub fn new(
        root: impl Into<PathBuf>,
        advertised: impl Into<String>,
        retention: Retention,
    ) -> Result<Self, StorageError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(io(format!("creating {}", root.display())))?;
        Ok(Self {
            root,
            advertised: advertised.into(),
            retention,
        })
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The URL an artifact at `rel_path` is served at.
    pub fn url(&self, rel_path: &str) -> String {
        format!(
            "http://{}/{}",
            self.advertised.trim_end_matches('/'),
            rel_path
        )
    }

    /// Pack `src` into `<kind>/<ns>/<name>/<revision hex>.tar.gz` (atomically: a reader never
    /// sees a partial file), keeping only what `include` accepts. Symbolic links and special
    /// files are never packed (see `driftless_core::artifact::pack_dir`).
    pub fn store(
        &self,
        key: &ObjectKey<'_>,
        revision: &Revision,
        src: &Path,
        include: impl FnMut(&Path, bool) -> bool,
    ) -> Result<StoredArtifact, StorageError> {
        self.store_tree(key, revision, &DiskTree::new(src)?, include)
    }

    /// [`Self::store`] for any [`PackTree`] (e.g. a commit's tree read from Git's object
    /// database): the same files give the same artifact.
    pub fn store_tree(
        &self,
        key: &ObjectKey<'_>,
        revision: &Revision,
        tree: &impl PackTree,
        include: impl FnMut(&Path, bool) -> bool,
    ) -> Result<StoredArtifact, StorageError> {
        let rel_dir = key.rel_dir()?;
        let dir = self.root.join(&rel_dir);
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let file = format!("{}.tar.gz", revision.hex());
        let dest = dir.join(&file);
        let packed = pack_tree(tree, &dest, include)?;
        let rel = format!("{}/{file}", slash_path(&rel_dir));
        Ok(StoredArtifact {
            url: self.url(&rel),
            path: rel,
            revision: revision.to_string(),
            digest: packed.digest.to_string(),
            size: packed.size,
        })
    }

    /// Store the file `src` as it is (an OCI layer under `layerSelector.operation: copy`) at
    /// `<kind>/<ns>/<name>/<revision hex>.tar.gz`, atomically.
    pub fn store_file(
        &self,
        key: &ObjectKey<'_>,
        revision: &Revision,
        src: &Path,
    ) -> Result<StoredArtifact, StorageError> {
        let rel_dir = key.rel_dir()?;
        let dir = self.root.join(&rel_dir);
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let file = format!("{}.tar.gz", revision.hex());
        let partial = tempfile::Builder::new()
            .prefix(".store-")
            .tempfile_in(&dir)
            .map_err(io(format!("creating a file in {}", dir.display())))?;
        let size =
            std::fs::copy(src, partial.path()).map_err(io(format!("copying {}", src.display())))?;
        let digest = Digest::of_file(partial.path())
            .map_err(io(format!("reading {}", partial.path().display())))?;
        partial
            .persist(dir.join(&file))
            .map_err(|e| io(format!("renaming to {file}"))(e.error))?;
        let rel = format!("{}/{file}", slash_path(&rel_dir));
        Ok(StoredArtifact {
            url: self.url(&rel),
            path: rel,
            revision: revision.to_string(),
            digest: digest.to_string(),
            size,
        })
    }

    /// Whether the artifact at `rel_path` exists and still has `digest` (so a no-op reconcile
    /// can trust it).
    pub fn verify(&self, rel_path: &str, digest: &str) -> bool {
        let Some(path) = self.resolve(rel_path) else {
            return false;
        };
        Digest::of_file(&path).is_ok_and(|d| d.to_string() == digest)
    }

    /// Remove old artifacts of `key` beyond the retention policy, never `current` (relative
    /// path). Returns the relative paths removed.
    pub fn garbage_collect(
        &self,
        key: &ObjectKey<'_>,
        current: &str,
    ) -> Result<Vec<String>, StorageError> {
        let rel_dir = key.rel_dir()?;
        let dir = self.root.join(&rel_dir);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(format!("listing {}", dir.display()))(e)),
        };
        let mut old = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(format!("listing {}", dir.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{}/{name}", slash_path(&rel_dir));
            let meta = entry.metadata().map_err(io(format!("stat {rel}")))?;
            if rel == current || !meta.is_file() || !name.ends_with(".tar.gz") {
                continue;
            }
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            old.push((mtime, name, rel));
        }
        // Newest first; the current artifact takes one of the retained records.
        old.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let keep = self.retention.records.saturating_sub(1);
        let now = SystemTime::now();
        let mut removed = Vec::new();
        for (i, (mtime, name, rel)) in old.into_iter().enumerate() {
            let expired = now.duration_since(mtime).unwrap_or_default() > self.retention.ttl;
            if i >= keep || expired {
                std::fs::remove_file(dir.join(&name)).map_err(io(format!("removing {rel}")))?;
                removed.push(rel);
            }
        }
        Ok(removed)
    }

    /// Remove every artifact of `key` (the finalizer's cleanup).
    pub fn remove_all(&self, key: &ObjectKey<'_>) -> Result<(), StorageError> {
        let dir = self.root.join(key.rel_dir()?);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(format!("removing {}", dir.display()))(e)),
        }
    }

    /// Map a URL path to a regular file under the root, or None: no `..`, no absolute paths,
    /// no hidden (temporary) files, no symbolic links anywhere on the way.
    pub fn resolve(&self, url_path: &str) -> Option<PathBuf> {
        let mut path = self.root.clone();
        for part in url_path.trim_start_matches('/').split('/') {
            if !is_safe_component(part) || part.starts_with('.') {
                return None;
            }
            path.push(part);
            let meta = std::fs::symlink_metadata(&path).ok()?;
            if meta.file_type().is_symlink() {
                return None;
            }
        }
        std::fs::symlink_metadata(&path)
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|_| path)
    }
}

fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: ObjectKey<'static> = ObjectKey {
        kind: "gitrepository",
        namespace: "default",
        name: "app",
    };

    fn revision(hex_digit: char) -> Revision {
        Revision::new(Some("main"), "sha1", &hex_digit.to_string().repeat(40)).expect("revision")
    }

    fn storage(dir: &Path, retention: Retention) -> Storage {
        Storage::new(dir.join("storage"), "source.example:80", retention).expect("storage")
    }

    fn src(dir: &Path, content: &str) -> PathBuf {
        let src = dir.join("src");
        std::fs::create_dir_all(&src).expect("mkdir");
        std::fs::write(src.join("a.yaml"), content).expect("write");
        src
    }

    #[test]
    fn stores_deterministically_with_flux_fields() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = storage(tmp.path(), Retention::default());
        let src = src(tmp.path(), "x: 1\n");
        let a = s
            .store(&KEY, &revision('a'), &src, |_, _| true)
            .expect("store");
        assert_eq!(
            a.path,
            format!("gitrepository/default/app/{}.tar.gz", "a".repeat(40))
        );
        assert_eq!(a.url, format!("http://source.example:80/{}", a.path));
        assert_eq!(a.revision, format!("main@sha1:{}", "a".repeat(40)));
        assert!(a.digest.starts_with("sha256:"));
        let b = s
            .store(&KEY, &revision('b'), &src, |_, _| true)
            .expect("store");
        assert_eq!(a.digest, b.digest, "same tree, same digest");
        assert!(s.verify(&a.path, &a.digest));
        assert!(!s.verify(&a.path, "sha256:00"));
    }

    #[test]
    fn a_copied_file_keeps_its_bytes_and_digest() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = storage(tmp.path(), Retention::default());
        let layer = tmp.path().join("layer.tgz");
        std::fs::write(&layer, b"not repacked").expect("write");
        let hex = "c".repeat(64);
        let rev = Revision::new(Some("v1"), "sha256", &hex).expect("revision");
        let a = s.store_file(&KEY, &rev, &layer).expect("store");
        assert_eq!(a.path, format!("gitrepository/default/app/{hex}.tar.gz"));
        assert_eq!(a.revision, format!("v1@sha256:{hex}"));
        assert_eq!(a.size, 12);
        assert_eq!(
            a.digest,
            Digest::of_bytes(b"not repacked").to_string(),
            "the digest of the bytes as they were"
        );
        let stored = s.resolve(&a.path).expect("in storage");
        assert_eq!(std::fs::read(stored).expect("read"), b"not repacked");
    }

    #[test]
    fn retention_keeps_records_and_never_the_current() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = storage(
            tmp.path(),
            Retention {
                records: 2,
                ttl: Duration::from_secs(3600),
            },
        );
        let src = src(tmp.path(), "x");
        let mut stored = Vec::new();
        for c in ['a', 'b', 'c'] {
            stored.push(
                s.store(&KEY, &revision(c), &src, |_, _| true)
                    .expect("store"),
            );
            // Distinct mtimes without sleeping: set them explicitly, oldest first.
            let f = std::fs::File::options()
                .write(true)
                .open(s.root().join(&stored.last().expect("one").path))
                .expect("open");
            let age = 100 - 10 * stored.len() as u64;
            f.set_modified(SystemTime::now() - Duration::from_secs(age))
                .expect("mtime");
        }
        let current = &stored[2].path;
        let removed = s.garbage_collect(&KEY, current).expect("gc");
        assert_eq!(removed, vec![stored[0].path.clone()]);
        assert!(s.resolve(&stored[1].path).is_some());
        assert!(s.resolve(current).is_some());
    }

    #[test]
    fn ttl_expires_old_artifacts() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = storage(
            tmp.path(),
            Retention {
                records: 10,
                ttl: Duration::from_secs(60),
            },
        );
        let src = src(tmp.path(), "x");
        let old = s
            .store(&KEY, &revision('a'), &src, |_, _| true)
            .expect("store");
        let f = std::fs::File::options()
            .write(true)
            .open(s.root().join(&old.path))
            .expect("open");
        f.set_modified(SystemTime::now() - Duration::from_secs(120))
            .expect("mtime");
        let new = s
            .store(&KEY, &revision('b'), &src, |_, _| true)
            .expect("store");
        assert_eq!(
            s.garbage_collect(&KEY, &new.path).expect("gc"),
            vec![old.path]
        );
    }

    #[test]
    fn remove_all_and_bad_names() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = storage(tmp.path(), Retention::default());
        let src = src(tmp.path(), "x");
        let a = s
            .store(&KEY, &revision('a'), &src, |_, _| true)
            .expect("store");
        s.remove_all(&KEY).expect("remove");
        assert!(s.resolve(&a.path).is_none());
        s.remove_all(&KEY).expect("idempotent");
        let evil = ObjectKey {
            kind: "gitrepository",
            namespace: "..",
            name: "x",
        };
        assert!(matches!(
            s.store(&evil, &revision('a'), &src, |_, _| true),
            Err(StorageError::InvalidLocation(_))
        ));
    }

    #[test]
    fn resolve_refuses_traversal_links_and_temp_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = storage(tmp.path(), Retention::default());
        std::fs::write(tmp.path().join("outside"), "secret").expect("write");
        let dir = s.root().join("gitrepository/ns/n");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("ok.tar.gz"), "x").expect("write");
        std::fs::write(dir.join(".tmp.tar.gz"), "x").expect("write");
        std::os::unix::fs::symlink(tmp.path().join("outside"), dir.join("link.tar.gz"))
            .expect("symlink");
        assert!(s.resolve("gitrepository/ns/n/ok.tar.gz").is_some());
        assert!(s.resolve("/gitrepository/ns/n/ok.tar.gz").is_some());
        for bad in [
            "../outside",
            "gitrepository/../../outside",
            "gitrepository/ns/n/link.tar.gz",
            "gitrepository/ns/n/.tmp.tar.gz",
            "gitrepository/ns/n",
            "",
            "gitrepository/./ns/n/ok.tar.gz",
        ] {
            assert!(s.resolve(bad).is_none(), "{bad:?} must not resolve");
        }
    }
}
