//! `cargo xtask bench kustomize-controller`: how kustomize-controller scales with the number
//! of Kustomizations, and what an unchanged Kustomization costs the API server.
//!
//! For each scale (100, then 1,000 Kustomizations of 10 ConfigMaps each, every Kustomization
//! with its own path in one Git repository) in a fresh namespace of the running control plane,
//! with fresh release builds of source-controller and kustomize-controller (or those in
//! `$DRIFTLESS_CONTROLLERS_DIR`):
//!
//! ```text
//!  git server (driftless_e2e) ─▶ source-controller ─artifact─▶ kustomize-controller
//!                                   (admin kubeconfig)            │ kubeconfig: http://127.0.0.1:P
//!                                                                 ▼
//!                       counting proxy (this process: method, path, dryRun per request)
//!                                                                 │ kube::Client (admin)
//!                                                                 ▼
//!                                                           kube-apiserver
//! ```
//!
//! - time from the first Kustomization created until all are Ready at the commit;
//! - VmRSS and VmHWM of kustomize-controller (`/proc/<pid>/status`) once all are Ready;
//! - requests per reconcile of an unchanged Kustomization: every Kustomization gets a new
//!   `reconcile.fluxcd.io/requestedAt`, and the requests kustomize-controller sends until all
//!   have handled it are divided by their number. They are counted exactly, per request, by a
//!   proxy that only kustomize-controller talks to — the API server's own metrics have no
//!   per-client label, and other tests share the control plane.
//!
//! The namespace is deleted afterwards (the Kustomizations orphan what they applied,
//! `prune: false`, so deletion does not wait for 10,000 prunes).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use driftless_api::kustomize::Kustomization;
use driftless_e2e::flux::{create_kustomization, selector_flag};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::source::{
    create_git_repository, create_http_credentials, git_repositories, main_branch,
};
use driftless_e2e::{TestEnv, TestNamespace};
use http_body_util::BodyExt as _;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};

const SCALES: [usize; 2] = [100, 1000];
/// ConfigMaps per Kustomization.
const OBJECTS: usize = 10;
/// Longest wait for one scale to become Ready (2 cores shared with other work).
const READY_TIMEOUT: Duration = Duration::from_secs(1800);
const POLL: Duration = Duration::from_secs(1);

/// What one scale measured.
struct Row {
    kustomizations: usize,
    to_ready: Duration,
    vm_rss_kb: u64,
    vm_hwm_kb: u64,
    /// Requests of the requestedAt round, by class, and how many Kustomizations it covered.
    noop: Counts,
    noop_reconciles: usize,
    noop_took: Duration,
}

pub fn run() -> anyhow::Result<()> {
    let bins = super::release_controllers()?;
    let max = SCALES.iter().copied().max().unwrap_or(0);
    let server = GitServer::start()?;
    let revision = commit_tree(&server, max)?;
    eprintln!(
        "bench kustomize-controller: controllers from {}",
        bins.display()
    );
    let runtime = crate::cluster::runtime()?;
    let mut rows = Vec::new();
    for n in SCALES {
        eprintln!("bench kustomize-controller: {n} Kustomizations");
        let row = runtime.block_on(measure(&bins, &server, &revision, n))?;
        // Each scale as soon as it is measured: the larger one may not finish.
        print(&bins, std::slice::from_ref(&row));
        rows.push(row);
    }
    drop(runtime);
    print(&bins, &rows);
    Ok(())
}

fn print(bins: &Path, rows: &[Row]) {
    println!();
    println!(
        "kustomize-controller ({}, --concurrent=4 as Flux), {OBJECTS} ConfigMaps per Kustomization",
        bins.display()
    );
    println!();
    println!(
        "| Kustomizations | all Ready after | per Kustomization | VmRSS | VmHWM | no-op reconcile: requests | reads | dry-run writes | status writes | other writes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let per = |v: u64| v as f64 / r.noop_reconciles.max(1) as f64;
        let c = &r.noop;
        println!(
            "| {} | {:.1} s | {:.0} ms | {:.1} MiB | {:.1} MiB | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            r.kustomizations,
            r.to_ready.as_secs_f64(),
            r.to_ready.as_secs_f64() * 1000.0 / r.kustomizations as f64,
            r.vm_rss_kb as f64 / 1024.0,
            r.vm_hwm_kb as f64 / 1024.0,
            per(c.total()),
            per(c.reads()),
            per(c.dry_runs()),
            per(c.status_writes()),
            per(c.other_writes()),
        );
    }
    for r in rows {
        println!();
        println!(
            "requestedAt round at {}: {} reconciles handled in {:.1} s; requests sent by kustomize-controller:",
            r.kustomizations,
            r.noop_reconciles,
            r.noop_took.as_secs_f64()
        );
        for (key, n) in &r.noop.by_key {
            println!("  {n:>7}  {key}");
        }
    }
}

