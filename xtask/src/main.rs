//! `cargo xtask`: the project's automation, written in Rust so it needs nothing but cargo.
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Driftless project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every test: unit, conformance and end-to-end.
    Test,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Test => {
            let status = std::process::Command::new(env!("CARGO"))
                .args(["test", "--workspace"])
                .status()?;
            anyhow::ensure!(status.success(), "cargo test failed");
            Ok(())
        }
    }
}
