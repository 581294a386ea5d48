//! `cargo xtask`: the project's automation, written in Rust so it needs nothing but cargo
//! (and Go, for the upstream components the tests compare against).

mod bench;
mod cache;
mod cluster;
mod crds;
mod test;

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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crds { check } => crds::run(check),
        Command::Cluster(args) => cluster::run(args),
        Command::Test(args) => test::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
