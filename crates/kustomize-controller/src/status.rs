//! Step 7: status — the chain's outcome as conditions, revisions, inventory and events.

use crate::{Context, StepError, reconcile::Applied};
use driftless_api::kustomize::{Kustomization, KustomizationStatus};
use driftless_core::{
    conditions::{self, Status, reasons, types},
    events::Notice,
    reconcile::{Error, Outcome, interval, parse_or},
    status::{apply_status, reconcile_request},
};
use kube::{Api, ResourceExt, runtime::controller::Action};

/// Writes the outcome of the chain (`status` is what it left); the requeue follows Flux
/// (interval on success, retryInterval on failure, --requeue-dependency for dependencies).
pub(crate) async fn write(
    api: &Api<Kustomization>,
    k: &Kustomization,
    ctx: &Context,
    mut status: KustomizationStatus,
    result: Result<Applied, StepError>,
) -> Result<Outcome, Error> {
    let old_ready = k
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| conditions::get(c, types::READY))
        .cloned();
    let generation = k.metadata.generation;
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
            Outcome::after(ctx, k, None, Vec::new()).action
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
            match &k.spec.retry_interval {
                Some(r) if f.retry_after.is_none() && !f.stalled => {
                    Action::requeue(parse_or(Some(r), interval(k)))
                }
                _ => Outcome::after(ctx, k, Some(f), Vec::new()).action,
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
            ctx.runtime.events.publish(k, &notice).await.is_ok()
        }
        _ => false,
    };
    if !published {
        let _ = ctx
            .runtime
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
    Ok(Outcome {
        action,
        conditions: status.conditions.unwrap_or_default(),
    })
}
