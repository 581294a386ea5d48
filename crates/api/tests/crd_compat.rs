//! Our CRDs against Flux's: runs the shared `crd-compat --strict` tool, which compares every
//! schema path, validation, default, printer column, short name and category with the
//! upstream CRDs. Needs python3 with PyYAML. The shared folder is `<repo>/../shared` unless
//! `DRIFTLESS_SHARED` points elsewhere.

use std::{path::PathBuf, process::Command};

#[test]
fn generated_crds_match_flux_strictly() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = std::env::var_os("DRIFTLESS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("../shared"));
    let tool = shared.join("tools/crd-compat");
    let output = Command::new("python3")
        .arg(&tool)
        .arg("--strict")
        .arg(repo.join("config/crd/bases"))
        .arg(shared.join("reference/flux-crds"))
        .output()
        .unwrap_or_else(|err| panic!("running python3 {}: {err}", tool.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "crd-compat --strict failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("schema paths match across"), "{stdout}");
}
