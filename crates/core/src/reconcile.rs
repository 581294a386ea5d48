//! The shape of every reconciler: what the steps return, what they share, how deletion, suspend,
//! metrics, progress and retries are handled. A controller writes only its chain of steps.
//!
//! ```text
//!  Controller ──► reconcile::run(obj, ctx, api, chain, cleanup)
//!                   │ finalizer `finalizers.fluxcd.io` (kube's helper: added first, removed
//!                   │ after `cleanup` succeeds)
//!                   │ suspended? ─► record metrics, wait for a change
//!                   ▼
//!                 chain: resolve → fetch → build → apply → …   each step: Result<_, StepError>
//!                   │  report_progress before long steps (Reconciling=True, Ready=Unknown)
//!                   ▼
//!                 status: StepError → Ready=False with its reason; Ok → Ready=True
//!                   ▼
//!                 Outcome { action, conditions } ─► gotk_* metrics; requeue at interval()
//!  error_policy: only API failures reach it (step errors end in status) ─► failure backoff
//! ```
//!
//! A controller built on it:
//!
//! ```no_run
//! use driftless_api::source::GitRepository; // any Flux kind implementing FluxObject
//! use driftless_core::reconcile::{self, Context, Error, Outcome, StepError};
//! use driftless_core::conditions::reasons;
//! use std::sync::Arc;
//!
//! struct State; // what only this controller needs (storage, caches, flags)
//!
//! async fn chain(obj: &GitRepository, ctx: &Context<State>) -> Result<(), StepError> {
//!     // resolve → fetch → build → apply, each a function in its own file
//!     Err(StepError::new(reasons::ARTIFACT_FAILED, "source not found").stalled())
//! }
//!
//! async fn reconcile_one(obj: Arc<GitRepository>, ctx: Arc<Context<State>>) -> Result<kube::runtime::controller::Action, Error> {
//!     // The closures borrow both for the whole reconcile.
//!     let (api, ctx) = (&reconcile::object_api(&ctx, &*obj), ctx.as_ref());
//!     reconcile::run(obj, ctx, api,
//!         |obj| async move {
//!             let result = chain(&obj, ctx).await;
//!             // … write status from `result` (conditions::mark_ready / mark_failed) …
//!             let conditions = Vec::new();
//!             Ok(Outcome::after(ctx, &*obj, result.as_ref().err(), conditions))
//!         },
//!         |_obj| async { Ok(()) }, // delete what the object owns
//!     ).await
//! }
//!
//! # async fn main_body(ctx: Arc<Context<State>>, args: driftless_core::flags::Args) {
//! let api = reconcile::scoped_api(&ctx.runtime.client, None);
//! let controller = driftless_core::status::controller_for(api, args.watcher_config());
//! reconcile::drive(controller, &args, ctx, reconcile_one).await;
//! # }
//! ```

use crate::{
    conditions::{self, reasons, types},
    duration,
    flags::Args,
    requeue::Requeue,
    runtime::Runtime,
    status::{self, Reference},
};
use driftless_api::{
    common::FINALIZER,
    kustomize::Kustomization,
    source::{gitrepository::GitRepository, ocirepository::OCIRepository},
};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{
    Api, Resource, ResourceExt,
    core::NamespaceResourceScope,
    runtime::{
        Controller,
        controller::Action,
        finalizer::{self, Event as FinalizerEvent},
        watcher,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use std::{
    fmt::Debug,
    future::Future,
    ops::Deref,
    sync::Arc,
    time::{Duration, Instant},
};

/// When `spec.interval` does not parse (the CRDs' pattern prevents it): slow enough that a
/// broken object does not hammer its source, the same for every kind.
pub const INTERVAL_FALLBACK: Duration = Duration::from_secs(600);

/// What the shared reconcile machinery reads from a Flux object.
///
/// Implemented here for every kind a controller reconciles (the trait and the API types live
/// in different crates, so a controller crate could not implement it).
pub trait FluxObject:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Serialize
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
    /// `spec.suspend`.
    fn suspended(&self) -> bool;
    /// `spec.interval`, Go duration syntax.
    fn interval_text(&self) -> &str;
    /// `status.conditions`, empty when there is no status yet.
    fn conditions(&self) -> &[Condition];
}

/// Flux kinds share the shape `spec.suspend: Option<bool>`, `spec.interval: String`,
/// `status.conditions: Option<Vec<Condition>>`; a new kind is one more name here.
macro_rules! flux_objects {
    ($($kind:ty),+ $(,)?) => {$(
        impl FluxObject for $kind {
            fn suspended(&self) -> bool {
                self.spec.suspend.unwrap_or(false)
            }
            fn interval_text(&self) -> &str {
                &self.spec.interval
            }
            fn conditions(&self) -> &[Condition] {
                self.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_deref())
                    .unwrap_or_default()
            }
        }
    )+};
}

