//! The local Kubernetes control plane: built once from pinned Go modules, started on loopback.
//!
//! ```text
//!  e2e/cluster/go.mod ──go build──▶ <cache>/control-plane-<pins>/bin/
//!   (k8s v1.34, etcd embed, kwok)       etcd kube-apiserver kube-controller-manager
//!                                       kube-scheduler kwok
//!                                              │ up()
//!                                              ▼
//!  <cache>/cluster/   state.json  (pids, server URL; what down() stops)
//!                     kubeconfig  (admin, system:masters; `export KUBECONFIG=…`)
//!                     pki/ etcd/ (fresh on every up)   logs/<process>.log
//! ```
//!
//! `cargo xtask cluster build|up|down|status` and the test harness ([`crate::TestEnv`]) call the
//! same functions, so a cluster started by either is found and reused by the other. The
//! processes run in their own process group with stdio on log files, so they outlive the
//! command that started them and never write to its terminal or pipe. There is one cluster per
//! cache root (`$DRIFTLESS_CACHE`, else `~/.cache/driftless`); every test works in its own
//! namespace, so concurrent test runs share it safely.
//!
//! kwok plays the kubelet: it marks its Nodes Ready and the Pods the scheduler binds to them
//! Running, so Deployments become Available without containers.
//!
//! ## Steady for as long as it runs
//!
//! kwok holds a Lease per node in `kube-node-lease`, as a kubelet does, and the node lifecycle
//! controller of kube-controller-manager judges node health by it. The figures are kwokctl's
//! defaults (its base values times its heartbeat factor 5), so a node stays Ready even when
//! kwok is starved of CPU for minutes on a busy machine:
//!
//! | setting | value | where |
//! |---|---|---|
//! | node lease duration | 200 s, renewed every 50 s | kwok `--node-lease-duration-seconds` |
//! | node monitor grace period | 200 s (4 renewals) | kube-controller-manager |
//! | node monitor period | 25 s | kube-controller-manager |
//!
//! Without a lease the only heartbeat would be kwok's node status stage, every 10 to 20 minutes,
//! far beyond any grace period: the controller would mark the nodes NotReady and every Pod on
//! them NotReady, and kwok's pod stages never make a Running Pod Ready again, so Deployments
//! would lose availability for good.
//!
//! ## What it holds
//!
//! Sized for a load test of 5,000 objects of a kind (Flux's benchmark shape, a Service and an
//! Ingress per Kustomization, and more):
//!
//! | limit | value | why |
//! |---|---|---|
//! | Service ClusterIPs | 65,534 ([`SERVICE_NETWORK`]/[`SERVICE_PREFIX_LEN`], as kind) | the first, `.0.1`, is the `kubernetes` Service and is in the serving certificate |
//! | Pods | [`PODS_PER_NODE`] per node, 2 nodes; pod IPs from [`POD_CIDR`] (65,534) | kwok hands out pod IPs from one pool for every node |
//! | node CPU, memory | 32 cores, 256 GiB per node | pods without requests always fit |
//! | kube-controller-manager, kube-scheduler client rate | [`CONTROLLER_API_QPS`] QPS, twice that burst | the defaults (20 and 50 QPS) would take minutes to roll out 5,000 Deployments or Services |
//! | kube-apiserver | its defaults: 600 requests in flight (400 + 200 mutating) shared out by API Priority and Fairness | ample on 2 cores: the CPU is the limit |
//! | etcd | its defaults: 2 GiB backend quota, 1.5 MiB per request, compaction every 5 minutes | 5,000 small objects take tens of MiB |

mod certs;
mod process;

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::Api;
use kube::api::PostParams;
use serde::{Deserialize, Serialize};

use crate::cache;
pub use process::ProcessStatus;

