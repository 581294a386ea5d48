//! `driftless helm template`: the flags the chart conformance suite cannot express (it always
//! names the release and prints to stdout). Expectations were checked against `helm template`
//! v3.19.0 on the same chart (`crates/helm/tests/charts/template-flags`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn chart_case() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../helm/tests/charts/template-flags")
}

fn driftless(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftless"))
        .arg("helm")
        .arg("template")
        .args(args)
        .current_dir(chart_case())
        .output()
        .expect("run driftless")
}

fn stdout_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn name_template_names_the_release() {
    let out = driftless(&[
        "chart",
        "--name-template",
        r#"{{ "WEB" | lower }}-{{ add 1 2 }}"#,
        "-s",
        "templates/deployment.yaml",
    ]);
    assert_eq!(
        stdout_of(&out),
        "---\n# Source: flags/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-3-web\nspec:\n  replicas: 1\n"
    );
}

#[test]
fn one_argument_names_the_release_release_name_even_with_generate_name() {
    let out = driftless(&["chart", "-g", "-s", "templates/service.yaml"]);
    assert!(stdout_of(&out).contains("name: release-name-web\n"));
}

#[test]
fn a_name_with_generate_name_or_name_template_is_an_error() {
    for flag in [["-g", ""], ["--name-template", "x"]] {
        let mut args = vec!["x", "chart", flag[0]];
        if !flag[1].is_empty() {
            args.push(flag[1]);
        }
        let out = driftless(&args);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("and also specify a name"),
            "{flag:?}: {stderr}"
        );
    }
}

#[test]
fn show_only_of_a_missing_template_is_an_error() {
    let out = driftless(&["x", "chart", "-s", "templates/nope.yaml"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: could not find template templates/nope.yaml in chart\n"
    );
}

#[test]
fn output_dir_writes_each_template_to_its_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out");
    let dir_arg = dir.display().to_string();
    let args = [
        "conformance",
        "chart",
        "--output-dir",
        &dir_arg,
        "--release-name",
        "--include-crds",
    ];
    let first = stdout_of(&driftless(&args));
    // What helm v3.19.0 printed for the same command: CRDs directly under the directory,
    // the rest under <dir>/<release>/, manifests in install order, then hooks, then an
    // empty line (what is left of the manifest for stdout).
    let expected: String = [
        "flags/crds/widgets.yaml",
        "conformance/flags/templates/configmaps.yaml",
        "conformance/flags/templates/configmaps.yaml",
        "conformance/flags/charts/db/templates/service.yaml",
        "conformance/flags/templates/service.yaml",
        "conformance/flags/templates/deployment.yaml",
        "conformance/flags/charts/db/templates/statefulset.yaml",
        "conformance/flags/templates/tests/test-and-install.yaml",
        "conformance/flags/templates/tests/test-connection.yaml",
        "conformance/flags/templates/pre-install-job.yaml",
    ]
    .iter()
    .map(|p| format!("wrote {dir_arg}/{p}\n"))
    .chain(std::iter::once("\n".to_string()))
    .collect();
    assert_eq!(first, expected);

    // Every document of the stdout rendering is in the file of its template.
    let printed = stdout_of(&driftless(&["conformance", "chart", "--include-crds"]));
    for doc in printed.split("---\n").filter(|d| !d.is_empty()) {
        let source = doc
            .strip_prefix("# Source: ")
            .and_then(|d| d.lines().next())
            .expect("a Source line");
        let file = if source.contains("/crds/") {
            dir.join(source)
        } else {
            dir.join("conformance").join(source)
        };
        let text = std::fs::read_to_string(&file).expect("written file");
        assert!(
            text.contains(&format!("---\n{doc}")),
            "{}: {text}",
            file.display()
        );
    }
    let configmaps =
        std::fs::read_to_string(dir.join("conformance/flags/templates/configmaps.yaml"))
            .expect("configmaps");
    assert_eq!(configmaps.matches("---\n").count(), 2);

    // A second run rewrites manifests but appends to hook files that exist (as Helm does).
    stdout_of(&driftless(&args));
    let hook =
        std::fs::read_to_string(dir.join("conformance/flags/templates/pre-install-job.yaml"))
            .expect("hook file");
    assert_eq!(hook.matches("kind: Job").count(), 2);
    let configmaps =
        std::fs::read_to_string(dir.join("conformance/flags/templates/configmaps.yaml"))
            .expect("configmaps");
    assert_eq!(configmaps.matches("---\n").count(), 2);
}

#[test]
fn skip_tests_and_no_hooks_apply_to_output_dir_too() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().display().to_string();
    let out = stdout_of(&driftless(&[
        "conformance",
        "chart",
        "--output-dir",
        &dir,
        "--skip-tests",
    ]));
    assert!(out.contains("pre-install-job.yaml"));
    assert!(!out.contains("tests/"));
    let tmp2 = tempfile::tempdir().expect("tempdir");
    let dir2 = tmp2.path().display().to_string();
    let out = stdout_of(&driftless(&[
        "conformance",
        "chart",
        "--output-dir",
        &dir2,
        "--no-hooks",
    ]));
    assert!(!out.contains("pre-install-job.yaml") && !out.contains("tests/"));
    assert!(out.contains("deployment.yaml"));
}

/// The value flags through the command line, in any order: Helm applies them by kind
/// (`--set-json`, `--set`, `--set-string`, `--set-file`, `--set-literal`), and `--set-file`
/// paths are relative to the working directory. Expected output: `helm template` on the same
/// chart (`crates/helm/tests/charts/set-flags`, regenerated by its `regenerate.sh`).
#[test]
fn value_flags_match_helm_template() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../helm/tests/charts/set-flags");
    for case in ["set-json", "set-file", "set-literal", "order", "set-int64"] {
        let args = std::fs::read_to_string(dir.join(format!("cases/{case}.args"))).expect("args");
        let want = std::fs::read_to_string(dir.join(format!("cases/{case}.out"))).expect("out");
        let out = Command::new(env!("CARGO_BIN_EXE_driftless"))
            .args(["helm", "template", "conformance", "chart"])
            .args(args.lines())
            .current_dir(&dir)
            .output()
            .expect("run driftless");
        assert_eq!(stdout_of(&out), want, "{case}");
    }
}

#[test]
fn set_file_of_a_missing_file_says_which() {
    let out = driftless(&["x", "chart", "--set-file", "a=no-such-file.txt"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--set-file") && stderr.contains("open no-such-file.txt"),
        "{stderr}"
    );
}

#[test]
fn set_json_with_bad_json_is_an_error() {
    let out = driftless(&["x", "chart", "--set-json", "a={bad"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--set-json"), "{stderr}");
}
