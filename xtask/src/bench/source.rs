//! `cargo xtask bench source`: the source-controller (release build) on the running control
//! plane, against the real git server of the e2e harness (git http-backend, smart HTTP), in
//! one invocation:
//!
//! 1. time to artifact for a repository of 10,000 files: a GitRepository from creation until
//!    it is Ready with the artifact (the whole controller path: watch, ls-remote, shallow
//!    fetch, checkout, pack, status), against `git clone --depth 1` + `tar czf` of the same
//!    repository (each under GNU time), as a ratio of medians over alternating rounds (the
//!    disk's speed swings; alternating exposes both sides to the same swings);
//! 2. cost of a no-op reconcile: a `requestedAt` with nothing new, from the patch until
//!    `status.lastHandledReconcileAt` shows it, and whether a pack was fetched;
//! 3. resident memory (VmRSS, VmHWM from `/proc/<pid>/status`) of a fresh controller process
//!    idle, and with 100 GitRepositories Ready.
//!
//! 4. OCIRepositories at scale (see `oci_source`).
//!
//! Wall times are observed through the API server (polled every 10 ms), so they include the
//! watch latency a user sees too.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use driftless_api::source::gitrepository::GitRepository;
use driftless_e2e::git_server::{GitServer, HTTP_PASSWORD, HTTP_USER};
use driftless_e2e::source::{
    create_git_repository, create_http_credentials, git_repositories, last_handled, main_branch,
    ready_revision, request_reconcile,
};
use driftless_e2e::{TestEnv, TestNamespace};

use super::{measure, stats, target_dir};

const FILES: usize = 10_000;
const REPOSITORIES: usize = 100;
const NO_OP_RUNS: usize = 5;
/// Rounds of time-to-artifact, each side once a round.
const ROUNDS: usize = 3;
const TIMEOUT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(10);