/// The Kubernetes release the control plane is built from (`e2e/cluster/go.mod` pins it).
pub const KUBERNETES_VERSION: &str = "v1.34.4";
/// The etcd server module embedded by `e2e/cluster/etcd` (pinned in `e2e/cluster/go.mod`).
pub const ETCD_VERSION: &str = "v3.6.4";
/// The kwok release, built with its own module graph (`go install`): it needs no replaces.
pub const KWOK_VERSION: &str = "v0.8.0";

/// The binaries `build` produces, in the order `up` starts them.
pub const BINARIES: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
];

/// Names of the kwok nodes `up` creates.
pub const NODE_NAMES: [&str; 2] = ["kwok-node-0", "kwok-node-1"];

/// The network of the Service ClusterIP range (kind's): 65,534 Services.
pub const SERVICE_NETWORK: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 96, 0, 0);
/// The prefix length of the Service range.
pub const SERVICE_PREFIX_LEN: u8 = 16;
/// The pod IP range kwok allocates from (one pool shared by both nodes).
pub const POD_CIDR: &str = "10.244.0.0/16";
/// The `pods` capacity of each kwok node: 10,000 pods in the cluster, within [`POD_CIDR`].
pub const PODS_PER_NODE: u32 = 5_000;
/// kube-controller-manager's and kube-scheduler's client rate (burst twice this).
pub const CONTROLLER_API_QPS: u32 = 200;
/// kwok renews each node's Lease every quarter of this (kwokctl's default).
const NODE_LEASE_DURATION_SECONDS: u64 = 200;
/// How long kube-controller-manager waits for a renewal before it marks a node NotReady
/// (kwokctl's default).
const NODE_MONITOR_GRACE_PERIOD_SECONDS: u64 = 200;
/// How often kube-controller-manager checks node health (kwokctl's default).
const NODE_MONITOR_PERIOD_SECONDS: u64 = 25;
// A node survives missed renewals only if the grace period spans several of them.
const _: () = assert!(NODE_MONITOR_GRACE_PERIOD_SECONDS >= 3 * (NODE_LEASE_DURATION_SECONDS / 4));

/// The Service range as a CIDR string, for the flags.
fn service_cidr() -> String {
    format!("{SERVICE_NETWORK}/{SERVICE_PREFIX_LEN}")
}

/// The first address of the Service range: the API server gives it to the `kubernetes`
/// Service, so clients in pods reach the API server by it and its certificate must name it.
const KUBERNETES_SERVICE_IP: std::net::Ipv4Addr =
    std::net::Ipv4Addr::from_bits(SERVICE_NETWORK.to_bits() + 1);

/// The kubeconfig context `up` writes; the harness only trusts a `$KUBECONFIG` with this context,
/// so tests never run against a cluster that is not a throwaway one.
pub const CONTEXT: &str = "driftless-e2e";

/// Where the binaries, the running cluster's state and the Go module live.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The built binaries, keyed by the pinned versions.
    pub bin_dir: PathBuf,
    /// The running cluster: `state.json`, `kubeconfig`, `pki/`, `etcd/`, `logs/`.
    pub state_dir: PathBuf,
    /// The Go wrapper module (`e2e/cluster` in the repository).
    pub module_dir: PathBuf,
}

impl Default for Layout {
    fn default() -> Self {
        Self {
            bin_dir: cache::dir("control-plane", &pins_key()).join("bin"),
            state_dir: cache::root().join("cluster"),
            module_dir: cache::repo_root().join("e2e").join("cluster"),
        }
    }
}

impl Layout {
    /// The admin kubeconfig of the running cluster.
    pub fn kubeconfig(&self) -> PathBuf {
        self.state_dir.join("kubeconfig")
    }

    /// The folder of the processes' log files.
    pub fn logs_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    fn state_file(&self) -> PathBuf {
        self.state_dir.join("state.json")
    }

    fn build_log(&self) -> PathBuf {
        self.bin_dir.with_file_name("build.log")
    }

    /// The kwok stage configuration (see [`build`]).
    pub fn kwok_stages(&self) -> PathBuf {
        self.bin_dir.join("kwok-stages.yaml")
    }

