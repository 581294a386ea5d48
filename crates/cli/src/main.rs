//! `driftless`: the command-line face of the Driftless engines.
//!
//! Each subcommand lives in its own module with an `Args` struct and a `run` function that
//! returns the process exit code, so adding a subcommand is one module plus one enum arm.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod helm;
mod kustomize;

#[derive(Parser)]
#[command(
    name = "driftless",
    version,
    about = "Driftless: GitOps for Kubernetes, Flux APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Kustomize engine commands (`driftless kustomize build DIR`).
    Kustomize(kustomize::Args),
    /// Helm engine commands (`driftless helm template NAME CHART`).
    Helm(helm::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Kustomize(args) => kustomize::run(args),
        Command::Helm(args) => helm::run(args),
    }
}
