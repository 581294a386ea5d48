//! The GitRepository reconciler, a visible chain of steps, one file each, run by
//! `driftless_core::reconcile::run` (finalizer, suspend, metrics, retries):
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
//! Each step returns a [`StepError`] naming the reason and kind-specific condition it maps to
//! (Flux's), so
//! the status step is the only place that writes conditions. A failure never removes the
//! previous artifact: `status.artifact` keeps pointing at the last good file, which stays
//! served.

pub(crate) mod artifact;
mod include;
pub(crate) mod outdated;
pub(crate) mod source;
pub(crate) mod status;
pub(crate) mod storage;

use std::sync::Arc;
use std::time::Instant;

use driftless_api::common::Artifact;
use driftless_api::source::gitrepository::GitRepository;
use driftless_core::conditions::{reasons, types};
use driftless_core::flags::{Args, FlagError};
pub use driftless_core::reconcile::StepError;
use driftless_core::reconcile::{self, Error, Outcome};
use driftless_core::status::Reference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::controller::Action;
use kube::{Api, Resource as _, ResourceExt as _};

use crate::git::{CheckedOut, Limits, RemoteSpec, Resolved};
use crate::storage::{ObjectKey, Storage};

/// The storage kind segment of GitRepository artifacts.
pub const KIND: &str = "gitrepository";

/// What the source reconcilers (GitRepository, OCIRepository) share beyond core's [`Context`].
pub struct State {
    /// Artifact storage.
    pub storage: Arc<Storage>,
    /// Size limits of a checkout; `max_fetch_bytes` also bounds one OCI layer.
    pub limits: Limits,
}

/// Shared by all reconciles: the runtime, the requeue policy and the [`State`].
pub type Context = driftless_core::reconcile::Context<State>;

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

/// One reconcile of `obj`: the chain, or the removal of its artifacts once deleted.
pub async fn reconcile(obj: Arc<GitRepository>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api = &reconcile::object_api(&ctx, obj.as_ref());
    let ctx = ctx.as_ref();
    reconcile::run(
        obj,
        ctx,
        api,
        |obj| async move {
            let mut progress = Progress::default();
            let outcome = run_steps(&obj, ctx, api, &mut progress).await;
            let failure = outcome.err();
            let conditions = status::write(&obj, ctx, api, &progress, failure.as_ref()).await?;
            Ok(Outcome::after(
                ctx,
                obj.as_ref(),
                failure.as_ref(),
                conditions,
            ))
        },
        |obj| async move { storage::remove_artifacts(&ctx.storage, KIND, obj.as_ref()) },
    )
    .await
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

/// Run the GitRepository controller until shutdown, on the objects `--watch-all-namespaces`
/// and `--watch-label-selector` select.
pub async fn run(ctx: Arc<Context>, args: &Args) -> Result<(), FlagError> {
    let ns = args.watch_namespace()?;
    let api: Api<GitRepository> = reconcile::scoped_api(&ctx.runtime.client, ns.as_deref());
    let controller = driftless_core::status::controller_for(api.clone(), args.watcher_config());
    // An included repository's new artifact reconciles the repositories that include it.
    let controller = reconcile::watch_referencing(
        controller,
        api,
        args.watcher_config(),
        |r: &GitRepository| {
            r.spec
                .include
                .iter()
                .flatten()
                .map(|i| Reference {
                    kind: GitRepository::kind(&()).into_owned(),
                    namespace: None,
                    name: i.repository.name.clone(),
                })
                .collect()
        },
    );
    reconcile::drive(controller, args, ctx, reconcile).await;
    Ok(())
}

/// Reason for a successful reconcile.
pub const SUCCEEDED: &str = reasons::SUCCEEDED;
/// Condition set when a new artifact is pending.
pub const ARTIFACT_OUTDATED: &str = types::ARTIFACT_OUTDATED;
