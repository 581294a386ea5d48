//! Step 5, status: the only place conditions are written. Turns the steps' outcome into
//! Flux's conditions and observed fields, applies the whole status by server-side apply, and
//! publishes an Event when `Ready` changed.

use driftless_api::source::gitrepository::{GitRepository, GitRepositoryStatus};
use driftless_core::conditions::{self, Status, reasons, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Api;

use super::source::verify_mode;
use super::{Context, Error, Progress, StepError};

pub(super) async fn write(
    obj: &GitRepository,
    ctx: &Context,
    api: &Api<GitRepository>,
    progress: &Progress,
    failure: Option<&StepError>,
) -> Result<Vec<Condition>, Error> {
    let generation = obj.metadata.generation;
    let old = obj.status.clone().unwrap_or_default();
    let old_ready = old
        .conditions
        .as_deref()
        .and_then(|c| conditions::get(c, types::READY))
        .cloned();
    let mut status = GitRepositoryStatus {
        artifact: progress.artifact.clone(),
        ..old.clone()
    };
    let mut conds = old.conditions.clone().unwrap_or_default();
    match failure {
        None => {
            let revision = progress
                .artifact
                .as_ref()
                .map(|a| a.revision.clone())
                .unwrap_or_default();
            let message = format!("stored artifact for revision '{revision}'");
            for stale in [
                types::FETCH_FAILED,
                types::STORAGE_OPERATION_FAILED,
                types::INCLUDE_UNAVAILABLE,
                types::ARTIFACT_OUTDATED,
            ] {
                conditions::remove(&mut conds, stale);
            }
            conditions::mark(
                &mut conds,
                types::ARTIFACT_IN_STORAGE,
                Status::True,
                reasons::SUCCEEDED,
                message.clone(),
                generation,
            );
            match &progress.verified {
                Some(m) => {
                    conditions::mark(
                        &mut conds,
                        types::SOURCE_VERIFIED,
                        Status::True,
                        reasons::SUCCEEDED,
                        m.clone(),
                        generation,
                    );
                }
                None => {
                    conditions::remove(&mut conds, types::SOURCE_VERIFIED);
                }
            }
            conditions::mark_ready(&mut conds, reasons::SUCCEEDED, message, generation);
            status.observed_ignore = obj.spec.ignore.clone();
            status.observed_recurse_submodules = obj.spec.recurse_submodules;
            status.observed_sparse_checkout = obj.spec.sparse_checkout.clone();
            status.observed_include = obj.spec.include.clone();
            status.included_artifacts =
                (!progress.included.is_empty()).then(|| progress.included.clone());
            status.source_verification_mode = verify_mode(obj).map(|(_, m)| m.to_owned());
        }
        Some(err) => {
            let cond_status = if err.condition == types::SOURCE_VERIFIED {
                Status::False
            } else {
                Status::True
            };
            conditions::mark(
                &mut conds,
                err.condition,
                cond_status,
                err.reason,
                err.message.clone(),
                generation,
            );
            if progress.artifact.is_none() {
                conditions::remove(&mut conds, types::ARTIFACT_IN_STORAGE);
            }
            if err.stalled {
                conditions::mark_stalled(&mut conds, err.reason, err.message.clone(), generation);
                conditions::mark(
                    &mut conds,
                    types::READY,
                    Status::False,
                    err.reason,
                    err.message.clone(),
                    generation,
                );
            } else {
                conditions::mark_failed(&mut conds, err.reason, err.message.clone(), generation);
            }
        }
    }
    status.conditions = Some(conds.clone());
    status.observed_generation = generation;
    if let Some(token) = driftless_core::status::reconcile_request(obj) {
        status.last_handled_reconcile_at = Some(token.to_owned());
    }
    driftless_core::status::apply_status(api, obj, &ctx.runtime.name, &status).await?;
    let new_ready = conditions::get(&conds, types::READY);
    if let Err(e) = ctx
        .runtime
        .events
        .publish_ready_change(obj, old_ready.as_ref(), new_ready)
        .await
    {
        tracing::warn!(error = %e, "publishing an event failed");
    }
    Ok(conds)
}
