//! The end-to-end harness: real parts on loopback, started and stopped by the tests.
//!
//! ```text
//!  a test ── TestEnv::get() ──────────▶ the control plane (reused, or built + started once;
//!     │                                  CRDs from config/crd/bases applied once per process)
//!     ├── env.namespace("gc") ─────────▶ TestNamespace: unique name, deleted when dropped
//!     ├── ControllerProcess::start() ──▶ a controller binary, log in <target>/e2e-logs/
//!     ├── wait::wait_for(&api, name, …) ▶ polls; a timeout error prints the object's status
//!     └── GitServer / Registry / HelmRepo ▶ real servers on loopback, stopped when dropped
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
pub mod helm_repo;
mod http_serve;
mod namespace;
mod pki;
pub mod proxy;
pub mod registry;
pub mod sample;
pub mod source;
pub mod tcp_fault;
pub mod wait;
pub mod workload;

/// The pinned `helm` CLI (built into the cache with Go on first use), for interop tests.
pub use cache::{HELM_VERSION, helm_binary};
pub use controller::ControllerProcess;
pub use env::{TestEnv, crd_dir, install_crds};
pub use namespace::TestNamespace;

/// A loopback TCP port free right now, for a controller's server in a test.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
