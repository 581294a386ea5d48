//! Deterministic tar.gz packing of a directory tree.
//!
//! The digest of an artifact is its identity: consumers compare it to decide whether anything
//! changed, so packing the same tree twice must give the same bytes. Everything that could vary
//! between two checkouts of the same content is fixed: entries are sorted by name, mtimes are 0,
//! owners are uid/gid 0 with no user or group names, modes are 0644 for files, 0755 for
//! executables and directories, and the gzip header carries no time or file name.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{EntryType, Header};

use super::digest::{Digest, DigestHasher};

/// Why packing failed. Every variant names the path involved.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The source is not a directory.
    #[error("cannot pack {0}: not a directory")]
    NotADirectory(PathBuf),
    /// Reading the tree or writing the archive failed.
    #[error("packing {path}: {source}")]
    Io {
        /// The file or directory being read or written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// The result of packing: what a source controller records in `status.artifact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packed {
    /// sha256 of the compressed archive file.
    pub digest: Digest,
    /// Size of the compressed archive in bytes.
    pub size: u64,
}

/// Packs `src` into the tar.gz file `dest`, atomically.
///
/// `include` is called with each path relative to `src` and whether it is a directory; return
/// `false` to leave it out (for a directory, with everything under it). Source controllers pass
/// their `.sourceignore` matcher here. Symbolic links and other special files are never packed:
/// a link from a checkout could point anywhere on the controller's disk.
///
/// The archive is written to a temporary file next to `dest`, flushed to disk, then renamed
/// over `dest`, so a reader (the artifact server) never sees a half-written file and a crash
/// leaves the previous artifact intact.
pub fn pack_dir(
    src: &Path,
    dest: &Path,
    include: impl FnMut(&Path, bool) -> bool,
) -> Result<Packed, PackError> {
    pack_tree(&DiskTree::new(src)?, dest, include)
}

/// Packs `tree` into the tar.gz file `dest`, atomically, with the rules of [`pack_dir`]: the
/// same files give the same bytes whether they come from a directory or from elsewhere (a Git
/// tree read straight from the object database, never written to disk).
pub fn pack_tree(
    tree: &impl PackTree,
    dest: &Path,
    include: impl FnMut(&Path, bool) -> bool,
) -> Result<Packed, PackError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackError::Io { path, source }
    };
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "artifact".to_string());
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(parent)
        .map_err(io_err(parent))?;
    let writer = BufWriter::new(temp.as_file());
    let (writer, packed) = pack_tree_to_writer(tree, writer, include)?;
    let file = writer.into_inner().map_err(|e| PackError::Io {
        path: temp.path().to_path_buf(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io_err(temp.path()))?;
    temp.persist(dest).map_err(|e| PackError::Io {
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    // Make the rename itself durable.
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(io_err(parent))?;
    Ok(packed)
}

/// Packs `src` as tar.gz into `out`, returning the writer and the digest and size of the bytes
/// written. Same rules as [`pack_dir`]; useful to pack into memory.
pub fn pack_to_writer<W: Write>(
    src: &Path,
    out: W,
    include: impl FnMut(&Path, bool) -> bool,
) -> Result<(W, Packed), PackError> {
    pack_tree_to_writer(&DiskTree::new(src)?, out, include)
}

fn pack_tree_to_writer<W: Write>(
    tree: &impl PackTree,
    out: W,
    mut include: impl FnMut(&Path, bool) -> bool,
) -> Result<(W, Packed), PackError> {
    let counting = HashingWriter {
        inner: out,
        hasher: DigestHasher::new(),
        count: 0,
    };
    // `GzEncoder::new` writes a header with mtime 0 and no file name.
    let gz = GzEncoder::new(counting, Compression::default());
    let mut builder = tar::Builder::new(gz);
    add_dir(&mut builder, tree, Path::new(""), &mut include)?;
    let root = tree.describe(Path::new(""));
    let gz = builder.into_inner().map_err(|source| PackError::Io {
        path: root.clone(),
        source,
    })?;
    let counting = gz
        .finish()
        .map_err(|source| PackError::Io { path: root, source })?;
    let packed = Packed {
        digest: counting.hasher.finish(),
        size: counting.count,
    };
    Ok((counting.inner, packed))
}

/// What a folder of a [`PackTree`] holds, as the packer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeEntry {
    /// A folder.
    Dir,
    /// A regular file of `size` bytes.
    File { size: u64, executable: bool },
    /// Anything else (symbolic links, submodule links, devices): never packed.
    Other,
}

/// A tree of files to pack; paths are relative to its root (`""` is the root).
pub trait PackTree {
    /// The children of folder `rel`, in any order (the packer sorts them by name).
    fn children(&self, rel: &Path) -> io::Result<Vec<(OsString, TreeEntry)>>;
    /// The contents of file `rel`; exactly the size `children` reported.
    fn read(&self, rel: &Path) -> io::Result<Box<dyn Read + '_>>;
    /// How `rel` is named in errors (e.g. the full path on disk).
    fn describe(&self, rel: &Path) -> PathBuf;
}

/// A directory on disk as a [`PackTree`]; symbolic links are [`TreeEntry::Other`] (a link
/// from a checkout could point anywhere on the controller's disk).
pub struct DiskTree {
    root: PathBuf,
}

impl DiskTree {
    /// Fails unless `root` is a directory.
    pub fn new(root: &Path) -> Result<Self, PackError> {
        let meta = fs::metadata(root).map_err(|source| PackError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(PackError::NotADirectory(root.to_path_buf()));
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }
}

impl PackTree for DiskTree {
    fn children(&self, rel: &Path) -> io::Result<Vec<(OsString, TreeEntry)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.root.join(rel))? {
            let entry = entry?;
            let meta = fs::symlink_metadata(entry.path())?;
            let kind = if meta.is_dir() {
                TreeEntry::Dir
            } else if meta.is_file() {
                TreeEntry::File {
                    size: meta.len(),
                    executable: is_executable(&meta),
                }
            } else {
                TreeEntry::Other
            };
            out.push((entry.file_name(), kind));
        }
        Ok(out)
    }

    fn read(&self, rel: &Path) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(File::open(self.root.join(rel))?))
    }

    fn describe(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }
}

