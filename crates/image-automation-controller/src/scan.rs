//! ImageRepository scanning: list the registry's tags (paged), drop the excluded ones, keep
//! them in a [`TagStore`] on disk and summarise them for `status.lastScanResult`.
//!
//! Tags live on disk, not in the object or in memory between reconciles: a repository can
//! have 100,000 tags, and ImagePolicies read them from the store when they evaluate. A
//! restarted controller finds them there and does not need to rescan before the interval.

use std::path::{Path, PathBuf};

use driftless_oci::{RegistryClient, Repository};
use regex::Regex;
use sha2::{Digest as _, Sha256};

/// Flux's default `spec.exclusionList`: cosign signature tags.
pub const DEFAULT_EXCLUSION: &str = r"^.*\.sig$";

/// How many tags `lastScanResult.latestTags` shows (Flux's count).
pub const LATEST_TAGS: usize = 10;

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The registry could not be read; [`driftless_oci::Error::reason`] is Flux's reason.
    #[error(transparent)]
    Registry(#[from] driftless_oci::Error),
    /// An `exclusionList` entry is not a regular expression.
    #[error("spec.exclusionList entry {pattern:?} is not a regular expression: {message}")]
    InvalidExclusion {
        /// The entry.
        pattern: String,
        /// The parser's complaint.
        message: String,
    },
    /// More tags than the store keeps for one repository.
    #[error(
        "the repository lists {count} tags, more than the {limit} kept per repository \
         (--max-tags-per-repository); add exclusionList entries or raise the limit"
    )]
    TooManyTags {
        /// Tags after exclusion.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Reading or writing the store failed.
    #[error("tag store {path}: {source}")]
    Store {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ScanError {
    /// Flux's condition reason for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            ScanError::Registry(e) => e.reason(),
            // Flux reports every other scan failure as a failed read.
            ScanError::InvalidExclusion { .. }
            | ScanError::TooManyTags { .. }
            | ScanError::Store { .. } => "ReadOperationFailed",
        }
    }
}

/// What a scan found: the `lastScanResult` fields except the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// Number of tags kept.
    pub tag_count: usize,
    /// The [`LATEST_TAGS`] greatest tags in reverse byte order.
    pub latest_tags: Vec<String>,
    /// Digest of the kept tag list (`sha256:<hex>`), so a reader can tell a new list.
    pub revision: String,
}

/// Lists `repo`'s tags, drops those matching `exclusions`, and stores the rest under `key`.
pub async fn scan(
    client: &RegistryClient,
    repo: &Repository,
    exclusions: &[String],
    store: &TagStore,
    key: &StoreKey<'_>,
) -> Result<Scanned, ScanError> {
    let patterns = compile_exclusions(exclusions)?;
    let tags = client.list_tags(repo).await?;
    let kept = exclude(tags, &patterns);
    store.save(key, kept)
}

/// Compiles `exclusionList` (Flux's default when empty).
pub fn compile_exclusions(exclusions: &[String]) -> Result<Vec<Regex>, ScanError> {
    let default = [DEFAULT_EXCLUSION.to_string()];
    let list = if exclusions.is_empty() {
        &default[..]
    } else {
        exclusions
    };
    list.iter()
        .map(|p| {
            Regex::new(p).map_err(|e| ScanError::InvalidExclusion {
                pattern: p.clone(),
                message: e.to_string(),
            })
        })
        .collect()
}

/// The tags no pattern matches.
pub fn exclude(tags: Vec<String>, patterns: &[Regex]) -> Vec<String> {
    tags.into_iter()
        .filter(|t| !patterns.iter().any(|p| p.is_match(t)))
        .collect()
}

/// Which repository's tags a file holds.
#[derive(Debug, Clone, Copy)]
pub struct StoreKey<'a> {
    /// The ImageRepository's namespace.
    pub namespace: &'a str,
    /// The ImageRepository's name.
    pub name: &'a str,
}

/// Tag lists on disk, one file per ImageRepository: tags sorted in reverse byte order, one
/// per line. Writes are atomic (temporary file + rename), so a reader never sees half a list.
#[derive(Debug, Clone)]
pub struct TagStore {
    dir: PathBuf,
    max_tags: usize,
}

impl TagStore {
    /// A store under `dir` keeping at most `max_tags` tags per repository.
    pub fn new(dir: impl Into<PathBuf>, max_tags: usize) -> TagStore {
        TagStore {
            dir: dir.into(),
            max_tags,
        }
    }

    fn path(&self, key: &StoreKey<'_>) -> PathBuf {
        // Namespaces and names are DNS labels/subdomains: no `/`, never `..`.
        self.dir
            .join(key.namespace)
            .join(format!("{}.tags", key.name))
    }

