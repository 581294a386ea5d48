//! `cargo xtask bench <name>`: benchmarks that print figures as ratios against the upstream
//! tool on the same input in the same run. One module per benchmark.

mod helm;
mod kustomize;

#[derive(clap::Args)]
pub struct Args {
    /// Which benchmark: kustomize | helm | source | kustomize-controller | loop
    pub name: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    #[allow(clippy::match_single_binding)] // Arms are added as benchmarks land.
    match args.name.as_str() {
        "kustomize" => kustomize::run(),
        "helm" => helm::run(),
        other => anyhow::bail!("cargo xtask bench {other}: no such benchmark yet"),
    }
}
