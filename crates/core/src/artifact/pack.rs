//! Deterministic tar.gz packing of a directory tree.
//!
//! The digest of an artifact is its identity: consumers compare it to decide whether anything
//! changed, so packing the same tree twice must give the same bytes. Everything that could vary
//! between two checkouts of the same content is fixed: entries are sorted by name, mtimes are 0,
//! owners are uid/gid 0 with no user or group names, modes are 0644 for files, 0755 for
//! executables and directories, and the gzip header carries no time or file name.

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
    let (writer, packed) = pack_to_writer(src, writer, include)?;
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
    mut include: impl FnMut(&Path, bool) -> bool,
) -> Result<(W, Packed), PackError> {
    let meta = fs::metadata(src).map_err(|source| PackError::Io {
        path: src.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(PackError::NotADirectory(src.to_path_buf()));
    }
    let counting = HashingWriter {
        inner: out,
        hasher: DigestHasher::new(),
        count: 0,
    };
    // `GzEncoder::new` writes a header with mtime 0 and no file name.
    let gz = GzEncoder::new(counting, Compression::default());
    let mut builder = tar::Builder::new(gz);
    add_dir(&mut builder, src, Path::new(""), &mut include)?;
    let gz = builder.into_inner().map_err(|source| PackError::Io {
        path: src.to_path_buf(),
        source,
    })?;
    let counting = gz.finish().map_err(|source| PackError::Io {
        path: src.to_path_buf(),
        source,
    })?;
    let packed = Packed {
        digest: counting.hasher.finish(),
        size: counting.count,
    };
    Ok((counting.inner, packed))
}

/// Adds the children of `dir` (whose archive path is `rel`) in byte order of their names.
fn add_dir<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &Path,
    rel: &Path,
    include: &mut impl FnMut(&Path, bool) -> bool,
) -> Result<(), PackError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackError::Io { path, source }
    };
    let mut children = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err(dir))?;
    children.sort();
    for name in children {
        let path = dir.join(&name);
        let child_rel = rel.join(&name);
        let meta = fs::symlink_metadata(&path).map_err(io_err(&path))?;
        let file_type = meta.file_type();
        if file_type.is_dir() {
            if !include(&child_rel, true) {
                continue;
            }
            let mut header = header_for(EntryType::Directory, 0o755, 0);
            builder
                .append_data(&mut header, &child_rel, io::empty())
                .map_err(io_err(&path))?;
            add_dir(builder, &path, &child_rel, include)?;
        } else if file_type.is_file() {
            if !include(&child_rel, false) {
                continue;
            }
            let mode = if is_executable(&meta) { 0o755 } else { 0o644 };
            let mut header = header_for(EntryType::Regular, mode, meta.len());
            let file = File::open(&path).map_err(io_err(&path))?;
            let reader = ExactReader {
                inner: file.take(meta.len()),
                remaining: meta.len(),
            };
            builder
                .append_data(&mut header, &child_rel, reader)
                .map_err(io_err(&path))?;
        }
        // Symlinks, sockets, fifos and devices are left out on purpose (see `pack_dir`).
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
