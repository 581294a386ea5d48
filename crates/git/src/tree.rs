//! A fetched commit's tree, read straight from Git's object database, as something to pack.
//!
//! Writing 10,000 files of a checkout to disk only to read them back into a tarball costs more
//! than everything else a new artifact needs (on ext4 most of it in the kernel, allocating
//! inodes), so when nothing has to be added to the tree on disk (no `include`, no submodules)
//! the artifact is packed from the objects the fetch brought.

use std::ffi::OsString;
use std::io::{self, Cursor, Read};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use driftless_core::artifact::{PackTree, TreeEntry};
use git2::{Oid, Repository, Tree};

/// The tree of `commit` in the repository at `dir` (where the fetch left it).
pub struct CommitTree {
    repo: Repository,
    tree: Oid,
    dir: PathBuf,
}

impl CommitTree {
    /// Opens the repository at `dir` and finds `commit`'s tree.
    pub fn open(dir: &Path, commit: Oid) -> io::Result<Self> {
        let repo = Repository::open(dir).map_err(git_io)?;
        let tree = repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(git_io)?
            .id();
        Ok(Self {
            repo,
            tree,
            dir: dir.to_owned(),
        })
    }

    fn subtree(&self, rel: &Path) -> io::Result<Tree<'_>> {
        let root = self.repo.find_tree(self.tree).map_err(git_io)?;
        if rel.as_os_str().is_empty() {
            return Ok(root);
        }
        let entry = root.get_path(rel).map_err(git_io)?;
        self.repo.find_tree(entry.id()).map_err(git_io)
    }
}

impl PackTree for CommitTree {
    fn children(&self, rel: &Path) -> io::Result<Vec<(OsString, TreeEntry)>> {
        let tree = self.subtree(rel)?;
        let odb = self.repo.odb().map_err(git_io)?;
        let mut out = Vec::with_capacity(tree.len());
        for entry in tree.iter() {
            let name = std::ffi::OsStr::from_bytes(entry.name_bytes()).to_owned();
            // Git's file modes: 040000 folder, 100644 / 100755 file, 120000 link, 160000
            // submodule commit.
            let kind = match entry.filemode() {
                0o040000 => TreeEntry::Dir,
                mode @ (0o100644 | 0o100755 | 0o100664) => {
                    let (size, _) = odb.read_header(entry.id()).map_err(git_io)?;
                    TreeEntry::File {
                        size: size as u64,
                        executable: mode == 0o100755,
                    }
                }
                _ => TreeEntry::Other,
            };
            out.push((name, kind));
        }
        Ok(out)
    }

    fn read(&self, rel: &Path) -> io::Result<Box<dyn Read + '_>> {
        let root = self.repo.find_tree(self.tree).map_err(git_io)?;
        let entry = root.get_path(rel).map_err(git_io)?;
        let blob = self.repo.find_blob(entry.id()).map_err(git_io)?;
        Ok(Box::new(Cursor::new(blob.content().to_vec())))
    }

    fn describe(&self, rel: &Path) -> PathBuf {
        self.dir.join(rel)
    }
}

fn git_io(e: git2::Error) -> io::Error {
    io::Error::other(e.message().to_owned())
}
