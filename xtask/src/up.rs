//! `cargo xtask up` / `cargo xtask down`: the whole GitOps loop on this machine, in one command.
//!
//! `up` builds what is missing, starts (or reuses) the control plane of `cargo xtask cluster`,
//! installs the CRDs, starts a git server holding the sample repository (its layout lives in
//! `driftless_e2e::sample`, shared with the scenario tests), starts source-controller and
//! kustomize-controller, applies the repository's `clusters/staging` objects and waits until
//! every GitRepository and Kustomization is Ready at the pushed commit. The processes it starts
//! are detached (own process group, output in `<cache>/up/logs/`) and recorded in
//! `<cache>/up/state`, so `up` returns and `down` can stop them. Running `up` again stops what
//! the previous `up` started and starts afresh, reusing the cluster and the sample repository
//! (the user's commits survive; the git server keeps its port). `down` stops those processes,
//! then the control plane.
//!
//! The controllers skip objects labelled for e2e tests (`--watch-label-selector`), whose own
//! controllers reconcile them: tests and `up` share one cluster without fighting.

mod git_serve;

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use driftless_e2e::cluster::{self, Layout};
use driftless_e2e::flux::SELECTOR_LABEL;
use driftless_e2e::sample::{FIRST_COMMIT_MESSAGE, KUSTOMIZE_CONTROLLER_ARGS, Sample};

use crate::cache;

pub use git_serve::run as git_serve;

/// Namespace of the controllers and of the Flux objects, as in a Flux install.
const FLUX_NS: &str = "flux-system";
/// How long `up` waits for every Flux object to become Ready.
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// Files and folders of `up`'s world, under `<cache>/up/`.
struct Paths {
    dir: PathBuf,
}

impl Paths {
    fn new() -> Self {
        Self {
            dir: cache::root().join("up"),
        }
    }
    fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }
    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }
    fn repos(&self) -> PathBuf {
        git_serve::repos_dir(&self.dir)
    }
    fn bare_repo(&self) -> PathBuf {
        self.repos().join("sample.git")
    }
    fn work_clone(&self) -> PathBuf {
        self.dir.join("sample-repo")
    }
    fn storage(&self) -> PathBuf {
        self.dir.join("storage")
    }
    /// The git server's port, kept across `up`s: the sample repository's GitRepository and
    /// the clone's `origin` name it.
    fn git_port(&self) -> PathBuf {
        self.dir.join("git-port")
    }
}

/// One detached process `up` started; one line `name pid log` of the state file.
struct Started {
    name: String,
    pid: u32,
    log: PathBuf,
}

/// Prints one progress line, with the time since `up` began.
fn progress(started_at: Instant, message: &str) {
    eprintln!(
        "up [{:>5.1}s] {message}",
        started_at.elapsed().as_secs_f64()
    );
}

