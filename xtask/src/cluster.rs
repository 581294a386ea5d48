//! `cargo xtask cluster build|up|down|status` (filled by the control-plane work).

#[derive(clap::Args)]
pub struct Args {
    /// build | up | down | status
    pub action: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cargo xtask cluster {}: not written yet", args.action)
}
