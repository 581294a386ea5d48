//! `driftless kustomize build DIR`: prints the YAML stream `kubectl kustomize DIR` prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: KustomizeCommand,
}

#[derive(clap::Subcommand)]
enum KustomizeCommand {
    /// Build a kustomization directory and print the resulting YAML stream.
    Build(BuildArgs),
}

#[derive(clap::Args)]
struct BuildArgs {
    /// The directory holding kustomization.yaml (default: the current directory).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Allow remote bases (git/http URLs) in `resources`. Refused by default.
    #[arg(long)]
    allow_remote_bases: bool,
    /// Refuse bases, components and files outside this directory (what a controller does
    /// with an artifact's root). By default only kustomize's own rule applies.
    #[arg(long, value_name = "DIR")]
    confine_to: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    match args.command {
        KustomizeCommand::Build(build) => run_build(build),
    }
}

fn run_build(args: BuildArgs) -> ExitCode {
    let options = driftless_kustomize::BuildOptions {
        allow_remote_bases: args.allow_remote_bases,
        // Fetching remote bases is the controller's (crates/kustomize-controller/src/remote.rs);
        // here an allowed remote base fails as unsupported, naming the entry.
        remote: None,
        confine_to: args.confine_to,
        root_kustomization: None,
    };
    let resources = match driftless_kustomize::build(&args.dir, &options) {
        Ok(resources) => resources,
        Err(err) => {
            eprintln!("Error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let text = driftless_kustomize::to_yaml_stream(&resources);
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        eprintln!("Error: writing output: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
