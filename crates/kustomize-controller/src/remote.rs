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
        let dir = self.runtime.block_on(self.checkout(base)).map_err(|e| {
            // GitError names the clone URL as given; keep a password out of the status.
            e.to_string().replace(&base.repo_url, &base.display_url())
        })?;
        let path = dir.path().to_path_buf();
        checkouts.insert(key, dir);
        Ok(path)
    }
}