/// One commit with `n` directories `kNNNN/` of [`OBJECTS`] ConfigMaps each.
fn commit_tree(server: &GitServer, n: usize) -> anyhow::Result<String> {
    let repo = server.create_repo("bench")?;
    let files: Vec<(String, Vec<u8>)> = (0..n)
        .flat_map(|k| {
            (0..OBJECTS).map(move |i| {
                let name = format!("{}-cm{i}", dir(k));
                let yaml = format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  index: \"{i}\"\n  owner: {}\n",
                    dir(k)
                );
                (format!("{}/{name}.yaml", dir(k)), yaml.into_bytes())
            })
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    let sha = repo.commit(&refs, "bench tree")?;
    repo.push()?;
    Ok(sha)
}

fn dir(k: usize) -> String {
    format!("k{k:04}")
}

async fn measure(bins: &Path, server: &GitServer, revision: &str, n: usize) -> anyhow::Result<Row> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("bench-kc").await?;
    measure_in(bins, server, revision, n, &env, ns).await
}

async fn measure_in(
    bins: &Path,
    server: &GitServer,
    revision: &str,
    n: usize,
    env: &TestEnv,
    ns: TestNamespace,
) -> anyhow::Result<Row> {
    let storage = tempfile_dir()?;
    let storage_addr = format!("127.0.0.1:{}", free_port()?);
    let selector = selector_flag(&ns);
    let _source = Process::start(
        &bins.join("source-controller"),
        &[
            "--metrics-addr=0",
            "--health-addr=0",
            &format!("--storage-path={}", storage.display()),
            &format!("--storage-addr={storage_addr}"),
            &format!("--storage-adv-addr={storage_addr}"),
            &selector,
        ],
        env.kubeconfig(),
    )?;
    let counts = Arc::new(Mutex::new(Counts::default()));
    let proxy_addr = start_proxy(env.client(), counts.clone()).await?;
    let proxy_kubeconfig = storage.with_extension("kubeconfig.json");
    std::fs::write(&proxy_kubeconfig, proxy_kubeconfig_json(proxy_addr))
        .with_context(|| format!("writing {}", proxy_kubeconfig.display()))?;
    let kustomize = Process::start(
        &bins.join("kustomize-controller"),
        &["--metrics-addr=0", "--health-addr=0", &selector],
        &proxy_kubeconfig,
    )?;

    let result = scale(server, revision, n, env, &ns, &kustomize, &counts).await;
    // Deleted while both controllers still run: their finalizers must handle it.
    let cleanup = ns.delete_and_wait(env, Duration::from_secs(600)).await;
    let row = result?;
    cleanup.context("deleting the bench namespace")?;
    Ok(row)
}