flux_objects!(GitRepository, OCIRepository, Kustomization);

/// `spec.interval` of `obj`, or [`INTERVAL_FALLBACK`] (logged) when it does not parse.
pub fn interval<K: FluxObject>(obj: &K) -> Duration {
    parse_or(Some(obj.interval_text()), INTERVAL_FALLBACK)
}

/// A Go duration field (`spec.timeout`, `spec.retryInterval`), or `fallback` when unset or
/// unparsable (the CRDs' patterns make the latter a corrupted object; it is logged).
pub fn parse_or(text: Option<&str>, fallback: Duration) -> Duration {
    match text.map(duration::parse) {
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            tracing::warn!(error = %e, ?fallback, "unparsable duration; using the fallback");
            fallback
        }
        None => fallback,
    }
}

/// A step's failure: Flux's reason for `Ready=False`, and a message saying what to fix.
///
/// Every step of every controller returns this, so the status step is the only place that
/// turns failures into conditions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct StepError {
    /// Flux's reason string.
    pub reason: &'static str,
    /// For the user: what failed and what to fix.
    pub message: String,
    /// A kind-specific condition the failure also sets (source-controller's `FetchFailed`,
    /// `StorageOperationFailed`, `IncludeUnavailable`, `SourceVerified=False`).
    pub condition: Option<&'static str>,
    /// Retrying cannot help until the spec changes (`Stalled=True`, no requeue).
    pub stalled: bool,
    /// Retry after this long instead of the failure backoff (waiting on a dependency).
    pub retry_after: Option<Duration>,
}

impl StepError {
    /// A failure that the backoff retries.
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            condition: None,
            stalled: false,
            retry_after: None,
        }
    }

    /// The same failure, also reported on the kind-specific `condition`.
    pub fn on(mut self, condition: &'static str) -> Self {
        self.condition = Some(condition);
        self
    }

    /// The same failure, not retried until the spec changes.
    pub fn stalled(mut self) -> Self {
        self.stalled = true;
        self
    }

    /// The same failure, retried after `delay` instead of the backoff.
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }
}

/// What every reconcile of a controller shares: the runtime (client, events, metrics,
/// shutdown), the requeue policy, and the controller's own `state`, reachable directly
/// (`ctx.storage`) through `Deref`.
pub struct Context<T> {
    /// Client, events, metrics, shutdown, field manager name.
    pub runtime: Runtime,
    /// Interval jitter and failure backoff.
    pub requeue: Requeue,
    /// What only this controller needs.
    pub state: T,
}

impl<T> Context<T> {
    /// A context with the requeue policy of the flags.
    pub fn new(runtime: Runtime, args: &Args, state: T) -> Self {
        Self {
            runtime,
            requeue: Requeue::from_args(args),
            state,
        }
    }
}

impl<T> Deref for Context<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.state
    }
}

/// Errors the controller loop sees: only failures to talk to the API server about the object
/// itself or to clean up after it. Step failures end in status, never here.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing status or finalizers failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Deleting what the object owns failed; the finalizer stays and the deletion is retried.
    #[error("cleanup: {0}")]
    Cleanup(String),
    /// The object cannot carry a finalizer (no name).
    #[error("finalizer: {0}")]
    Finalizer(String),
}

/// What a reconcile ended with: when to come back, and the conditions now in status (for the
/// `gotk_reconcile_condition` metric).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// When to reconcile again.
    pub action: Action,
    /// The conditions written.
    pub conditions: Vec<Condition>,
}

impl Outcome {
    /// The requeue Flux uses after a chain ended with `failure`: the interval (jittered) on
    /// success, the failure's own delay, nothing when stalled, else the failure backoff.
    pub fn after<K: FluxObject, T>(
        ctx: &Context<T>,
        obj: &K,
        failure: Option<&StepError>,
        conditions: Vec<Condition>,
    ) -> Self {
        let action = match failure {
            None => ctx.requeue.success(obj, interval(obj)),
            Some(StepError {
                retry_after: Some(d),
                ..
            }) => Action::requeue(*d),
            Some(e) if e.stalled => Action::await_change(),
            Some(_) => ctx.requeue.failure(obj),
        };
        Self { action, conditions }
    }
}

/// The `Api` of `obj`'s namespace, as the controller's identity.
pub fn object_api<K: FluxObject, T>(ctx: &Context<T>, obj: &K) -> Api<K> {
    Api::namespaced(
        ctx.runtime.client.clone(),
        &obj.namespace().unwrap_or_default(),
    )
}

/// An `Api` restricted to `namespace` (`--watch-all-namespaces=false`) or across all.
pub fn scoped_api<S>(client: &kube::Client, namespace: Option<&str>) -> Api<S>
where
    S: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// One reconcile of `obj`: the finalizer, suspend, metrics and logs around the controller's