    /// True when every binary (and kwok's stages) is in the cache.
    pub fn is_built(&self) -> bool {
        BINARIES.iter().all(|b| self.bin_dir.join(b).is_file()) && self.kwok_stages().is_file()
    }
}

/// The cache key of one build: every pinned version, so changing a pin builds afresh.
fn pins_key() -> String {
    format!(
        "{KUBERNETES_VERSION}-etcd{}-kwok{}",
        ETCD_VERSION.trim_start_matches('v'),
        KWOK_VERSION.trim_start_matches('v')
    )
}

/// What `build` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    /// The binaries were in the cache already.
    Cached,
    /// They were compiled now, taking this long.
    Compiled(Duration),
}

/// Compiles the control plane into the cache unless it is there already.
///
/// Each step skips when its output exists, so an interrupted build resumes. Progress goes to
/// stderr every 30 seconds (a cold build takes tens of minutes on 2 cores); the Go tool's own
/// output goes to `build.log` beside `bin/`.
pub fn build(layout: &Layout) -> anyhow::Result<Built> {
    if layout.is_built() {
        return Ok(Built::Cached);
    }
    let bin = &layout.bin_dir;
    std::fs::create_dir_all(bin).with_context(|| format!("creating {}", bin.display()))?;
    // One build at a time (several test processes may ask at once on a fresh machine); whoever
    // waited finds the binaries built.
    let _lock = lock_file(&bin.with_file_name("build.lock"))?;
    if layout.is_built() {
        return Ok(Built::Cached);
    }
    let started = Instant::now();
    let log_path = layout.build_log();
    let log = File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    eprintln!(
        "cluster: building Kubernetes {KUBERNETES_VERSION}, etcd {ETCD_VERSION} and kwok \
         {KWOK_VERSION} into {} (once; log: {})",
        bin.display(),
        log_path.display()
    );

    if BINARIES[..4].iter().any(|b| !bin.join(b).is_file()) {
        let ldflags = format!(
            "-s -w -X k8s.io/component-base/version.gitVersion={KUBERNETES_VERSION} \
             -X k8s.io/component-base/version.gitMajor=1 \
             -X k8s.io/component-base/version.gitMinor={minor} \
             -X k8s.io/client-go/pkg/version.gitVersion={KUBERNETES_VERSION}",
            minor = KUBERNETES_VERSION.split('.').nth(1).unwrap_or("0"),
        );
        // `go build -o <dir>/` writes each binary whole (a rename from its work folder).
        let mut out_dir = bin.as_os_str().to_owned();
        out_dir.push("/");
        let mut k8s = go_command(&log)?;
        k8s.current_dir(&layout.module_dir)
            .args(["build", "-v", "-trimpath", "-ldflags", &ldflags, "-o"])
            .arg(&out_dir)
            .args([
                "k8s.io/kubernetes/cmd/kube-apiserver",
                "k8s.io/kubernetes/cmd/kube-controller-manager",
                "k8s.io/kubernetes/cmd/kube-scheduler",
                "./etcd",
            ]);
        run_with_progress(k8s, "Kubernetes and etcd", &log_path, started)?;
    }

    if !bin.join("kwok").is_file() {
        let mut kwok = go_command(&log)?;
        kwok.current_dir(&layout.module_dir)
            .env("GOBIN", bin)
            .args(["install", "-v", "-trimpath", "-ldflags", "-s -w"])
            .arg(format!("sigs.k8s.io/kwok/cmd/kwok@{KWOK_VERSION}"));
        run_with_progress(kwok, "kwok", &log_path, started)?;
    }

    if !layout.kwok_stages().is_file() {
        write_kwok_stages(layout, &log)?;
    }

    for b in BINARIES {
        if !bin.join(b).is_file() {
            bail!(
                "the Go build did not produce {b} (see {})",
                log_path.display()
            );
        }
    }
    let took = started.elapsed();
    eprintln!("cluster: built in {}", minutes(took));
    Ok(Built::Compiled(took))
}

