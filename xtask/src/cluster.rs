//! `cargo xtask cluster build|up|down|status`: the local Kubernetes control plane.
//!
//! The work lives in `driftless_e2e::cluster`, which the e2e harness calls too, so a cluster
//! started here is the one the tests reuse (and the other way round).
//!
//! - `build`: compiles kube-apiserver, kube-controller-manager, kube-scheduler (Kubernetes
//!   v1.34, pinned in `e2e/cluster/go.mod`), an embedded etcd and kwok into
//!   `<cache>/control-plane-<pins>/bin/`, once.
//! - `up`: starts them on loopback; state, logs and kubeconfig in `<cache>/cluster/`; prints
//!   `export KUBECONFIG=…` on stdout (progress goes to stderr). Does nothing when up already.
//! - `down`: stops every process `up` started.
//! - `status`: what runs, its pids and resident memory.
//!
//! `<cache>` is `$DRIFTLESS_CACHE`, else `$XDG_CACHE_HOME/driftless`, else `~/.cache/driftless`.

use anyhow::Context;
use driftless_e2e::cluster::{self, Built, Layout};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Compile the control plane into the cache (skipped when it is there).
    Build,
    /// Build if needed, start the control plane and print `export KUBECONFIG=…`.
    Up,
    /// Stop every process of the control plane.
    Down,
    /// Say what runs (pids, resident memory, readiness).
    Status,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let layout = Layout::default();
    match args.action {
        Action::Build => {
            match cluster::build(&layout)? {
                Built::Cached => eprintln!(
                    "cluster: already built in {} (delete it to rebuild)",
                    layout.bin_dir.display()
                ),
                Built::Compiled(_) => {}
            }
            Ok(())
        }
        Action::Up => {
            cluster::build(&layout)?;
            let running = runtime()?.block_on(cluster::up(&layout))?;
            if !running.started {
                eprintln!("cluster: already up at {}", running.server);
            }
            println!("export KUBECONFIG={}", running.kubeconfig.display());
            Ok(())
        }
        Action::Down => {
            let stopped = cluster::down(&layout)?;
            if stopped.is_empty() {
                eprintln!("cluster: nothing was running");
            } else {
                eprintln!("cluster: stopped {}", stopped.join(", "));
            }
            Ok(())
        }
        Action::Status => {
            let status = runtime()?.block_on(cluster::status(&layout))?;
            print_status(&layout, &status);
            Ok(())
        }
    }
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

fn print_status(layout: &Layout, status: &cluster::Status) {
    println!(
        "binaries:   {} ({})",
        layout.bin_dir.display(),
        if layout.is_built() {
            "built"
        } else {
            "not built"
        }
    );
    let Some(server) = &status.server else {
        println!("cluster:    not running");
        return;
    };
    println!(
        "cluster:    {server} ({})",
        if status.ready { "ready" } else { "NOT ready" }
    );
    if let Some(kubeconfig) = &status.kubeconfig {
        println!("kubeconfig: {}", kubeconfig.display());
    }
    for p in &status.processes {
        let rss = p
            .rss_kib
            .map(|kib| format!("{:>5} MiB", kib / 1024))
            .unwrap_or_else(|| "        -".into());
        println!(
            "  {:<24} pid {:<8} {:<8} {rss}  {}",
            p.name,
            p.pid,
            if p.alive { "running" } else { "EXITED" },
            p.log.display()
        );
    }
    println!("  resident memory, total: {} MiB", status.rss_kib() / 1024);
}
