//! `cargo xtask bench loop`: how long the GitOps loop takes from `git push` to the change
//! running, and how long `cargo xtask up` takes when everything is cached.
//!
//! The loop runs in the world `cargo xtask up` creates — the same sample repository and Flux
//! objects (`driftless_e2e::sample::World`), in a namespace of its own with its own release
//! builds of the controllers, so it can share the cluster with tests. Each measured commit
//! changes the staging image tag; its latency runs from `git push` returning until the
//! Deployment carries the new image and Kustomization `apps` is Ready with
//! `lastAppliedRevision` at that commit (polled every 25 ms). Two ways to notice the push:
//!
//! - requestedAt: what `flux reconcile kustomization apps --with-source` does — annotate the
//!   GitRepository, wait until it handled the request, annotate the Kustomization;
//! - interval: no trigger, the GitRepository and the Kustomizations poll every 10 s. Pushes
//!   are spread over the interval (push `i` waits `i/N` of it first) so the figures sample
//!   every phase of the poll rather than the one right after the previous apply.
//!
//! Then `up` from cache: `cargo xtask down --keep-cluster`, then a timed `cargo xtask up`
//! (control plane running, controllers compiled, CRDs installed, sample repository reused).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::stats;
use anyhow::{Context as _, bail};
use driftless_e2e::TestEnv;
use driftless_e2e::git_server::GitServer;
use driftless_e2e::sample::{
    self, APP, APPS, IMAGE, SOURCE, STAGING_OVERLAY, World, image, main_revision, request_reconcile,
};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

/// Measured commits per mode.
const COMMITS: u32 = 10;
/// The polling interval of the second mode.
const INTERVAL: Duration = Duration::from_secs(10);
/// Longest wait for one commit, and for a world to become Ready.
const TIMEOUT: Duration = Duration::from_secs(180);
/// How often the cluster is looked at while a commit is in flight.
const POLL: Duration = Duration::from_millis(25);

#[derive(Clone, Copy, PartialEq)]
enum Trigger {
    RequestedAt,
    Interval,
}

pub fn run() -> anyhow::Result<()> {
    let bins = super::release_controllers()?;
    let runtime = crate::cluster::runtime()?;
    let triggered = runtime.block_on(measure_loop(&bins, Trigger::RequestedAt))?;
    let polled = runtime.block_on(measure_loop(&bins, Trigger::Interval))?;

    println!();
    println!("GitOps loop: git push -> Deployment updated and Kustomization Ready at the commit");
    println!(
        "(controllers from {}; {COMMITS} commits each; sample world of `cargo xtask up`)",
        bins.display()
    );
    println!();
    println!("| trigger | commits | median | min | max |");
    println!("|---|---|---|---|---|");
    for (name, samples) in [
        (
            "requestedAt (`flux reconcile ks apps --with-source`)",
            &triggered,
        ),
        ("interval 10s, no trigger", &polled),
    ] {
        let (median, min, max) = stats(samples);
        println!(
            "| {name} | {} | {} | {} | {} |",
            samples.len(),
            secs(median),
            secs(min),
            secs(max)
        );
    }
    // The loop's figures first: the `up` below may have to compile the controllers once.
    let up = up_from_cache()?;
    println!();
    println!(
        "`cargo xtask up` from cache (after `down --keep-cluster`): {}",
        secs(up.total)
    );
    for (at, step) in &up.steps {
        println!("  {at:>6}  {step}");
    }
    Ok(())
}