/// The kwok stages `up` loads: kwok v0.8 ships none built in. They come from the pinned kwok
/// module itself (`kustomize/stage/…`): nodes become Ready and keep a heartbeat Lease (so the
/// node lifecycle controller never taints them), pods become Running and Ready, deleted pods go.
const KWOK_STAGE_FILES: [&str; 5] = [
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
];

fn write_kwok_stages(layout: &Layout, log: &File) -> anyhow::Result<()> {
    let module = format!("sigs.k8s.io/kwok@{KWOK_VERSION}");
    let out = Command::new("go")
        .args(["mod", "download", "-json", &module])
        .current_dir(&layout.module_dir)
        .stderr(
            log.try_clone()
                .context("duplicating the build log handle")?,
        )
        .output()
        .with_context(|| format!("running go mod download {module}"))?;
    if !out.status.success() {
        bail!("go mod download {module} failed ({})", out.status);
    }
    let info: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing go mod download -json")?;
    let dir = info
        .get("Dir")
        .and_then(|d| d.as_str())
        .map(PathBuf::from)
        .with_context(|| format!("go mod download {module} named no Dir"))?;
    let mut text = String::new();
    for file in KWOK_STAGE_FILES {
        let path = dir.join(file);
        let stage = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        text.push_str("---\n");
        text.push_str(&stage);
        if !stage.ends_with('\n') {
            text.push('\n');
        }
    }
    let dest = layout.kwok_stages();
    std::fs::write(&dest, text).with_context(|| format!("writing {}", dest.display()))
}

/// `nice go …` with the environment the pinned build needs, output appended to `log`.
fn go_command(log: &File) -> anyhow::Result<Command> {
    let mut cmd = Command::new("nice");
    cmd.args(["-n", "10", "go"])
        .env("CGO_ENABLED", "0")
        // The wrapper module's requirements are resolved by `go mod tidy` (go.sum is checked in);
        // -mod=mod lets the Go tool add a missing go.sum line instead of failing.
        .env("GOFLAGS", "-mod=mod -buildvcs=false")
        .stdin(Stdio::null())
        .stdout(
            log.try_clone()
                .context("duplicating the build log handle")?,
        )
        .stderr(
            log.try_clone()
                .context("duplicating the build log handle")?,
        );
    Ok(cmd)
}

