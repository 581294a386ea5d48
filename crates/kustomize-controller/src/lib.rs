//! kustomize-controller: reconciles Flux `Kustomization`s (kustomize.toolkit.fluxcd.io/v1).
//!
//! ```text
//!  GitRepository / OCIRepository / Bucket / ExternalArtifact ──status.artifact──┐ (watched:
//!                                                                               │  a new
//!  Kustomization ── spec.sourceRef ─────────────────────────────────────────────┘  revision
//!      │                                                                         reconciles)
//!      ▼ reconcile, one file a step:
//!  resolve.rs (dependsOn, source) → fetch.rs (artifact, once per digest)
//!    → build.rs (kustomize + overlay + postBuild substitution + labels;
//!                remote.rs: remote bases through the git layer)
//!    → apply.rs (dry-run, stages, prune, health; drift.rs: spec.ignore per object)
//!    → status.rs (conditions, inventory, history.rs, events; gotk_* metrics in lib.rs)
//! ```
//!
//! Every step returns a [`error::Failure`] carrying Flux's reason, so the status says which
//! step failed and the API server's or builder's own message. A failed step never touches
//! what was applied before: the apply engine dry-runs the whole set first.

mod apply;
mod build;
mod drift;
mod error;
mod features;
mod fetch;
mod history;
mod remote;
mod resolve;
mod status;
pub mod substitute;

