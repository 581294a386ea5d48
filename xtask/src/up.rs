//! `cargo xtask up` / `cargo xtask down`: the whole GitOps loop on this machine, in one command.
//!
//! `up` builds what is missing, starts (or reuses) the control plane of `cargo xtask cluster`,
//! installs the CRDs, starts a git server holding a sample repository laid out the way GitOps
//! teams lay theirs out, starts source-controller and kustomize-controller, applies the
//! repository's `clusters/staging` objects and waits until every GitRepository and
//! Kustomization is Ready. The processes it starts are detached (own process group, output in
//! `<cache>/up/logs/`) and recorded in `<cache>/up/state`, so `up` returns and `down` can stop
//! them. Running `up` again stops what the previous `up` started and starts afresh (the
//! cluster is reused). `down` stops those processes, then the control plane.

mod git_serve;

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use driftless_e2e::cluster::{self, Layout};

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
}

/// One detached process `up` started; one line `name pid log` of the state file.
struct Started {
    name: String,
    pid: u32,
    log: PathBuf,
}

pub fn up() -> anyhow::Result<()> {
    let started_at = Instant::now();
    let paths = Paths::new();
    let stopped = stop_recorded(&paths)?;
    if !stopped.is_empty() {
        eprintln!(
            "up: stopped what the previous `up` left: {}",
            stopped.join(", ")
        );
    }
    std::fs::create_dir_all(paths.logs())
        .with_context(|| format!("creating {}", paths.logs().display()))?;

    eprintln!("up: building source-controller and kustomize-controller (cargo build)");
    let bins = build_controllers()?;

    let layout = Layout::default();
    cluster::build(&layout)?;
    let running = crate::cluster::runtime()?.block_on(cluster::up(&layout))?;
    if !running.started {
        eprintln!("up: reusing the control plane at {}", running.server);
    }
    let kubeconfig = running.kubeconfig;

    eprintln!("up: installing the CRDs and namespace {FLUX_NS}");
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
        let git_port = free_port()?;
        eprintln!("up: starting the git server on http://127.0.0.1:{git_port}/");
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
        eprintln!("up: creating the sample repository, pushed to {url}");
        create_sample_repo(&paths, &url)?;

        let storage_port = free_port()?;
        let storage = paths.storage();
        if storage.exists() {
            std::fs::remove_dir_all(&storage)?;
        }
        std::fs::create_dir_all(&storage)?;
        eprintln!("up: starting source-controller and kustomize-controller");
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
            ],
            &kubeconfig,
        )?);
        record(&paths, &started)?;
        started.push(spawn_detached(
            &paths,
            "kustomize-controller",
            &bins.join("kustomize-controller"),
            &[
                format!("--metrics-addr=127.0.0.1:{}", free_port()?),
                format!("--health-addr=127.0.0.1:{}", free_port()?),
                // apps depends on infrastructure: retry it soon after, not Flux's default 30s.
                "--requeue-dependency=5s".to_string(),
            ],
            &kubeconfig,
        )?);
        record(&paths, &started)?;

        eprintln!("up: applying clusters/staging (GitRepository + Kustomizations)");
        kubectl(
            &kubeconfig,
            &[
                "apply",
                "-f",
                &paths
                    .work_clone()
                    .join("clusters/staging")
                    .display()
                    .to_string(),
            ],
        )?;
        // Objects left by an earlier `up` keep their old Ready status until reconciled again, so
        // Ready alone proves nothing: wait until everything reports the commit just pushed.
        let head = git(&paths.work_clone(), &["rev-parse", "HEAD"])?;
        let revision = format!("main@sha1:{}", head.trim());
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
    git(&work, &["config", "user.name", "Driftless Up"])?;
    git(&work, &["config", "user.email", "up@driftless.local"])?;
    for (path, content) in sample_files(url) {
        let file = work.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, content).with_context(|| format!("writing {}", file.display()))?;
    }
    git(&work, &["add", "."])?;
    git(
        &work,
        &[
            "commit",
            "--quiet",
            "-m",
            "Initial layout: podinfo on staging",
        ],
    )?;
    git(&work, &["remote", "add", "origin", url])?;
    git(&work, &["push", "--quiet", "-u", "origin", "main"])?;
    Ok(())
}

