//! Safe unpacking of an untrusted tar.gz into a directory.
//!
//! An artifact comes over the network from another controller (or anything that can write a
//! source's status), so it is treated as hostile. Unpacking refuses, naming the entry:
//! absolute paths, `..` components, links whose target leaves the destination, devices, fifos
//! and other special entries, and archives over the [`Limits`].
//!
//! Links. Symbolic links whose target stays inside the destination are kept (charts and
//! kustomize overlays use them); hard links to an earlier regular file of the archive are kept
//! as a copy of that file (no inode is shared). To make "stays inside" hold on the real file
//! system and not only on paper, all symbolic links are created last, after every file and
//! directory: nothing is ever written through a link. A link target is resolved component by
//! component and refused if it climbs above the destination or passes through another link of
//! the archive (a chain such as `a -> d/l/..` with `d/l -> ..` would otherwise escape), and an
//! entry that lies under a symbolic link of the archive is refused.

use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use flate2::read::GzDecoder;
use tar::EntryType;

/// Bounds on what an archive may expand to, checked while reading so a small compressed
/// artifact cannot fill the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sum of the sizes of all regular files (hard-link copies included).
    pub max_total_bytes: u64,
    /// Size of any single file.
    pub max_file_bytes: u64,
    /// Number of entries of any kind.
    pub max_entries: u64,
}

impl Default for Limits {
    /// Generous for manifests and charts: 1 GiB in total, 256 MiB per file, 100 000 entries.
    fn default() -> Self {
        Limits {
            max_total_bytes: 1 << 30,
            max_file_bytes: 256 << 20,
            max_entries: 100_000,
        }
    }
}

/// What was unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unpacked {
    /// Regular files written (hard-link copies included).
    pub files: u64,
    /// Directories created from directory entries.
    pub dirs: u64,
    /// Symbolic links created.
    pub symlinks: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Why an archive was refused. Every entry-specific variant names the entry as written in the
