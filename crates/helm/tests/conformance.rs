//! Chart conformance: every chart under `tests/charts/` rendered with every case's arguments
//! must print exactly what the pinned `helm template` printed (`cases/<case>.out`, made by
//! `tests/charts/regenerate.sh`).

use std::path::{Path, PathBuf};

use driftless_helm::{OutputOptions, TemplateOptions, UserValues, load, template};

struct Case {
    chart_dir: PathBuf,
    name: String,
    args: Vec<String>,
    expected: String,
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts");
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/charts exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.join("cases").is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("cases"))
            .expect("cases dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "args"))
            .collect();
        files.sort();
        for args_file in files {
            let expected_file = args_file.with_extension("out");
            let expected = std::fs::read_to_string(&expected_file).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (run tests/charts/regenerate.sh)",
                    expected_file.display()
                )
            });
            let args = std::fs::read_to_string(&args_file)
                .expect("args file")
                .lines()
                .map(str::to_string)
                .collect();
            out.push(Case {
                chart_dir: dir.clone(),
                name: args_file
                    .file_stem()
                    .expect("file name")
                    .to_string_lossy()
                    .into_owned(),
                args,
                expected,
            });
        }
    }
    out
}

/// Renders one case as `helm template conformance <chart> <args>` would.
fn render(case: &Case) -> Result<String, String> {
    let mut values = UserValues::default();
    let mut opts = TemplateOptions {
        release_name: "conformance".into(),
        ..Default::default()
    };
    let mut output = OutputOptions::default();
    // Helm applies the value flags by kind, not in command-line order.
    let (mut json, mut set, mut set_string, mut file, mut literal) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut it = case.args.iter();
    while let Some(flag) = it.next() {
        let mut next = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "-f" | "--values" => {
                let path = case.chart_dir.join(next()?);
                let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
                values
                    .add_file(&path.display().to_string(), &text)
                    .map_err(|e| e.to_string())?;
            }
            "--set" => set.push(next()?),
            "--set-string" => set_string.push(next()?),
            "--set-json" => json.push(next()?),
            "--set-file" => file.push(next()?),
            "--set-literal" => literal.push(next()?),
            "-n" | "--namespace" => opts.namespace = next()?,
            "--kube-version" => opts.kube_version = Some(next()?),
            "-a" | "--api-versions" => opts.api_versions.push(next()?),
            "--include-crds" => opts.include_crds = true,
            "--is-upgrade" => opts.is_upgrade = true,
            "--no-hooks" => output.no_hooks = true,
            "--skip-tests" => output.skip_tests = true,
            // Only `helm install` acts on it.
            "--skip-crds" => {}
            "-s" | "--show-only" => output.show_only.push(next()?),
            other => return Err(format!("unsupported flag {other}")),
        }
    }
    let read = |p: &str| {
        std::fs::read_to_string(case.chart_dir.join(p)).map_err(|e| format!("open {p}: {e}"))
    };
    let err = |e: driftless_helm::Error| e.to_string();
    json.iter()
        .try_for_each(|s| values.set_json(s))
        .map_err(err)?;
    set.iter().try_for_each(|s| values.set(s)).map_err(err)?;
    set_string
        .iter()
        .try_for_each(|s| values.set_string(s))
        .map_err(err)?;
    file.iter()
        .try_for_each(|s| values.set_file(s, &read))
        .map_err(err)?;
    literal
        .iter()
        .try_for_each(|s| values.set_literal(s))
        .map_err(err)?;
    let chart_path = if case.chart_dir.join("chart").is_dir() {
        case.chart_dir.join("chart")
    } else {
        case.chart_dir.join("chart.tgz")
    };
    let chart = load(&chart_path).map_err(|e| e.to_string())?;
    let rendered = template(chart, &values, &opts).map_err(|e| e.to_string())?;
    rendered
        .helm_template_output_with(&output)
        .map_err(|e| e.to_string())
}

fn first_difference(expected: &str, actual: &str) -> String {
    for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return format!("line {}:\n  helm:      {e:?}\n  driftless: {a:?}", i + 1);
        }
    }
    format!(
        "line counts differ: helm {} vs driftless {}",
        expected.lines().count(),
        actual.lines().count()
    )
}

#[test]
fn charts_render_exactly_as_helm_template() {
    let cases = cases();
    assert!(
        cases.len() >= 40,
        "expected the full corpus, found {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let id = format!(
            "{}/{}",
            case.chart_dir
                .file_name()
                .expect("dir name")
                .to_string_lossy(),
            case.name
        );
        match render(case) {
            Ok(actual) if actual == case.expected => {}
            Ok(actual) => failures.push(format!(
                "{id}: {}",
                first_difference(&case.expected, &actual)
            )),
            Err(e) => failures.push(format!("{id}: error: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from helm template:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
