//! The source-controller: turns a Git repository or an OCI artifact into a verified, versioned
//! artifact that other controllers download.
//!
//! ```text
//!  GitRepository ──► git (resolve, fetch, checkout, verify) ──► sourceignore filter
//!  OCIRepository ──► oci (tags, HEAD digest, manifest, layer) ──┘ (extract) or as is (copy)
//!        │                                                           │
//!        │                                                           ▼
//!        └──── status.artifact {url, revision, digest} ◄── storage (pack, retention, GC)
//!                                         │
//!  kustomize-controller ──HTTP GET──┴──► server (files under --storage-path only)
//! ```

/// The git layer lives in its own crate (kustomize remote bases and image automation use it
/// too); the alias keeps `crate::git::…` paths stable.
pub use driftless_git as git;
pub mod features;
pub mod oci;
pub mod reconcile;
pub mod server;
pub mod sourceignore;
pub mod storage;