fn run_with_progress(
    mut cmd: Command,
    what: &str,
    log: &Path,
    started: Instant,
) -> anyhow::Result<()> {
    let mut child = cmd
        .spawn()
        .context("running `nice go` (are Go and coreutils installed?)")?;
    let mut last_report = Instant::now();
    loop {
        if let Some(status) = child.try_wait().context("waiting for go")? {
            if status.success() {
                return Ok(());
            }
            bail!(
                "building {what} failed ({status}); last lines of {}:\n{}",
                log.display(),
                process::tail(log, 30)
            );
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            let packages = std::fs::read_to_string(log)
                .map(|s| s.lines().count())
                .unwrap_or(0);
            eprintln!(
                "cluster: still building {what} ({} elapsed, {packages} packages so far)",
                minutes(started.elapsed())
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}m{:02}s", s / 60, s % 60)
}

/// The recorded state of a started cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    /// False until `up` finished: a state left by an interrupted `up` is never reused.
    #[serde(default)]
    complete: bool,
    server: String,
    kubeconfig: PathBuf,
    processes: Vec<process::Recorded>,
}

/// A running cluster.
#[derive(Debug, Clone)]
pub struct Running {
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub server: String,
    /// True when this call started it, false when it was running already.
    pub started: bool,
}

/// Starts the control plane unless it runs already (then returns it untouched).
///
/// Holds the state directory's lock while it works, so concurrent callers (several test binaries,
/// `cargo xtask cluster up` in another terminal) start one cluster, not several.
pub async fn up(layout: &Layout) -> anyhow::Result<Running> {
    let layout = layout.clone();
    let lock = tokio::task::spawn_blocking({
        let layout = layout.clone();
        move || lock_state(&layout)
    })
    .await
    .context("locking the cluster state")??;
    let result = up_locked(&layout).await;
    drop(lock);
    result
}

async fn up_locked(layout: &Layout) -> anyhow::Result<Running> {
    if let Some(state) = read_state(layout)? {
        let statuses = process::statuses(&state.processes);
        if state.complete
            && statuses.iter().all(|p| p.alive)
            && apiserver_ready(&state.kubeconfig).await
        {
            return Ok(Running {
                kubeconfig: state.kubeconfig,
                server: state.server,
                started: false,
            });
        }
        eprintln!("cluster: a previous cluster is only partly running; stopping what is left");
        stop(layout, &state)?;
    }
    if !layout.is_built() {
        bail!(
            "the control plane is not built in {}: run `cargo xtask cluster build` (once; about \
             13 CPU-minutes, up to 45 minutes on 2 busy cores)",
            layout.bin_dir.display()
        );
    }
    let started = Instant::now();
    for dir in ["pki", "etcd"] {
        let dir = layout.state_dir.join(dir);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    // Keep the previous run's logs for a post-mortem of a failed or crashed cluster.
    let previous = layout.state_dir.join("logs.previous");
    if layout.logs_dir().exists() {
        if previous.exists() {
            std::fs::remove_dir_all(&previous)
                .with_context(|| format!("removing {}", previous.display()))?;
        }
        std::fs::rename(layout.logs_dir(), &previous)
            .with_context(|| format!("moving the logs to {}", previous.display()))?;
    }
    std::fs::create_dir_all(layout.logs_dir())
        .with_context(|| format!("creating {}", layout.logs_dir().display()))?;

    let pki = certs::write(&layout.state_dir.join("pki"), KUBERNETES_SERVICE_IP)?;
    let apiserver_port = process::free_port()?;
    let server = format!("https://127.0.0.1:{apiserver_port}");
    let kubeconfig = layout.kubeconfig();
    write_kubeconfig(&kubeconfig, &server, &pki)?;

    let mut state = State {
        complete: false,
        server: server.clone(),
        kubeconfig: kubeconfig.clone(),
        processes: Vec::new(),
    };
    let mut starter = process::Starter::new(layout, |recorded| {
        state.processes.push(recorded);
        write_state(layout, &state)
    });

    let result = async {
        eprintln!("cluster: starting etcd");
        let etcd_port = process::free_port()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let etcd = starter.start(
            "etcd",
            &[
                format!("--data-dir={}", layout.state_dir.join("etcd").display()),
                format!("--listen-client-urls={etcd_url}"),
                format!(
                    "--listen-peer-urls=http://127.0.0.1:{}",
                    process::free_port()?
                ),
            ],
        )?;
        process::wait_for_port(&etcd, etcd_port, Duration::from_secs(30)).await?;

        eprintln!("cluster: starting kube-apiserver on {server}");
        let apiserver = starter.start(
            "kube-apiserver",
            &apiserver_args(apiserver_port, &etcd_url, &pki),
        )?;
        wait_apiserver_ready(&apiserver, &kubeconfig, Duration::from_secs(180)).await?;

        eprintln!("cluster: starting kube-controller-manager, kube-scheduler and kwok");
        let kc = kubeconfig.display().to_string();
        let mut kcm = controller_args(&kc)?;
        kcm.extend([
            format!(
                "--service-account-private-key-file={}",
                pki.sa_key.display()
            ),
            format!("--root-ca-file={}", pki.ca_cert.display()),
            "--use-service-account-credentials=false".into(),
            format!("--service-cluster-ip-range={}", service_cidr()),
            format!("--node-monitor-grace-period={NODE_MONITOR_GRACE_PERIOD_SECONDS}s"),
            format!("--node-monitor-period={NODE_MONITOR_PERIOD_SECONDS}s"),
            // Faster reaction for tests; defaults are tuned for large clusters.
            "--concurrent-deployment-syncs=5".into(),
            "--concurrent-gc-syncs=10".into(),
        ]);
        starter.start("kube-controller-manager", &kcm)?;
        starter.start("kube-scheduler", &controller_args(&kc)?)?;
        starter.start(
            "kwok",
            &[
                format!("--kubeconfig={kc}"),
                format!("--config={}", layout.kwok_stages().display()),
                "--manage-all-nodes=true".into(),
                format!("--cidr={POD_CIDR}"),
                "--node-ip=127.0.0.1".into(),
                format!("--node-lease-duration-seconds={NODE_LEASE_DURATION_SECONDS}"),
            ],
        )?;

        let client = client_for(&kubeconfig).await?;
        create_nodes(&client).await?;
        eprintln!("cluster: waiting for the kwok nodes and the default service account");
        wait_nodes_ready(&client, Duration::from_secs(90)).await?;
        wait_default_service_account(&client, Duration::from_secs(90)).await?;
        anyhow::Ok(())
    }
    .await;

    if let Err(e) = result {
        let state = read_state(layout)?;
        if let Some(state) = state {
            let _ = stop(layout, &state);
        }
        return Err(e.context(format!(
            "starting the control plane failed (logs in {})",
            layout.logs_dir().display()
        )));
    }
    let mut state = read_state(layout)?.context("the cluster state vanished while starting")?;
    state.complete = true;
    write_state(layout, &state)?;
    eprintln!("cluster: up in {:.1}s", started.elapsed().as_secs_f64());
    Ok(Running {
        kubeconfig,
        server,
        started: true,
    })
}

/// The flags kube-controller-manager and kube-scheduler share: the admin kubeconfig for the
/// API and for delegated authn/authz of their own /healthz, no leader election, loopback only.
fn controller_args(kubeconfig: &str) -> anyhow::Result<Vec<String>> {
    Ok(vec![
        format!("--kubeconfig={kubeconfig}"),
        format!("--authentication-kubeconfig={kubeconfig}"),
        format!("--authorization-kubeconfig={kubeconfig}"),
        "--leader-elect=false".into(),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={}", process::free_port()?),
        format!("--kube-api-qps={CONTROLLER_API_QPS}"),
        format!("--kube-api-burst={}", 2 * CONTROLLER_API_QPS),
    ])
}

fn apiserver_args(port: u16, etcd_url: &str, pki: &certs::Pki) -> Vec<String> {
    vec![
        format!("--etcd-servers={etcd_url}"),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        format!("--tls-cert-file={}", pki.serving_cert.display()),
        format!("--tls-private-key-file={}", pki.serving_key.display()),
        format!("--client-ca-file={}", pki.ca_cert.display()),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
        format!("--service-account-key-file={}", pki.sa_pub.display()),
        format!(
            "--service-account-signing-key-file={}",
            pki.sa_key.display()
        ),
        format!("--service-cluster-ip-range={}", service_cidr()),
        "--authorization-mode=RBAC".into(),
        "--allow-privileged=true".into(),
        // No kubelets: nothing reconciles the `kubernetes` Service's endpoints to a real node IP.
        "--endpoint-reconciler-type=none".into(),
        "--shutdown-delay-duration=0s".into(),
        "--profiling=false".into(),
    ]
}

/// Stops every process of the running cluster (TERM, then KILL after 10 seconds).
///
/// Returns what it stopped; stopping a cluster that is not running is not an error.
pub fn down(layout: &Layout) -> anyhow::Result<Vec<String>> {
    let lock = lock_state(layout)?;
    let stopped = match read_state(layout)? {
        Some(state) => stop(layout, &state)?,
        None => Vec::new(),
    };
    drop(lock);
    Ok(stopped)
}

fn stop(layout: &Layout, state: &State) -> anyhow::Result<Vec<String>> {
    let stopped = process::stop_all(&state.processes, Duration::from_secs(10))?;
    match std::fs::remove_file(layout.state_file()) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("removing {}", layout.state_file().display()));
        }
    }
    let etcd = layout.state_dir.join("etcd");
    if etcd.exists() {
        std::fs::remove_dir_all(&etcd).with_context(|| format!("removing {}", etcd.display()))?;
    }
    Ok(stopped)
}