    /// Replaces `key`'s tags; returns the scan summary.
    pub fn save(&self, key: &StoreKey<'_>, mut tags: Vec<String>) -> Result<Scanned, ScanError> {
        // OCI tags are `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`: a line break cannot be one.
        tags.retain(|t| !t.is_empty() && !t.contains(['\n', '\r']));
        if tags.len() > self.max_tags {
            return Err(ScanError::TooManyTags {
                count: tags.len(),
                limit: self.max_tags,
            });
        }
        tags.sort_unstable_by(|a, b| b.cmp(a));
        tags.dedup();
        let mut body = String::with_capacity(tags.iter().map(|t| t.len() + 1).sum());
        for t in &tags {
            body.push_str(t);
            body.push('\n');
        }
        let path = self.path(key);
        let io = |source| ScanError::Store {
            path: path.clone(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, body.as_bytes()).map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(Scanned {
            tag_count: tags.len(),
            latest_tags: tags.iter().take(LATEST_TAGS).cloned().collect(),
            revision: format!("sha256:{}", hex::encode(Sha256::digest(body.as_bytes()))),
        })
    }

    /// `key`'s tags, `None` when never scanned (or removed).
    pub fn load(&self, key: &StoreKey<'_>) -> Result<Option<Vec<String>>, ScanError> {
        let path = self.path(key);
        match std::fs::read_to_string(&path) {
            Ok(body) => Ok(Some(body.lines().map(str::to_string).collect())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ScanError::Store { path, source }),
        }
    }

    /// Forgets `key`'s tags (the ImageRepository was deleted).
    pub fn remove(&self, key: &StoreKey<'_>) -> Result<(), ScanError> {
        let path = self.path(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ScanError::Store { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: StoreKey<'static> = StoreKey {
        namespace: "apps",
        name: "web",
    };

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_exclusion_drops_signatures_only() {
        let patterns = compile_exclusions(&[]).unwrap();
        let kept = exclude(
            strings(&["1.0.0", "sha256-abc.sig", "sig", "1.0.0.sig.bak"]),
            &patterns,
        );
        assert_eq!(kept, strings(&["1.0.0", "sig", "1.0.0.sig.bak"]));
        let patterns = compile_exclusions(&strings(&["^dev-", "rc"])).unwrap();
        assert_eq!(
            exclude(strings(&["dev-1", "1.0-rc1", "1.0", "x.sig"]), &patterns),
            strings(&["1.0", "x.sig"])
        );
        let err = compile_exclusions(&strings(&["("])).unwrap_err();
        assert_eq!(err.reason(), "ReadOperationFailed");
        assert!(err.to_string().contains("spec.exclusionList"));
    }

    #[test]
    fn store_round_trips_summarises_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let store = TagStore::new(dir.path(), 1_000);
        assert_eq!(store.load(&KEY).unwrap(), None);
        let tags: Vec<String> = (0..15).map(|i| format!("1.{i:02}.0")).collect();
        let scanned = store.save(&KEY, tags.clone()).unwrap();
        assert_eq!(scanned.tag_count, 15);
        assert_eq!(scanned.latest_tags.len(), LATEST_TAGS);
        assert_eq!(scanned.latest_tags[0], "1.14.0");
        assert_eq!(scanned.latest_tags[9], "1.05.0");
        let mut loaded = store.load(&KEY).unwrap().unwrap();
        loaded.sort();
        assert_eq!(loaded, tags);
        // The same list in another order is the same revision; a new tag is a new one.
        let mut shuffled = tags.clone();
        shuffled.reverse();
        assert_eq!(
            store.save(&KEY, shuffled).unwrap().revision,
            scanned.revision
        );
        let again = store.save(&KEY, strings(&["2.0.0"])).unwrap();
        assert_ne!(again.revision, scanned.revision);
        assert_eq!(store.load(&KEY).unwrap().unwrap(), strings(&["2.0.0"]));
        store.remove(&KEY).unwrap();
        assert_eq!(store.load(&KEY).unwrap(), None);
        store.remove(&KEY).unwrap();
    }

    #[test]
    fn store_refuses_more_than_its_limit_and_keeps_the_old_list() {
        let dir = tempfile::tempdir().unwrap();
        let store = TagStore::new(dir.path(), 3);
        store.save(&KEY, strings(&["a", "b"])).unwrap();
        let err = store
            .save(&KEY, strings(&["a", "b", "c", "d"]))
            .unwrap_err();
        assert!(matches!(err, ScanError::TooManyTags { count: 4, limit: 3 }));
        assert!(err.to_string().contains("exclusionList"));
        assert_eq!(store.load(&KEY).unwrap().unwrap(), strings(&["b", "a"]));
    }
}
