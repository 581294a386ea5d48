//! The GitRepository reconciler, a visible chain of steps, one file each:
//!
//! ```text
//!  reconcile ─► finalizer? ─► suspend? ─► storage ─► source::resolve ─► include::resolve
//!                  │ delete: remove the                                          │
//!                  │ object's artifacts      outdated? ── no: keep the artifact ─┤ (no fetch)
//!                  │                            │ yes                            │
//!                  │      status::progressing ◄─┘ (ArtifactOutdated, Reconciling)│
//!                  │        ─► source::fetch ─► include::copy ─► artifact ───────┴─► status
//!                  │                                    (any step's error becomes conditions)
//! ```
//!
//! Each step returns a [`StepError`] naming the condition and reason it maps to (Flux's), so
//! the status step is the only place that writes conditions. A failure never removes the
//! previous artifact: `status.artifact` keeps pointing at the last good file, which stays
//! served.

mod artifact;
mod include;
mod outdated;
mod source;
mod status;
mod storage;

use std::sync::Arc;
use std::time::{Duration, Instant};

use driftless_api::common::{Artifact, FINALIZER};
use driftless_api::source::gitrepository::GitRepository;
use driftless_core::conditions::{reasons, types};
use driftless_core::requeue::Requeue;
use driftless_core::runtime::Runtime;
use futures::StreamExt as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Api, ResourceExt as _};

use crate::git::{CheckedOut, Limits, RemoteSpec, Resolved};
use crate::storage::{ObjectKey, Storage};

/// The storage kind segment of GitRepository artifacts.
pub const KIND: &str = "gitrepository";

/// Shared by all reconciles.
pub struct Context {
    /// Controller runtime: client, events, metrics, shutdown.
    pub runtime: Runtime,
    /// Artifact storage.
    pub storage: Arc<Storage>,
    /// Requeue policy (interval jitter, failure backoff).
    pub requeue: Requeue,
    /// Size limits of a checkout.
    pub limits: Limits,
}

/// A step's failure: which condition and reason it maps to, and what the user should fix.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// The kind-specific condition to set True (`FetchFailed`, `StorageOperationFailed`,
    /// `IncludeUnavailable`) or False (`SourceVerified`).
    pub condition: &'static str,
    /// Flux's reason string.
    pub reason: &'static str,
    /// For the user.
    pub message: String,
    /// True when retrying cannot help until the spec changes (`Stalled=True`).
    pub stalled: bool,
}

impl StepError {
    fn new(condition: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            condition,
            reason,
            message: message.into(),
            stalled: false,
        }
    }

    fn stalled(mut self) -> Self {
        self.stalled = true;
        self
    }
}

/// What the steps found out, handed from one to the next.
#[derive(Default)]
pub struct Progress {
    /// The artifact in storage before this reconcile, if still present and intact.
    pub current: Option<Artifact>,
    /// The remote and what its ref resolves to now.
    pub remote: Option<(RemoteSpec, Resolved)>,
    /// The included repositories' artifacts, in `spec.include` order.
    pub includes: Vec<include::Included>,
    /// The conditions written while building (None when no progress was recorded).
    pub conditions: Option<Vec<Condition>>,
    /// The fresh checkout (None on the no-op path).
    pub checkout: Option<(tempfile::TempDir, CheckedOut)>,
    /// The `SourceVerified` message, when verification ran and passed.
    pub verified: Option<String>,
    /// The keys of `spec.verify` now, read on every reconcile.
    pub verification: Option<source::Verification>,
    /// The artifact after this reconcile.
    pub artifact: Option<Artifact>,
}

/// Errors the controller loop sees (only API failures: step errors end in status).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing status or finalizers failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The finalizer helper failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
}

/// Storage location of `obj`'s artifacts.
pub fn object_key(obj: &GitRepository) -> (String, String) {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

fn key<'a>(ns: &'a str, name: &'a str) -> ObjectKey<'a> {
    ObjectKey {
        kind: KIND,
        namespace: ns,
        name,
    }
}

/// One reconcile of `obj`.
pub async fn reconcile(obj: Arc<GitRepository>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<GitRepository> = Api::namespaced(ctx.runtime.client.clone(), &ns);
    // Adding the finalizer changes neither the generation nor the request token, so the
    // filtered watch would not bring the object back: come back at once ourselves.
    let adding_finalizer = obj.metadata.deletion_timestamp.is_none()
        && !obj.finalizers().iter().any(|f| f == FINALIZER);
    let result = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            FinalizerEvent::Apply(obj) => apply(&obj, &ctx, &api).await,
            FinalizerEvent::Cleanup(obj) => {
                let (ns, name) = object_key(&obj);
                ctx.storage
                    .remove_all(&key(&ns, &name))
                    .map_err(|e| Error::Finalizer(e.to_string()))?;
                ctx.requeue.forget(obj.as_ref());
                Ok(Action::await_change())
            }
        }
    })
    .await;
    tracing::debug!(took = ?started.elapsed(), "reconciled");
    let result = if adding_finalizer {
        result.map(|_| Action::requeue(Duration::from_millis(10)))
    } else {
        result
    };
    result.map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    })
}