/// `chain` (which writes status and says when to come back) and `cleanup` (which deletes what
/// the object owns when it is deleted; an error keeps the finalizer and retries).
pub async fn run<K, T, A, AF, C, CF>(
    obj: Arc<K>,
    ctx: &Context<T>,
    api: &Api<K>,
    chain: A,
    cleanup: C,
) -> Result<Action, Error>
where
    K: FluxObject,
    A: FnOnce(Arc<K>) -> AF,
    AF: Future<Output = Result<Outcome, Error>>,
    C: FnOnce(Arc<K>) -> CF,
    CF: Future<Output = Result<(), Error>>,
{
    let started = Instant::now();
    let metrics = &ctx.runtime.metrics;
    // Adding the finalizer changes neither the generation nor the request token, so the
    // filtered watch would not bring the object back: come back at once ourselves.
    let adding_finalizer =
        obj.meta().deletion_timestamp.is_none() && !obj.finalizers().iter().any(|f| f == FINALIZER);
    let result = finalizer::finalizer(api, FINALIZER, obj, |event| async {
        match event {
            FinalizerEvent::Apply(obj) if obj.suspended() => {
                metrics.record_reconcile(&*obj, obj.conditions(), true, started.elapsed());
                Ok(Action::await_change())
            }
            FinalizerEvent::Apply(obj) => {
                let outcome = chain(obj.clone()).await?;
                metrics.record_reconcile(&*obj, &outcome.conditions, false, started.elapsed());
                Ok(outcome.action)
            }
            FinalizerEvent::Cleanup(obj) => {
                cleanup(obj.clone()).await?;
                ctx.requeue.forget(&*obj);
                metrics.record_reconcile(
                    &*obj,
                    obj.conditions(),
                    obj.suspended(),
                    started.elapsed(),
                );
                Ok(Action::await_change())
            }
        }
    })
    .await;
    tracing::debug!(took = ?started.elapsed(), "reconciled");
    match result {
        Ok(_) if adding_finalizer => Ok(Action::requeue(Duration::from_millis(10))),
        Ok(action) => Ok(action),
        Err(finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e)) => Err(e),
        // The finalizer patch is guarded by a test of the list as cached: 422 means the
        // cache is behind our own earlier patch. Come back once it has caught up.
        Err(finalizer::Error::AddFinalizer(kube::Error::Api(s))) if s.code == 422 => {
            tracing::debug!("finalizer list changed since cached; retrying");
            Ok(Action::requeue(Duration::from_millis(200)))
        }
        Err(finalizer::Error::AddFinalizer(e) | finalizer::Error::RemoveFinalizer(e)) => {
            Err(Error::Kube(e))
        }
        Err(other) => Err(Error::Finalizer(other.to_string())),
    }
}

/// After an [`Error`] (an API failure, not a step failure): log it and back off.
pub fn error_policy<K: FluxObject, T>(obj: Arc<K>, err: &Error, ctx: Arc<Context<T>>) -> Action {
    tracing::warn!(
        kind = %K::kind(&()), namespace = %obj.namespace().unwrap_or_default(),
        name = %obj.name_any(), error = %err, "reconcile error; retrying"
    );
    ctx.requeue.failure(&*obj)
}

/// Runs `controller` until shutdown: `--concurrent` workers, [`error_policy`], readiness
/// once the watch cache is synced.
pub async fn drive<K, T, F, Fut>(
    controller: Controller<K>,
    args: &Args,
    ctx: Arc<Context<T>>,
    reconcile: F,
) where
    K: FluxObject,
    T: Send + Sync + 'static,
    F: FnMut(Arc<K>, Arc<Context<T>>) -> Fut,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let store = controller.store();
    ctx.runtime.readiness.wait_for(async move {
        let _ = store.wait_until_ready().await;
    });
    controller
        .with_config(args.controller_config())
        .graceful_shutdown_on(ctx.runtime.shutdown.wait_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

/// `controller` also reconciles, on every change of an `S` (a source's new artifact), the
/// objects whose `references_of` point at it ([`status::referencing`]).
pub fn watch_referencing<K, S>(
    controller: Controller<K>,
    api: Api<S>,
    config: watcher::Config,
    references_of: impl Fn(&K) -> Vec<Reference> + Send + Sync + 'static,
) -> Controller<K>
where
    K: FluxObject,
    S: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let store = controller.store();
    controller.watches(api, config, move |src: S| {
        status::referencing(&store, &src, &references_of)
    })
}