use driftless_api::{
    common::FINALIZER,
    kustomize::{DeletionPolicy, Kustomization, KustomizationStatus},
    source::{Bucket, ExternalArtifact, GitRepository, OCIRepository},
};
use driftless_core::{
    apply::Resolver, duration, events::Events, flags::Args, metrics::Metrics, requeue::Requeue,
    runtime::Runtime, status::controller_waking,
};
use futures::StreamExt;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        controller::Action,
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use serde::de::DeserializeOwned;
use std::{
    fmt::Debug,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

pub use error::Failure;
pub use features::FeatureGates;

/// The field manager of every object and status this controller writes.
pub const FIELD_MANAGER: &str = "kustomize-controller";

/// What every reconcile shares.
pub struct Ctx {
    pub client: kube::Client,
    /// The controller's own client configuration; impersonation derives from it.
    pub config: kube::Config,
    pub resolver: Resolver,
    pub http: reqwest::Client,
    /// Unpacked artifacts, one folder per digest.
    pub cache_dir: PathBuf,
    pub no_cross_namespace_refs: bool,
    pub no_remote_bases: bool,
    pub default_service_account: Option<String>,
    pub requeue_dependency: Duration,
    pub requeue: Requeue,
    pub events: Events,
    /// Flux's `gotk_*` metrics, recorded after every reconcile.
    pub metrics: Metrics,
    pub features: FeatureGates,
}

/// Errors the runtime retries: only failures to talk to the API server about the
/// Kustomization itself (everything else is a status).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("writing the Kustomization: {0}")]
    Kube(#[from] kube::Error),
}

impl Ctx {
    /// Builds the context from the flags and the shared runtime (client, events, metrics).
    pub async fn new(
        args: &Args,
        features: FeatureGates,
        rt: &Runtime,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let config = kube::Config::infer().await?;
        let cache_dir =
            std::env::temp_dir().join(format!("kustomize-controller-{}", std::process::id()));
        std::fs::create_dir_all(&cache_dir)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        Ok(Self {
            client: rt.client.clone(),
            config,
            resolver: Resolver::new(),
            http,
            cache_dir,
            no_cross_namespace_refs: args.no_cross_namespace_refs,
            no_remote_bases: args.no_remote_bases,
            default_service_account: args.default_service_account().map(str::to_owned),
            requeue_dependency: args.requeue_dependency.get(),
            requeue: Requeue::from_args(args),
            events: rt.events.clone(),
            metrics: rt.metrics.clone(),
            features,
        })
    }
}

fn parse_duration(text: Option<&str>, fallback: Duration) -> Duration {
    text.and_then(|t| duration::parse(t).ok())
        .unwrap_or(fallback)
}

/// The interval of `k` (10 minutes when unparsable, which the CRD pattern prevents).
pub fn interval(k: &Kustomization) -> Duration {
    parse_duration(Some(&k.spec.interval), Duration::from_secs(600))
}

/// Reconciles one Kustomization.
pub async fn reconcile(k: Arc<Kustomization>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let started = Instant::now();
    let api: Api<Kustomization> =
        Api::namespaced(ctx.client.clone(), &k.namespace().unwrap_or_default());
    if k.meta().deletion_timestamp.is_some() {
        let action = finalize(&api, &k, &ctx).await;
        record_metrics(&ctx, &k, None, started);
        return action;
    }
    if !k.finalizers().iter().any(|f| f == FINALIZER) {
        let mut finalizers = k.finalizers().to_vec();
        finalizers.push(FINALIZER.to_owned());
        let patch = serde_json::json!({"metadata": {"finalizers": finalizers}});
        api.patch(
            &k.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    }
    if k.spec.suspend.unwrap_or(false) {
        record_metrics(&ctx, &k, None, started);
        return Ok(Action::await_change());
    }
    let (action, status) = status::reconcile_and_report(&api, &k, &ctx).await?;
    record_metrics(&ctx, &k, Some(&status), started);
    Ok(action)
}

/// Flux's `gotk_reconcile_duration_seconds`, `gotk_reconcile_condition` (Ready) and
/// `gotk_suspend_status` for one reconcile; `status` is the one just written, when any.
fn record_metrics(
    ctx: &Ctx,
    k: &Kustomization,
    status: Option<&KustomizationStatus>,
    started: Instant,
) {
    let conditions = status
        .or(k.status.as_ref())
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    ctx.metrics.record_reconcile(
        k,
        conditions,
        k.spec.suspend.unwrap_or(false),
        started.elapsed(),
    );
}

/// Deletion: delete the inventory when the policy says so, then drop the finalizer.
async fn finalize(api: &Api<Kustomization>, k: &Kustomization, ctx: &Ctx) -> Result<Action, Error> {
    if !k.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let delete = match k.spec.deletion_policy.unwrap_or_default() {
        DeletionPolicy::MirrorPrune => k.spec.prune,
        DeletionPolicy::Delete | DeletionPolicy::WaitForTermination => true,
        DeletionPolicy::Orphan => false,
    };
    let inventory = k.status.as_ref().and_then(|s| s.inventory.clone());
    if delete
        && !k.spec.suspend.unwrap_or(false)
        && let Some(inv) = inventory
    {
        let applier = match apply::applier_for(ctx, k) {
            Ok(a) => a,
            Err(f) => {
                tracing::warn!(
                    kind = "Kustomization", namespace = %k.namespace().unwrap_or_default(),
                    name = %k.name_any(), error = %f,
                    "cannot act for the Kustomization; orphaning its objects"
                );
                return remove_finalizer(api, k).await;
            }
        };
        let deleted = match applier.delete_all(&inv.entries, &apply::owner(k)).await {
            Ok(changes) => changes,
            Err(e) => {
                tracing::warn!(
                    kind = "Kustomization", namespace = %k.namespace().unwrap_or_default(),
                    name = %k.name_any(), error = %e, "deleting the inventory failed; retrying"
                );
                return Ok(ctx.requeue.failure(k));
            }
        };
        if k.spec.deletion_policy == Some(DeletionPolicy::WaitForTermination)
            && let Err(e) = apply::wait_terminated(&applier, k, &deleted).await
        {
            // The finalizer stays: the Kustomization is gone only once its objects are.
            tracing::warn!(
                kind = "Kustomization", namespace = %k.namespace().unwrap_or_default(),
                name = %k.name_any(), error = %e,
                "deletionPolicy WaitForTermination: objects not terminated yet; retrying"
            );
            return Ok(ctx.requeue.failure(k));
        }
    }
    remove_finalizer(api, k).await
}

async fn remove_finalizer(api: &Api<Kustomization>, k: &Kustomization) -> Result<Action, Error> {
    let finalizers: Vec<String> = k
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    let patch = serde_json::json!({"metadata": {"finalizers": finalizers}});
    match api
        .patch(
            &k.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}

/// After a failed reconcile that did not say when to retry.
pub fn error_policy(k: Arc<Kustomization>, err: &Error, ctx: Arc<Ctx>) -> Action {
    tracing::warn!(
        kind = "Kustomization", namespace = %k.namespace().unwrap_or_default(),
        name = %k.name_any(), error = %err, "reconcile error"
    );
    ctx.requeue.failure(&*k)
}

/// The Kustomizations whose `sourceRef` names `src` (of kind `kind`).
fn users_of<S: Resource>(
    store: &Store<Kustomization>,
    kind: &str,
    src: &S,
) -> Vec<ObjectRef<Kustomization>> {
    let name = src.meta().name.clone().unwrap_or_default();
    let ns = src.meta().namespace.clone().unwrap_or_default();
    store
        .state()
        .iter()
        .filter(|k| {
            let r = &k.spec.source_ref;
            resolve::kind_name(r.kind) == kind
                && r.name == name
                && r.namespace
                    .clone()
                    .or_else(|| k.namespace())
                    .unwrap_or_default()
                    == ns
        })
        .map(|k| ObjectRef::from_obj(&**k))
        .collect()
}

/// The Kustomizations to reconcile now because `updated` is Ready at its current generation
/// and they depend on it but are not Ready themselves (typically `DependencyNotReady`,
/// waiting out `--requeue-dependency`). Ready dependents are left alone, so a dependency's
/// periodic status write does not cascade down the chain.
fn dependents_waiting_on(
    updated: &Kustomization,
    store: &Store<Kustomization>,
) -> Vec<Arc<Kustomization>> {
    if !resolve::ready_at_generation(updated) {
        return Vec::new();
    }
    let (name, ns) = (updated.name_any(), updated.namespace());
    store.state_filter(|k| {
        let depends = k
            .spec
            .depends_on
            .iter()
            .flatten()
            .any(|d| d.name == name && d.namespace.clone().or_else(|| k.namespace()) == ns);
        depends && !resolve::ready_at_generation(k)
    })
}

fn source_api<S>(client: &kube::Client, ns: &Option<String>) -> Api<S>
where
    S: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Runs the controller until shutdown: the Kustomization watch plus one watch per source kind.
pub async fn run(
    args: Args,
    ctx: Arc<Ctx>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), driftless_core::flags::FlagError> {
    let ns = args.watch_namespace()?;
    let api: Api<Kustomization> = source_api(&ctx.client, &ns);
    let controller = controller_waking(api, args.watcher_config(), dependents_waiting_on)
        .with_config(args.controller_config());
    let store = controller.store();
    fn watch<S>(
        c: kube::runtime::Controller<Kustomization>,
        api: Api<S>,
        store: Store<Kustomization>,
        kind: &'static str,
    ) -> kube::runtime::Controller<Kustomization>
    where
        S: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        c.watches(api, watcher::Config::default(), move |src: S| {
            users_of(&store, kind, &src)
        })
    }
    let c = watch(
        controller,
        source_api::<GitRepository>(&ctx.client, &ns),
        store.clone(),
        "GitRepository",
    );
    let c = watch(
        c,
        source_api::<OCIRepository>(&ctx.client, &ns),
        store.clone(),
        "OCIRepository",
    );
    let c = watch(
        c,
        source_api::<Bucket>(&ctx.client, &ns),
        store.clone(),
        "Bucket",
    );
    let c = watch(
        c,
        source_api::<ExternalArtifact>(&ctx.client, &ns),
        store,
        "ExternalArtifact",
    );
    c.graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector;

    /// A Kustomization in `ns`, Ready (at its generation) or not, depending on `deps`.
    fn ks(ns: &str, name: &str, ready: bool, deps: serde_json::Value) -> Kustomization {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"namespace": ns, "name": name, "generation": 2},
            "spec": {"interval": "10m", "prune": true, "dependsOn": deps,
                     "sourceRef": {"kind": "GitRepository", "name": "repo"}},
            "status": {"observedGeneration": 2, "conditions": [{
                "type": "Ready", "status": if ready { "True" } else { "False" },
                "reason": if ready { "ReconciliationSucceeded" } else { "DependencyNotReady" },
                "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
        }))
        .expect("a valid Kustomization")
    }

    fn names(found: Vec<Arc<Kustomization>>) -> Vec<String> {
        let mut names: Vec<String> = found
            .iter()
            .map(|k| format!("{}/{}", k.namespace().unwrap_or_default(), k.name_any()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_dependency_becoming_ready_wakes_the_dependents_still_waiting() {
        let (store, mut writer) = reflector::store::<Kustomization>();
        for k in [
            ks(
                "apps",
                "waiting",
                false,
                serde_json::json!([{"name": "infra"}]),
            ),
            ks("apps", "done", true, serde_json::json!([{"name": "infra"}])),
            ks(
                "other",
                "cross",
                false,
                serde_json::json!([{"name": "infra", "namespace": "apps"}]),
            ),
            ks(
                "other",
                "same-name-elsewhere",
                false,
                serde_json::json!([{"name": "infra"}]),
            ),
            ks(
                "apps",
                "unrelated",
                false,
                serde_json::json!([{"name": "db"}]),
            ),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(k));
        }
        let infra = ks("apps", "infra", true, serde_json::json!([]));
        assert_eq!(
            names(dependents_waiting_on(&infra, &store)),
            ["apps/waiting", "other/cross"]
        );
        // Not Ready, or Ready for an older generation: nobody is woken.
        let failing = ks("apps", "infra", false, serde_json::json!([]));
        assert!(dependents_waiting_on(&failing, &store).is_empty());
        let mut stale = infra.clone();
        stale.metadata.generation = Some(3);
        assert!(dependents_waiting_on(&stale, &store).is_empty());
    }
}
