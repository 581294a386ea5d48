//! Fetching the resolved ref (shallow when possible) and checking its tree out, within size
//! limits, optionally sparse and with submodules.

use std::path::Path;

use git2::{
    AutotagOption, FetchOptions, ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult,
};

use super::refs::revision;
use super::remote::{Resolved, Session};
use super::{GitError, RemoteSpec};
use driftless_core::artifact::Revision;

/// Bounds on what one checkout may bring onto the controller's disk.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes the fetch may download (the pack), checked while it streams.
    pub max_fetch_bytes: u64,
    /// Size of the largest file the checkout may write; checked before anything is written.
    pub max_file_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_fetch_bytes: 2 << 30,
            max_file_size: 256 << 20,
        }
    }
}

/// How to check out, beyond the ref.
#[derive(Debug, Clone, Default)]
pub struct CheckoutOptions {
    /// `spec.recurseSubmodules`.
    pub recurse_submodules: bool,
    /// `spec.sparseCheckout`: only these directories are written.
    pub sparse_checkout: Vec<String>,
    /// Size limits.
    pub limits: Limits,
    /// Fetch only: leave the files in Git's object database (pack them with
    /// [`crate::CommitTree`]) instead of writing them out. Ignored with submodules, which
    /// need a work tree.
    pub skip_worktree: bool,
}

/// A finished checkout.
#[derive(Debug, Clone)]
pub struct CheckedOut {
    /// The commit checked out.
    pub commit: Oid,
    /// Flux's revision string for it.
    pub revision: Revision,
    /// The tag name, for `verify.mode: Tag`.
    pub tag: Option<String>,
    /// Whether the files were written out; otherwise they are only in the object database
    /// (see [`CheckoutOptions::skip_worktree`]).
    pub worktree: bool,
}

/// Fetch what `resolved` names into a new repository at `dir` and check the commit out there.
pub fn fetch_and_checkout(
    remote: &RemoteSpec,
    resolved: &Resolved,
    options: &CheckoutOptions,
    dir: &Path,
) -> Result<CheckedOut, GitError> {
    super::http::with_transport(remote, || checkout_in(remote, resolved, options, dir))
}

fn checkout_in(
    remote: &RemoteSpec,
    resolved: &Resolved,
    options: &CheckoutOptions,
    dir: &Path,
) -> Result<CheckedOut, GitError> {
    let session = Session::new(remote, options.limits.max_fetch_bytes)?;
    let io = |context: &str| {
        let context = context.to_owned();
        move |e: git2::Error| GitError::Io {
            context,
            source: std::io::Error::other(e.message().to_owned()),
        }
    };
    let repo = Repository::init(dir).map_err(io("creating the local repository"))?;
    fetch(&session, &repo, resolved)?;

    let commit = find_commit(&repo, resolved, &remote.url)?;
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| session.error(&e))?;
    check_sparse_paths(&tree, &options.sparse_checkout)?;
    check_sizes(
        &repo,
        &tree,
        &options.sparse_checkout,
        options.limits.max_file_size,
    )?;

    let worktree = !options.skip_worktree || options.recurse_submodules;
    if worktree {
        let mut builder = git2::build::CheckoutBuilder::new();
        // Blobs as committed, as Flux's go-git writes them (no .gitattributes conversions),
        // and no index unless submodules need one: an artifact is files, not a work tree.
        builder
            .force()
            .disable_filters(true)
            .update_index(options.recurse_submodules);
        for path in &options.sparse_checkout {
            builder.path(path.trim_matches('/'));
        }
        repo.checkout_tree(tree.as_object(), Some(&mut builder))
            .map_err(io("checking out"))?;
    }
    repo.set_head_detached(commit).map_err(io("setting HEAD"))?;

    if options.recurse_submodules {
        update_submodules(&repo, remote, options)?;
    }
    Ok(CheckedOut {
        commit,
        revision: revision(resolved.label.as_deref(), commit),
        tag: resolved.tag.clone(),
        worktree,
    })
}

fn fetch(session: &Session<'_>, repo: &Repository, resolved: &Resolved) -> Result<(), GitError> {
    let mut remote = repo
        .remote_anonymous(&session.git_url())
        .map_err(|e| session.error(&e))?;
    let refspecs: Vec<String> = resolved
        .plan
        .refs
        .iter()
        .map(|r| format!("+{r}:{}", local_ref(r)))
        .collect();
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(session.callbacks())
        .proxy_options(session.proxy())
        .download_tags(AutotagOption::None)
        .update_fetchhead(false);
    if resolved.plan.shallow {
        fo.depth(1);
    }
    remote
        .fetch(&refspecs, Some(&mut fo), None)
        .map_err(|e| session.error(&e))
}

/// Where a fetched remote ref is stored locally: `refs/heads/main` -> `refs/driftless/heads/main`.
fn local_ref(remote_ref: &str) -> String {
    format!(
        "refs/driftless/{}",
        remote_ref.strip_prefix("refs/").unwrap_or(remote_ref)
    )
}

