//! Remote bases (`resources: [https://host/org/repo//dir?ref=v1]`), fetched for the kustomize
//! engine through the git layer that source-controller uses: the same TLS and known_hosts
//! checks, size limits and deadlines. Allowed unless `--no-remote-bases`.
//!
//! One [`GitRemoteBases`] serves one build: each repository URL + ref is checked out once
//! (shallow for branches and tags) into a temporary directory that goes away with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use driftless_git::{
    CheckoutOptions, Credentials, GitError, GitRef, Limits, RemoteSpec, fetch_and_checkout_async,
    resolve_async,
};
use driftless_kustomize::{RemoteBase, RemoteFetcher};

/// kustomize's default for a remote base without `?timeout=`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(27);

/// The [`RemoteFetcher`] of one build.
#[derive(Debug)]
pub struct GitRemoteBases {
    /// The Kustomization being built, `namespace/name`, for logs.
    owner: (String, String),
    /// Where the checkouts go (the controller's cache directory).
    parent: PathBuf,
    limits: Limits,
    /// The controller's runtime: the git layer's async entry points give up at the deadline
    /// even when libgit2 sits in a read that no callback interrupts.
    runtime: tokio::runtime::Handle,
    /// Checkouts of this build by (clone URL, ref).
    checkouts: Mutex<HashMap<(String, Option<String>), tempfile::TempDir>>,
}

impl GitRemoteBases {
    /// Called on the controller's runtime; the build that uses it runs in `block_in_place`.
    pub fn new(owner: (String, String), parent: &Path, limits: Limits) -> Self {
        Self {
            owner,
            runtime: tokio::runtime::Handle::current(),
            parent: parent.to_path_buf(),
            limits,
            checkouts: Mutex::default(),
        }
    }

    async fn checkout(&self, base: &RemoteBase) -> Result<tempfile::TempDir, GitError> {
        // Remote bases carry no Secret (Flux's neither): public HTTPS, or SSH refused by
        // the missing known_hosts rather than trusted blindly.
        let remote = RemoteSpec {
            url: base.repo_url.clone(),
            credentials: Credentials::default(),
            proxy: None,
            timeout: base.timeout.unwrap_or(DEFAULT_TIMEOUT),
        };
        let resolve = |r: GitRef| resolve_async(remote.clone(), r);
        let resolved = match base.reference.as_deref() {
            None => resolve(GitRef::Name("HEAD".into())).await?,
            Some(sha) if sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()) => {
                resolve(GitRef::from_spec(None, None, None, None, Some(sha))?).await?
            }
            // kustomize's `ref` is whatever `git fetch` takes: a branch, else a tag.
            Some(name) => match resolve(GitRef::Branch(name.to_owned())).await {
                Err(GitError::RefNotFound { .. }) => resolve(GitRef::Tag(name.into()))
                    .await
                    .map_err(|e| match e {
                        GitError::RefNotFound { url, .. } => GitError::RefNotFound {
                            kind: "branch or tag",
                            name: name.to_owned(),
                            url,
                        },
                        other => other,
                    })?,
                other => other?,
            },
        };
        let dir = tempfile::Builder::new()
            .prefix("remote-base-")
            .tempdir_in(&self.parent)
            .map_err(|source| GitError::Io {
                context: format!("creating a directory in {}", self.parent.display()),
                source,
            })?;
        let options = CheckoutOptions {
            recurse_submodules: base.submodules,
            limits: self.limits,
            ..CheckoutOptions::default()
        };
        let checked =
            fetch_and_checkout_async(remote, resolved, options, dir.path().to_owned()).await?;
        tracing::info!(
            kind = "Kustomization",
            namespace = %self.owner.0,
            name = %self.owner.1,
            url = %base.display_url(),
            revision = %checked.revision,
            "fetched remote base"
        );
        Ok(dir)
    }
}

impl RemoteFetcher for GitRemoteBases {
    fn fetch_git(&self, base: &RemoteBase) -> Result<PathBuf, String> {
        let key = (base.repo_url.clone(), base.reference.clone());
        // The build is sequential; the lock only makes the cache shareable.
        let mut checkouts = self
            .checkouts
            .lock()
            .map_err(|_| "remote base cache poisoned by an earlier failure".to_owned())?;
        if let Some(dir) = checkouts.get(&key) {
            return Ok(dir.path().to_path_buf());
        }
        if base.repo_url.starts_with("ssh://") {
            return Err(format!(
                "{} is an SSH URL, which needs a key and known_hosts that remote bases cannot \
                 carry: use its public https:// URL, or a GitRepository (spec.include)",
                base.display_url()
            ));
        }
        let dir = self
            .runtime
            .block_on(self.checkout(base))
            .map_err(|e| match e {
                GitError::AuthFailed { .. } => format!(
                    "{} requires credentials, and remote bases are fetched without any: make \
                     the repository public, or use a GitRepository (spec.include)",
                    base.display_url()
                ),
                // GitError names the clone URL as given; keep a password out of the status.
                other => other
                    .to_string()
                    .replace(&base.repo_url, &base.display_url()),
            })?;
        let path = dir.path().to_path_buf();
        checkouts.insert(key, dir);
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> RemoteBase {
        RemoteBase {
            raw: format!("{url}//deploy"),
            repo_url: url.to_owned(),
            path: "deploy".into(),
            reference: None,
            timeout: None,
            submodules: true,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn ssh_remote_bases_are_refused_before_any_connection() {
        let parent = tempfile::tempdir().expect("tempdir");
        let fetcher =
            GitRemoteBases::new(("ns".into(), "k".into()), parent.path(), Limits::default());
        // Port 9 (discard): nothing is contacted, the refusal comes first.
        let err = tokio::task::block_in_place(|| {
            fetcher.fetch_git(&base("ssh://git@127.0.0.1:9/org/repo"))
        })
        .expect_err("refused");
        assert!(err.contains("SSH URL") && err.contains("https://"), "{err}");
        assert_eq!(
            std::fs::read_dir(parent.path()).expect("read").count(),
            0,
            "no checkout directory was made"
        );
    }
}