pub fn up() -> anyhow::Result<()> {
    let started_at = Instant::now();
    let say = |message: &str| progress(started_at, message);
    let paths = Paths::new();
    let stopped = stop_recorded(&paths)?;
    if !stopped.is_empty() {
        say(&format!(
            "stopped what the previous `up` left: {}",
            stopped.join(", ")
        ));
    }
    std::fs::create_dir_all(paths.logs())
        .with_context(|| format!("creating {}", paths.logs().display()))?;

    say("building source-controller and kustomize-controller (cargo build)");
    let bins = build_controllers()?;

    let layout = Layout::default();
    say("building the control plane when the cache lacks it, then starting it");
    cluster::build(&layout)?;
    let running = crate::cluster::runtime()?.block_on(cluster::up(&layout))?;
    if !running.started {
        say(&format!("reusing the control plane at {}", running.server));
    }
    let kubeconfig = running.kubeconfig;

    say(&format!("installing the CRDs and namespace {FLUX_NS}"));
    kubectl(
        &kubeconfig,
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            &cache::repo_root()
                .join("config/crd/bases")
                .display()
                .to_string(),
        ],
    )?;
    kubectl(
        &kubeconfig,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd",
            "--all",
        ],
    )?;
    apply_stdin(
        &kubeconfig,
        &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {FLUX_NS}\n"),
    )?;

    let mut started = Vec::new();
    let result = (|| {
        let git_port = git_port(&paths)?;
        say(&format!(
            "starting the git server on http://127.0.0.1:{git_port}/"
        ));
        std::fs::create_dir_all(paths.repos())?;
        let exe = std::env::current_exe().context("locating the xtask binary")?;
        started.push(spawn_detached(
            &paths,
            "git-server",
            &exe,
            &[
                "git-serve".into(),
                format!("--root={}", paths.repos().display()),
                format!("--port={git_port}"),
            ],
            &kubeconfig,
        )?);
        record(&paths, &started)?;
        wait_port(git_port, Duration::from_secs(10))?;

        let url = format!("http://127.0.0.1:{git_port}/sample.git");
        say(&sample_repo(&paths, &url)?);

        let storage_port = free_port()?;
        let storage = paths.storage();
        if storage.exists() {
            std::fs::remove_dir_all(&storage)?;
        }
        std::fs::create_dir_all(&storage)?;
        say("starting source-controller and kustomize-controller");
        // Objects labelled for an e2e test belong to that test's own controllers.
        let not_tests = format!("--watch-label-selector=!{SELECTOR_LABEL}");
        started.push(spawn_detached(
            &paths,
            "source-controller",
            &bins.join("source-controller"),
            &[
                format!("--metrics-addr=127.0.0.1:{}", free_port()?),
                format!("--health-addr=127.0.0.1:{}", free_port()?),
                format!("--storage-path={}", storage.display()),
                format!("--storage-addr=127.0.0.1:{storage_port}"),
                format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
                not_tests.clone(),
            ],
            &kubeconfig,
        )?);
        record(&paths, &started)?;
        let mut kustomize_args = vec![
            format!("--metrics-addr=127.0.0.1:{}", free_port()?),
            format!("--health-addr=127.0.0.1:{}", free_port()?),
            not_tests,
        ];
        kustomize_args.extend(KUSTOMIZE_CONTROLLER_ARGS.iter().map(|a| a.to_string()));
        started.push(spawn_detached(
            &paths,
            "kustomize-controller",
            &bins.join("kustomize-controller"),
            &kustomize_args,
            &kubeconfig,
        )?);
        record(&paths, &started)?;

        // What is pushed, not the clone's working tree: the user may have local edits.
        let head = git(&paths.bare_repo(), &["rev-parse", "main"])?;
        let revision = format!("main@sha1:{}", head.trim());
        say(&format!(
            "applying clusters/staging of {revision} (GitRepository + Kustomizations)"
        ));
        apply_stdin(&kubeconfig, &pushed_cluster_objects(&paths, "staging")?)?;
        // Objects left by an earlier `up` keep their old Ready status until reconciled again, so
        // Ready alone proves nothing: wait until everything reports the commit just pushed.
        say("waiting until every GitRepository and Kustomization is Ready at that commit");
        wait_ready(&paths, &kubeconfig, &started, &revision)
    })();
    if let Err(e) = result {
        record(&paths, &started)?;
        return Err(e.context(format!(
            "`cargo xtask up` failed; logs in {} (processes left running for inspection; \
             `cargo xtask down` stops them)",
            paths.logs().display()
        )));
    }

    print_summary(&paths, &kubeconfig, &started, started_at.elapsed());
    Ok(())
}

/// Whether processes of an earlier `up` are still running.
pub fn running() -> anyhow::Result<bool> {
    Ok(read_recorded(&Paths::new())?.iter().any(|p| alive(p.pid)))
}

