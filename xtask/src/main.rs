//! `cargo xtask`: the project's automation, written in Rust so it needs nothing but cargo
//! (and Go, for the upstream components the tests compare against).

mod bench;
mod cache;
mod cluster;
mod crds;
mod test;
mod up;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Driftless project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write config/crd/bases/*.yaml from the API types.
    Crds {
        /// Only check that the files on disk are up to date; exit non-zero when stale.
        #[arg(long)]
        check: bool,
    },
    /// Build, start, stop or inspect the local Kubernetes control plane.
    Cluster(cluster::Args),
    /// Run every test: unit, conformance and end-to-end.
    Test(test::Args),
    /// Run a benchmark and print its figures.
    Bench(bench::Args),
    /// Start the whole GitOps loop locally: control plane, controllers, a git server with a
    /// sample repository; returns once every GitRepository and Kustomization is Ready.
    Up,
    /// Stop what `up` started (controllers, git server), then the control plane.
    Down {
        /// Leave the control plane running (e.g. while tests use it).
        #[arg(long)]
        keep_cluster: bool,
    },
    /// Serve a directory of bare git repositories over smart HTTP (started by `up`).
    #[command(hide = true)]
    GitServe {
        /// Folder of `<name>.git` bare repositories.
        #[arg(long)]
        root: std::path::PathBuf,
        /// Loopback port to listen on.
        #[arg(long)]
        port: u16,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crds { check } => crds::run(check),
        Command::Cluster(args) => cluster::run(args),
        Command::Test(args) => test::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Up => up::up(),
        Command::Down { keep_cluster } => up::down(keep_cluster),
        Command::GitServe { root, port } => up::git_serve(&root, port),
    }
}