fn find_commit(repo: &Repository, resolved: &Resolved, url: &str) -> Result<Oid, GitError> {
    let not_found = |kind: &'static str, name: &str| GitError::RefNotFound {
        kind,
        name: name.to_owned(),
        url: url.to_owned(),
    };
    let tip = |r: &str| -> Option<Oid> {
        repo.find_reference(&local_ref(r))
            .and_then(|r| r.peel_to_commit())
            .ok()
            .map(|c| c.id())
    };
    if resolved.plan.shallow {
        let r = &resolved.plan.refs[0];
        let kind = if r.starts_with("refs/heads/") {
            "branch"
        } else if r.starts_with("refs/tags/") {
            "tag"
        } else {
            "ref"
        };
        let label = resolved.label.clone().unwrap_or_else(|| r.clone());
        return tip(r).ok_or_else(|| not_found(kind, &label));
    }
    // A commit: it must exist, and be reachable from the named branch when one is given.
    let wanted = resolved
        .commit
        .ok_or_else(|| GitError::InvalidRef("a commit ref needs a full 40-character SHA".into()))?;
    let head = match &resolved.label {
        Some(branch) => {
            Some(tip(&format!("refs/heads/{branch}")).ok_or_else(|| not_found("branch", branch))?)
        }
        None => None,
    };
    let commit = repo
        .find_commit(wanted)
        .map_err(|_| not_found("commit", &wanted.to_string()))?;
    if let (Some(branch), Some(head)) = (&resolved.label, head) {
        let reachable =
            head == commit.id() || repo.graph_descendant_of(head, commit.id()).unwrap_or(false);
        if !reachable {
            return Err(not_found("commit", &format!("{wanted} on branch {branch}")));
        }
    }
    Ok(commit.id())
}

fn check_sparse_paths(tree: &git2::Tree<'_>, sparse: &[String]) -> Result<(), GitError> {
    for dir in sparse {
        let trimmed = dir.trim_matches('/');
        let is_dir = tree
            .get_path(Path::new(trimmed))
            .is_ok_and(|e| e.kind() == Some(ObjectType::Tree));
        if trimmed.is_empty() || trimmed.split('/').any(|c| c == "..") || !is_dir {
            return Err(GitError::SparsePathMissing(dir.clone()));
        }
    }
    Ok(())
}

/// Refuse a tree holding a file larger than `max` before writing anything: sizes come from the
/// object headers, so the huge blob is never inflated.
fn check_sizes(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    sparse: &[String],
    max: u64,
) -> Result<(), GitError> {
    let odb = repo.odb().map_err(|e| GitError::Io {
        context: "opening the object database".into(),
        source: std::io::Error::other(e.message().to_owned()),
    })?;
    let mut too_large = None;
    tree.walk(TreeWalkMode::PreOrder, |parent, entry| {
        if entry.kind() != Some(ObjectType::Blob) {
            return TreeWalkResult::Ok;
        }
        let path = format!("{parent}{}", entry.name().unwrap_or("?"));
        let wanted = sparse.is_empty()
            || sparse
                .iter()
                .any(|d| path.starts_with(&format!("{}/", d.trim_matches('/'))));
        if !wanted {
            return TreeWalkResult::Ok;
        }
        match odb.read_header(entry.id()) {
            Ok((size, _)) if size as u64 > max => {
                too_large = Some((path, size));
                TreeWalkResult::Abort
            }
            _ => TreeWalkResult::Ok,
        }
    })
    .ok();
    match too_large {
        Some((path, size)) => Err(GitError::TooLarge(format!(
            "file {path:?} is {size} bytes, more than the limit of {max} bytes"
        ))),
        None => Ok(()),
    }
}

fn update_submodules(
    repo: &Repository,
    remote: &RemoteSpec,
    options: &CheckoutOptions,
) -> Result<(), GitError> {
    let submodules = repo.submodules().map_err(|e| GitError::Git {
        url: remote.url.clone(),
        message: format!("listing submodules: {}", e.message()),
    })?;
    for mut sm in submodules {
        let Some(url) = sm.url().ok().flatten().map(str::to_owned) else {
            return Err(GitError::Git {
                url: remote.url.clone(),
                message: format!("submodule {:?} has no usable URL", sm.name().unwrap_or("?")),
            });
        };
        // Submodules use the parent's credentials, as Flux does.
        let sm_remote = RemoteSpec {
            url: url.clone(),
            ..remote.clone()
        };
        let session = Session::new(&sm_remote, options.limits.max_fetch_bytes)?;
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(session.callbacks())
            .proxy_options(session.proxy());
        let mut update = git2::SubmoduleUpdateOptions::new();
        update.fetch(fo);
        sm.update(true, Some(&mut update))
            .map_err(|e| session.error(&e))?;
        let sub_repo = sm.open().map_err(|e| session.error(&e))?;
        update_submodules(&sub_repo, &sm_remote, options)?;
    }
    Ok(())
}
