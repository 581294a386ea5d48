//! `kustomize-controller`: Flux's kustomize-controller flags, the shared runtime, the reconciler.

use clap::Parser;
use driftless_core::reconcile::Context;
use driftless_core::{apply::FieldManager, flags, metrics::Metrics, runtime, telemetry};
use driftless_kustomize_controller::{State, features, run};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "kustomize-controller",
    about = "Reconciles Flux Kustomizations"
)]
struct Cli {
    #[command(flatten)]
    common: flags::Args,
    /// Field managers whose fields are taken over before the server-side apply dry-run, so
    /// that a stale manager co-owning a field cannot wedge the dry-run (comma-separated or
    /// repeated).
    #[arg(long = "override-manager-before-dry-run", value_delimiter = ',')]
    override_manager_before_dry_run: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let cli: Cli = flags::parse(&flags::ControllerDefaults::default());
    telemetry::init(&cli.common.log)?;
    let args = cli.common.clone();
    // Refused gates stop the controller before it connects to anything.
    let features = args.feature_gates.resolve(features::GATES)?;
    let before_dry_run: Vec<FieldManager> = cli
        .override_manager_before_dry_run
        .iter()
        .filter(|name| !name.is_empty())
        .flat_map(|name| FieldManager::named(name))
        .collect();
    runtime::run(
        "kustomize-controller",
        &cli.common,
        Metrics::new(),
        |rt| async move {
            let mut state = State::new(&args, features).await?;
            state.take_over_before_dry_run = before_dry_run;
            let cache_dir = state.cache_dir().to_owned();
            run(args.clone(), Arc::new(Context::new(rt, &args, state))).await?;
            // Unpacked artifacts are a cache: drop them on a graceful shutdown.
            let _ = std::fs::remove_dir_all(cache_dir);
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        },
    )
    .await?;
    Ok(())
}
