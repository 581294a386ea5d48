//! `cargo xtask bench <name>`: benchmarks that print figures as ratios against the upstream
//! tool on the same input in the same run. One module per benchmark.

mod helm;
mod kustomize;
mod kustomize_controller;
mod loop_latency;
mod oci_source;
mod source;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// One run of one process: wall time measured around it, peak RSS and CPU time (user +
/// system, its waited-for children included) from GNU time.
struct Sample {
    wall: Duration,
    rss_kb: u64,
    cpu: Duration,
    stdout: Vec<u8>,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::cache::repo_root().join("target"))
}

/// Runs `argv` in `cwd` under GNU time (`/usr/bin/time -f '%M %U %S'`, Debian package
/// `time`) and returns its wall time, peak RSS, CPU time and stdout; fails if the command
/// fails.
fn measure<S: AsRef<OsStr>>(argv: &[S], cwd: &Path) -> anyhow::Result<Sample> {
    let shown = || {
        argv.iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let rss_file = target_dir().join("bench-time.txt");
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M %U %S")
        .arg("-o")
        .arg(&rss_file)
        .args(argv)
        .current_dir(cwd)
        .output()
        .context("running /usr/bin/time (install the Debian package `time`)")?;
    let wall = start.elapsed();
    if !out.status.success() {
        bail!(
            "{} (in {}) failed: {}",
            shown(),
            cwd.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(&rss_file)?;
    let (rss_kb, cpu) = text
        .lines()
        .filter_map(parse_time_line)
        .next_back()
        .context("no '%M %U %S' line in GNU time output")?;
    Ok(Sample {
        wall,
        rss_kb,
        cpu,
        stdout: out.stdout,
    })
}

/// `"<peak KiB> <user s> <system s>"` as GNU time prints it.
fn parse_time_line(line: &str) -> Option<(u64, Duration)> {
    let mut fields = line.split_whitespace();
    let rss_kb = fields.next()?.parse().ok()?;
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((rss_kb, Duration::try_from_secs_f64(user + system).ok()?))
}

/// The `driftless` binary to measure: `$DRIFTLESS_BIN` when set (a release build made
/// elsewhere), otherwise a fresh `cargo build --release -p driftless-cli`.
fn driftless_release_binary() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("DRIFTLESS_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "driftless-cli", "-j", "2"])
        .current_dir(crate::cache::repo_root())
        .status()?;
    if !status.success() {
        bail!("building driftless (release) failed");
    }
    Ok(target_dir().join("release/driftless"))
}

/// `<target>/release` with source-controller and kustomize-controller freshly built together
/// (always both, so the dependency features match and no bench rebuilds what another built),
/// or `$DRIFTLESS_CONTROLLERS_DIR` when set (binaries built elsewhere; the tables name the
/// directory measured).
fn release_controllers() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("DRIFTLESS_CONTROLLERS_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-j", "2"])
        .args(["-p", "driftless-source-controller"])
        .args(["-p", "driftless-kustomize-controller"])
        .current_dir(crate::cache::repo_root())
        .status()
        .context("running cargo build --release")?;
    if !status.success() {
        bail!("building the controllers (release) failed ({status})");
    }
    Ok(target_dir().join("release"))
}

/// Median, min and max.
pub(super) fn stats(samples: &[Duration]) -> (Duration, Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    if n == 0 {
        return Default::default();
    }
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    };
    (median, sorted[0], sorted[n - 1])
}

#[derive(clap::Args)]
pub struct Args {
    /// Which benchmark: kustomize | helm | source | source-oci | kustomize-controller | loop
    pub name: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.name.as_str() {
        "kustomize" => kustomize::run(),
        "helm" => helm::run(),
        "source" => source::run(),
        "source-oci" => oci_source::run(),
        "kustomize-controller" => kustomize_controller::run(),
        "loop" => loop_latency::run(),
        other => anyhow::bail!("cargo xtask bench {other}: no such benchmark yet"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_time_lines_give_peak_rss_and_cpu() {
        assert_eq!(
            parse_time_line("10240 0.25 0.50"),
            Some((10240, Duration::from_millis(750)))
        );
        assert_eq!(
            parse_time_line("Command exited with non-zero status 1"),
            None
        );
        assert_eq!(parse_time_line("10240"), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        let ms1 = |m: u64| Duration::from_millis(m);
        assert_eq!(stats(&ms(&[30, 10, 20])), (ms1(20), ms1(10), ms1(30)));
        assert_eq!(stats(&ms(&[40, 10, 20, 30])).0, Duration::from_millis(25));
        assert_eq!(stats(&[]).0, Duration::ZERO);
    }
}
