//! `driftless helm template NAME CHART`: prints what `helm template` prints, rendered by the
//! `driftless-helm` engine.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: HelmCommand,
}

#[derive(clap::Subcommand)]
enum HelmCommand {
    /// Render a chart's templates locally and print the manifests.
    // Boxed: `helm template` has many flags, the other commands' arguments are small.
    Template(Box<TemplateArgs>),
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
    /// Set JSON values: `a={"b":1},c=[1,2]` (repeatable).
    #[arg(long = "set-json")]
    set_json: Vec<String>,
    /// Set a value to a file's content: `key=path` (`-` reads stdin; repeatable).
    #[arg(long = "set-file")]
    set_file: Vec<String>,
    /// Set one value to the literal text after `=`, commas and braces included (repeatable).
    #[arg(long = "set-literal")]
    set_literal: Vec<String>,
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
    /// Leave test hooks (`helm.sh/hook: test`) out of the output.
    #[arg(long = "skip-tests")]
    skip_tests: bool,
    /// Accepted for compatibility: `helm template` never installs CRDs, so this changes
    /// nothing (`--include-crds` decides whether `crds/` is printed).
    #[arg(long = "skip-crds")]
    skip_crds: bool,
    /// Only print the documents rendered from these templates (path below the chart name,
    /// `filepath.Match` globs such as `templates/*.yaml`; repeatable).
    #[arg(short = 's', long = "show-only")]
    show_only: Vec<String>,
    /// Name the release from a Go template with Sprig's functions (only with one argument).
    #[arg(long = "name-template")]
    name_template: Option<String>,
    /// Accepted as Helm does: with one argument the release is `release-name` anyway.
    #[arg(short = 'g', long = "generate-name")]
    generate_name: bool,
    /// Write each template's documents to files under this directory instead of stdout.
    #[arg(long = "output-dir")]
    output_dir: Option<PathBuf>,
    /// With `--output-dir`: put the files under `<output-dir>/<release name>/`.
    #[arg(long = "release-name")]
    use_release_name: bool,
    /// Set `.Release.IsUpgrade` instead of `.Release.IsInstall`.
    #[arg(long = "is-upgrade")]
    is_upgrade: bool,
    /// Do not validate values against `values.schema.json`.
    #[arg(long = "skip-schema-validation")]
    skip_schema_validation: bool,
}

pub fn run(args: Args) -> ExitCode {
    match args.command {
        HelmCommand::Template(t) => match template(*t) {
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
    // Helm's `NameAndChart` with `helm template`'s default release name.
    let (name, chart_path) = match args.chart {
        Some(chart) => {
            if args.generate_name {
                return Err("cannot set --generate-name and also specify a name".into());
            }
            if args.name_template.is_some() {
                return Err("cannot set --name-template and also specify a name".into());
            }
            (args.name, chart)
        }
        None => {
            let name = match &args.name_template {
                Some(t) => {
                    driftless_helm::release_name_from_template(t).map_err(|e| e.to_string())?
                }
                None => "release-name".to_string(),
            };
            (name, PathBuf::from(args.name))
        }
    };
    // `--skip-crds` only stops `helm install` from installing `crds/`; rendering ignores it.
    let _ = args.skip_crds;
    let mut values = driftless_helm::UserValues::default();
    for file in &args.values {
        let text =
            std::fs::read_to_string(file).map_err(|e| format!("open {}: {e}", file.display()))?;
        values
            .add_file(&file.display().to_string(), &text)
            .map_err(|e| e.to_string())?;
    }
    // Helm's order, whatever the order on the command line.
    let read = |path: &str| -> Result<String, String> {
        if path.trim() == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| format!("reading stdin: {e}"))?;
            return Ok(s);
        }
        std::fs::read_to_string(path).map_err(|e| format!("open {path}: {e}"))
    };
    let err = |e: driftless_helm::Error| e.to_string();
    args.set_json
        .iter()
        .try_for_each(|s| values.set_json(s))
        .map_err(err)?;
    args.set
        .iter()
        .try_for_each(|s| values.set(s))
        .map_err(err)?;
    args.set_string
        .iter()
        .try_for_each(|s| values.set_string(s))
        .map_err(err)?;
    args.set_file
        .iter()
        .try_for_each(|s| values.set_file(s, &read))
        .map_err(err)?;
    args.set_literal
        .iter()
        .try_for_each(|s| values.set_literal(s))
        .map_err(err)?;
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
    let rendered = driftless_helm::template(chart, &values, &opts).map_err(|e| e.to_string())?;
    let output = driftless_helm::OutputOptions {
        no_hooks: args.no_hooks,
        skip_tests: args.skip_tests,
        show_only: args.show_only,
    };
    match &args.output_dir {
        None => rendered
            .helm_template_output_with(&output)
            .map_err(|e| e.to_string()),
        Some(dir) => write_output_dir(
            &rendered,
            dir,
            args.use_release_name.then_some(opts.release_name.as_str()),
            &output,
        ),
    }
}

/// `helm template --output-dir`: each template's documents go to `<dir>/<template path>`
/// (manifests and hooks under `<dir>/<release>/` with `--release-name`; CRDs always directly
/// under `<dir>`), and stdout gets a `wrote <file>` line per write. Within one run a second
/// document of the same template is appended; hook files are appended to when they exist,
/// even from an earlier run (Helm's behaviour).
fn write_output_dir(
    rendered: &driftless_helm::Rendered,
    dir: &Path,
    release_dir: Option<&str>,
    output: &driftless_helm::OutputOptions,
) -> Result<String, String> {
    let mut stdout = String::new();
    let mut written: HashSet<String> = HashSet::new();
    let mut write = |base: &Path, path: &str, content: &str, append: bool| {
        // Helm joins with the separator without cleaning the path.
        let file = PathBuf::from(format!("{}/{path}", base.display()));
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .append(append)
            .truncate(!append)
            .open(&file)
            .map_err(|e| format!("opening {}: {e}", file.display()))?;
        f.write_all(format!("---\n# Source: {path}\n{content}\n").as_bytes())
            .map_err(|e| format!("writing {}: {e}", file.display()))?;
        stdout.push_str(&format!("wrote {}\n", file.display()));
        Ok::<(), String>(())
    };
    for (path, content) in &rendered.crds {
        write(dir, path, content, written.contains(path))?;
        written.insert(path.clone());
    }
    let manifest_dir = match release_dir {
        Some(release) => dir.join(release),
        None => dir.to_path_buf(),
    };
    for m in &rendered.manifests {
        write(
            &manifest_dir,
            &m.path,
            &m.content,
            written.contains(&m.path),
        )?;
        written.insert(m.path.clone());
    }
    if !output.no_hooks {
        for h in &rendered.hooks {
            if output.skip_tests && h.events.iter().any(|e| e == "test") {
                continue;
            }
            let exists = manifest_dir.join(&h.path).exists();
            write(&manifest_dir, &h.path, &h.content, exists)?;
        }
    }
    if let Some(pattern) = output.show_only.first() {
        // Helm matches --show-only against what is left for stdout: nothing.
        return Err(format!("could not find template {pattern} in chart"));
    }
    // What is left of the manifest for stdout is empty: Helm prints an empty line.
    stdout.push('\n');
    Ok(stdout)
}