/// `<target>/bench-source/<name>`, emptied.
fn scratch(name: &str) -> anyhow::Result<PathBuf> {
    let dir = target_dir().join("bench-source").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A controller process of this benchmark, killed when dropped.
pub(super) struct Controller {
    child: Child,
}

impl Controller {
    pub(super) fn start(bin: &Path, env: &TestEnv, ns: &TestNamespace) -> anyhow::Result<Self> {
        let storage = scratch(&format!("storage-{}", ns.name()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(storage.with_extension("log"))?;
        let child = Command::new(bin)
            .args([
                "--metrics-addr=0",
                "--health-addr=0",
                "--concurrent=4",
                &format!("--storage-path={}", storage.display()),
                &format!("--storage-addr=127.0.0.1:{port}"),
                &format!("--storage-adv-addr=127.0.0.1:{port}"),
                &driftless_e2e::flux::selector_flag(ns),
            ])
            .env("KUBECONFIG", env.kubeconfig())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Self { child })
    }

    /// CPU time (user + system) the process has used so far, from `/proc/<pid>/stat`.
    pub(super) fn cpu(&self) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        let rest = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .context("malformed /proc/<pid>/stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| -> anyhow::Result<u64> {
            fields
                .get(i)
                .and_then(|v| v.parse().ok())
                .context("no utime/stime in /proc/<pid>/stat")
        };
        // Fields 14 and 15 are at 11 and 12 once the pid and name are cut off; Linux counts
        // them in USER_HZ, 100 per second on every platform it exports this file on.
        Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
    }

    /// `(VmRSS, VmHWM)` in KiB.
    pub(super) fn memory(&self) -> anyhow::Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("no {name} in /proc/<pid>/status"))
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every [`POLL`] until it holds; returns the time it took.
pub(super) async fn until(
    what: &str,
    mut check: impl AsyncFnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while !check().await? {
        if started.elapsed() > TIMEOUT {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(started.elapsed())
}

fn generate_files(server: &GitServer) -> anyhow::Result<()> {
    let repo = server.create_repo("large")?;
    for i in 0..FILES {
        let content = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  index: \"{i}\"\n  payload: \"{}\"\n",
            "x".repeat(i % 512)
        );
        repo.write_files(&[(
            &format!("dir-{:03}/cm-{i}.yaml", i / 100),
            content.as_bytes(),
        )])?;
    }
    repo.commit(&[], "10,000 files")?;
    repo.push()
}

pub fn run() -> anyhow::Result<()> {
    let bin = super::release_controllers()?.join("source-controller");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run_async(&bin))
}

async fn run_async(bin: &Path) -> anyhow::Result<()> {
    let server = GitServer::start()?;
    generate_files(&server)?;
    let small = server.create_repo("small")?;
    small.commit(&[("app.yaml", b"kind: ConfigMap\n")], "small")?;
    small.push()?;
    let env = TestEnv::get().await?;

    // 1. Time to artifact, against git clone --depth 1 + tar czf.
    let ns = env.namespace("bench-source").await?;
    create_http_credentials(&env, &ns, "creds").await?;
    let api = git_repositories(&env, &ns);
    let controller = Controller::start(bin, &env, &ns)?;
    // The controller is up (and its caches synced) once a small repository is Ready.
    create_git_repository(
        &api,
        &ns,
        "warmup",
        main_branch(&server.http_url("small"), "creds"),
    )
    .await?;
    until("warm-up", async || {
        Ok(ready_revision(&api.get("warmup").await?).is_some())
    })
    .await?;
    // Alternate the two sides, ROUNDS times each, so a noisy moment hits both; each of ours
    // is a new GitRepository (nothing cached), each clone a new directory.
    let url =
        server
            .http_url("large")
            .replacen("://", &format!("://{HTTP_USER}:{HTTP_PASSWORD}@"), 1);
    let mut ours = Vec::new();
    let mut ours_cpu = Vec::new();
    let mut clones = Vec::new();
    let mut tars = Vec::new();
    let mut git_size = 0;
    for round in 0..ROUNDS {
        let name = format!("large-{round}");
        create_git_repository(
            &api,
            &ns,
            &name,
            main_branch(&server.http_url("large"), "creds"),
        )
        .await?;
        let cpu_before = controller.cpu()?;
        ours.push(
            until("the 10,000-file artifact", async || {
                Ok(ready_revision(&api.get(&name).await?).is_some())
            })
            .await?,
        );
        ours_cpu.push(controller.cpu()? - cpu_before);
        let work = scratch(&format!("clone-{round}"))?;
        let clone = measure(
            &[
                "git",
                "clone",
                "--quiet",
                "--depth",
                "1",
                "--branch",
                "main",
                url.as_str(),
                "large",
            ],
            &work,
        )?;
        let tar = measure(
            &["tar", "czf", "../large.tar.gz", "--exclude=.git", "."],
            &work.join("large"),
        )?;
        git_size = std::fs::metadata(work.join("large.tar.gz"))?.len();
        clones.push(clone);
        tars.push(tar);
    }
    let (_, fetch_hwm) = controller.memory()?;
    let large: GitRepository = api.get("large-0").await?;
    let artifact_size = large
        .status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .and_then(|a| a.size)
        .unwrap_or_default();
    let clone_rss_kb = clones.iter().map(|c| c.rss_kb).max().unwrap_or_default();
    let theirs: Vec<Duration> = clones
        .iter()
        .zip(&tars)
        .map(|(c, t)| c.wall + t.wall)
        .collect();
    let theirs_cpu: Vec<Duration> = clones
        .iter()
        .zip(&tars)
        .map(|(c, t)| c.cpu + t.cpu)
        .collect();
    let clone_walls: Vec<Duration> = clones.iter().map(|c| c.wall).collect();
    let tar_walls: Vec<Duration> = tars.iter().map(|t| t.wall).collect();

    // 2. No-op reconciles.
    let mut no_op = Vec::new();
    let packs = server.http_upload_packs();
    for i in 0..NO_OP_RUNS {
        let token = format!("noop-{i}");
        let started = Instant::now();
        request_reconcile(&api, "large-0", &token).await?;
        until("the no-op reconcile", async || {
            Ok(last_handled(&api.get("large-0").await?) == Some(token.as_str()))
        })
        .await?;
        no_op.push(started.elapsed());
    }
    let packs_fetched = server.http_upload_packs() - packs;
    // Deleted while the controller runs: its finalizer removes the artifacts.
    ns.delete_and_wait(&env, TIMEOUT).await?;
    drop(controller);

    // 3. Memory: a fresh process, idle, then with 100 GitRepositories Ready.
    let ns = env.namespace("bench-source-mem").await?;
    create_http_credentials(&env, &ns, "creds").await?;
    let api = git_repositories(&env, &ns);
    let controller = Controller::start(bin, &env, &ns)?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (idle_rss, idle_hwm) = controller.memory()?;
    let started = Instant::now();
    for i in 0..REPOSITORIES {
        create_git_repository(
            &api,
            &ns,
            &format!("repo-{i:03}"),
            main_branch(&server.http_url("small"), "creds"),
        )
        .await?;
    }
    until("100 GitRepositories Ready", async || {
        for i in 0..REPOSITORIES {
            if ready_revision(&api.get(&format!("repo-{i:03}")).await?).is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await?;
    let hundred = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (busy_rss, busy_hwm) = controller.memory()?;
    // Deleted while the controller runs: its finalizer removes the artifacts.
    ns.delete_and_wait(&env, TIMEOUT).await?;
    drop(controller);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mib = |kb: u64| kb as f64 / 1024.0;
    println!(
        "source-controller ({}; a release build unless DRIFTLESS_CONTROLLERS_DIR says otherwise) against git http-backend on loopback, medians where it says so",
        bin.display()
    );
    println!();
    println!("| measure | driftless | reference | ratio |");
    println!("|---|---|---|---|");
    let (ours_med, theirs_med) = (stats(&ours).0, stats(&theirs).0);
    println!(
        "| time to artifact, {FILES} files (GitRepository created -> Ready) vs git clone --depth 1 ({}) + tar czf ({}); median (min-max) of {ROUNDS} alternating rounds | {} | {} | {:.2}x |",
        spread(&clone_walls),
        spread(&tar_walls),
        spread(&ours),
        spread(&theirs),
        ms(ours_med) / ms(theirs_med)
    );
    println!(
        "| CPU time to artifact (user+system: the controller process / git clone with its children + tar); median (min-max) | {} | {} | {:.2}x |",
        spread(&ours_cpu),
        spread(&theirs_cpu),
        ms(stats(&ours_cpu).0) / ms(stats(&theirs_cpu).0)
    );
    println!(
        "| artifact size | {:.1} MiB | {:.1} MiB (tar czf) | {:.2}x |",
        artifact_size as f64 / 1048576.0,
        git_size as f64 / 1048576.0,
        artifact_size as f64 / git_size as f64
    );
    println!(
        "| no-op reconcile (requestedAt -> lastHandledReconcileAt), median (min-max) of {NO_OP_RUNS} | {} | - | - |",
        spread(&no_op)
    );
    println!("| packs fetched by the {NO_OP_RUNS} no-op reconciles | {packs_fetched} | - | - |");
    println!(
        "| peak RSS (VmHWM) after the {FILES}-file artifact | {:.1} MiB | {:.1} MiB (git clone peak) | - |",
        mib(fetch_hwm),
        mib(clone_rss_kb)
    );
    println!(
        "| RSS idle, fresh process (VmRSS / VmHWM) | {:.1} / {:.1} MiB | - | - |",
        mib(idle_rss),
        mib(idle_hwm)
    );
    println!(
        "| RSS with {REPOSITORIES} GitRepositories Ready (VmRSS / VmHWM) | {:.1} / {:.1} MiB | - | - |",
        mib(busy_rss),
        mib(busy_hwm)
    );
    println!(
        "| {REPOSITORIES} GitRepositories created -> all Ready (--concurrent=4) | {:.0} ms | - | - |",
        ms(hundred)
    );
    if packs_fetched != 0 {
        bail!("the no-op reconciles fetched {packs_fetched} pack(s)");
    }
    println!();
    super::oci_source::run_async(bin).await
}

/// `median ms (min-max)`.
fn spread(samples: &[Duration]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (median, min, max) = stats(samples);
    format!("{:.0} ms ({:.0}-{:.0})", ms(median), ms(min), ms(max))
}
