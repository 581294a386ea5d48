//! The git layer: from a URL, credentials and a ref to a checked-out, verified tree, within
//! size limits and a deadline.
//!
//! Used by source-controller (GitRepository), kustomize-controller (remote bases in
//! `resources:`) and image automation (clone, commit, push), so that every Git access of the
//! toolkit has the same auth, TLS and known_hosts checks and the same limits.
//!
//! ```text
//!  Secret data ──► Credentials ─┐
//!  spec.ref ────► GitRef ───────┼─► resolve  (ls-remote: no objects downloaded)
//!                               │        │ Resolved {what to fetch, commit?, revision}
//!                               └─► fetch_and_checkout (shallow fetch, limits,
//!                                        │              sparse, submodules)
//!                                        ▼
//!                                   verify_signatures (PGP, commit and/or tag)
//! ```
//!
//! Remotes with a `bearerToken` or a TLS client certificate go through `http`'s reqwest
//! transport (libgit2's own cannot carry them on every request); the others use libgit2's.
//! Registering that transport is the crate's one `unsafe` call, which is why unsafe code is
//! denied here rather than forbidden.
//!
//! libgit2 (through git2) blocks, so the async entry points run it on the blocking pool under
//! the remote's timeout; the same deadline is checked inside libgit2's progress callbacks so
//! that the blocking thread stops too, not only the future waiting for it.

mod auth;
mod checkout;
mod http;
mod known_hosts;
mod refs;
mod remote;
mod tls;
mod tree;
mod verify;

use std::time::Duration;

pub use auth::{Credentials, ProxyConfig};
pub use checkout::{CheckedOut, CheckoutOptions, Limits, fetch_and_checkout};
pub use known_hosts::KnownHosts;
pub use refs::GitRef;
pub use remote::{Resolved, resolve};
pub use tree::CommitTree;
pub use verify::{TrustedKeys, VerifyMode, verify_signatures};

/// Everything needed to talk to one remote.
#[derive(Clone)]
pub struct RemoteSpec {
    /// `http://`, `https://` or `ssh://` URL.
    pub url: String,
    /// From `spec.secretRef`.
    pub credentials: Credentials,
    /// From `spec.proxySecretRef`.
    pub proxy: Option<ProxyConfig>,
    /// `spec.timeout`: the whole operation (connect, negotiate, download, checkout).
    pub timeout: Duration,
}

impl std::fmt::Debug for RemoteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials never reach logs: only say which kind is configured.
        f.debug_struct("RemoteSpec")
            .field("url", &self.url)
            .field("credentials", &self.credentials.kind())
            .field("proxy", &self.proxy.as_ref().map(|p| p.address.as_str()))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why a Git operation failed. Each variant says what the user should fix; none carries a
/// secret.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The URL does not parse or has an unsupported scheme.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The Secret lacks a field the URL's transport needs, or a field is malformed.
    #[error("invalid credentials Secret: {0}")]
    InvalidSecret(String),
    /// The server refused the credentials.
    #[error("authentication to {url} failed: {reason}")]
    AuthFailed { url: String, reason: String },
    /// The SSH host key is not in `known_hosts`, or the TLS certificate is not trusted.
    #[error("the identity of {host} could not be verified: {reason}")]
    UntrustedHost { host: String, reason: String },
    /// `spec.ref` is malformed.
    #[error("invalid reference: {0}")]
    InvalidRef(String),
    /// The branch, tag, ref or commit does not exist on the remote.
    #[error("{kind} {name:?} not found in {url}")]
    RefNotFound {
        kind: &'static str,
        name: String,
        url: String,
    },
    /// No tag satisfies the semver constraint.
    #[error("no tag in {url} matches the semver range {constraint:?}")]
    NoMatchingTag { url: String, constraint: String },
    /// The operation took longer than `spec.timeout`.
    #[error("git operation on {url} timed out after {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    /// The download or a file exceeds the controller's size limits.
    #[error("size limit exceeded: {0}")]
    TooLarge(String),
    /// A sparse-checkout directory does not exist at the commit.
    #[error("sparse checkout directory {0:?} does not exist in the commit")]
    SparsePathMissing(String),
    /// A feature the Secret asks for that this controller does not implement.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// Signature verification failed; `reason` is Flux's condition reason for the failure.
    #[error("signature verification failed: {message}")]
    Verification {
        reason: &'static str,
        message: String,
    },
    /// Any other failure from libgit2 (network, protocol, repository).
    #[error("git operation on {url} failed: {message}")]
    Git { url: String, message: String },
    /// Local filesystem trouble.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

/// Run blocking libgit2 work on the blocking pool, giving up at `timeout` (the work itself
/// also watches the deadline through its callbacks and stops soon after).
async fn run_blocking<T: Send + 'static>(
    url: &str,
    timeout: Duration,
    work: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, GitError> {
    let handle = tokio::task::spawn_blocking(work);
    match tokio::time::timeout(timeout, handle).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(GitError::Git {
            url: url.to_owned(),
            message: format!("git worker failed: {join}"),
        }),
        Err(_) => Err(GitError::Timeout {
            url: url.to_owned(),
            timeout,
        }),
    }
}

/// Resolve on the blocking pool; see [`resolve`].
pub async fn resolve_async(remote: RemoteSpec, reference: GitRef) -> Result<Resolved, GitError> {
    let (url, timeout) = (remote.url.clone(), remote.timeout);
    run_blocking(&url, timeout, move || resolve(&remote, &reference)).await
}

/// Fetch and check out on the blocking pool; see [`fetch_and_checkout`].
pub async fn fetch_and_checkout_async(
    remote: RemoteSpec,
    resolved: Resolved,
    options: CheckoutOptions,
    dir: std::path::PathBuf,
) -> Result<CheckedOut, GitError> {
    let (url, timeout) = (remote.url.clone(), remote.timeout);
    run_blocking(&url, timeout, move || {
        fetch_and_checkout(&remote, &resolved, &options, &dir)
    })
    .await
}