async fn apply(
    obj: &GitRepository,
    ctx: &Context,
    api: &Api<GitRepository>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let suspended = obj.spec.suspend.unwrap_or(false);
    if suspended {
        let conditions = obj
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        ctx.runtime
            .metrics
            .record_reconcile(obj, &conditions, true, started.elapsed());
        return Ok(Action::await_change());
    }
    let mut progress = Progress::default();
    let outcome = run_steps(obj, ctx, api, &mut progress).await;
    let ready = status::write(obj, ctx, api, &progress, outcome.as_ref().err()).await?;
    ctx.runtime
        .metrics
        .record_reconcile(obj, &ready, false, started.elapsed());
    let interval =
        driftless_core::duration::parse(&obj.spec.interval).unwrap_or(Duration::from_secs(60));
    Ok(match outcome {
        Ok(()) => ctx.requeue.success(obj, interval),
        Err(e) if e.stalled => Action::await_change(),
        Err(_) => ctx.requeue.failure(obj),
    })
}

async fn run_steps(
    obj: &GitRepository,
    ctx: &Context,
    api: &Api<GitRepository>,
    progress: &mut Progress,
) -> Result<(), StepError> {
    storage::run(obj, ctx, progress)?;
    source::resolve(obj, ctx, progress).await?;
    include::resolve(obj, ctx, progress).await?;
    source::verification(obj, ctx, progress).await?;
    let revision = progress
        .remote
        .as_ref()
        .and_then(|(_, resolved)| resolved.revision())
        .map(|r| r.to_string());
    let included: Vec<Artifact> = progress
        .includes
        .iter()
        .map(|i| i.artifact.clone())
        .collect();
    let fingerprint = progress
        .verification
        .as_ref()
        .map(|v| v.fingerprint.as_str());
    let Some(why) = outdated::check(
        obj,
        progress.current.as_ref(),
        revision.as_deref(),
        &included,
        fingerprint,
    ) else {
        tracing::debug!(?revision, "artifact up to date; no fetch");
        source::keep(obj, progress);
        return Ok(());
    };
    let started = Instant::now();
    status::progressing(obj, ctx, api, &why, progress).await;
    let progressing = started.elapsed();
    source::fetch(obj, ctx, progress).await?;
    let fetched = started.elapsed();
    include::copy(progress)?;
    artifact::run(obj, ctx, progress).await?;
    // Where a new artifact's time goes, for `--log-level=debug`.
    tracing::debug!(
        ?revision, ?progressing, ?fetched, archived = ?started.elapsed(),
        "new artifact"
    );
    Ok(())
}

/// Run the GitRepository controller until shutdown.
pub async fn run(ctx: Arc<Context>, config: kube::runtime::watcher::Config, concurrency: u16) {
    let client = ctx.runtime.client.clone();
    let api: Api<GitRepository> = Api::all(client.clone());
    let shutdown = ctx.runtime.shutdown.clone();
    let controller = driftless_core::status::controller_for(api.clone(), config.clone());
    // An included repository's new artifact reconciles the repositories that include it.
    let store = controller.store();
    let controller = controller.watches(api, config, move |included: GitRepository| {
        let ns = included.namespace().unwrap_or_default();
        let name = included.name_any();
        store
            .state()
            .into_iter()
            .filter(|r| {
                r.namespace().as_deref() == Some(ns.as_str())
                    && r.spec
                        .include
                        .iter()
                        .flatten()
                        .any(|i| i.repository.name == name)
            })
            .map(|r| kube::runtime::reflector::ObjectRef::from_obj(r.as_ref()))
            .collect::<Vec<_>>()
    });
    controller
        .with_config(
            kube::runtime::controller::Config::default().concurrency(u16::max(concurrency, 1)),
        )
        .graceful_shutdown_on(shutdown.wait_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::warn!(error = %e, "reconcile failed");
            }
        })
        .await;
}

fn error_policy(obj: Arc<GitRepository>, err: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(name = %obj.name_any(), error = %err, "retrying");
    ctx.requeue.failure(obj.as_ref())
}

/// Reason for a successful reconcile.
pub const SUCCEEDED: &str = reasons::SUCCEEDED;
/// Condition set when a new artifact is pending.
pub const ARTIFACT_OUTDATED: &str = types::ARTIFACT_OUTDATED;
