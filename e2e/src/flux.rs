//! The GitOps pair a kustomize-controller test needs: source-controller (with its own artifact
//! storage and server) and kustomize-controller, both watching only the objects labelled with
//! one test's namespace, so tests run in parallel without seeing each other's objects.

use std::fmt::Debug;
use std::path::Path;

use anyhow::Context as _;
use driftless_api::kustomize::Kustomization;
use driftless_api::source::gitrepository::GitRepository;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Api;
use kube::api::PostParams;
use serde::{Serialize, de::DeserializeOwned};

use crate::source::{
    create_git_repository, create_http_credentials, git_repositories, main_branch,
};
use crate::{ControllerProcess, TestEnv, TestNamespace};

/// The label that scopes a test's Flux objects to its controllers (`--watch-label-selector`).
pub const SELECTOR_LABEL: &str = "driftless-e2e-test";

/// Both controllers of one test; they stop, and the storage is removed, when this is dropped.
pub struct FluxControllers {
    pub source: ControllerProcess,
    pub kustomize: ControllerProcess,
    _storage: tempfile::TempDir,
}

impl FluxControllers {
    /// Starts source-controller and kustomize-controller for `ns`; `kustomize_args` are added
    /// to kustomize-controller's flags (e.g. `--requeue-dependency=2s`).
    pub fn start(
        env: &TestEnv,
        ns: &TestNamespace,
        kustomize_args: &[&str],
    ) -> anyhow::Result<FluxControllers> {
        Self::start_from(env, ns, None, kustomize_args)
    }

    /// Like [`Self::start`], with the binaries in `bin_dir` when given (e.g. `<target>/release`,
    /// which `cargo xtask bench loop` measures) instead of those of the test's own profile.
    pub fn start_from(
        env: &TestEnv,
        ns: &TestNamespace,
        bin_dir: Option<&Path>,
        kustomize_args: &[&str],
    ) -> anyhow::Result<FluxControllers> {
        let start = |binary: &str, args: &[&str], log_name: &str| match bin_dir {
            Some(dir) => ControllerProcess::start_path(env, &dir.join(binary), args, log_name),
            None => ControllerProcess::start(env, binary, args, log_name),
        };
        let storage = tempfile::tempdir()?;
        let addr = format!("127.0.0.1:{}", crate::free_port()?);
        let selector = selector_flag(ns);
        let source = start(
            "source-controller",
            &[
                "--metrics-addr=0",
                "--health-addr=0",
                &format!("--storage-path={}", storage.path().display()),
                &format!("--storage-addr={addr}"),
                &format!("--storage-adv-addr={addr}"),
                &selector,
            ],
            &format!("{}-source", ns.name()),
        )?;
        let mut args = vec!["--metrics-addr=0", "--health-addr=0", selector.as_str()];
        args.extend_from_slice(kustomize_args);
        let kustomize = start(
            "kustomize-controller",
            &args,
            &format!("{}-kustomize", ns.name()),
        )?;
        Ok(FluxControllers {
            source,
            kustomize,
            _storage: storage,
        })
    }
}

/// `--watch-label-selector` restricting a controller to the objects of `ns`'s test.
pub fn selector_flag(ns: &TestNamespace) -> String {
    format!("--watch-label-selector={SELECTOR_LABEL}={}", ns.name())
}

/// Creates Kustomization `name` labelled for `ns`'s controllers, its spec `defaults` with the
/// fields of `spec` laid over them.
pub async fn create_kustomization(
    api: &Api<Kustomization>,
    ns: &TestNamespace,
    name: &str,
    defaults: serde_json::Value,
    spec: serde_json::Value,
) -> anyhow::Result<()> {
    create_labelled(api, ns, name, defaults, spec).await
}

/// Creates the Flux object `name` of kind `K`, labelled for `ns`'s controllers, its spec
/// `defaults` with the fields of `spec` laid over them.
pub(crate) async fn create_labelled<K>(
    api: &Api<K>,
    ns: &TestNamespace,
    name: &str,
    defaults: serde_json::Value,
    spec: serde_json::Value,
) -> anyhow::Result<()>
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug,
{
    let mut full = defaults;
    if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
        full.extend(extra.clone());
    }
    let obj: K = serde_json::from_value(serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": {"name": name, "labels": {SELECTOR_LABEL: ns.name()}},
        "spec": full,
    }))?;
    api.create(&PostParams::default(), &obj)
        .await
        .with_context(|| format!("creating {} {name}", K::kind(&())))?;
    Ok(())
}

/// Creates Kustomization `name` in `ns` from GitRepository `repo` (interval 10m, prune,
/// `targetNamespace` the test namespace), with the fields of `spec` laid over that.
pub async fn create_from_repo(
    api: &Api<Kustomization>,
    ns: &TestNamespace,
    name: &str,
    spec: serde_json::Value,
) -> anyhow::Result<()> {
    let defaults = serde_json::json!({
        "interval": "10m",
        "prune": true,
        "targetNamespace": ns.name(),
        "sourceRef": {"kind": "GitRepository", "name": "repo"},
    });
    create_labelled(api, ns, name, defaults, spec).await
}

/// Whether condition `type_` of `k` has `status` and `reason`.
pub fn has_condition(k: &Kustomization, type_: &str, status: &str, reason: &str) -> bool {
    condition(k, type_).is_some_and(|(s, r, _)| s == status && r == reason)
}

/// The `(status, reason, message)` of condition `type_`, when present.
pub fn condition(k: &Kustomization, type_: &str) -> Option<(String, String, String)> {
    find_condition(k.status.as_ref()?.conditions.as_deref()?, type_)
}

/// The `(status, reason, message)` of condition `type_` in `conditions`, when present.
pub(crate) fn find_condition(
    conditions: &[Condition],
    type_: &str,
) -> Option<(String, String, String)> {
    let c = conditions.iter().find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Creates GitRepository `repo` (branch `main` of `url`, interval 10m) with the git server's
/// basic-auth credentials in Secret `creds`, both in `ns` and labelled for its controllers.
pub async fn create_git_source(
    env: &TestEnv,
    ns: &TestNamespace,
    url: &str,
) -> anyhow::Result<Api<GitRepository>> {
    create_http_credentials(env, ns, "creds").await?;
    let api = git_repositories(env, ns);
    create_git_repository(&api, ns, "repo", main_branch(url, "creds")).await?;
    Ok(api)
}