/// The sample repository: one app with a base and two overlays, shared infrastructure, and
/// one folder per cluster with the Flux objects that point that cluster at the rest.
fn sample_files(url: &str) -> Vec<(&'static str, String)> {
    let cluster = |env: &str| {
        [
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  \
                 name: sample\n  namespace: {FLUX_NS}\nspec:\n  interval: 1m\n  url: {url}\n  \
                 ref:\n    branch: main\n"
            ),
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  \
                 name: infrastructure\n  namespace: {FLUX_NS}\nspec:\n  interval: 1m\n  \
                 path: ./infrastructure\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    \
                 name: sample\n"
            ),
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  \
                 name: apps\n  namespace: {FLUX_NS}\nspec:\n  interval: 1m\n  \
                 dependsOn:\n    - name: infrastructure\n  \
                 path: ./apps/podinfo/overlays/{env}\n  prune: true\n  sourceRef:\n    \
                 kind: GitRepository\n    name: sample\n"
            ),
        ]
    };
    let [s_src, s_infra, s_apps] = cluster("staging");
    let [p_src, p_infra, p_apps] = cluster("production");
    let overlay = |env: &str, tag: &str, replicas: u32| {
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
             namespace: podinfo\nresources:\n  - ../../base\nimages:\n  \
             - name: ghcr.io/stefanprodan/podinfo\n    newTag: {tag}\n\
             replicas:\n  - name: podinfo\n    count: {replicas}\n\
             commonLabels:\n  environment: {env}\n"
        )
    };
    vec![
        (
            "README.md",
            "# Sample GitOps repository\n\n\
             `clusters/<env>/` holds what Flux applies to that cluster; it points at\n\
             `infrastructure/` and `apps/<app>/overlays/<env>/`. Change a file, commit, push:\n\
             the cluster follows within a minute.\n"
                .into(),
        ),
        (
            "apps/podinfo/base/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  \
             - deployment.yaml\n  - service.yaml\n"
                .into(),
        ),
        (
            "apps/podinfo/base/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  \
             replicas: 1\n  selector:\n    matchLabels:\n      app: podinfo\n  template:\n    \
             metadata:\n      labels:\n        app: podinfo\n    spec:\n      containers:\n        \
             - name: podinfo\n          image: ghcr.io/stefanprodan/podinfo:6.7.0\n          \
             ports:\n            - name: http\n              containerPort: 9898\n"
                .into(),
        ),
        (
            "apps/podinfo/base/service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\nspec:\n  selector:\n    \
             app: podinfo\n  ports:\n    - name: http\n      port: 9898\n      targetPort: http\n"
                .into(),
        ),
        (
            "apps/podinfo/overlays/staging/kustomization.yaml",
            overlay("staging", "6.7.0", 1),
        ),
        (
            "apps/podinfo/overlays/production/kustomization.yaml",
            overlay("production", "6.7.0", 3),
        ),
        (
            "infrastructure/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  \
             - namespace.yaml\n  - cluster-settings.yaml\n"
                .into(),
        ),
        (
            "infrastructure/namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n".into(),
        ),
        (
            "infrastructure/cluster-settings.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-settings\n  \
             namespace: podinfo\ndata:\n  owner: platform-team\n"
                .into(),
        ),
        ("clusters/staging/source.yaml", s_src),
        ("clusters/staging/infrastructure.yaml", s_infra),
        ("clusters/staging/apps.yaml", s_apps),
        ("clusters/production/source.yaml", p_src),
        ("clusters/production/infrastructure.yaml", p_infra),
        ("clusters/production/apps.yaml", p_apps),
    ]
}

/// Polls every GitRepository and Kustomization in `flux-system` until each is Ready at
/// `revision` (the GitRepository's artifact, the Kustomizations' last applied revision).
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
                 ARTIFACT:.status.artifact.revision,\
                 APPLIED:.status.lastAppliedRevision,\
                 MESSAGE:.status.conditions[?(@.type==\"Ready\")].message",
            ],
        )?;
        let rows: Vec<&str> = table.lines().filter(|l| !l.trim().is_empty()).collect();
        let ready = rows.len() == 3
            && rows.iter().all(|r| {
                let cols: Vec<&str> = r.split_whitespace().collect();
                cols.get(2) == Some(&"True")
                    && (cols.get(3) == Some(&revision) || cols.get(4) == Some(&revision))
            });
        if table != last {
            for r in &rows {
                eprintln!("up:   {r}");
            }
            last = table.clone();
        }
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "not Ready after {READY_TIMEOUT:?}:\n{table}\nlogs: {}",
                paths.logs().display()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
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
    println!("Try next:");
    println!(
        "  kubectl get gitrepositories,kustomizations -A; kubectl -n podinfo get deploy,svc,cm"
    );
    println!(
        "  # roll out a new image: edit newTag in apps/podinfo/overlays/staging/kustomization.yaml"
    );
    println!("  git commit -am 'podinfo 6.7.1' && git push");
    println!(
        "  kubectl annotate --overwrite -n {FLUX_NS} gitrepository/sample reconcile.fluxcd.io/requestedAt=\"$(date +%s)\"  # don't wait the 1m interval"
    );
    println!(
        "  kubectl -n podinfo scale deploy/podinfo --replicas=5   # drift: reverted at the next reconcile"
    );
    println!(
        "  git rm infrastructure/cluster-settings.yaml (and its kustomization entry), commit, push: pruned"
    );
    println!("  git revert HEAD && git push                            # rollback is a commit");
    println!(
        "  git log --stat                                         # who deployed what, when, why"
    );
}
