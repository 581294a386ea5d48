//! Which files of a checkout go into the artifact: Flux's default exclusions, then every
//! `.sourceignore` file (each applying below its own directory), then `spec.ignore`; in
//! gitignore syntax, where a later matching pattern wins (so `spec.ignore` can `!re-include`).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use driftless_core::artifact::{DiskTree, PackTree, TreeEntry};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The name of the per-directory ignore file.
pub const SOURCEIGNORE: &str = ".sourceignore";

/// Flux's default exclusions: VCS metadata, binary assets, CI configuration, tool files.
pub const DEFAULT_EXCLUSIONS: &[&str] = &[
    ".git/",
    ".gitignore",
    ".gitmodules",
    ".gitattributes",
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
];

/// Why the ignore rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    /// A pattern is not valid gitignore syntax.
    #[error("invalid ignore pattern in {origin}: {message}")]
    Pattern { origin: String, message: String },
    /// A directory or `.sourceignore` file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The ignore rules of one checkout.
#[derive(Debug)]
pub struct SourceFilter {
    root: PathBuf,
    /// In precedence order (later wins): defaults, `.sourceignore` files by path, `spec.ignore`.
    layers: Vec<Gitignore>,
}

impl SourceFilter {
    /// Load the rules for the tree at `root` (symbolic links are not followed).
    pub fn load(root: &Path, spec_ignore: Option<&str>) -> Result<Self, IgnoreError> {
        let tree = DiskTree::new(root).map_err(|e| IgnoreError::Io {
            path: root.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Self::load_tree(root, &tree, spec_ignore)
    }

    /// Load the rules from the `.sourceignore` files of `tree`, whose root is named `root` (the
    /// paths [`Self::include`] is asked about are relative to it).
    pub fn load_tree(
        root: &Path,
        tree: &impl PackTree,
        spec_ignore: Option<&str>,
    ) -> Result<Self, IgnoreError> {
        let mut layers = vec![from_lines(
            root,
            "the default exclusions",
            DEFAULT_EXCLUSIONS.iter().copied(),
        )?];
        let mut files = Vec::new();
        find_sourceignore_files(tree, Path::new(""), &mut files)?;
        files.sort();
        for rel in files {
            let file = root.join(&rel);
            let io = |source| IgnoreError::Io {
                path: file.clone(),
                source,
            };
            let mut text = String::new();
            tree.read(&rel)
                .and_then(|mut r| r.read_to_string(&mut text))
                .map_err(io)?;
            let dir = file.parent().unwrap_or(root);
            layers.push(from_lines(dir, &file.display().to_string(), text.lines())?);
        }
        if let Some(spec) = spec_ignore {
            layers.push(from_lines(root, "spec.ignore", spec.lines())?);
        }
        Ok(Self {
            root: root.to_owned(),
            layers,
        })
    }

    /// Whether `rel` (relative to the root) belongs in the artifact.
    pub fn include(&self, rel: &Path, is_dir: bool) -> bool {
        let path = self.root.join(rel);
        let mut ignored = false;
        for layer in &self.layers {
            if !path.starts_with(layer.path()) {
                continue;
            }
            match layer.matched(&path, is_dir) {
                Match::Ignore(_) => ignored = true,
                Match::Whitelist(_) => ignored = false,
                Match::None => {}
            }
        }
        !ignored
    }
}

fn from_lines<'a>(
    dir: &Path,
    origin: &str,
    lines: impl Iterator<Item = &'a str>,
) -> Result<Gitignore, IgnoreError> {
    let mut builder = GitignoreBuilder::new(dir);
    for line in lines {
        builder
            .add_line(None, line)
            .map_err(|e| IgnoreError::Pattern {
                origin: origin.to_owned(),
                message: e.to_string(),
            })?;
    }
    builder.build().map_err(|e| IgnoreError::Pattern {
        origin: origin.to_owned(),
        message: e.to_string(),
    })
}

/// The `.sourceignore` files of `tree` below folder `rel` (never inside the root's `.git`).
fn find_sourceignore_files(
    tree: &impl PackTree,
    rel: &Path,
    out: &mut Vec<PathBuf>,
) -> Result<(), IgnoreError> {
    let children = tree.children(rel).map_err(|source| IgnoreError::Io {
        path: tree.describe(rel),
        source,
    })?;
    for (name, kind) in children {
        let path = rel.join(&name);
        match kind {
            TreeEntry::Dir if rel.as_os_str().is_empty() && name == ".git" => {}
            TreeEntry::Dir => find_sourceignore_files(tree, &path, out)?,
            TreeEntry::File { .. } if name == SOURCEIGNORE => out.push(path),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, content) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, content).expect("write");
        }
        dir
    }

    #[test]
    fn defaults_exclude_vcs_ci_and_binaries() {
        let dir = tree(&[("a.yaml", "")]);
        let f = SourceFilter::load(dir.path(), None).expect("loads");
        assert!(f.include(Path::new("a.yaml"), false));
        assert!(!f.include(Path::new(".git"), true));
        assert!(!f.include(Path::new("logo.png"), false));
        assert!(!f.include(Path::new("deep/dir/.sops.yaml"), false));
        assert!(!f.include(Path::new(".github"), true));
        assert!(!f.include(Path::new(".gitignore"), false));
    }

    #[test]
    fn sourceignore_applies_below_its_directory() {
        let dir = tree(&[
            (".sourceignore", "*.txt\n"),
            ("sub/.sourceignore", "secret.yaml\n!keep.txt\n"),
            ("sub/secret.yaml", ""),
        ]);
        let f = SourceFilter::load(dir.path(), None).expect("loads");
        assert!(!f.include(Path::new("notes.txt"), false));
        assert!(f.include(Path::new("sub/keep.txt"), false));
        assert!(!f.include(Path::new("sub/secret.yaml"), false));
        assert!(
            f.include(Path::new("secret.yaml"), false),
            "only below sub/"
        );
    }

    #[test]
    fn spec_ignore_comes_last_and_can_reinclude() {
        let dir = tree(&[(".sourceignore", "docs/\n")]);
        let f = SourceFilter::load(dir.path(), Some("!logo.png\n/deploy/*.tmp\n")).expect("loads");
        assert!(f.include(Path::new("logo.png"), false));
        assert!(!f.include(Path::new("deploy/x.tmp"), false));
        assert!(!f.include(Path::new("docs"), true));
    }
}