/// The conditions while a long step runs, as Flux shows them: `Reconciling=True` and
/// `Ready=Unknown` with `message`; the reason is `ProgressingWithRetry` when the last
/// reconcile failed (`Ready=False`), else `Progressing`.
pub fn mark_progressing(
    conds: &mut Vec<Condition>,
    message: impl Into<String>,
    generation: Option<i64>,
) {
    let message = message.into();
    let reason = if conditions::is_false(conds, types::READY) {
        reasons::PROGRESSING_WITH_RETRY
    } else {
        reasons::PROGRESSING
    };
    conditions::mark_reconciling(conds, reason, message.clone(), generation);
    conditions::mark(
        conds,
        types::READY,
        conditions::Status::Unknown,
        reason,
        message,
        generation,
    );
}

/// Writes `status` (the object's whole status, with [`mark_progressing`] conditions) before a
/// long step, so `kubectl get` shows what is happening. Best effort: a failed write is logged
/// and the final status write follows anyway. Returns whether it was written.
pub async fn report_progress<K: FluxObject, S: Serialize>(
    api: &Api<K>,
    obj: &K,
    field_manager: &str,
    status: &S,
) -> bool {
    match status::apply_status(api, obj, field_manager, status).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(
                kind = %K::kind(&()), namespace = %obj.namespace().unwrap_or_default(),
                name = %obj.name_any(), error = %e, "recording progress failed"
            );
            false
        }
    }
}

/// The source's `Ready` condition and artifact, read from any source kind's status through
/// [`conditions`] (the kinds share Flux's status shape).
pub fn source_status(
    status: Option<&serde_json::Value>,
) -> (bool, Option<driftless_api::common::Artifact>) {
    let conds: Vec<Condition> = status
        .and_then(|s| s.get("conditions"))
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    let artifact = status
        .and_then(|s| s.get("artifact"))
        .and_then(|a| serde_json::from_value(a.clone()).ok());
    (conditions::is_ready(&conds), artifact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(status: &str) -> Vec<Condition> {
        vec![conditions::new(
            types::READY,
            match status {
                "True" => conditions::Status::True,
                _ => conditions::Status::False,
            },
            "X",
            "",
            Some(1),
        )]
    }

    #[test]
    fn progress_is_progressing_after_success_and_with_retry_after_failure() {
        let mut conds = ready("True");
        mark_progressing(&mut conds, "Fetching manifests", Some(2));
        for t in [types::READY, types::RECONCILING] {
            let c = conditions::get(&conds, t).expect("set");
            assert_eq!(c.reason, reasons::PROGRESSING);
            assert_eq!(c.message, "Fetching manifests");
            assert_eq!(c.observed_generation, Some(2));
        }
        assert_eq!(
            conditions::get(&conds, types::READY).map(|c| c.status.as_str()),
            Some("Unknown")
        );
        let mut conds = ready("False");
        conditions::mark_stalled(&mut conds, "Broken", "broken", Some(1));
        mark_progressing(&mut conds, "Health check in progress", Some(2));
        assert_eq!(
            conditions::get(&conds, types::RECONCILING).map(|c| c.reason.as_str()),
            Some(reasons::PROGRESSING_WITH_RETRY)
        );
        assert!(conditions::get(&conds, types::STALLED).is_none());
    }

    #[test]
    fn a_source_is_ready_only_with_ready_true() {
        let status = serde_json::json!({
            "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                            "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            "artifact": {"path": "p", "url": "http://x/p", "revision": "main@sha1:ab",
                         "digest": "sha256:00", "lastUpdateTime": "2026-01-01T00:00:00Z"},
        });
        let (ready, artifact) = source_status(Some(&status));
        assert!(ready);
        assert_eq!(artifact.map(|a| a.url), Some("http://x/p".to_owned()));
        let mut not_ready = status.clone();
        not_ready["conditions"][0]["status"] = "False".into();
        assert!(!source_status(Some(&not_ready)).0);
        assert_eq!(source_status(None), (false, None));
    }

    #[test]
    fn step_errors_carry_reason_condition_and_retry() {
        let e = StepError::new(reasons::ARTIFACT_FAILED, "no artifact")
            .on(types::FETCH_FAILED)
            .retry_after(Duration::from_secs(5));
        assert_eq!(e.to_string(), "ArtifactFailed: no artifact");
        assert_eq!(e.condition, Some(types::FETCH_FAILED));
        assert!(!e.stalled && StepError::new("R", "m").stalled().stalled);
        assert_eq!(e.retry_after, Some(Duration::from_secs(5)));
    }

    #[test]
    fn durations_fall_back_when_unset_or_unparsable() {
        assert_eq!(
            parse_or(Some("1m30s"), INTERVAL_FALLBACK),
            Duration::from_secs(90)
        );
        assert_eq!(parse_or(Some("soon"), INTERVAL_FALLBACK), INTERVAL_FALLBACK);
        assert_eq!(
            parse_or(None, Duration::from_secs(3)),
            Duration::from_secs(3)
        );
    }
}