/// What `status` found.
#[derive(Debug, Clone)]
pub struct Status {
    /// The API server URL, when a cluster was started.
    pub server: Option<String>,
    /// Its kubeconfig.
    pub kubeconfig: Option<PathBuf>,
    /// Every recorded process with its liveness and resident memory.
    pub processes: Vec<ProcessStatus>,
    /// True when the API server answers `/readyz` with ok.
    pub ready: bool,
}

impl Status {
    /// Sum of the resident memory of the live processes, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.processes.iter().filter_map(|p| p.rss_kib).sum()
    }
}

/// Reports what runs, without changing anything.
pub async fn status(layout: &Layout) -> anyhow::Result<Status> {
    let Some(state) = read_state(layout)? else {
        return Ok(Status {
            server: None,
            kubeconfig: None,
            processes: Vec::new(),
            ready: false,
        });
    };
    let ready = apiserver_ready(&state.kubeconfig).await;
    Ok(Status {
        processes: process::statuses(&state.processes),
        server: Some(state.server),
        kubeconfig: Some(state.kubeconfig),
        ready,
    })
}

/// The kube client of a kubeconfig file (its current context).
pub async fn client_for(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    install_crypto_provider();
    let config = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .with_context(|| format!("loading {}", kubeconfig.display()))?;
    kube::Client::try_from(config).context("building the kube client")
}

