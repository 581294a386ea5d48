//! Step 7: status — run the chain, then write conditions, revisions, inventory and events.

use crate::{
    Ctx, Error, apply, build, error::Failure, fetch, history, interval, parse_duration, resolve,
};
use driftless_api::kustomize::{Kustomization, KustomizationStatus};
use driftless_core::{
    conditions::{self, Status, reasons, types},
    events::Notice,
    status::{apply_status, reconcile_request},
};
use k8s_openapi::jiff::Timestamp;
use kube::{Api, ResourceExt, runtime::controller::Action};
use std::time::Instant;

/// What a successful chain produced.
struct Applied {
    changes: driftless_core::apply::ChangeSet,
    health_checked: bool,
}

/// Runs the chain, updating `status` as it goes (revision attempted, inventory applied, history).
async fn run(
    ctx: &Ctx,
    k: &Kustomization,
    status: &mut KustomizationStatus,
) -> Result<Applied, Failure> {
    if k.spec.decryption.is_some() {
        return Err(Failure::stalled(
            reasons::RECONCILIATION_FAILED,
            "spec.decryption (SOPS) is not supported yet",
        ));
    }
    if k.spec.kube_config.is_some() {
        return Err(Failure::stalled(
            reasons::RECONCILIATION_FAILED,
            "spec.kubeConfig (remote clusters) is not supported yet",
        ));
    }
    apply::health_exprs(k)?;
    resolve::dependencies(ctx, k).await?;
    let artifact = resolve::source(ctx, k).await?;
    status.last_attempted_revision = Some(artifact.revision.clone());
    let started = Instant::now();
    let tree = fetch::artifact(ctx, &artifact).await?;
    let objects = build::objects(ctx, k, &tree).await?;
    // As Flux: only a reconcile that got as far as a built set leaves a snapshot.
    let digest = history::digest(&objects);
    let result = apply_set(ctx, k, status, objects).await;
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
    ctx: &Ctx,
    k: &Kustomization,
    status: &mut KustomizationStatus,
    objects: Vec<serde_json::Value>,
) -> Result<Applied, Failure> {
    let applier = apply::applier_for(ctx, k)?;
    let timeout = parse_duration(k.spec.timeout.as_deref(), interval(k));
    let mut changes = apply::apply(&applier, k, objects, timeout).await?;
    let inventory = changes.inventory();
    let old = status.inventory.replace(inventory.clone());
    changes.extend(apply::prune(&applier, k, old.as_ref(), &inventory).await?);
    let health_checked = apply::health(&applier, k, &changes, timeout).await?;
    Ok(Applied {
        changes,
        health_checked,
    })
}

/// Reconciles and writes the outcome; the requeue follows Flux (interval on success,
/// retryInterval on failure, --requeue-dependency for dependencies). Returns the status
/// written, for the metrics.
pub async fn reconcile_and_report(
    api: &Api<Kustomization>,
    k: &Kustomization,
    ctx: &Ctx,
) -> Result<(Action, KustomizationStatus), Error> {
    let mut status = k.status.clone().unwrap_or_default();
    let old_ready = status
        .conditions
        .as_deref()
        .and_then(|c| conditions::get(c, types::READY))
        .cloned();
    let generation = k.metadata.generation;
    let result = run(ctx, k, &mut status).await;
    let conds = status.conditions.get_or_insert_with(Vec::new);
    let action = match &result {
        Ok(applied) => {
            let revision = status.last_applied_revision.clone().unwrap_or_default();
            conditions::mark_ready(
                conds,
                reasons::RECONCILIATION_SUCCEEDED,
                format!("Applied revision: {revision}"),
                generation,
            );
            if applied.health_checked {
                conditions::mark(
                    conds,
                    types::HEALTHY,
                    Status::True,
                    reasons::SUCCEEDED,
                    "Health check passed",
                    generation,
                );
            } else {
                conditions::remove(conds, types::HEALTHY);
            }
            ctx.requeue.success(k, interval(k))
        }
        Err(f) => {
            conditions::mark_failed(conds, f.reason, f.message.clone(), generation);
            if f.stalled {
                conditions::mark_stalled(conds, f.reason, f.message.clone(), generation);
            }
            if f.reason == reasons::HEALTH_CHECK_FAILED {
                conditions::mark(
                    conds,
                    types::HEALTHY,
                    Status::False,
                    reasons::HEALTH_CHECK_FAILED,
                    f.message.clone(),
                    generation,
                );
            }
            match f.retry_after {
                Some(d) => Action::requeue(d),
                None if f.stalled => Action::await_change(),
                None => match &k.spec.retry_interval {
                    Some(r) => Action::requeue(parse_duration(Some(r), interval(k))),
                    None => ctx.requeue.failure(k),
                },
            }
        }
    };
    status.observed_generation = generation;
    if let Some(token) = reconcile_request(k) {
        status.last_handled_reconcile_at = Some(token.to_owned());
    }
    let new_ready = status
        .conditions
        .as_deref()
        .and_then(|c| conditions::get(c, types::READY))
        .cloned();
    if k.status.as_ref() != Some(&status) {
        apply_status(api, k, crate::FIELD_MANAGER, &status).await?;
    }
    // Events: the change set when something was written, else a Ready change.
    let published = match &result {
        Ok(applied) if applied.changes.has_writes() => {
            let notice = Notice {
                type_: kube::runtime::events::EventType::Normal,
                reason: "Progressing".into(),
                note: applied.changes.to_string(),
            };
            ctx.events.publish(k, &notice).await.is_ok()
        }
        _ => false,
    };
    if !published {
        let _ = ctx
            .events
            .publish_ready_change(k, old_ready.as_ref(), new_ready.as_ref())
            .await;
    }
    let ns = k.namespace().unwrap_or_default();
    let revision = status
        .last_attempted_revision
        .as_deref()
        .unwrap_or_default();
    match &result {
        Ok(applied) => tracing::info!(
            kind = "Kustomization", namespace = %ns, name = %k.name_any(), revision,
            changes = %applied.changes, "reconciled"
        ),
        Err(f) => tracing::warn!(
            kind = "Kustomization", namespace = %ns, name = %k.name_any(), revision,
            reason = f.reason, message = %f.message, "reconcile failed"
        ),
    }
    Ok((action, status))
}