/// Stops what `up` started; then the control plane unless `keep_cluster`.
pub fn down(keep_cluster: bool) -> anyhow::Result<()> {
    let paths = Paths::new();
    let stopped = stop_recorded(&paths)?;
    if stopped.is_empty() {
        eprintln!("down: no controller or git server was running");
    } else {
        eprintln!("down: stopped {}", stopped.join(", "));
    }
    if keep_cluster {
        eprintln!("down: --keep-cluster, leaving the control plane up");
        return Ok(());
    }
    let stopped = cluster::down(&Layout::default())?;
    if stopped.is_empty() {
        eprintln!("down: the control plane was not running");
    } else {
        eprintln!("down: stopped {}", stopped.join(", "));
    }
    Ok(())
}

/// `cargo build --bins` of both controllers; returns the folder holding them.
fn build_controllers() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(cache::repo_root())
        .args([
            "build",
            "--bins",
            "-p",
            "driftless-source-controller",
            "-p",
            "driftless-kustomize-controller",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of the controllers failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache::repo_root().join("target"));
    let target = if target.is_relative() {
        cache::repo_root().join(target)
    } else {
        target
    };
    Ok(target.join("debug"))
}

/// Starts `bin` in its own process group, stdio to `<logs>/<name>.log`, and returns it.
fn spawn_detached(
    paths: &Paths,
    name: &str,
    bin: &Path,
    args: &[String],
    kubeconfig: &Path,
) -> anyhow::Result<Started> {
    use std::os::unix::process::CommandExt as _;
    let log = paths.logs().join(format!("{name}.log"));
    let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let child = Command::new(bin)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("RUNTIME_NAMESPACE", FLUX_NS)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(Started {
        name: name.into(),
        pid: child.id(),
        log,
    })
}

fn record(paths: &Paths, started: &[Started]) -> anyhow::Result<()> {
    let text: String = started
        .iter()
        .map(|s| format!("{} {} {}\n", s.name, s.pid, s.log.display()))
        .collect();
    std::fs::write(paths.state(), text)
        .with_context(|| format!("writing {}", paths.state().display()))
}

fn read_recorded(paths: &Paths) -> anyhow::Result<Vec<Started>> {
    let text = match std::fs::read_to_string(paths.state()) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", paths.state().display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            let (Some(name), Some(pid), Some(log)) = (it.next(), it.next(), it.next()) else {
                bail!("malformed line {l:?} in {}", paths.state().display());
            };
            Ok(Started {
                name: name.into(),
                pid: pid
                    .parse()
                    .with_context(|| format!("bad pid in {}", paths.state().display()))?,
                log: log.into(),
            })
        })
        .collect()
}