/// Chooses rustls's ring provider for the process. A `cargo test --workspace` build unifies
/// features across crates, and when some crate enables rustls's aws-lc-rs too, rustls can no
/// longer pick a default and panics on the first TLS connection.
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// True when the API server behind `kubeconfig` answers `GET /readyz` with `ok`.
pub async fn apiserver_ready(kubeconfig: &Path) -> bool {
    let Ok(client) = client_for(kubeconfig).await else {
        return false;
    };
    readyz(&client).await.is_ok()
}

async fn readyz(client: &kube::Client) -> anyhow::Result<()> {
    let req = http_get("/readyz")?;
    let body = tokio::time::timeout(Duration::from_secs(5), client.request_text(req))
        .await
        .context("GET /readyz timed out")??;
    anyhow::ensure!(body.trim() == "ok", "GET /readyz answered {body:?}");
    Ok(())
}

fn http_get(path: &str) -> anyhow::Result<http::Request<Vec<u8>>> {
    http::Request::get(path)
        .body(Vec::new())
        .context("building an HTTP request")
}

async fn wait_apiserver_ready(
    apiserver: &process::Recorded,
    kubeconfig: &Path,
    timeout: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut last_error = String::from("not tried yet");
    let client = client_for(kubeconfig).await?;
    while started.elapsed() < timeout {
        process::ensure_alive(apiserver)?;
        match readyz(&client).await {
            Ok(()) => return Ok(()),
            Err(e) => last_error = format!("{e:#}"),
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            eprintln!(
                "cluster: waiting for kube-apiserver /readyz ({}s)",
                started.elapsed().as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!(
        "kube-apiserver was not ready after {}s: {last_error}; last lines of {}:\n{}",
        timeout.as_secs(),
        apiserver.log.display(),
        process::tail(&apiserver.log, 20)
    )
}

async fn create_nodes(client: &kube::Client) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    for name in NODE_NAMES {
        let node: Node = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
                "annotations": { "kwok.x-k8s.io/node": "fake" },
            },
            "status": {
                "allocatable": { "cpu": "32", "memory": "256Gi", "pods": PODS_PER_NODE.to_string() },
                "capacity": { "cpu": "32", "memory": "256Gi", "pods": PODS_PER_NODE.to_string() },
            },
        }))
        .context("building a Node")?;
        match nodes.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e).with_context(|| format!("creating node {name}")),
        }
    }
    Ok(())
}