/// Creates the source and `n` Kustomizations, waits for all to be Ready, then measures a
/// requestedAt round; the controllers are running.
async fn scale(
    server: &GitServer,
    revision: &str,
    n: usize,
    env: &TestEnv,
    ns: &TestNamespace,
    kustomize: &Process,
    counts: &Mutex<Counts>,
) -> anyhow::Result<Row> {
    create_source(env, ns, &server.http_url("bench")).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    let started = Instant::now();
    for k in 0..n {
        let spec = serde_json::json!({"interval": "1h", "prune": false,
            "path": format!("./{}", dir(k)), "targetNamespace": ns.name(),
            "sourceRef": {"kind": "GitRepository", "name": "bench"}});
        create_kustomization(&api, ns, &dir(k), spec, serde_json::json!({})).await?;
    }
    let ready = |k: &Kustomization| {
        let status = k.status.as_ref();
        status
            .and_then(|s| s.last_applied_revision.as_deref())
            .is_some_and(|r| r.ends_with(revision))
            && status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    until_all(&api, n, "Ready at the commit", kustomize, ready).await?;
    let to_ready = started.elapsed();
    let (vm_rss_kb, vm_hwm_kb) = memory(kustomize.id())?;

    // The no-op round: nothing changed in Git or in the cluster.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = snapshot(counts)?;
    let token = format!("bench-{}", std::process::id());
    let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    let round = Instant::now();
    for k in 0..n {
        api.patch(&dir(k), &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("annotating Kustomization {}", dir(k)))?;
    }
    let handled = |k: &Kustomization| {
        k.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some(token.as_str())
    };
    until_all(&api, n, "handle requestedAt", kustomize, handled).await?;
    let noop_took = round.elapsed();
    // Requests that follow the status write (events) belong to the round too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = snapshot(counts)?;
    Ok(Row {
        kustomizations: n,
        to_ready,
        vm_rss_kb,
        vm_hwm_kb,
        noop: after.minus(&before),
        noop_reconciles: n,
        noop_took,
    })
}

/// Polls until `n` Kustomizations satisfy `done`; fails on timeout or when the controller
/// exits, naming how many were done.
async fn until_all(
    api: &Api<Kustomization>,
    n: usize,
    what: &str,
    controller: &Process,
    done: impl Fn(&Kustomization) -> bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let list = api.list(&ListParams::default()).await?;
        let count = list.items.iter().filter(|k| done(k)).count();
        if count >= n {
            return Ok(());
        }
        controller.ensure_running()?;
        if started.elapsed() > READY_TIMEOUT {
            bail!(
                "{count} of {n} Kustomizations {what} after {} s",
                READY_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// GitRepository `bench` on `url` with the git server's credentials, polled hourly only (the
/// bench's requests are the only triggers).
async fn create_source(env: &TestEnv, ns: &TestNamespace, url: &str) -> anyhow::Result<()> {
    create_http_credentials(env, ns, "creds").await?;
    let mut spec = main_branch(url, "creds");
    spec["interval"] = serde_json::json!("1h");
    create_git_repository(&git_repositories(env, ns), ns, "bench", spec).await
}

/// `(VmRSS, VmHWM)` in KiB.
fn memory(pid: u32) -> anyhow::Result<(u64, u64)> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in {path}"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// A controller process, killed when dropped; its log goes to `<target>/e2e-logs/`.
struct Process {
    child: Mutex<Child>,
    id: u32,
}

impl Process {
    fn start(bin: &Path, args: &[&str], kubeconfig: &Path) -> anyhow::Result<Self> {
        let logs = super::target_dir().join("e2e-logs");
        std::fs::create_dir_all(&logs)?;
        let name = bin
            .file_name()
            .map_or_else(|| "controller".into(), |n| n.to_string_lossy().into_owned());
        let log = std::fs::File::create(logs.join(format!("bench-{name}.log")))?;
        let child = Command::new(bin)
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Self {
            id: child.id(),
            child: Mutex::new(child),
        })
    }

    fn id(&self) -> u32 {
        self.id
    }

    fn ensure_running(&self) -> anyhow::Result<()> {
        let mut child = self
            .child
            .lock()
            .map_err(|_| anyhow::anyhow!("controller handle poisoned"))?;
        if let Some(status) = child.try_wait()? {
            bail!(
                "controller {} exited: {status} (see <target>/e2e-logs/bench-*.log)",
                self.id
            );
        }
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = super::target_dir()
        .join("bench-kustomize-controller")
        .join(format!("storage-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Requests by `METHOD resource[/subresource][ (dry-run)]`.
#[derive(Default, Clone)]
struct Counts {
    by_key: BTreeMap<String, u64>,
}

impl Counts {
    fn record(&mut self, method: &http::Method, uri: &http::Uri) {
        let dry_run = uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("dryRun=")));
        let mut key = format!("{method} {}", resource_of(uri.path()));
        if dry_run {
            key.push_str(" (dry-run)");
        }
        *self.by_key.entry(key).or_default() += 1;
    }

    fn minus(&self, before: &Counts) -> Counts {
        let by_key = self
            .by_key
            .iter()
            .map(|(k, v)| (k.clone(), v - before.by_key.get(k).copied().unwrap_or(0)))
            .filter(|(_, v)| *v > 0)
            .collect();
        Counts { by_key }
    }

    fn sum(&self, keep: impl Fn(&str) -> bool) -> u64 {
        self.by_key
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(_, v)| v)
            .sum()
    }

    fn total(&self) -> u64 {
        self.sum(|_| true)
    }

    fn reads(&self) -> u64 {
        self.sum(|k| k.starts_with("GET "))
    }

    fn dry_runs(&self) -> u64 {
        self.sum(|k| !k.starts_with("GET ") && k.ends_with("(dry-run)"))
    }

    fn status_writes(&self) -> u64 {
        self.sum(|k| !k.starts_with("GET ") && k.ends_with("/status"))
    }

    fn other_writes(&self) -> u64 {
        self.total() - self.reads() - self.dry_runs() - self.status_writes()
    }
}

/// `configmaps`, `kustomizations/status`, `discovery` for a request path.
fn resource_of(path: &str) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // /api/v1/... or /apis/<group>/<version>/...
    let rest = match segments.as_slice() {
        ["api", _, rest @ ..] => rest,
        ["apis", _, _, rest @ ..] => rest,
        _ => return "discovery".into(),
    };
    let rest = match rest {
        ["namespaces", _, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    match rest {
        [] => "discovery".into(),
        [resource] | [resource, _] => (*resource).to_owned(),
        [resource, _, sub, ..] => format!("{resource}/{sub}"),
    }
}

fn snapshot(counts: &Mutex<Counts>) -> anyhow::Result<Counts> {
    counts
        .lock()
        .map(|c| c.clone())
        .map_err(|_| anyhow::anyhow!("request counts poisoned"))
}

/// A kubeconfig that sends kustomize-controller to the counting proxy (plain HTTP on
/// loopback; the proxy authenticates to the API server).
fn proxy_kubeconfig_json(addr: SocketAddr) -> String {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "bench", "cluster": {"server": format!("http://{addr}")}}],
        "users": [{"name": "bench", "user": {}}],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
        "current-context": "bench",
    })
    .to_string()
}

/// Serves HTTP/1.1 on a free loopback port, counts each request and forwards it through
/// `client` (streaming the answer, so watches work).
async fn start_proxy(
    client: kube::Client,
    counts: Arc<Mutex<Counts>>,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (client, counts) = (client.clone(), counts.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    forward(client.clone(), counts.clone(), req)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn forward(
    client: kube::Client,
    counts: Arc<Mutex<Counts>>,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<kube::client::Body>, Infallible> {
    if let Ok(mut c) = counts.lock() {
        c.record(req.method(), req.uri());
    }
    let (mut parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(failure(http::StatusCode::BAD_REQUEST, e.to_string())),
    };
    // The client sets the API server's host.
    parts.headers.remove(http::header::HOST);
    let out = http::Request::from_parts(parts, kube::client::Body::from(body));
    Ok(match client.send(out).await {
        Ok(resp) => resp,
        Err(e) => failure(http::StatusCode::BAD_GATEWAY, e.to_string()),
    })
}

fn failure(code: http::StatusCode, message: String) -> http::Response<kube::client::Body> {
    let mut resp = http::Response::new(kube::client::Body::from(message.into_bytes()));
    *resp.status_mut() = code;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_of_paths() {
        assert_eq!(
            resource_of("/api/v1/namespaces/a/configmaps/x"),
            "configmaps"
        );
        assert_eq!(resource_of("/api/v1/namespaces/a/configmaps"), "configmaps");
        assert_eq!(
            resource_of(
                "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/a/kustomizations/k/status"
            ),
            "kustomizations/status"
        );
        assert_eq!(
            resource_of("/apis/events.k8s.io/v1/namespaces/a/events"),
            "events"
        );
        assert_eq!(resource_of("/api/v1/namespaces/a"), "namespaces");
        assert_eq!(resource_of("/apis/apps/v1"), "discovery");
        assert_eq!(resource_of("/apis"), "discovery");
    }

    #[test]
    fn counts_split_reads_dry_runs_and_writes() {
        let mut c = Counts::default();
        let get = http::Method::GET;
        let patch = http::Method::PATCH;
        let uri = |s: &'static str| http::Uri::from_static(s);
        c.record(&get, &uri("/api/v1/namespaces/a/configmaps/x"));
        c.record(
            &patch,
            &uri("/api/v1/namespaces/a/configmaps/x?dryRun=All&fieldManager=k"),
        );
        c.record(
            &patch,
            &uri("/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/a/kustomizations/k/status"),
        );
        c.record(
            &http::Method::POST,
            &uri("/apis/events.k8s.io/v1/namespaces/a/events"),
        );
        assert_eq!((c.total(), c.reads(), c.dry_runs()), (4, 1, 1));
        assert_eq!((c.status_writes(), c.other_writes()), (1, 1));
        let before = c.clone();
        c.record(&get, &uri("/api/v1/namespaces/a/configmaps/x"));
        assert_eq!(c.minus(&before).total(), 1);
    }
}
