//! What a source-controller test needs: one source-controller scoped to the test's namespace
//! (its own storage and artifact server), GitRepositories and Secrets labelled for it, and
//! readers for conditions and artifacts.
//!
//! ```text
//!  test ── SourceController::start(env, ns) ──▶ source-controller --watch-label-selector=<ns>
//!    │                                             │ storage: a temporary directory
//!    ├── create_git_repository(api, ns, …) ──────▶ GitRepository labelled for that controller
//!    └── http_get(artifact.url) ◀──────────────────┘ artifact server on 127.0.0.1:<free port>
//! ```

use std::io::{Read as _, Write as _};
use std::path::Path;

use anyhow::Context as _;
use driftless_api::common::Artifact;
use driftless_api::source::gitrepository::GitRepository;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use sha2::Digest as _;

use crate::flux::{create_labelled, find_condition, selector_flag};
use crate::{ControllerProcess, TestEnv, TestNamespace};

/// A source-controller watching only `ns`'s labelled objects; stopped (and its storage
/// removed) when dropped.
pub struct SourceController {
    /// The process (log, liveness).
    pub process: ControllerProcess,
    /// `host:port` of its artifact server.
    pub addr: String,
    storage: tempfile::TempDir,
}

impl SourceController {
    /// Starts the workspace's `source-controller` binary for `ns`, with `extra` flags added.
    pub fn start(env: &TestEnv, ns: &TestNamespace, extra: &[&str]) -> anyhow::Result<Self> {
        let storage = tempfile::tempdir()?;
        let addr = format!("127.0.0.1:{}", crate::free_port()?);
        let mut args = vec![
            "--metrics-addr=0".to_owned(),
            "--health-addr=0".to_owned(),
            format!("--storage-path={}", storage.path().display()),
            format!("--storage-addr={addr}"),
            format!("--storage-adv-addr={addr}"),
            selector_flag(ns),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let process = ControllerProcess::start(
            env,
            "source-controller",
            &args,
            &format!("{}-source", ns.name()),
        )?;
        Ok(Self {
            process,
            addr,
            storage,
        })
    }

    /// The `--storage-path` directory.
    pub fn storage_path(&self) -> &Path {
        self.storage.path()
    }
}

/// The GitRepositories of `ns`.
pub fn git_repositories(env: &TestEnv, ns: &TestNamespace) -> Api<GitRepository> {
    Api::namespaced(env.client(), ns.name())
}

/// The spec of a GitRepository following `main` of `url` with the credentials of `secret`.
pub fn main_branch(url: &str, secret: &str) -> serde_json::Value {
    serde_json::json!({"url": url, "ref": {"branch": "main"}, "secretRef": {"name": secret}})
}

/// Creates GitRepository `name` in `ns`, labelled for `ns`'s source-controller, with `spec`
/// (`interval` defaults to 10m so only the test's requests trigger reconciles).
pub async fn create_git_repository(
    api: &Api<GitRepository>,
    ns: &TestNamespace,
    name: &str,
    spec: serde_json::Value,
) -> anyhow::Result<()> {
    create_source(api, ns, name, spec).await
}

/// Creates the source `name` of kind `K` (OCIRepository, …) in `ns`, labelled for `ns`'s
/// source-controller, with `spec` (`interval` defaults to 10m so only the test's requests
/// trigger reconciles).
pub async fn create_source<K>(
    api: &Api<K>,
    ns: &TestNamespace,
    name: &str,
    spec: serde_json::Value,
) -> anyhow::Result<()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    create_labelled(api, ns, name, serde_json::json!({"interval": "10m"}), spec).await
}

/// Creates a `kubernetes.io/dockerconfigjson` Secret `name` in `ns` holding `config`, as
/// `kubectl create secret docker-registry` does.
pub async fn create_docker_config_secret(
    env: &TestEnv,
    ns: &TestNamespace,
    name: &str,
    config: &str,
) -> anyhow::Result<()> {
    create_typed_secret(
        env,
        ns,
        name,
        "kubernetes.io/dockerconfigjson",
        &[(".dockerconfigjson", config)],
    )
    .await
}

