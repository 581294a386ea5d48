//! [`TestEnv`]: the connection every e2e test starts from.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};
use tokio::sync::OnceCell;

use crate::cluster::{self, Layout};
use crate::{TestNamespace, cache, wait};

/// Field manager of everything the harness applies.
const FIELD_MANAGER: &str = "driftless-e2e";

/// A connection to the test cluster with the project's CRDs installed.
///
/// Each test gets its own client (kube clients are bound to the tokio runtime that made them,
/// and every `#[tokio::test]` has its own runtime); the cluster lookup and the CRD install run
/// once per test process.
#[derive(Clone)]
pub struct TestEnv {
    client: kube::Client,
    kubeconfig: PathBuf,
}

impl std::fmt::Debug for TestEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnv")
            .field("kubeconfig", &self.kubeconfig)
            .finish_non_exhaustive()
    }
}

impl TestEnv {
    /// Finds or starts the cluster and installs the CRDs (once per process), then connects.
    pub async fn get() -> anyhow::Result<Self> {
        static SETUP: OnceCell<Result<PathBuf, String>> = OnceCell::const_new();
        let kubeconfig = SETUP
            .get_or_init(|| async { setup().await.map_err(|e| format!("{e:#}")) })
            .await
            .clone()
            .map_err(|e| anyhow::anyhow!("e2e setup failed: {e}"))?;
        let client = cluster::client_for(&kubeconfig).await?;
        Ok(Self { client, kubeconfig })
    }

    /// An admin (system:masters) client.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The admin kubeconfig, for controller processes (`KUBECONFIG=…`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A client that impersonates `user` (with `groups`), e.g.
    /// `system:serviceaccount:<ns>:<name>`, the way a controller acts for a tenant.
    pub async fn impersonating(&self, user: &str, groups: &[&str]) -> anyhow::Result<kube::Client> {
        let file = kube::config::Kubeconfig::read_from(&self.kubeconfig)
            .with_context(|| format!("reading {}", self.kubeconfig.display()))?;
        let mut config = kube::Config::from_custom_kubeconfig(file, &Default::default())
            .await
            .context("loading the kubeconfig")?;
        config.auth_info.impersonate = Some(user.to_owned());
        if !groups.is_empty() {
            config.auth_info.impersonate_groups =
                Some(groups.iter().map(|g| (*g).to_owned()).collect());
        }
        kube::Client::try_from(config).context("building an impersonating client")
    }

    /// A fresh namespace for one test, deleted when the returned value is dropped.
    pub async fn namespace(&self, prefix: &str) -> anyhow::Result<TestNamespace> {
        TestNamespace::create(self, prefix).await
    }
}

async fn setup() -> anyhow::Result<PathBuf> {
    let kubeconfig = find_or_start().await?;
    let client = cluster::client_for(&kubeconfig).await?;
    install_crds(&client, &crd_dir()).await?;
    Ok(kubeconfig)
}

/// `config/crd/bases`, where `cargo xtask crds` writes the CRDs.
pub fn crd_dir() -> PathBuf {
    cache::repo_root().join("config").join("crd").join("bases")
}

async fn find_or_start() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("DRIFTLESS_E2E_KUBECONFIG") {
        let path = PathBuf::from(path);
        if !cluster::apiserver_ready(&path).await {
            bail!(
                "DRIFTLESS_E2E_KUBECONFIG={}: the API server is not ready",
                path.display()
            );
        }
        return Ok(path);
    }
    if let Some(path) = std::env::var_os("KUBECONFIG").map(PathBuf::from)
        && current_context(&path).as_deref() == Some(cluster::CONTEXT)
    {
        if !cluster::apiserver_ready(&path).await {
            bail!(
                "KUBECONFIG={} names the e2e cluster but its API server is not ready; run \
                 `cargo xtask cluster up` (or unset KUBECONFIG to let the tests start one)",
                path.display()
            );
        }
        return Ok(path);
    }
    let layout = Layout::default();
    let built = tokio::task::spawn_blocking({
        let layout = layout.clone();
        move || cluster::build(&layout)
    })
    .await
    .context("building the control plane")??;
    if let cluster::Built::Compiled(took) = built {
        eprintln!("e2e: built the control plane in {}s", took.as_secs());
    }
    let running = cluster::up(&layout).await?;
    if running.started {
        eprintln!(
            "e2e: started a control plane for these tests; it keeps running for the next run \
             (stop it with `cargo xtask cluster down`)"
        );
    }
    Ok(running.kubeconfig)
}

fn current_context(kubeconfig: &Path) -> Option<String> {
    kube::config::Kubeconfig::read_from(kubeconfig)
        .ok()?
        .current_context
}

/// Applies every CRD in `dir` (`*.yaml`, one or more documents each) with server-side apply
/// and waits until each is Established. Returns the CRD names in file order.
///
/// The API server refuses a CRD whose schema is not structural, so a success here is the
/// acceptance test of the generated schemas.
pub async fn install_crds(client: &kube::Client, dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    files.sort();
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
            .with_context(|| format!("parsing {}", file.display()))?;
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            let name = doc
                .pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .with_context(|| format!("{}: a document without metadata.name", file.display()))?
                .to_owned();
            api.patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&doc),
            )
            .await
            .with_context(|| format!("applying CRD {name} from {}", file.display()))?;
            names.push(name);
        }
    }
    for name in &names {
        wait::wait_for(
            &api,
            name,
            Duration::from_secs(60),
            "be Established",
            |crd| {
                crd.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| {
                        c.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    })
            },
        )
        .await?;
    }
    Ok(names)
}
