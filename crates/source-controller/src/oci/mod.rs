//! The OCIRepository reconciler, the GitRepository chain's shape with a registry as the
//! remote, run by `driftless_core::reconcile::run` (finalizer, suspend, metrics, retries):
//!
//! ```text
//!  reconcile ─► finalizer? ─► suspend? ─► storage ─► source::resolve (Secrets, tags, HEAD)
//!                  │ delete: remove the                          │
//!                  │ object's artifacts   outdated? ── no: keep the artifact (no download)
//!                  │                         │ yes                               │
//!                  │   status::progressing ◄─┘ ─► artifact (manifest, layer,     │
//!                  │                               extract|copy, store) ─────────┴─► status
//! ```
//!
//! A failure never removes the previous artifact: `status.artifact` keeps pointing at the
//! last good file, which stays served.

mod artifact;
mod outdated;
mod source;
mod status;

use std::sync::Arc;

use driftless_api::source::ocirepository::OCIRepository;
use driftless_core::flags::{Args, FlagError};
use driftless_core::reconcile::{self, Error, Outcome};
use driftless_oci::{RegistryClient, Repository};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt as _};

use crate::reconcile::{Context, StepError};
use crate::storage::ObjectKey;

/// The storage kind segment of OCIRepository artifacts.
pub const KIND: &str = "ocirepository";

/// The registry and what `spec.ref` names there now.
pub(crate) struct Remote {
    client: RegistryClient,
    repo: Repository,
    /// `sha256:<hex>` of the manifest.
    digest: String,
    /// Flux's revision: `<tag>@sha256:<hex>`, or `sha256:<hex>` for a pinned digest.
    revision: String,
}

/// What the steps found out, handed from one to the next.
#[derive(Default)]
pub(crate) struct Progress {
    /// The artifact in storage before this reconcile, if still present and intact.
    current: Option<driftless_api::common::Artifact>,
    /// The registry and the resolved digest.
    remote: Option<Remote>,
    /// The conditions written while pulling (None when no progress was recorded).
    conditions: Option<Vec<Condition>>,
    /// The artifact after this reconcile.
    artifact: Option<driftless_api::common::Artifact>,
}

fn object_key(obj: &OCIRepository) -> (String, String) {
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
pub async fn reconcile(obj: Arc<OCIRepository>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api = &reconcile::object_api(&ctx, obj.as_ref());
    let ctx = ctx.as_ref();
    reconcile::run(
        obj,
        ctx,
        api,
        |obj| async move {
            let mut progress = Progress::default();
            let failure = run_steps(&obj, ctx, api, &mut progress).await.err();
            if let Some(e) = &failure {
                tracing::info!(
                    kind = "OCIRepository", namespace = %obj.namespace().unwrap_or_default(),
                    name = %obj.name_any(), reason = e.reason, message = %e.message,
                    "reconcile failed"
                );
            }
            let conditions = status::write(&obj, ctx, api, &progress, failure.as_ref()).await?;
            Ok(Outcome::after(
                ctx,
                obj.as_ref(),
                failure.as_ref(),
                conditions,
            ))
        },
        |obj| async move {
            crate::reconcile::storage::remove_artifacts(&ctx.storage, KIND, obj.as_ref())
        },
    )
    .await
}

async fn run_steps(
    obj: &OCIRepository,
    ctx: &Context,
    api: &Api<OCIRepository>,
    progress: &mut Progress,
) -> Result<(), StepError> {
    let (ns, name) = object_key(obj);
    let recorded = obj.status.as_ref().and_then(|s| s.artifact.clone());
    progress.current = crate::reconcile::storage::current(&ctx.storage, &key(&ns, &name), recorded);
    progress.artifact = progress.current.clone();
    source::resolve(obj, ctx, progress).await?;
    let revision = progress
        .remote
        .as_ref()
        .map(|r| r.revision.clone())
        .unwrap_or_default();
    let Some(why) = outdated::check(obj, progress.current.as_ref(), &revision) else {
        tracing::debug!(%revision, "artifact up to date; no download");
        return Ok(());
    };
    status::progressing(obj, ctx, api, &why, progress).await;
    artifact::run(obj, ctx, progress).await
}

/// Run the OCIRepository controller until shutdown, on the objects `--watch-all-namespaces`
/// and `--watch-label-selector` select.
pub async fn run(ctx: Arc<Context>, args: &Args) -> Result<(), FlagError> {
    let ns = args.watch_namespace()?;
    let api: Api<OCIRepository> = reconcile::scoped_api(&ctx.runtime.client, ns.as_deref());
    let controller = driftless_core::status::controller_for(api, args.watcher_config());
    reconcile::drive(controller, args, ctx, reconcile).await;
    Ok(())
}