async fn wait_nodes_ready(client: &kube::Client, timeout: Duration) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let started = Instant::now();
    loop {
        let list = nodes
            .list(&Default::default())
            .await
            .context("listing nodes")?;
        let ready = list
            .items
            .iter()
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count();
        if ready >= NODE_NAMES.len() {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!(
                "{ready} of {} kwok nodes Ready after {}s (is kwok running? see its log)",
                NODE_NAMES.len(),
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The controller-manager creates `default` in every namespace; tests that create Pods need it.
async fn wait_default_service_account(
    client: &kube::Client,
    timeout: Duration,
) -> anyhow::Result<()> {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    loop {
        if sas
            .get_opt("default")
            .await
            .context("reading serviceaccount default")?
            .is_some()
        {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!(
                "no default ServiceAccount after {}s (is kube-controller-manager running? see its log)",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn write_kubeconfig(path: &Path, server: &str, pki: &certs::Pki) -> anyhow::Result<()> {
    // JSON-quoted strings are valid YAML scalars, whatever the path contains.
    let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    let p = |p: &Path| q(&p.display().to_string());
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {CONTEXT}\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: admin\n  user:\n    client-certificate: {cert}\n    client-key: {key}\ncontexts:\n- name: {CONTEXT}\n  context:\n    cluster: {CONTEXT}\n    user: admin\ncurrent-context: {CONTEXT}\n",
        server = q(server),
        ca = p(&pki.ca_cert),
        cert = p(&pki.admin_cert),
        key = p(&pki.admin_key),
    );
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn read_state(layout: &Layout) -> anyhow::Result<Option<State>> {
    let path = layout.state_file();
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("parsing {} (remove it if it is stale)", path.display())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_state(layout: &Layout, state: &State) -> anyhow::Result<()> {
    let path = layout.state_file();
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(state).context("serializing the cluster state")?;
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

/// An exclusive lock on the state directory, released on drop (or when the process dies).
fn lock_state(layout: &Layout) -> anyhow::Result<File> {
    std::fs::create_dir_all(&layout.state_dir)
        .with_context(|| format!("creating {}", layout.state_dir.display()))?;
    lock_file(&layout.state_dir.join("lock"))
}

/// An exclusive `flock` on `path` (created if missing), held until the file is dropped.
fn lock_file(path: &Path) -> anyhow::Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.lock()
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Rust pins name the cache folder; they must say what `e2e/cluster/go.mod` builds.
    #[test]
    fn pins_match_the_go_module() {
        let layout = Layout::default();
        let go_mod = std::fs::read_to_string(layout.module_dir.join("go.mod")).expect("go.mod");
        assert!(go_mod.contains(&format!("k8s.io/kubernetes {KUBERNETES_VERSION}")));
        assert!(go_mod.contains(&format!("go.etcd.io/etcd/server/v3 {ETCD_VERSION}")));
        let staging = KUBERNETES_VERSION.replacen("v1.", "v0.", 1);
        let replaces = go_mod
            .lines()
            .filter(|l| l.trim_start().starts_with("k8s.io/") && l.contains("=>"))
            .collect::<Vec<_>>();
        assert_eq!(replaces.len(), 31, "one replace per staging module");
        for line in replaces {
            assert!(
                line.trim_end().ends_with(&staging),
                "{line} is not at {staging}"
            );
        }
    }

    #[test]
    fn cache_key_names_every_pin() {
        assert_eq!(pins_key(), "v1.34.4-etcd3.6.4-kwok0.8.0");
    }
}
