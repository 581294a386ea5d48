//! [`World`]: the world of `cargo xtask up` (the sample repository on a git server, the two
//! controllers, `clusters/staging` applied) rebuilt inside one test namespace, so a scenario
//! test or a benchmark can drive it while other tests share the cluster.
//!
//! ```text
//!  Repo (harness git server, basic auth) ──▶ GitRepository `sample` ─┐  in namespace <ns>,
//!  Secret `git-credentials` ─────────────────┘                        ├─ labelled for <ns>'s
//!  Kustomizations `infrastructure`, `apps` ◀──────────────────────────┘  own controllers
//!      └─▶ Namespace <ns>-podinfo: Deployment/Service `podinfo`, ConfigMap `cluster-settings`
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use driftless_api::kustomize::Kustomization;
use driftless_api::source::gitrepository::GitRepository;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

use super::{APPS, INFRASTRUCTURE, KUSTOMIZE_CONTROLLER_ARGS, SOURCE, Sample, main_revision};
use crate::flux::{FluxControllers, SELECTOR_LABEL};
use crate::git_server::{GitServer, HTTP_PASSWORD, HTTP_USER, Repo};
use crate::{TestEnv, TestNamespace, wait};

/// The annotation that asks a Flux object for a reconcile now (`flux reconcile`).
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
/// The Secret holding the harness git server's credentials.
const CREDENTIALS: &str = "git-credentials";
/// Message of the sample's first commit (the same as `up`'s).
pub const FIRST_COMMIT_MESSAGE: &str = "Initial layout: podinfo on staging";

/// One sample world; its namespace and controllers go when it is dropped.
pub struct World<'a> {
    /// The layout, with this world's namespaces, labels and URL.
    pub sample: Sample,
    /// The sample repository's working copy; commits pushed from it reach the controllers.
    pub repo: Repo<'a>,
    /// The first commit (the one `up` pushes).
    pub first_commit: String,
    /// The controllers watching only this world's objects.
    pub controllers: FluxControllers,
    /// The Flux objects' namespace.
    pub ns: TestNamespace,
    client: kube::Client,
}

