//! The Kustomization reconciler: the chain of steps, run by `core::reconcile` (finalizer,
//! suspend, metrics, retries), and the cleanup when a Kustomization is deleted.
//!
//! ```text
//!  chain: resolve::dependencies → resolve::source ─► progress "Fetching manifests …"
//!    → fetch::artifact → build::objects → apply::apply → apply::prune
//!    ─► progress "Health check in progress" → apply::health
//!  status::write: the chain's outcome → conditions, revisions, events, requeue
//!  cleanup: delete the inventory when deletionPolicy says so
//! ```

use crate::{Context, FIELD_MANAGER, StepError, apply, build, fetch, history, resolve, status};
use driftless_api::kustomize::{DeletionPolicy, Kustomization, KustomizationStatus};
use driftless_core::{
    conditions::reasons,
    reconcile::{self, Error, interval, mark_progressing, parse_or, report_progress},
};
use k8s_openapi::jiff::Timestamp;
use kube::{Api, ResourceExt, runtime::controller::Action};
use std::{sync::Arc, time::Instant};

/// What a successful chain produced.
pub(crate) struct Applied {
    pub changes: driftless_core::apply::ChangeSet,
    pub health_checked: bool,
}

/// Reconciles one Kustomization.
pub async fn reconcile(k: Arc<Kustomization>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api = &reconcile::object_api(&ctx, k.as_ref());
    let ctx = ctx.as_ref();
    reconcile::run(
        k,
        ctx,
        api,
        |k| async move {
            let mut status = k.status.clone().unwrap_or_default();
            let result = chain(ctx, api, &k, &mut status).await;
            status::write(api, &k, ctx, status, result).await
        },
        |k| async move { cleanup(ctx, &k).await },
    )
    .await
}

/// Shows `message` as the Kustomization's progress before a long step (best effort).
async fn progress(
    api: &Api<Kustomization>,
    k: &Kustomization,
    status: &mut KustomizationStatus,
    message: String,
) {
    mark_progressing(
        status.conditions.get_or_insert_with(Vec::new),
        message,
        k.metadata.generation,
    );
    report_progress(api, k, FIELD_MANAGER, status).await;
}

/// Runs the chain, updating `status` as it goes (revision attempted, inventory applied, history).
async fn chain(
    ctx: &Context,
    api: &Api<Kustomization>,
    k: &Kustomization,
    status: &mut KustomizationStatus,
) -> Result<Applied, StepError> {
    if k.spec.decryption.is_some() {
        return Err(StepError::new(
            reasons::RECONCILIATION_FAILED,
            "spec.decryption (SOPS) is not supported yet",
        )
        .stalled());
    }
    if k.spec.kube_config.is_some() {
        return Err(StepError::new(
            reasons::RECONCILIATION_FAILED,
            "spec.kubeConfig (remote clusters) is not supported yet",
        )
        .stalled());
    }
    apply::health_exprs(k)?;
    resolve::dependencies(ctx, k).await?;
    let artifact = resolve::source(ctx, k).await?;
    status.last_attempted_revision = Some(artifact.revision.clone());
    let timeout = parse_or(k.spec.timeout.as_deref(), interval(k));
    progress(
        api,
        k,
        status,
        format!(
            "Fetching manifests for revision {} with a timeout of {}",
            artifact.revision,
            driftless_core::duration::format(timeout)
        ),
    )
    .await;
    let started = Instant::now();
    let tree = fetch::artifact(ctx, &artifact).await?;
    let objects = build::objects(ctx, k, tree.path()).await?;
    // As Flux: only a reconcile that got as far as a built set leaves a snapshot.
    let digest = history::digest(&objects);
    let result = apply_set(ctx, api, k, status, objects, timeout).await;
    let outcome = history::Outcome {
        digest: &digest,
        status: result
            .as_ref()
            .map_or_else(|f| f.reason, |_| reasons::RECONCILIATION_SUCCEEDED),
        revision: &artifact.revision,
        took: started.elapsed(),
    };
    history::upsert(
        status.history.get_or_insert_with(Vec::new),
        &outcome,
        Timestamp::now(),
    );
    if result.is_ok() {
        status.last_applied_revision = Some(artifact.revision);
        status.last_applied_origin_revision = artifact.origin_revision;
    }
    result
}

/// Applies the built set, prunes what left it, checks health; the inventory follows the apply.
async fn apply_set(
    ctx: &Context,
    api: &Api<Kustomization>,
    k: &Kustomization,
    status: &mut KustomizationStatus,
    objects: Vec<serde_json::Value>,
    timeout: std::time::Duration,
) -> Result<Applied, StepError> {
    let applier = apply::applier_for(ctx, k)?;
    let mut changes =
        apply::apply(&applier, k, objects, timeout, &ctx.take_over_before_dry_run).await?;
    let inventory = changes.inventory();
    let old = status.inventory.replace(inventory.clone());
    changes.extend(apply::prune(&applier, k, old.as_ref(), &inventory).await?);
    let targets = apply::health_targets(k, &changes);
    if targets.is_empty() {
        return Ok(Applied {
            changes,
            health_checked: false,
        });
    }
    progress(api, k, status, "Health check in progress".to_owned()).await;
    apply::health(&applier, k, &targets, timeout).await?;
    Ok(Applied {
        changes,
        health_checked: true,
    })
}

/// Deletion: delete the inventory when the policy says so (not while suspended). An error
/// keeps the finalizer, and the deletion is retried with backoff.
async fn cleanup(ctx: &Context, k: &Kustomization) -> Result<(), Error> {
    let delete = match k.spec.deletion_policy.unwrap_or_default() {
        DeletionPolicy::MirrorPrune => k.spec.prune,
        DeletionPolicy::Delete | DeletionPolicy::WaitForTermination => true,
        DeletionPolicy::Orphan => false,
    };
    let inventory = k.status.as_ref().and_then(|s| s.inventory.clone());
    let (Some(inv), true, false) = (inventory, delete, k.spec.suspend.unwrap_or(false)) else {
        return Ok(());
    };
    let applier = match apply::applier_for(ctx, k) {
        Ok(a) => a,
        Err(f) => {
            tracing::warn!(
                kind = "Kustomization", namespace = %k.namespace().unwrap_or_default(),
                name = %k.name_any(), error = %f,
                "cannot act for the Kustomization; orphaning its objects"
            );
            return Ok(());
        }
    };
    let deleted = applier
        .delete_all(&inv.entries, &apply::owner(k))
        .await
        .map_err(|e| Error::Cleanup(format!("deleting the inventory: {e}")))?;
    if k.spec.deletion_policy == Some(DeletionPolicy::WaitForTermination) {
        // The finalizer stays: the Kustomization is gone only once its objects are.
        apply::wait_terminated(&applier, k, &deleted)
            .await
            .map_err(|e| {
                Error::Cleanup(format!(
                    "deletionPolicy WaitForTermination: objects not terminated yet: {e}"
                ))
            })?;
    }
    Ok(())
}
