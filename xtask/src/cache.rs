//! The build cache outside the repository, shared by every clone on this machine and by CI.
//!
//! Heavy builds (the Go-built control plane, reference tools such as helm) land in
//! `$DRIFTLESS_CACHE` or `$XDG_CACHE_HOME/driftless` or `~/.cache/driftless`, one folder per
//! component and pinned version, so a fresh clone reuses them.

#![allow(dead_code)] // Callers (cluster, bench, conformance oracles) land with their issues.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The root of the cache.
pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("DRIFTLESS_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("driftless")
}

/// The folder of one component at one version, e.g. `dir("helm", "v3.19.0")`.
pub fn dir(component: &str, version: &str) -> PathBuf {
    root().join(format!("{component}-{version}"))
}

/// The repository root (xtask lives one level below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The Helm release the chart conformance expectations were made with (keep in step with
/// `crates/helm/tests/charts/regenerate.sh`), also used by the bench and the e2e interop tests.
pub const HELM_VERSION: &str = "v3.19.0";

/// Builds (once, with Go) and returns the pinned `helm` binary.
pub fn helm_binary() -> anyhow::Result<PathBuf> {
    go_install("helm", "helm.sh/helm/v3/cmd/helm", HELM_VERSION, "helm")
}

/// The OCI distribution registry the e2e tests push to and pull from (`registry` of
/// `github.com/distribution/distribution/v3`; v3.1.2 installs with plain `go install`).
pub const REGISTRY_VERSION: &str = "v3.1.2";

/// Builds (once, with Go) and returns the pinned distribution `registry` binary.
pub fn registry_binary() -> anyhow::Result<PathBuf> {
    go_install(
        "registry",
        "github.com/distribution/distribution/v3/cmd/registry",
        REGISTRY_VERSION,
        "registry",
    )
}

/// Builds a Go command that has no `replace` directives (helm, kwok, …) with `go install
/// <package>@<version>` into the cache, once, and returns the binary's path.
///
/// `binary` is the name `go install` gives the result (the last path element of `package`).
pub fn go_install(
    component: &str,
    package: &str,
    version: &str,
    binary: &str,
) -> anyhow::Result<PathBuf> {
    let dir = dir(component, version);
    let bin = dir.join("bin").join(binary);
    if bin.exists() {
        return Ok(bin);
    }
    eprintln!(
        "xtask: building {package}@{version} with go (once; cached in {})",
        dir.display()
    );
    std::fs::create_dir_all(dir.join("bin"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let status = Command::new("go")
        .args(["install", &format!("{package}@{version}")])
        .env("GOBIN", dir.join("bin"))
        .env("CGO_ENABLED", "0")
        .status()
        .context("running go (is Go installed?)")?;
    if !status.success() {
        bail!("go install {package}@{version} failed");
    }
    if !bin.exists() {
        bail!(
            "go install {package}@{version} did not produce {}",
            bin.display()
        );
    }
    Ok(bin)
}
