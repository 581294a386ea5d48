//! The unpacked-artifact cache: one read-only tree per artifact digest, shared by every
//! Kustomization built from it, evicted while the controller runs.
//!
//! A tree unused for [`MAX_AGE`] is removed, and while the trees together exceed [`MAX_BYTES`]
//! the least recently used go first. A tree a reconcile still holds (its [`Tree`] is alive) is
//! never removed: eviction moves a tree out of the digest's name under the index lock, so a
//! concurrent fetch of that digest downloads afresh instead of reading a half-deleted tree.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Trees not used for this long are removed.
pub const MAX_AGE: Duration = Duration::from_secs(30 * 60);
/// Above this many bytes of unpacked trees, the least recently used are removed.
pub const MAX_BYTES: u64 = 2 << 30;

/// A cached tree in use; the tree is not evicted while this lives.
#[derive(Debug)]
pub struct Tree {
    path: PathBuf,
    _in_use: Arc<()>,
}

impl Tree {
    /// The root of the unpacked artifact.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Debug)]
struct Entry {
    bytes: u64,
    last_used: Instant,
    in_use: Arc<()>,
}

/// The cache folder and its index (the folder is the process's own, so the index is complete).
#[derive(Debug)]
pub struct ArtifactCache {
    dir: PathBuf,
    max_age: Duration,
    max_bytes: u64,
    entries: Mutex<HashMap<String, Entry>>,
}

impl ArtifactCache {
    /// A cache in `dir` (created) with the default limits.
    pub fn new(dir: PathBuf) -> std::io::Result<Self> {
        Self::with_limits(dir, MAX_AGE, MAX_BYTES)
    }

    /// A cache in `dir` (created) with the given limits.
    pub fn with_limits(dir: PathBuf, max_age: Duration, max_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            max_age,
            max_bytes,
            entries: Mutex::default(),
        })
    }

    /// The cache folder (downloads are staged inside it, so a rename moves them into place).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves a consistent map: every change is one insert
        // or remove.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tree of digest `hex`, when cached.
    pub fn get(&self, hex: &str) -> Option<Tree> {
        let mut entries = self.lock();
        let entry = entries.get_mut(hex)?;
        entry.last_used = Instant::now();
        Some(Tree {
            path: self.dir.join(hex),
            _in_use: entry.in_use.clone(),
        })
    }

    /// Moves the unpacked tree at `staged` (inside [`Self::dir`]) into place as digest `hex`.
    /// When another reconcile stored the same digest first, its tree is used.
    pub fn insert(&self, hex: &str, staged: &Path) -> std::io::Result<Tree> {
        let bytes = tree_bytes(staged)?;
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(hex) {
            entry.last_used = Instant::now();
            return Ok(Tree {
                path: self.dir.join(hex),
                _in_use: entry.in_use.clone(),
            });
        }
        let path = self.dir.join(hex);
        std::fs::rename(staged, &path)?;
        let in_use = Arc::new(());
        entries.insert(
            hex.to_owned(),
            Entry {
                bytes,
                last_used: Instant::now(),
                in_use: in_use.clone(),
            },
        );
        Ok(Tree {
            path,
            _in_use: in_use,
        })
    }

    /// Removes the trees [`Self::evictable`] names at `now`; returns how many.
    pub fn evict(&self, now: Instant) -> usize {
        let mut doomed = Vec::new();
        {
            let mut entries = self.lock();
            for hex in self.evictable(&entries, now) {
                entries.remove(&hex);
                let from = self.dir.join(&hex);
                let to = self.dir.join(format!(".evicted-{hex}"));
                match std::fs::rename(&from, &to) {
                    Ok(()) => doomed.push(to),
                    Err(e) => {
                        tracing::warn!(path = %from.display(), error = %e, "evicting a cached artifact")
                    }
                }
            }
        }
        for path in &doomed {
            if let Err(e) = std::fs::remove_dir_all(path) {
                tracing::warn!(path = %path.display(), error = %e, "removing an evicted artifact");
            }
        }
        doomed.len()
    }

    /// The digests to evict at `now`: every idle tree older than the age limit, then idle
    /// trees least recently used first while the total is above the size limit.
    fn evictable(&self, entries: &HashMap<String, Entry>, now: Instant) -> Vec<String> {
        let idle = |e: &Entry| Arc::strong_count(&e.in_use) == 1;
        let mut out: Vec<String> = Vec::new();
        let mut total: u64 = entries.values().map(|e| e.bytes).sum();
        for (hex, e) in entries {
            if idle(e) && now.saturating_duration_since(e.last_used) >= self.max_age {
                out.push(hex.clone());
                total = total.saturating_sub(e.bytes);
            }
        }
        let mut by_age: Vec<(&String, &Entry)> = entries
            .iter()
            .filter(|(hex, e)| idle(e) && !out.contains(hex))
            .collect();
        by_age.sort_by_key(|(_, e)| e.last_used);
        for (hex, e) in by_age {
            if total <= self.max_bytes {
                break;
            }
            out.push(hex.clone());
            total = total.saturating_sub(e.bytes);
        }
        out
    }
}

/// Bytes of the regular files below `root` (links are not followed).
fn tree_bytes(root: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(cache: &ArtifactCache, bytes: usize) -> PathBuf {
        let dir = tempfile::tempdir_in(cache.dir()).expect("stage").keep();
        std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
        std::fs::write(dir.join("sub/file.yaml"), vec![b'x'; bytes]).expect("write");
        dir
    }

    #[test]
    fn idle_trees_go_by_age_then_least_recently_used_above_the_size() {
        let root = tempfile::tempdir().expect("tmp");
        let cache =
            ArtifactCache::with_limits(root.path().join("cache"), Duration::from_secs(60), 250)
                .expect("cache");
        let t0 = Instant::now();
        for hex in ["a", "b", "c"] {
            let tree = cache.insert(hex, &staged(&cache, 100)).expect("insert");
            assert!(tree.path().join("sub/file.yaml").is_file());
        }
        // 300 bytes > 250: the least recently used idle tree goes, and its folder with it.
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        assert_eq!(cache.evict(t0), 1);
        assert!(cache.get("a").is_none());
        assert!(!cache.dir().join("a").exists());
        // A tree in use is kept even when old; idle old ones go.
        let held = cache.get("b").expect("cached");
        assert_eq!(cache.evict(t0 + Duration::from_secs(3600)), 1);
        assert!(held.path().is_dir());
        assert!(cache.get("c").is_none());
        drop(held);
        assert_eq!(cache.evict(Instant::now() + Duration::from_secs(3600)), 1);
        assert!(cache.get("b").is_none());
        let left: Vec<_> = std::fs::read_dir(cache.dir())
            .expect("read")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_second_insert_of_a_digest_keeps_the_first_tree() {
        let root = tempfile::tempdir().expect("tmp");
        let cache = ArtifactCache::new(root.path().join("cache")).expect("cache");
        let first = cache.insert("d", &staged(&cache, 10)).expect("first");
        let second_stage = staged(&cache, 20);
        let second = cache.insert("d", &second_stage).expect("second");
        assert_eq!(first.path(), second.path());
        assert_eq!(
            std::fs::metadata(second.path().join("sub/file.yaml"))
                .expect("file")
                .len(),
            10
        );
    }
}
