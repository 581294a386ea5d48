//! `cargo xtask bench helm`: whole-process wall time and peak RSS of `driftless helm template`
//! (release build) against `helm template` (pinned Helm, built from its Go module into the
//! cache) on every case of the chart conformance corpus (`crates/helm/tests/charts`). One run
//! of each process; figures printed as totals and ratios (wall and CPU time), plus the largest
//! chart and each chart of [`REAL_SHAPED`] on its own.
//!
//! Peak RSS comes from GNU time (`/usr/bin/time -f %M`, Debian package `time`); wall time is
//! measured around the process here.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::{Sample, driftless_release_binary, measure};

/// Corpus charts written in the shape of real ones (bitnami's common library: deep `include`
/// chains, `tpl` of values, `regexReplaceAll`, `merge`/`deepCopy`), reported case by case:
/// small charts hide costs that real charts pay thousands of times.
const REAL_SHAPED: &[&str] = &["common-shaped"];

struct Case {
    dir: PathBuf,
    chart: String,
    args: Vec<String>,
}

fn corpus() -> anyhow::Result<Vec<Case>> {
    let root = crate::cache::repo_root().join("crates/helm/tests/charts");
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("cases").is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let chart = if dir.join("chart").is_dir() {
            "chart"
        } else {
            "chart.tgz"
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("cases"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "args"))
            .collect();
        files.sort();
        for f in files {
            let args = std::fs::read_to_string(&f)?
                .lines()
                .map(str::to_string)
                .collect();
            out.push(Case {
                dir: dir.clone(),
                chart: chart.to_string(),
                args,
            });
        }
    }
    Ok(out)
}

pub fn run() -> anyhow::Result<()> {
    let ours_bin = driftless_release_binary()?;
    let helm = crate::cache::helm_binary()?;
    let cases = corpus()?;

    let (mut ours_wall, mut theirs_wall) = (Duration::ZERO, Duration::ZERO);
    let (mut ours_cpu, mut theirs_cpu) = (Duration::ZERO, Duration::ZERO);
    let mut real_shaped = Vec::new();
    let (mut ours_rss, mut theirs_rss) = (0u64, 0u64);
    let mut identical = 0;
    let mut biggest: Option<(String, Sample, Sample)> = None;
    for case in &cases {
        let tail: Vec<String> = ["conformance".to_string(), case.chart.clone()]
            .into_iter()
            .chain(case.args.iter().cloned())
            .collect();
        let mut ours_argv = vec![
            ours_bin.display().to_string(),
            "helm".into(),
            "template".into(),
        ];
        ours_argv.extend(tail.iter().cloned());
        let mut theirs_argv = vec![helm.display().to_string(), "template".into()];
        theirs_argv.extend(tail.iter().cloned());
        let a = measure(&ours_argv, &case.dir)?;
        let b = measure(&theirs_argv, &case.dir)?;
        if a.stdout == b.stdout {
            identical += 1;
        }
        ours_wall += a.wall;
        theirs_wall += b.wall;
        ours_cpu += a.cpu;
        theirs_cpu += b.cpu;
        let dir_name = case.dir.file_name().unwrap_or_default().to_string_lossy();
        if REAL_SHAPED.contains(&dir_name.as_ref()) {
            real_shaped.push((
                format!("{dir_name} {}", case.args.join(" "))
                    .trim_end()
                    .to_string(),
                a.wall,
                b.wall,
                a.cpu,
                b.cpu,
                a.rss_kb,
                b.rss_kb,
                a.stdout == b.stdout,
            ));
        }
        ours_rss = ours_rss.max(a.rss_kb);
        theirs_rss = theirs_rss.max(b.rss_kb);
        let size = b.stdout.len();
        if biggest
            .as_ref()
            .is_none_or(|(_, _, prev)| prev.stdout.len() < size)
        {
            let name = format!(
                "{} {}",
                case.dir.file_name().unwrap_or_default().to_string_lossy(),
                case.args.join(" ")
            );
            biggest = Some((name, a, b));
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!(
        "helm template: driftless (release) vs helm {}, one run of each process per case",
        crate::cache::HELM_VERSION
    );
    println!(
        "chart corpus ({} cases, {} identical outputs): wall {:.0} ms vs {:.0} ms = {:.1}x faster; CPU {:.0} ms vs {:.0} ms = {:.1}x less; peak RSS (max) {:.1} MiB vs {:.1} MiB = {:.1}x less",
        cases.len(),
        identical,
        ms(ours_wall),
        ms(theirs_wall),
        ms(theirs_wall) / ms(ours_wall),
        ms(ours_cpu),
        ms(theirs_cpu),
        ms(theirs_cpu) / ms(ours_cpu).max(0.001),
        mb(ours_rss),
        mb(theirs_rss),
        theirs_rss as f64 / ours_rss as f64
    );
    for (name, ow, tw, oc, tc, orss, trss, same) in &real_shaped {
        println!(
            "real-chart shape ({name}{}): wall {:.1} ms vs {:.1} ms = {:.1}x faster; CPU {:.1} ms vs {:.1} ms = {:.1}x less; peak RSS {:.1} MiB vs {:.1} MiB = {:.1}x less",
            if *same { "" } else { ", OUTPUT DIFFERS" },
            ms(*ow),
            ms(*tw),
            ms(*tw) / ms(*ow),
            ms(*oc),
            ms(*tc),
            ms(*tc) / ms(*oc).max(0.001),
            mb(*orss),
            mb(*trss),
            *trss as f64 / *orss as f64
        );
    }
    if let Some((name, a, b)) = biggest {
        println!(
            "largest case ({name}, {} bytes of output): wall {:.1} ms vs {:.1} ms = {:.1}x faster; peak RSS {:.1} MiB vs {:.1} MiB = {:.1}x less",
            b.stdout.len(),
            ms(a.wall),
            ms(b.wall),
            ms(b.wall) / ms(a.wall),
            mb(a.rss_kb),
            mb(b.rss_kb),
            b.rss_kb as f64 / a.rss_kb as f64
        );
    }
    Ok(())
}