/// archive.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The destination exists and is not an empty directory.
    #[error("cannot unpack into {0}: it is not an empty directory")]
    DestinationNotEmpty(PathBuf),
    /// An entry path is absolute.
    #[error("archive entry {entry:?} has an absolute path")]
    AbsolutePath {
        /// The entry path.
        entry: String,
    },
    /// An entry path contains `..`.
    #[error("archive entry {entry:?} has a \"..\" component")]
    ParentComponent {
        /// The entry path.
        entry: String,
    },
    /// A symbolic or hard link points outside the destination.
    #[error("archive entry {entry:?} links to {target:?}, which is outside the archive root")]
    LinkEscapes {
        /// The link entry path.
        entry: String,
        /// Its target as written.
        target: String,
    },
    /// A symbolic link target goes through another symbolic link of the archive.
    #[error("archive entry {entry:?} links to {target:?} through the symbolic link {via:?}")]
    LinkThroughLink {
        /// The link entry path.
        entry: String,
        /// Its target as written.
        target: String,
        /// The other link it passes through.
        via: String,
    },
    /// An entry lies under a symbolic link of the archive, so writing it would follow the link.
    #[error("archive entry {entry:?} is inside the symbolic link {link:?}")]
    EntryUnderLink {
        /// The entry path.
        entry: String,
        /// The symbolic link it lies under.
        link: String,
    },
    /// A hard link names no earlier regular file of the archive.
    #[error(
        "archive entry {entry:?} is a hard link to {target:?}, which is not an earlier file of the archive"
    )]
    HardLinkTargetMissing {
        /// The link entry path.
        entry: String,
        /// Its target as written.
        target: String,
    },
    /// A device, fifo or other entry type we do not unpack.
    #[error("archive entry {entry:?} is a {kind}, which is not allowed")]
    UnsupportedEntry {
        /// The entry path.
        entry: String,
        /// What it is, e.g. "character device".
        kind: &'static str,
    },
    /// A file is larger than [`Limits::max_file_bytes`].
    #[error("archive entry {entry:?} is {size} bytes, over the per-file limit of {limit} bytes")]
    FileTooLarge {
        /// The entry path.
        entry: String,
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Files add up to more than [`Limits::max_total_bytes`].
    #[error("archive entry {entry:?} brings the unpacked size over the limit of {limit} bytes")]
    TotalTooLarge {
        /// The entry that crossed the limit.
        entry: String,
        /// The limit.
        limit: u64,
    },
    /// More entries than [`Limits::max_entries`].
    #[error("archive entry {entry:?} is over the limit of {limit} entries")]
    TooManyEntries {
        /// The first entry over the limit.
        entry: String,
        /// The limit.
        limit: u64,
    },
    /// The decompressed stream (headers included) is far larger than the limits allow.
    #[error("the decompressed archive exceeds {limit} bytes")]
    StreamTooLarge {
        /// The bound on the decompressed tar stream.
        limit: u64,
    },
    /// Two entries want the same path as different kinds (a file and a directory or link).
    #[error("archive entry {entry:?} conflicts with another entry at the same path: {source}")]
    Conflict {
        /// The entry path.
        entry: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The archive is not valid gzip or tar.
    #[error("invalid tar.gz archive: {0}")]
    Corrupt(io::Error),
    /// Writing an entry failed.
    #[error("unpacking archive entry {entry:?}: {source}")]
    Io {
        /// The entry path (or the destination).
        entry: String,
        /// The underlying error.
        source: io::Error,
    },
}

/// Unpacks the tar.gz file at `archive` into `dest`. See [`unpack`].
pub fn unpack_file(archive: &Path, dest: &Path, limits: &Limits) -> Result<Unpacked, UnpackError> {
    let file = File::open(archive).map_err(|source| UnpackError::Io {
        entry: archive.display().to_string(),
        source,
    })?;
    unpack(io::BufReader::new(file), dest, limits)
}

/// Unpacks a tar.gz stream into `dest`, which must be missing or an empty directory.
///
/// Files get mode 0644, or 0755 when the archive marks them executable; owners and times
/// from the archive are ignored. On error, everything written is removed again (`dest` is left
/// as it was found: absent or empty), so a refused archive is never half-used.
pub fn unpack(reader: impl Read, dest: &Path, limits: &Limits) -> Result<Unpacked, UnpackError> {
    // `metadata` follows a link: the destination path itself is the caller's, not the archive's.
    let existed = match fs::metadata(dest) {
        Ok(meta) => {
            let empty = meta.is_dir()
                && fs::read_dir(dest)
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(false);
            if !empty {
                return Err(UnpackError::DestinationNotEmpty(dest.to_path_buf()));
            }
            true
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(source) => {
            return Err(UnpackError::Io {
                entry: dest.display().to_string(),
                source,
            });
        }
    };
    if !existed {
        fs::create_dir_all(dest).map_err(|source| UnpackError::Io {
            entry: dest.display().to_string(),
            source,
        })?;
    }
    let result = Unpacker::new(dest, limits).run(reader);
    if result.is_err() {
        clean(dest, existed);
    }
    result
}

/// Removes what a failed unpack wrote, restoring `dest` to absent or empty. Best effort: the
/// unpack error is what the caller needs to see.
fn clean(dest: &Path, keep_dir: bool) {
    if keep_dir {
        if let Ok(entries) = fs::read_dir(dest) {
            for entry in entries.flatten() {
                let path = entry.path();
                let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
                let _ = if is_dir {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
            }
        }
    } else {
        let _ = fs::remove_dir_all(dest);
    }
}

struct PendingLink {
    entry: String,
    rel: PathBuf,
    target: PathBuf,
}

struct Unpacker<'a> {
    dest: &'a Path,
    limits: &'a Limits,
    summary: Unpacked,
    entries: u64,
    /// Every entry path, to check none lies under a symbolic link.
    paths: Vec<(String, PathBuf)>,
    /// Regular files written so far, the only valid hard-link targets.
    files: HashSet<PathBuf>,
    links: Vec<PendingLink>,
}

impl<'a> Unpacker<'a> {
    fn new(dest: &'a Path, limits: &'a Limits) -> Self {
        Unpacker {
            dest,
            limits,
            summary: Unpacked::default(),
            entries: 0,
            paths: Vec::new(),
            files: HashSet::new(),
            links: Vec::new(),
        }
    }

    fn run(mut self, reader: impl Read) -> Result<Unpacked, UnpackError> {
        // Bound the decompressed stream too: long-name and PAX headers are read into memory by
        // the tar reader and count against no file size.
        let stream_limit = self
            .limits
            .max_total_bytes
            .saturating_add(self.limits.max_entries.saturating_mul(1536))
            .saturating_add(1 << 20);
        let limit_hit = Rc::new(Cell::new(false));
        let bounded = BoundedReader {
            inner: GzDecoder::new(reader),
            remaining: stream_limit,
            hit: Rc::clone(&limit_hit),
        };
        let mut archive = tar::Archive::new(bounded);
        if let Err(e) = self.read_entries(&mut archive) {
            // The tar reader wraps read errors in its own, so the bound reports through a flag.
            return Err(if limit_hit.get() {
                UnpackError::StreamTooLarge {
                    limit: stream_limit,
                }
            } else {
                e
            });
        }
        self.finish_links()?;
        Ok(self.summary)
    }

    fn read_entries<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<(), UnpackError> {
        for entry in archive.entries().map_err(UnpackError::Corrupt)? {
            self.entry(entry.map_err(UnpackError::Corrupt)?)?;
        }
        Ok(())
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            return Ok(());
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(UnpackError::TooManyEntries {
                entry: name,
                limit: self.limits.max_entries,
            });
        }
        let Some(rel) = archive_path(&entry.path_bytes(), &name)? else {
            // The root itself (`./`): nothing to create.
            return Ok(());
        };
        let io_err = |entry: &str| {
            let entry = entry.to_string();
            move |source| UnpackError::Io { entry, source }
        };
        match kind {
            EntryType::Directory => {
                let path = self.dest.join(&rel);
                if path.is_file() {
                    return Err(UnpackError::Conflict {
                        entry: name,
                        source: io::Error::from(io::ErrorKind::AlreadyExists),
                    });
                }
                fs::create_dir_all(&path).map_err(io_err(&name))?;
                self.summary.dirs += 1;
            }
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.header().size().map_err(UnpackError::Corrupt)?;
                self.reserve(&name, size)?;
                let mode = entry.header().mode().unwrap_or(0o644);
                let file = self.create_file(&name, &rel, mode)?;
                let mut writer = io::BufWriter::new(file);
                let copied =
                    io::copy(&mut (&mut entry).take(size), &mut writer).map_err(io_err(&name))?;
                if copied != size {
                    return Err(UnpackError::Corrupt(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("entry {name:?} is truncated"),
                    )));
                }
                io::Write::flush(&mut writer).map_err(io_err(&name))?;
                self.files.insert(rel.clone());
                self.summary.files += 1;
            }
            EntryType::Link => {
                let target_raw = entry.link_name_bytes().unwrap_or_default().into_owned();
                let target_name = String::from_utf8_lossy(&target_raw).into_owned();
                let target = match archive_path(&target_raw, &target_name) {
                    Ok(Some(t)) => t,
                    Ok(None) | Err(_) => {
                        return Err(UnpackError::LinkEscapes {
                            entry: name,
                            target: target_name,
                        });
                    }
                };
                if !self.files.contains(&target) {
                    return Err(UnpackError::HardLinkTargetMissing {
                        entry: name,
                        target: target_name,
                    });
                }
                let source_path = self.dest.join(&target);
                let size = fs::metadata(&source_path).map_err(io_err(&name))?.len();
                self.reserve(&name, size)?;
                let mut source = File::open(&source_path).map_err(io_err(&name))?;
                let mode = entry.header().mode().unwrap_or(0o644);
                let mut file = self.create_file(&name, &rel, mode)?;
                io::copy(&mut source, &mut file).map_err(io_err(&name))?;
                self.files.insert(rel.clone());
                self.summary.files += 1;
            }
            EntryType::Symlink => {
                let target_raw = entry.link_name_bytes().unwrap_or_default().into_owned();
                let target_name = String::from_utf8_lossy(&target_raw).into_owned();
                let target = PathBuf::from(bytes_to_os(&target_raw));
                if target.as_os_str().is_empty() || lexical_escape(&rel, &target) {
                    return Err(UnpackError::LinkEscapes {
                        entry: name,
                        target: target_name,
                    });
                }
                self.links.push(PendingLink {
                    entry: name.clone(),
                    rel: rel.clone(),
                    target,
                });
            }
            other => {
                return Err(UnpackError::UnsupportedEntry {
                    entry: name,
                    kind: kind_name(other),
                });
            }
        }
        self.paths.push((name, rel));
        Ok(())
    }

    /// Checks the size limits for a file of `size` bytes and counts it.
    fn reserve(&mut self, name: &str, size: u64) -> Result<(), UnpackError> {
        if size > self.limits.max_file_bytes {
            return Err(UnpackError::FileTooLarge {
                entry: name.to_string(),
                size,
                limit: self.limits.max_file_bytes,
            });
        }
        let total = self.summary.bytes.saturating_add(size);
        if total > self.limits.max_total_bytes {
            return Err(UnpackError::TotalTooLarge {
                entry: name.to_string(),
                limit: self.limits.max_total_bytes,
            });
        }
        self.summary.bytes = total;
        Ok(())
    }

    /// Creates (or truncates) a regular file. No symbolic link exists under `dest` yet (they
    /// are created last), so the parent directories created here are real directories.
    fn create_file(&self, name: &str, rel: &Path, mode: u32) -> Result<File, UnpackError> {
        let path = self.dest.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| UnpackError::Conflict {
                entry: name.to_string(),
                source,
            })?;
        }
        if path.is_dir() {
            return Err(UnpackError::Conflict {
                entry: name.to_string(),
                source: io::Error::from(io::ErrorKind::AlreadyExists),
            });
        }
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
        set_mode(&mut options, mode);
        options.open(&path).map_err(|source| UnpackError::Io {
            entry: name.to_string(),
            source,
        })
    }

    /// Validates and creates the symbolic links, after everything else exists.
    fn finish_links(&mut self) -> Result<(), UnpackError> {
        if self.links.is_empty() {
            return Ok(());
        }
        let link_paths: HashSet<&Path> = self.links.iter().map(|l| l.rel.as_path()).collect();
        let link_name = |p: &Path| {
            self.links
                .iter()
                .find(|l| l.rel == p)
                .map(|l| l.entry.clone())
                .unwrap_or_default()
        };
        for link in &self.links {
            let target_name = link.target.to_string_lossy().into_owned();
            let escapes = || UnpackError::LinkEscapes {
                entry: link.entry.clone(),
                target: target_name.clone(),
            };
            let mut resolved: PathBuf =
                link.rel.parent().map(Path::to_path_buf).unwrap_or_default();
            let components: Vec<Component<'_>> = link.target.components().collect();
            for (i, component) in components.iter().enumerate() {
                match component {
                    Component::Prefix(_) | Component::RootDir => return Err(escapes()),
                    Component::CurDir => {}
                    Component::ParentDir => {
                        if !resolved.pop() {
                            return Err(escapes());
                        }
                    }
                    Component::Normal(part) => {
                        resolved.push(part);
                        let last = i + 1 == components.len();
                        if !last && link_paths.contains(resolved.as_path()) {
                            return Err(UnpackError::LinkThroughLink {
                                entry: link.entry.clone(),
                                target: target_name.clone(),
                                via: link_name(&resolved),
                            });
                        }
                    }
                }
            }
        }
        for (name, rel) in &self.paths {
            for ancestor in rel.ancestors().skip(1) {
                if link_paths.contains(ancestor) {
                    return Err(UnpackError::EntryUnderLink {
                        entry: name.clone(),
                        link: link_name(ancestor),
                    });
                }
            }
        }
        for link in &self.links {
            let path = self.dest.join(&link.rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|source| UnpackError::Conflict {
                    entry: link.entry.clone(),
                    source,
                })?;
            }
            make_symlink(&link.target, &path).map_err(|source| UnpackError::Conflict {
                entry: link.entry.clone(),
                source,
            })?;
            self.summary.symlinks += 1;
        }
        Ok(())
    }
}

