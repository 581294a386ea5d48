//! kustomize-controller: reconciles Flux `Kustomization`s (kustomize.toolkit.fluxcd.io/v1).
//!
//! ```text
//!  GitRepository / OCIRepository / Bucket / ExternalArtifact ──status.artifact──┐ (watched:
//!                                                                               │  a new
//!  Kustomization ── spec.sourceRef ─────────────────────────────────────────────┘  revision
//!      │                                                                         reconciles)
//!      ▼ reconcile.rs: the chain, one file a step (core::reconcile runs it: finalizer,
//!        suspend, metrics, retries):
//!  resolve.rs (dependsOn, source) → fetch.rs (artifact, once per digest)
//!    → build.rs (kustomize + overlay + postBuild substitution + labels;
//!                remote.rs: remote bases through the git layer)
//!    → apply.rs (dry-run, stages, prune, health; drift.rs: spec.ignore per object)
//!    → status.rs (conditions, inventory, history.rs, events)
//! ```
//!
//! Every step returns a [`StepError`] carrying Flux's reason, so the status says which
//! step failed and the API server's or builder's own message. A failed step never touches
//! what was applied before: the apply engine dry-runs the whole set first.

mod apply;
mod build;
mod cache;
mod drift;
pub mod features;
mod fetch;
mod history;
pub mod reconcile;
mod remote;
mod resolve;
mod status;
pub mod substitute;

use driftless_api::{
    kustomize::Kustomization,
    source::{Bucket, ExternalArtifact, GitRepository, OCIRepository},
};
pub(crate) use driftless_core::reconcile::StepError;
use driftless_core::{
    apply::Resolver,
    flags::{Args, EnabledGates, FlagError},
    reconcile::{scoped_api, watch_referencing},
    status::{Reference, controller_waking},
};
use kube::{
    Api, Resource, ResourceExt,
    runtime::{reflector::Store, watcher},
};
use serde::de::DeserializeOwned;
use std::{fmt::Debug, path::Path, sync::Arc, time::Duration};

/// The field manager of every object and status this controller writes.
pub const FIELD_MANAGER: &str = "kustomize-controller";

/// What only the Kustomization reconciler needs; the rest of [`Context`] is core's.
pub struct State {
    /// The controller's own client configuration; impersonation derives from it.
    pub config: kube::Config,
    /// One client per impersonated user, built once: a client owns a connection pool, and
    /// building one per reconcile would open new TLS connections every time.
    impersonated: std::sync::Mutex<std::collections::HashMap<String, kube::Client>>,
    pub resolver: Resolver,
    pub http: reqwest::Client,
    /// Unpacked artifacts, one folder per digest, evicted by age and size.
    pub cache: cache::ArtifactCache,
    pub no_cross_namespace_refs: bool,
    pub no_remote_bases: bool,
    pub default_service_account: Option<String>,
    pub requeue_dependency: Duration,
    /// `--feature-gates`, resolved against [`features::GATES`].
    pub features: EnabledGates,
    /// Managers of `--override-manager-before-dry-run`, taken over before the dry-run.
    pub take_over_before_dry_run: Vec<driftless_core::apply::FieldManager>,
}

/// Shared by all reconciles: the runtime, the requeue policy and the [`State`].
pub type Context = driftless_core::reconcile::Context<State>;

impl State {
    /// From the flags (`features` resolved from them against [`features::GATES`] before the
    /// controller starts); the client configuration is inferred as the runtime's was.
    pub async fn new(
        args: &Args,
        features: EnabledGates,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let config = kube::Config::infer().await?;
        let cache = cache::ArtifactCache::new(
            std::env::temp_dir().join(format!("kustomize-controller-{}", std::process::id())),
        )?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        Ok(Self {
            config,
            impersonated: Default::default(),
            resolver: Resolver::new(),
            http,
            cache,
            no_cross_namespace_refs: args.no_cross_namespace_refs,
            no_remote_bases: args.no_remote_bases,
            default_service_account: args.default_service_account().map(str::to_owned),
            requeue_dependency: args.requeue_dependency.get(),
            features,
            take_over_before_dry_run: Vec::new(),
        })
    }
}

impl State {
    /// The client acting as `user` (`system:serviceaccount:<ns>:<name>`), cached.
    pub fn impersonated(&self, user: &str) -> Result<kube::Client, kube::Error> {
        let mut clients = self.impersonated.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(user) {
            return Ok(client.clone());
        }
        let mut config = self.config.clone();
        config.auth_info.impersonate = Some(user.to_owned());
        let client = kube::Client::try_from(config)?;
        clients.insert(user.to_owned(), client.clone());
        Ok(client)
    }

    /// The folder of unpacked artifacts (removed on a graceful shutdown).
    pub fn cache_dir(&self) -> &Path {
        self.cache.dir()
    }
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

/// The source a Kustomization reads, for the source watches.
fn source_reference(k: &Kustomization) -> Vec<Reference> {
    let r = &k.spec.source_ref;
    vec![Reference {
        kind: resolve::kind_name(r.kind).to_owned(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
    }]
}

/// Runs the controller until shutdown: the Kustomization watch plus one watch per source kind.
pub async fn run(args: Args, ctx: Arc<Context>) -> Result<(), FlagError> {
    let ns = args.watch_namespace()?;
    let client = &ctx.runtime.client;
    let controller = controller_waking(
        scoped_api::<Kustomization>(client, ns.as_deref()),
        args.watcher_config(),
        dependents_waiting_on,
    );
    fn sources<S>(
        c: kube::runtime::Controller<Kustomization>,
        client: &kube::Client,
        ns: Option<&str>,
    ) -> kube::runtime::Controller<Kustomization>
    where
        S: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        // Sources need not carry the shard label: every source in scope is watched.
        let api: Api<S> = scoped_api(client, ns);
        watch_referencing(c, api, watcher::Config::default(), source_reference)
    }
    let c = sources::<GitRepository>(controller, client, ns.as_deref());
    let c = sources::<OCIRepository>(c, client, ns.as_deref());
    let c = sources::<Bucket>(c, client, ns.as_deref());
    let c = sources::<ExternalArtifact>(c, client, ns.as_deref());
    driftless_core::reconcile::drive(c, &args, ctx, reconcile::reconcile).await;
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