/// Adds the children of folder `rel` in byte order of their names.
fn add_dir<W: Write>(
    builder: &mut tar::Builder<W>,
    tree: &impl PackTree,
    rel: &Path,
    include: &mut impl FnMut(&Path, bool) -> bool,
) -> Result<(), PackError> {
    let io_err = |path: &Path| {
        let path = tree.describe(path);
        move |source| PackError::Io { path, source }
    };
    let mut children = tree.children(rel).map_err(io_err(rel))?;
    children.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in children {
        let child_rel = rel.join(&name);
        match kind {
            TreeEntry::Dir => {
                if !include(&child_rel, true) {
                    continue;
                }
                let mut header = header_for(EntryType::Directory, 0o755, 0);
                builder
                    .append_data(&mut header, &child_rel, io::empty())
                    .map_err(io_err(&child_rel))?;
                add_dir(builder, tree, &child_rel, include)?;
            }
            TreeEntry::File { size, executable } => {
                if !include(&child_rel, false) {
                    continue;
                }
                let mode = if executable { 0o755 } else { 0o644 };
                let mut header = header_for(EntryType::Regular, mode, size);
                let file = tree.read(&child_rel).map_err(io_err(&child_rel))?;
                let reader = ExactReader {
                    inner: file.take(size),
                    remaining: size,
                };
                builder
                    .append_data(&mut header, &child_rel, reader)
                    .map_err(io_err(&child_rel))?;
            }
            // Left out on purpose (see `pack_dir`).
            TreeEntry::Other => {}
        }
    }
    Ok(())
}

fn header_for(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(size);
    header
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

/// Yields exactly the size recorded in the header, failing if the file shrank while being
/// packed (a shorter body would corrupt the archive silently).
struct ExactReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was being packed",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Hashes and counts the compressed bytes on their way out, so the digest needs no second read.
struct HashingWriter<W> {
    inner: W,
    hasher: DigestHasher,
    count: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