/// Whether a symbolic link at `rel` with this target climbs above the root, judged on the
/// names alone (links met on the way are checked once all links are known).
fn lexical_escape(rel: &Path, target: &Path) -> bool {
    let mut depth = rel.components().count().saturating_sub(1);
    for component in target.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return true,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            Component::Normal(_) => depth += 1,
        }
    }
    false
}

/// Turns an entry path into a relative path under the root, refusing absolute paths and `..`.
/// `None` means the root itself.
fn archive_path(raw: &[u8], name: &str) -> Result<Option<PathBuf>, UnpackError> {
    let path = Path::new(bytes_to_os(raw));
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err(UnpackError::AbsolutePath {
                    entry: name.to_string(),
                });
            }
            Component::ParentDir => {
                return Err(UnpackError::ParentComponent {
                    entry: name.to_string(),
                });
            }
            Component::CurDir => {}
            Component::Normal(part) => out.push(part),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

#[cfg(unix)]
fn bytes_to_os(bytes: &[u8]) -> &OsStr {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(bytes)
}

#[cfg(not(unix))]
fn bytes_to_os(bytes: &[u8]) -> &OsStr {
    OsStr::new(std::str::from_utf8(bytes).unwrap_or("\u{fffd}"))
}

#[cfg(unix)]
fn set_mode(options: &mut OpenOptions, mode: u32) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(mode);
}

#[cfg(not(unix))]
fn set_mode(_options: &mut OpenOptions, _mode: u32) {}

#[cfg(unix)]
fn make_symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn make_symlink(_target: &Path, _link: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symbolic links are only unpacked on unix",
    ))
}

fn kind_name(kind: EntryType) -> &'static str {
    match kind {
        EntryType::Char => "character device",
        EntryType::Block => "block device",
        EntryType::Fifo => "fifo",
        EntryType::GNUSparse => "sparse file",
        EntryType::GNULongName | EntryType::GNULongLink | EntryType::XHeader => {
            "dangling extension header"
        }
        _ => "entry of an unknown type",
    }
}

/// Stops the decompressed stream after `remaining` bytes, raising `hit` when there was more.
struct BoundedReader<R> {
    inner: R,
    remaining: u64,
    hit: Rc<Cell<bool>>,
}

impl<R: Read> Read for BoundedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            // Only an error if there is more to read.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.hit.set(true);
                    Err(io::Error::other("decompressed archive too large"))
                }
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}
