//! The `source-controller` binary: flags, storage, the artifact server and the GitRepository
//! and OCIRepository reconcilers, inside the shared controller runtime.

use std::sync::Arc;

use clap::Parser;
use driftless_core::flags::{self, Args, ControllerDefaults, StorageArgs};
use driftless_core::metrics::Metrics;
use driftless_source_controller::git::Limits;
use driftless_source_controller::reconcile::{self, Context, State};
use driftless_source_controller::storage::{Retention, Storage};
use driftless_source_controller::{oci, server};

/// Flags: the shared ones, storage, and the checkout size limits.
#[derive(Parser, Debug)]
#[command(name = "source-controller", version)]
struct Cli {
    #[command(flatten)]
    args: Args,
    #[command(flatten)]
    storage: StorageArgs,
    /// Largest file (bytes) a checkout may contain; larger files fail the reconcile.
    #[arg(long, default_value_t = 256 << 20)]
    max_file_size: u64,
    /// Most bytes one Git fetch, or one OCI layer, may download.
    #[arg(long, default_value_t = 2 << 30)]
    max_fetch_size: u64,
}

#[tokio::main]
async fn main() {
    let cli: Cli = flags::parse(&ControllerDefaults {
        concurrent: 2,
        ..ControllerDefaults::default()
    });
    if let Err(e) = driftless_core::telemetry::init(&cli.args.log) {
        eprintln!("source-controller: {e}");
        std::process::exit(1);
    }
    if let Err(e) = run(cli).await {
        tracing::error!(error = %e, "source-controller failed");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let storage_path = if cli.storage.storage_path.is_empty() {
        std::env::temp_dir().join("source-controller")
    } else {
        cli.storage.storage_path.clone().into()
    };
    // Refused gates stop the controller before it connects to anything.
    cli.args
        .feature_gates
        .resolve(driftless_source_controller::features::GATES)?;
    let bind = flags::listen_addr(&cli.storage.storage_addr)?;
    let advertised = flags::advertised_storage_addr(&cli.storage)?;
    let storage = Arc::new(Storage::new(
        storage_path,
        advertised,
        Retention {
            records: usize::try_from(cli.storage.artifact_retention_records).unwrap_or(2),
            ttl: cli.storage.artifact_retention_ttl.get(),
        },
    )?);
    let limits = Limits {
        max_fetch_bytes: cli.max_fetch_size,
        max_file_size: cli.max_file_size,
    };
    let args = cli.args.clone();
    driftless_core::runtime::run(
        "source-controller",
        &cli.args,
        Metrics::new(),
        move |rt| async move {
            if let Some(addr) = bind {
                let listener = tokio::net::TcpListener::bind(&addr).await?;
                tracing::info!(%addr, "serving artifacts");
                tokio::spawn(server::serve_until(
                    listener,
                    storage.clone(),
                    rt.shutdown.wait_owned(),
                ));
            }
            let ctx = Arc::new(Context::new(rt, &args, State { storage, limits }));
            // Both kinds share the storage, the artifact server and the runtime.
            tokio::try_join!(reconcile::run(ctx.clone(), &args), oci::run(ctx, &args))?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        },
    )
    .await?;
    Ok(())
}
