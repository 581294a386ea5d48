//! `cargo xtask test`: every test of the project, the command the README and CI run.

#[derive(clap::Args)]
pub struct Args {
    /// Extra arguments passed to `cargo test`.
    #[arg(trailing_var_arg = true)]
    pub cargo_args: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["test", "--workspace"])
        .args(&args.cargo_args)
        .current_dir(crate::cache::repo_root())
        .status()?;
    anyhow::ensure!(status.success(), "cargo test failed");
    Ok(())
}