/// Whether `pid` runs the process we recorded (and is not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Stops every recorded process group (TERM, then KILL after 10 s) and forgets the state.
fn stop_recorded(paths: &Paths) -> anyhow::Result<Vec<String>> {
    let recorded = read_recorded(paths)?;
    let mut stopped = Vec::new();
    for p in &recorded {
        if alive(p.pid) {
            signal(p.pid, "TERM");
            stopped.push(p.name.clone());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while recorded.iter().any(|p| alive(p.pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in recorded.iter().filter(|p| alive(p.pid)) {
        signal(p.pid, "KILL");
    }
    match std::fs::remove_file(paths.state()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", paths.state().display())),
    }
    Ok(stopped)
}

/// Signals the whole process group `pid` leads (it was started with `process_group(0)`).
fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([format!("-{sig}"), "--".into(), format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")
        .context("finding a free port")?
        .local_addr()?
        .port())
}

fn wait_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens on 127.0.0.1:{port} after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .context("running kubectl (install it: Debian package `kubernetes-client` or upstream)")?;
    if !out.status.success() {
        bail!(
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn apply_stdin(kubeconfig: &Path, yaml: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut child = Command::new("kubectl")
        .args(["apply", "-f", "-"])
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("running kubectl")?;
    child
        .stdin
        .take()
        .context("kubectl stdin")?
        .write_all(yaml.as_bytes())?;
    let status = child.wait()?;
    if !status.success() {
        bail!("kubectl apply failed ({status})");
    }
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .context("running git")?;
    if !out.status.success() {
        bail!(
            "git {} failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The git server's port: the one recorded by an earlier `up` while it is free, else a new
/// one (recorded).
fn git_port(paths: &Paths) -> anyhow::Result<u16> {
    let recorded = std::fs::read_to_string(paths.git_port())
        .ok()
        .and_then(|t| t.trim().parse::<u16>().ok());
    if let Some(port) = recorded
        && TcpListener::bind(("127.0.0.1", port)).is_ok()
    {
        return Ok(port);
    }
    let port = free_port()?;
    std::fs::write(paths.git_port(), format!("{port}\n"))
        .with_context(|| format!("writing {}", paths.git_port().display()))?;
    Ok(port)
}

/// Makes the sample repository available at `url`: reuses the one an earlier `up` pushed (and
/// its clone), so the user's commits survive, or creates it. Returns what it did, for the
/// progress line.
fn sample_repo(paths: &Paths, url: &str) -> anyhow::Result<String> {
    let bare = paths.bare_repo();
    let work = paths.work_clone();
    let pushed = bare.exists() && git(&bare, &["rev-parse", "--verify", "--quiet", "main"]).is_ok();
    if !pushed {
        create_sample_repo(paths, url)?;
        return Ok(format!("created the sample repository, pushed to {url}"));
    }
    if !work.join(".git").exists() {
        if work.exists() {
            std::fs::remove_dir_all(&work)
                .with_context(|| format!("removing {}", work.display()))?;
        }
        git(
            &paths.dir,
            &["clone", "--quiet", url, &work.display().to_string()],
        )?;
        set_identity(&work)?;
    }
    let old_url = git(&work, &["remote", "get-url", "origin"])?;
    let old_url = old_url.trim();
    if old_url != url {
        move_sample_repo(&work, old_url, url)?;
        return Ok(format!(
            "reusing the sample repository; its git server moved from {old_url} to {url} \
             (committed and pushed)"
        ));
    }
    let commits = git(&bare, &["rev-list", "--count", "main"])?;
    Ok(format!(
        "reusing the sample repository at {url} ({} commits; remove {} and {} for a fresh one)",
        commits.trim(),
        bare.display(),
        work.display()
    ))
}

/// The earlier port was taken: point the clone and the committed GitRepositories at `new`.
fn move_sample_repo(work: &Path, old: &str, new: &str) -> anyhow::Result<()> {
    git(work, &["remote", "set-url", "origin", new])?;
    let mut changed = Vec::new();
    for env in ["staging", "production"] {
        let rel = format!("clusters/{env}/source.yaml");
        let file = work.join(&rel);
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if text.contains(old) {
            std::fs::write(&file, text.replace(old, new))
                .with_context(|| format!("writing {}", file.display()))?;
            changed.push(rel);
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    let mut args = vec![
        "commit".to_string(),
        "--quiet".into(),
        "-m".into(),
        format!("Move the sample GitRepository to {new}"),
        "--".into(),
    ];
    args.extend(changed);
    git(work, &args.iter().map(String::as_str).collect::<Vec<_>>())?;
    git(work, &["push", "--quiet", "origin", "HEAD:main"])
        .context("pushing the new git server URL (is the clone behind origin? pull, then `up`)")?;
    Ok(())
}

/// The objects of `clusters/<env>/` as pushed to `main`, as one multi-document YAML.
fn pushed_cluster_objects(paths: &Paths, env: &str) -> anyhow::Result<String> {
    let bare = paths.bare_repo();
    let dir = format!("clusters/{env}/");
    let files = git(&bare, &["ls-tree", "--name-only", "main", &dir])?;
    let mut yaml = String::new();
    for file in files.lines().filter(|f| f.ends_with(".yaml")) {
        yaml.push_str("---\n");
        yaml.push_str(&git(&bare, &["show", &format!("main:{file}")])?);
    }
    anyhow::ensure!(!yaml.is_empty(), "{dir} of the sample repository is empty");
    Ok(yaml)
}

fn set_identity(work: &Path) -> anyhow::Result<()> {
    git(work, &["config", "user.name", "Driftless Up"])?;
    git(work, &["config", "user.email", "up@driftless.local"])?;
    Ok(())
}

/// A fresh bare repository and a working clone of it at `<up>/sample-repo` with one commit.
fn create_sample_repo(paths: &Paths, url: &str) -> anyhow::Result<()> {
    for dir in [paths.bare_repo(), paths.work_clone()] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    let bare = paths.bare_repo();
    std::fs::create_dir_all(&bare)?;
    git(
        &bare,
        &["init", "--quiet", "--bare", "--initial-branch=main"],
    )?;
    // Anonymous pushes over HTTP: this server is on loopback for one user.
    git(&bare, &["config", "http.receivepack", "true"])?;
    let work = paths.work_clone();
    std::fs::create_dir_all(&work)?;
    git(&work, &["init", "--quiet", "--initial-branch=main"])?;
    set_identity(&work)?;
    for (path, content) in Sample::for_up(url).files() {
        let file = work.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, content).with_context(|| format!("writing {}", file.display()))?;
    }
    git(&work, &["add", "."])?;
    git(&work, &["commit", "--quiet", "-m", FIRST_COMMIT_MESSAGE])?;
    git(&work, &["remote", "add", "origin", url])?;
    git(&work, &["push", "--quiet", "-u", "origin", "main"])?;
    Ok(())
}

/// The Flux objects `up` applies and waits for (`clusters/staging/`).
const SAMPLE_OBJECTS: [(&str, &str); 3] = [
    ("GitRepository", "sample"),
    ("Kustomization", "infrastructure"),
    ("Kustomization", "apps"),
];

/// Polls the sample's GitRepository and Kustomizations in `flux-system` until each is Ready at
/// `revision` (the GitRepository's artifact, the Kustomizations' last applied revision).
/// Fails early when a Kustomization cannot apply that commit (a broken commit was pushed).
fn wait_ready(
    paths: &Paths,
    kubeconfig: &Path,
    started: &[Started],
    revision: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last = String::new();
    loop {
        for p in started {
            if !alive(p.pid) {
                bail!("{} exited; see {}", p.name, p.log.display());
            }
        }
        let table = kubectl(
            kubeconfig,
            &[
                "get",
                "gitrepositories.source.toolkit.fluxcd.io,kustomizations.kustomize.toolkit.fluxcd.io",
                "-n",
                FLUX_NS,
                "--no-headers",
                "-o",
                "custom-columns=KIND:.kind,NAME:.metadata.name,\
                 READY:.status.conditions[?(@.type==\"Ready\")].status,\
                 REASON:.status.conditions[?(@.type==\"Ready\")].reason,\
                 ARTIFACT:.status.artifact.revision,\
                 APPLIED:.status.lastAppliedRevision,\
                 ATTEMPTED:.status.lastAttemptedRevision,\
                 MESSAGE:.status.conditions[?(@.type==\"Ready\")].message",
            ],
        )?;
        if table != last {
            for r in table.lines() {
                eprintln!("up:   {r}");
            }
            last = table.clone();
        }
        let row = |kind: &str, name: &str| {
            table
                .lines()
                .map(Row::parse)
                .find(|r| r.kind == kind && r.name == name)
        };
        let mut ready = true;
        for (kind, name) in SAMPLE_OBJECTS {
            let Some(r) = row(kind, name) else {
                ready = false;
                continue;
            };
            ready &= r.ready == "True" && (r.artifact == revision || r.applied == revision);
            if kind == "Kustomization"
                && r.ready == "False"
                && r.attempted == revision
                && ["BuildFailed", "ReconciliationFailed"].contains(&r.reason)
            {
                bail!(
                    "Kustomization {name} cannot apply the pushed commit {revision}: {}\n\
                     Fix it in {}, commit and push: the running controllers pick it up.",
                    r.message,
                    paths.work_clone().display()
                );
            }
        }
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "not Ready at {revision} after {READY_TIMEOUT:?}:\n{table}\nlogs: {}",
                paths.logs().display()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// One line of `wait_ready`'s table; `<none>` where kubectl found no value.
struct Row<'a> {
    kind: &'a str,
    name: &'a str,
    ready: &'a str,
    reason: &'a str,
    artifact: &'a str,
    applied: &'a str,
    attempted: &'a str,
    message: &'a str,
}

impl<'a> Row<'a> {
    fn parse(line: &'a str) -> Self {
        let mut rest = line.trim();
        let mut next = || {
            let (col, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            rest = tail.trim_start();
            col
        };
        let (kind, name, ready, reason) = (next(), next(), next(), next());
        let (artifact, applied, attempted) = (next(), next(), next());
        Row {
            kind,
            name,
            ready,
            reason,
            artifact,
            applied,
            attempted,
            message: rest.trim_end(),
        }
    }
}

fn print_summary(paths: &Paths, kubeconfig: &Path, started: &[Started], took: Duration) {
    let clone = paths.work_clone();
    println!("Driftless is up ({:.1} s).", took.as_secs_f64());
    println!();
    println!("Running (stop all with `cargo xtask down`):");
    println!("  control plane           (`cargo xtask cluster status`)");
    for p in started {
        println!("  {:<23} pid {:<8} log {}", p.name, p.pid, p.log.display());
    }
    println!();
    println!("export KUBECONFIG={}", kubeconfig.display());
    println!();
    println!("Sample repository (working clone, `origin` is the local git server):");
    println!("  cd {}", clone.display());
    println!();
    println!("Try next (the README's quickstart walks through it):");
    println!(
        "  kubectl get gitrepositories,kustomizations -A; kubectl -n podinfo get deploy,svc,cm"
    );
    println!(
        "  reconcile() {{ kubectl annotate --overwrite -n {FLUX_NS} \"$1\" reconcile.fluxcd.io/requestedAt=\"$(date +%s.%N)\"; }}"
    );
    println!(
        "  sed -i 's/newTag: .*/newTag: 6.7.1/' apps/podinfo/overlays/staging/kustomization.yaml"
    );
    println!(
        "  git commit -am 'podinfo 6.7.1' && git push && reconcile gitrepository/sample   # rolls out"
    );
    println!(
        "  kubectl -n podinfo scale deploy/podinfo --replicas=5 && reconcile kustomization/apps  # reverted"
    );
    println!(
        "  git rm -q infrastructure/cluster-settings.yaml && sed -i '/cluster-settings/d' infrastructure/kustomization.yaml"
    );
    println!(
        "  git commit -am 'Remove cluster-settings' && git push && reconcile gitrepository/sample  # pruned"
    );
    println!(
        "  git revert --no-edit HEAD~1 && git push && reconcile gitrepository/sample     # rollback is a commit"
    );
    println!("  git log --stat                                  # who deployed what, when and why");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_table_rows_keep_the_message_whole() {
        let r = Row::parse(
            "Kustomization   apps   False   BuildFailed   <none>   main@sha1:aa   main@sha1:bb   \
             kustomize build failed: x.yaml: invalid YAML: line 3  ",
        );
        assert_eq!(
            (r.kind, r.name, r.ready, r.reason),
            ("Kustomization", "apps", "False", "BuildFailed")
        );
        assert_eq!(
            (r.artifact, r.applied, r.attempted),
            ("<none>", "main@sha1:aa", "main@sha1:bb")
        );
        assert_eq!(
            r.message,
            "kustomize build failed: x.yaml: invalid YAML: line 3"
        );
        let short = Row::parse("GitRepository sample");
        assert_eq!(
            (short.kind, short.name, short.ready, short.message),
            ("GitRepository", "sample", "", "")
        );
    }
}
