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
//! | [`conditions`] | kstatus conditions, Flux's types and reasons |
//! | [`status`] | status by server-side apply, `reconcile.fluxcd.io/requestedAt` |
//! | [`events`] | Kubernetes Events on state changes |
//! | [`requeue`] | interval jitter, failure backoff |
//! | [`artifact`], [`semver`] | artifacts, Masterminds semver constraints |
//! | [`apply`], [`health`] | server-side apply of object sets, inventory, prune; kstatus health |
//!
//! A controller's `main` is short:
//!
//! ```no_run
//! use clap::Parser;
//! use driftless_core::{flags, metrics::Metrics, requeue::Requeue, runtime, status, telemetry};
//! use futures::StreamExt;
//! use k8s_openapi::api::core::v1::ConfigMap; // a controller uses its CRD type here
//! use kube::{Api, runtime::controller::Action};
//! use std::sync::Arc;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     common: flags::Args,
//! }
//!
//! struct Ctx { requeue: Requeue }
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("reconcile failed")]
//! struct Error;
//!
//! async fn reconcile(obj: Arc<ConfigMap>, ctx: Arc<Ctx>) -> Result<Action, Error> {
//!     // resolve -> fetch -> build -> apply -> status (conditions + status::apply_status)
//!     Ok(ctx.requeue.success(&*obj, std::time::Duration::from_secs(300)))
//! }
//!
//! fn error_policy(obj: Arc<ConfigMap>, _: &Error, ctx: Arc<Ctx>) -> Action {
//!     ctx.requeue.failure(&*obj)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let cli: Cli = flags::parse(&flags::ControllerDefaults::default());
//!     telemetry::init(&cli.common.log)?;
//!     let args = cli.common.clone();
//!     runtime::run("example-controller", &cli.common, Metrics::new(), |rt| async move {
//!         let api: Api<ConfigMap> = match args.watch_namespace()? {
//!             Some(ns) => Api::namespaced(rt.client.clone(), &ns),
//!             None => Api::all(rt.client.clone()),
//!         };
//!         let controller = status::controller_for(api, args.watcher_config());
//!         rt.readiness.wait_for({ let s = controller.store(); async move { let _ = s.wait_until_ready().await; } });
//!         let ctx = Arc::new(Ctx { requeue: Requeue::from_args(&args) });
//!         controller
//!             .with_config(args.controller_config()) // --concurrent
//!             .graceful_shutdown_on(rt.shutdown.wait_owned())
//!             .run(reconcile, error_policy, ctx)
//!             .for_each(|_| async {})
//!             .await;
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
pub mod requeue;
pub mod runtime;
pub use driftless_semver as semver;
pub mod serve;
pub mod status;
pub mod telemetry;
