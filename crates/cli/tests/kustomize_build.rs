//! `driftless kustomize build`: the printed stream, and a non-zero exit with a message on error.

use std::path::Path;
use std::process::Command;

fn driftless() -> Command {
    Command::new(env!("CARGO_BIN_EXE_driftless"))
}

#[test]
fn build_prints_the_same_stream_as_kubectl() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kustomize/tests/conformance/mix-full-overlay");
    let out = driftless()
        .args(["kustomize", "build"])
        .arg(case.join("input/prod"))
        .output()
        .expect("run driftless");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = std::fs::read_to_string(case.join("expected.yaml")).expect("expected.yaml");
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

#[test]
fn build_error_exits_non_zero_with_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("kustomization.yaml"),
        "resources: [missing.yaml]\n",
    )
    .expect("write");
    let out = driftless()
        .args(["kustomize", "build"])
        .arg(tmp.path())
        .output()
        .expect("run driftless");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("Error: ") && stderr.contains("missing.yaml"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