/// Latencies of [`COMMITS`] image-tag commits in a fresh sample world.
async fn measure_loop(bins: &Path, trigger: Trigger) -> anyhow::Result<Vec<Duration>> {
    let (prefix, interval, minor) = match trigger {
        Trigger::RequestedAt => ("bench-loop-trigger", "1m", 8),
        Trigger::Interval => ("bench-loop-interval", "10s", 9),
    };
    let env = TestEnv::get().await?;
    let server = GitServer::start()?;
    let world = World::start(&env, &server, prefix, interval, Some(bins)).await?;
    eprintln!(
        "bench loop: {prefix}: waiting for the first commit in namespace {}",
        world.ns.name()
    );
    world.wait_all_applied(&world.first_commit, TIMEOUT).await?;
    let deployments: Api<Deployment> = world.app_api();
    let mut samples = Vec::new();
    for i in 0..COMMITS {
        let tag = format!("6.{minor}.{i}");
        if trigger == Trigger::Interval {
            tokio::time::sleep(INTERVAL * i / COMMITS).await;
        }
        let overlay = std::fs::read_to_string(world.repo.work_path().join(STAGING_OVERLAY))?;
        let edited = sample::with_image_tag(&overlay, &tag).context("the overlay sets newTag")?;
        let commit = world.repo.commit(
            &[(STAGING_OVERLAY, edited.as_bytes())],
            &format!("podinfo {tag}"),
        )?;
        world.repo.git(&["push", "--quiet", "origin", "main"])?;
        let pushed = Instant::now();
        if trigger == Trigger::RequestedAt {
            with_source(&world, &format!("bench-{i}")).await?;
        }
        let revision = main_revision(&commit);
        let want_image = format!("{IMAGE}:{tag}");
        loop {
            let d = deployments.get(APP).await?;
            let k = world.kustomizations().get(APPS).await?;
            let applied = k.status.as_ref().is_some_and(|s| {
                s.last_applied_revision.as_deref() == Some(&revision)
                    && sample::is_ready(s.conditions.as_deref())
            });
            if applied && image(&d) == Some(want_image.as_str()) {
                break;
            }
            if pushed.elapsed() > TIMEOUT {
                bail!("{tag} ({revision}) not applied after {TIMEOUT:?}");
            }
            tokio::time::sleep(POLL).await;
        }
        let took = pushed.elapsed();
        eprintln!("bench loop: {prefix}: {tag} applied in {}", secs(took));
        samples.push(took);
    }
    world.delete(TIMEOUT).await?;
    Ok(samples)
}

/// `flux reconcile kustomization apps --with-source`, polling as fast as the measurement.
async fn with_source(world: &World<'_>, token: &str) -> anyhow::Result<()> {
    let sources = world.sources();
    request_reconcile(&sources, SOURCE, token).await?;
    let started = Instant::now();
    loop {
        let s = sources.get(SOURCE).await?;
        if s.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some(token)
        {
            break;
        }
        if started.elapsed() > TIMEOUT {
            bail!("GitRepository {SOURCE} did not handle {token} in {TIMEOUT:?}");
        }
        tokio::time::sleep(POLL).await;
    }
    request_reconcile(&world.kustomizations(), APPS, token).await
}

struct UpFigures {
    total: Duration,
    /// `(elapsed, step)` as `up` printed them.
    steps: Vec<(String, String)>,
}

/// Wall time of `cargo xtask up` after `down --keep-cluster`. When `up` was not running, one
/// untimed `up` first fills what it caches, and `down --keep-cluster` after restores that state.
fn up_from_cache() -> anyhow::Result<UpFigures> {
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let xtask = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(&exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("running cargo xtask {}", args.join(" ")))?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            bail!("cargo xtask {} failed:\n{stderr}", args.join(" "));
        }
        Ok(stderr)
    };
    let was_up = crate::up::running()?;
    if !was_up {
        eprintln!("bench loop: a first `cargo xtask up` to fill the caches (not timed)");
        xtask(&["up"])?;
    }
    xtask(&["down", "--keep-cluster"])?;
    eprintln!("bench loop: timing `cargo xtask up`");
    let started = Instant::now();
    let log = xtask(&["up"])?;
    let total = started.elapsed();
    if !was_up {
        xtask(&["down", "--keep-cluster"])?;
    }
    let steps = log
        .lines()
        .filter_map(|l| l.strip_prefix("up ["))
        .filter_map(|l| l.split_once("] "))
        .map(|(at, step)| (at.trim().to_owned(), step.to_owned()))
        .collect();
    Ok(UpFigures { total, steps })
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