/// Creates Secret `name` in `ns` from string data.
pub async fn create_secret(
    env: &TestEnv,
    ns: &TestNamespace,
    name: &str,
    data: &[(&str, &str)],
) -> anyhow::Result<()> {
    create_typed_secret(env, ns, name, "Opaque", data).await
}

/// Creates Secret `name` of `type_` in `ns` from string data.
async fn create_typed_secret(
    env: &TestEnv,
    ns: &TestNamespace,
    name: &str,
    type_: &str,
    data: &[(&str, &str)],
) -> anyhow::Result<()> {
    let data: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "type": type_,
        "stringData": data,
    }))?;
    Api::<Secret>::namespaced(env.client(), ns.name())
        .create(&PostParams::default(), &secret)
        .await
        .with_context(|| format!("creating Secret {name}"))?;
    Ok(())
}

/// Creates Secret `name` in `ns` with the git server's HTTP user and password.
pub async fn create_http_credentials(
    env: &TestEnv,
    ns: &TestNamespace,
    name: &str,
) -> anyhow::Result<()> {
    create_secret(
        env,
        ns,
        name,
        &[
            ("username", crate::git_server::HTTP_USER),
            ("password", crate::git_server::HTTP_PASSWORD),
        ],
    )
    .await
}

/// Sets `reconcile.fluxcd.io/requestedAt` to `token`.
pub async fn request_reconcile<K>(api: &Api<K>, name: &str, token: &str) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// The `(status, reason, message)` of condition `type_`, when present.
pub fn condition(repo: &GitRepository, type_: &str) -> Option<(String, String, String)> {
    find_condition(repo.status.as_ref()?.conditions.as_deref()?, type_)
}

/// Whether condition `type_` has `status` and `reason`.
pub fn has_condition(repo: &GitRepository, type_: &str, status: &str, reason: &str) -> bool {
    condition(repo, type_).is_some_and(|(s, r, _)| s == status && r == reason)
}

/// `status.artifact`.
pub fn artifact(repo: &GitRepository) -> Option<Artifact> {
    repo.status.as_ref()?.artifact.clone()
}

/// The artifact revision, when `Ready=True`.
pub fn ready_revision(repo: &GitRepository) -> Option<String> {
    has_condition(repo, "Ready", "True", "Succeeded")
        .then(|| artifact(repo).map(|a| a.revision))
        .flatten()
}

/// `status.lastHandledReconcileAt`.
pub fn last_handled(repo: &GitRepository) -> Option<&str> {
    repo.status.as_ref()?.last_handled_reconcile_at.as_deref()
}

/// The entries of a tar.gz artifact except directories: path -> content (empty for links and
/// other special entries, which an artifact must not hold; listing them lets tests say so).
pub fn artifact_files(gz: &[u8]) -> anyhow::Result<std::collections::BTreeMap<String, Vec<u8>>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let mut files = std::collections::BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let path = entry.path()?.to_string_lossy().into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content)?;
        files.insert(path, content);
    }
    Ok(files)
}

/// Downloads `repo`'s artifact from the artifact server and checks its digest.
pub fn download_artifact(
    repo: &GitRepository,
) -> anyhow::Result<std::collections::BTreeMap<String, Vec<u8>>> {
    let artifact = artifact(repo).context("no artifact in status")?;
    let (code, body) = http_get(&artifact.url)?;
    anyhow::ensure!(code == 200, "GET {} answered {code}", artifact.url);
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body)));
    anyhow::ensure!(
        digest == artifact.digest,
        "the served artifact has digest {digest}, status says {}",
        artifact.digest
    );
    artifact_files(&body)
}

/// A plain HTTP/1.0 GET (the artifact server's URL): status code and body.
pub fn http_get(url: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let rest = url.strip_prefix("http://").context("http URL")?;
    let (host, path) = rest.split_once('/').context("path")?;
    let mut stream = std::net::TcpStream::connect(host)?;
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no header end")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let code = head.split_whitespace().nth(1).context("status")?.parse()?;
    Ok((code, response[split + 4..].to_vec()))
}
