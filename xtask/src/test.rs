//! `cargo xtask test`: every test of the project, the command the README and CI run.
//!
//! Builds the control plane when the cache lacks it (tens of minutes, once), starts it when it
//! is not running, runs `cargo test --workspace` with `KUBECONFIG` pointing at it, and stops it
//! again when it started it. The exit status is cargo's.

use driftless_e2e::cluster::{self, Layout};

#[derive(clap::Args)]
pub struct Args {
    /// Extra arguments passed to `cargo test` (`-p <crate>` replaces `--workspace`); put
    /// test-binary arguments after `--`, e.g. `cargo xtask test -p driftless-e2e -- --nocapture`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cargo_args: Vec<String>,
}

/// Test threads per test binary: the machine has 2 cores shared with the control plane, and
/// e2e tests mostly wait on the API server, so a little more than the core count.
const TEST_THREADS: &str = "4";

pub fn run(args: Args) -> anyhow::Result<()> {
    let layout = Layout::default();
    cluster::build(&layout)?;
    // The helm interop tests run the real helm CLI: build it (once, cached) before the tests
    // start rather than inside two of them at the same time.
    let helm = crate::cache::helm_binary()?;
    eprintln!("xtask test: helm at {}", helm.display());
    // Likewise the OCI registry the registry e2e tests run.
    let registry = crate::cache::registry_binary()?;
    eprintln!("xtask test: OCI registry at {}", registry.display());
    let running = super::cluster::runtime()?.block_on(cluster::up(&layout))?;
    eprintln!(
        "xtask test: control plane at {} ({})",
        running.server,
        if running.started {
            "started for this run"
        } else {
            "already running"
        }
    );

    // The e2e tests start controller binaries of other packages, which `cargo test` does not
    // rebuild: build them first so no test runs a stale controller.
    let built = std::process::Command::new(env!("CARGO"))
        .args(["build", "--workspace", "--bins"])
        .current_dir(crate::cache::repo_root())
        .status()?;
    if !built.success() {
        if running.started {
            let _ = cluster::down(&layout);
        }
        anyhow::bail!("building the controller binaries failed ({built})");
    }

    let (cargo_args, test_args) = split_args(&args.cargo_args);
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.arg("test");
    // `cargo xtask test -p driftless-e2e` narrows the run; otherwise every crate is tested.
    if !cargo_args
        .iter()
        .any(|a| a == "-p" || a.starts_with("--package"))
    {
        cmd.arg("--workspace");
    }
    // Every failure in one run (CI shows them all), not just the first failing test binary.
    cmd.arg("--no-fail-fast")
        .args(cargo_args)
        .arg("--")
        .args(test_args);
    if !test_args.iter().any(|a| a.starts_with("--test-threads")) {
        cmd.arg(format!("--test-threads={TEST_THREADS}"));
    }
    let status = cmd
        .env("KUBECONFIG", &running.kubeconfig)
        .current_dir(crate::cache::repo_root())
        .status();

    if running.started {
        match cluster::down(&layout) {
            Ok(stopped) => eprintln!("xtask test: stopped {}", stopped.join(", ")),
            Err(e) => eprintln!("xtask test: stopping the control plane failed: {e:#}"),
        }
    }
    let status = status?;
    anyhow::ensure!(status.success(), "cargo test failed ({status})");
    Ok(())
}

/// Splits `[cargo args] [-- test args]`.
fn split_args(args: &[String]) -> (&[String], &[String]) {
    match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cargo_and_test_arguments() {
        let args: Vec<String> = ["-p", "x", "--", "--nocapture"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (cargo, test) = split_args(&args);
        assert_eq!(cargo, &args[..2]);
        assert_eq!(test, &args[3..]);
        let (cargo, test) = split_args(&args[..2]);
        assert_eq!(cargo.len(), 2);
        assert!(test.is_empty());
    }
}
