//! The shared controller runtime every Driftless controller binary is built from.
//!
//! One home for each concept the controllers share (DESIGN.md, "crates/core"):
//!
//! | module | concept |
//! |---|---|
//! | [`flags`] | Flux's command-line flags and defaults |
//! | [`duration`] | Go duration syntax (`5m0s`) for flags and CRD fields |
//! | [`telemetry`] | JSON / console logs, the reconcile span |
//! | [`metrics`] | `gotk_*` Prometheus metrics |
//! | [`serve`] | `/metrics`, `/healthz`, `/readyz` |
//! | [`leader`] | leader election on a Lease |
//! | [`runtime`] | the main loop: servers, election, shutdown around the controller |
//! | [`reconcile`] | the reconciler shape: step errors, context, finalizer, suspend, progress, watches |
//! | [`conditions`] | kstatus conditions, Flux's types and reasons |
//! | [`status`] | status by server-side apply, `reconcile.fluxcd.io/requestedAt` |
//! | [`events`] | Kubernetes Events on state changes |
//! | [`requeue`] | interval jitter, failure backoff |
//! | [`artifact`], [`semver`] | artifacts, Masterminds semver constraints |
//! | [`apply`], [`health`] | server-side apply of object sets, inventory, prune; kstatus health |
//!
//! A controller's `main` is short; its reconcile is the shape [`reconcile`] draws:
//!
//! ```no_run
//! use clap::Parser;
//! use driftless_api::source::GitRepository; // the controller's Flux kind
//! use driftless_core::{flags, metrics::Metrics, reconcile::{self, Context}, runtime, status, telemetry};
//! use kube::runtime::controller::Action;
//! use std::sync::Arc;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     common: flags::Args,
//! }
//!
//! struct State; // what only this controller needs
//!
//! async fn reconcile_one(obj: Arc<GitRepository>, ctx: Arc<Context<State>>) -> Result<Action, reconcile::Error> {
//!     // reconcile::run(obj, &ctx, &api, chain, cleanup): see the reconcile module
//!     Ok(Action::await_change())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let cli: Cli = flags::parse(&flags::ControllerDefaults::default());
//!     telemetry::init(&cli.common.log)?;
//!     let args = cli.common.clone();
//!     runtime::run("example-controller", &cli.common, Metrics::new(), |rt| async move {
//!         let ns = args.watch_namespace()?; // --watch-all-namespaces=false
//!         let api = reconcile::scoped_api(&rt.client, ns.as_deref());
//!         let controller = status::controller_for(api, args.watcher_config());
//!         let ctx = Arc::new(Context::new(rt, &args, State));
//!         reconcile::drive(controller, &args, ctx, reconcile_one).await;
//!         Ok::<_, flags::FlagError>(())
//!     })
//!     .await?;
//!     Ok(())
//! }
//! ```

#![forbid(unsafe_code)]

pub mod apply;
pub mod artifact;
pub mod conditions;
pub mod duration;
pub mod events;
pub mod flags;
pub mod health;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod requeue;
pub mod runtime;
pub use driftless_semver as semver;
pub mod serve;
pub mod status;
pub mod telemetry;
