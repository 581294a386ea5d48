//! `driftless helm template NAME CHART`: prints what `helm template` prints, rendered by the
//! same engine the helm-controller uses.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: HelmCommand,
}

#[derive(clap::Subcommand)]
enum HelmCommand {
    /// Render a chart's templates locally and print the manifests.
    Template(TemplateArgs),
}

#[derive(clap::Args)]
struct TemplateArgs {
    /// The release name (or the chart, when only one argument is given; the release is then
    /// called `release-name`, as with `helm template CHART`).
    name: String,
    /// The chart: a directory or a `.tgz` file.
    chart: Option<PathBuf>,
    /// A values file (repeatable; later files win).
    #[arg(short = 'f', long = "values")]
    values: Vec<PathBuf>,
    /// Set a value: `a.b=c,list[0]=x` (repeatable).
    #[arg(long = "set")]
    set: Vec<String>,
    /// Set a string value, never converted to a number or bool (repeatable).
    #[arg(long = "set-string")]
    set_string: Vec<String>,
    /// The release namespace.
    #[arg(short = 'n', long = "namespace", default_value = "")]
    namespace: String,
    /// Kubernetes version for `.Capabilities.KubeVersion`.
    #[arg(long = "kube-version")]
    kube_version: Option<String>,
    /// An extra API version for `.Capabilities.APIVersions` (repeatable).
    #[arg(short = 'a', long = "api-versions")]
    api_versions: Vec<String>,
    /// Include the chart's `crds/` in the output.
    #[arg(long = "include-crds")]
    include_crds: bool,
    /// Leave hooks out of the output.
    #[arg(long = "no-hooks")]
    no_hooks: bool,
    /// Set `.Release.IsUpgrade` instead of `.Release.IsInstall`.
    #[arg(long = "is-upgrade")]
    is_upgrade: bool,
    /// Do not validate values against `values.schema.json`.
    #[arg(long = "skip-schema-validation")]
    skip_schema_validation: bool,
}

pub fn run(args: Args) -> ExitCode {
    match args.command {
        HelmCommand::Template(t) => match template(t) {
            Ok(text) => {
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
            Err(err) => {
                eprintln!("Error: {err}");
                ExitCode::FAILURE
            }
        },
    }
}

fn template(args: TemplateArgs) -> Result<String, String> {
    let (name, chart_path) = match args.chart {
        Some(chart) => (args.name, chart),
        None => ("release-name".to_string(), PathBuf::from(args.name)),
    };
    let mut values = driftless_helm::UserValues::default();
    for file in &args.values {
        let text =
            std::fs::read_to_string(file).map_err(|e| format!("open {}: {e}", file.display()))?;
        values
            .add_file(&file.display().to_string(), &text)
            .map_err(|e| e.to_string())?;
    }
    for s in &args.set {
        values.set(s).map_err(|e| e.to_string())?;
    }
    for s in &args.set_string {
        values.set_string(s).map_err(|e| e.to_string())?;
    }
    let chart = driftless_helm::load(&chart_path).map_err(|e| e.to_string())?;
    let opts = driftless_helm::TemplateOptions {
        release_name: name,
        namespace: args.namespace,
        kube_version: args.kube_version,
        api_versions: args.api_versions,
        include_crds: args.include_crds,
        is_upgrade: args.is_upgrade,
        skip_schema_validation: args.skip_schema_validation,
        lookup: None,
    };
    let mut rendered =
        driftless_helm::template(chart, &values, &opts).map_err(|e| e.to_string())?;
    if args.no_hooks {
        rendered.hooks.clear();
    }
    Ok(rendered.helm_template_output())
}