impl<'a> World<'a> {
    /// Pushes the sample repository to `server`, starts the controllers (from `bin_dir`, else
    /// the test's own build) with `up`'s flags, applies `clusters/staging` with the Flux
    /// objects' `interval`, and returns without waiting for anything.
    pub async fn start(
        env: &TestEnv,
        server: &'a GitServer,
        prefix: &str,
        interval: &str,
        bin_dir: Option<&Path>,
    ) -> anyhow::Result<World<'a>> {
        // The git server's HTTPS endpoint needs a process-wide rustls provider; it may be
        // installed already (then this is a no-op that reports so).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ns = env.namespace(prefix).await?;
        let sample = Sample {
            url: server.http_url("sample"),
            flux_namespace: ns.name().to_owned(),
            app_namespace: format!("{}-podinfo", ns.name()),
            interval: interval.to_owned(),
            labels: BTreeMap::from([(SELECTOR_LABEL.to_owned(), ns.name().to_owned())]),
            secret_ref: Some(CREDENTIALS.to_owned()),
        };
        let repo = server.create_repo("sample")?;
        let files = sample.files();
        let files: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(path, text)| (*path, text.as_bytes()))
            .collect();
        let first_commit = repo.commit(&files, FIRST_COMMIT_MESSAGE)?;
        repo.push()?;

        let client = env.client();
        Api::<Secret>::namespaced(client.clone(), ns.name())
            .create(
                &PostParams::default(),
                &serde_json::from_value(serde_json::json!({
                    "metadata": {"name": CREDENTIALS},
                    "stringData": {"username": HTTP_USER, "password": HTTP_PASSWORD},
                }))?,
            )
            .await
            .context("creating the git credentials Secret")?;
        let controllers =
            FluxControllers::start_from(env, &ns, bin_dir, KUSTOMIZE_CONTROLLER_ARGS)?;
        sample.apply_cluster(&client, "staging").await?;
        Ok(World {
            sample,
            repo,
            first_commit,
            controllers,
            ns,
            client,
        })
    }

    /// The GitRepository API of this world's namespace.
    pub fn sources(&self) -> Api<GitRepository> {
        Api::namespaced(self.client.clone(), &self.sample.flux_namespace)
    }

    /// The Kustomization API of this world's namespace.
    pub fn kustomizations(&self) -> Api<Kustomization> {
        Api::namespaced(self.client.clone(), &self.sample.flux_namespace)
    }

    /// An API of the app's namespace (`<ns>-podinfo`).
    pub fn app_api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.sample.app_namespace)
    }

    /// Waits until Kustomization `name` is Ready with `lastAppliedRevision` at `commit`.
    pub async fn wait_applied(
        &self,
        name: &str,
        commit: &str,
        timeout: Duration,
    ) -> anyhow::Result<Kustomization> {
        let revision = main_revision(commit);
        wait::wait_for(
            &self.kustomizations(),
            name,
            timeout,
            &format!("be Ready at {revision}"),
            |k| {
                let status = k.status.as_ref();
                status.and_then(|s| s.last_applied_revision.as_deref()) == Some(&revision)
                    && is_ready(status.and_then(|s| s.conditions.as_deref()))
            },
        )
        .await
    }

    /// Waits until both Kustomizations are Ready at `commit` (what `up` waits for).
    pub async fn wait_all_applied(&self, commit: &str, timeout: Duration) -> anyhow::Result<()> {
        for name in [INFRASTRUCTURE, APPS] {
            self.wait_applied(name, commit, timeout).await?;
        }
        Ok(())
    }

    /// `flux reconcile kustomization <name> --with-source`: asks the GitRepository for a
    /// reconcile, waits until it handled the request, then asks the Kustomization.
    pub async fn reconcile_with_source(
        &self,
        name: &str,
        token: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let sources = self.sources();
        request_reconcile(&sources, SOURCE, token).await?;
        wait::wait_for(&sources, SOURCE, timeout, "handle the request", |s| {
            s.status
                .as_ref()
                .and_then(|s| s.last_handled_reconcile_at.as_deref())
                == Some(token)
        })
        .await?;
        request_reconcile(&self.kustomizations(), name, token).await
    }

    /// Asks Kustomization `name` for a reconcile and waits until it handled the request.
    pub async fn reconcile(
        &self,
        name: &str,
        token: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let api = self.kustomizations();
        request_reconcile(&api, name, token).await?;
        wait::wait_for(&api, name, timeout, "handle the request", |k| {
            k.status
                .as_ref()
                .and_then(|s| s.last_handled_reconcile_at.as_deref())
                == Some(token)
        })
        .await
        .map(drop)
    }

    /// Deletes the Kustomizations (their finalizers prune what they applied, the app's
    /// namespace included) and the GitRepository while the controllers still run, and waits
    /// until all are gone; then drops the test namespace.
    pub async fn delete(self, timeout: Duration) -> anyhow::Result<()> {
        let kustomizations = self.kustomizations();
        for name in [APPS, INFRASTRUCTURE] {
            kustomizations
                .delete(name, &DeleteParams::default())
                .await?;
            wait::wait_deleted(&kustomizations, name, timeout).await?;
        }
        let sources = self.sources();
        sources.delete(SOURCE, &DeleteParams::default()).await?;
        wait::wait_deleted(&sources, SOURCE, timeout).await?;
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let app_namespace = &self.sample.app_namespace;
        wait::until(
            timeout,
            &format!("namespace {app_namespace} to be pruned"),
            || async {
                Ok(match namespaces.get_opt(app_namespace).await? {
                    None => Ok(()),
                    Some(n) if n.metadata.deletion_timestamp.is_some() => Ok(()),
                    Some(_) => Err("it is not being deleted".to_owned()),
                })
            },
        )
        .await
    }
}

/// Sets the `reconcile.fluxcd.io/requestedAt` annotation of `name` to `token`.
pub async fn request_reconcile<K>(api: &Api<K>, name: &str, token: &str) -> anyhow::Result<()>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"annotations": {REQUESTED_AT: token}}})),
    )
    .await
    .with_context(|| format!("annotating {name} with {REQUESTED_AT}={token}"))
    .map(drop)
}

/// The image of a Deployment's first container: what a rollout changes.
pub fn image(d: &Deployment) -> Option<&str> {
    d.spec
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .image
        .as_deref()
}

/// Whether `conditions` hold `Ready=True`.
pub fn is_ready(conditions: Option<&[Condition]>) -> bool {
    conditions
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}
