//! The source-controller: turns a Git repository into a verified, versioned artifact that other
//! controllers download.
//!
//! ```text
//!  GitRepository ──► git (resolve, fetch, checkout, verify) ──► sourceignore filter
//!        │                                                           │
//!        │                                                           ▼
//!        └──── status.artifact {url, revision, digest} ◄── storage (pack, retention, GC)
//!                                         │
//!  kustomize-controller ──HTTP GET──┴──► server (files under --storage-path only)
//! ```
// Denied, not forbidden: one audited `unsafe` call registers the git2 transport (git/http.rs).
#![deny(unsafe_code)]

pub mod features;
pub mod git;
pub mod reconcile;
pub mod server;
pub mod sourceignore;
pub mod storage;
