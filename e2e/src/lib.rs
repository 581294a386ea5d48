//! The end-to-end harness: real parts on loopback, started and stopped by the tests.
//!
//! ```text
//!  a test ── TestEnv::get() ──────────▶ the control plane (reused, or built + started once;
//!     │                                  CRDs from config/crd/bases applied once per process)
//!     ├── env.namespace("gc") ─────────▶ TestNamespace: unique name, deleted when dropped
//!     ├── ControllerProcess::start() ──▶ a controller binary, log in <target>/e2e-logs/
//!     └── wait::wait_for(&api, name, …) ▶ polls; a timeout error prints the object's status
//! ```
//!
//! Every e2e test needs only `TestEnv::get().await?`: it finds the cluster through
//! `$DRIFTLESS_E2E_KUBECONFIG`, a `$KUBECONFIG` whose current context is
//! [`cluster::CONTEXT`] (what `cargo xtask cluster up` prints), or the cache's state directory,
//! and starts one through [`cluster::up`] (the code `cargo xtask cluster up` runs) when none runs.

// xtask/src/cache.rs is the one home of the cache location; compiling it here too (both crates
// sit one level below the repository root) lets the harness find what xtask built.
#[path = "../../xtask/src/cache.rs"]
mod cache;
pub mod cluster;
mod controller;
mod env;
pub mod flux;
pub mod git_server;
mod namespace;
pub mod sample;
pub mod source;
pub mod wait;
pub mod workload;

/// The pinned `helm` CLI (built into the cache with Go on first use), for interop tests.
pub use cache::{HELM_VERSION, helm_binary};
pub use controller::ControllerProcess;
pub use env::{TestEnv, crd_dir, install_crds};
pub use namespace::TestNamespace;
