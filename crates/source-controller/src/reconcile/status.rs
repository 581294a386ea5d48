//! Step 5, status: the only place conditions are written. [`progressing`] shows a build in
//! progress (before the fetch); [`write`] turns the steps' outcome into Flux's conditions and
//! observed fields, applies the whole status by server-side apply, and publishes an Event when
//! `Ready` changed.

use driftless_api::common::Artifact;
use driftless_api::source::gitrepository::{GitRepository, GitRepositoryStatus};
use driftless_core::conditions::{self, Status, reasons, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Api;

use super::outdated::Outdated;
use super::source::verify_mode;
use super::{Context, Progress, StepError};
use driftless_core::reconcile::{self, Error, FluxObject};
use serde::Serialize;

/// The conditions while a new artifact is built, as Flux shows them: `ArtifactOutdated=True`
/// when an artifact exists and the remote or an include moved on, `Reconciling=True` and
/// `Ready=Unknown` with reason `Progressing`.
pub(crate) fn progressing_conditions(
    old: &[Condition],
    outdated: &Outdated,
    generation: Option<i64>,
) -> Vec<Condition> {
    let mut conds = old.to_vec();
    if let Some((reason, message)) = outdated.artifact_outdated() {
        conditions::mark(
            &mut conds,
            types::ARTIFACT_OUTDATED,
            Status::True,
            reason,
            message,
            generation,
        );
    }
    reconcile::mark_progressing(&mut conds, outdated.progress_message(), generation);
    conds
}

/// Show that a new artifact is being built before the (possibly long) fetch starts. Best
/// effort: a failed patch is logged, and the final status write follows anyway.
pub(super) async fn progressing(
    obj: &GitRepository,
    ctx: &Context,
    api: &Api<GitRepository>,
    outdated: &Outdated,
    progress: &mut Progress,
) {
    let old = obj.status.clone().unwrap_or_default();
    let conds = progressing_conditions(
        old.conditions.as_deref().unwrap_or_default(),
        outdated,
        obj.metadata.generation,
    );
    let status = GitRepositoryStatus {
        conditions: Some(conds.clone()),
        ..old
    };
    if reconcile::report_progress(api, obj, &ctx.runtime.name, &status).await {
        progress.conditions = Some(conds);
    }
}

pub(super) async fn write(
    obj: &GitRepository,
    ctx: &Context,
    api: &Api<GitRepository>,
    progress: &Progress,
    failure: Option<&StepError>,
) -> Result<Vec<Condition>, Error> {
    let old = obj.status.clone().unwrap_or_default();
    let mut status = GitRepositoryStatus {
        artifact: progress.artifact.clone(),
        ..old.clone()
    };
    let conds = outcome_conditions(
        progress.conditions.clone().or(old.conditions.clone()),
        obj.metadata.generation,
        progress.artifact.as_ref(),
        progress.verified.as_deref(),
        failure,
    );
    if failure.is_none() {
        status.observed_ignore = obj.spec.ignore.clone();
        status.observed_recurse_submodules = obj.spec.recurse_submodules;
        status.observed_sparse_checkout = obj.spec.sparse_checkout.clone();
        status.observed_include = obj.spec.include.clone();
        status.included_artifacts = (!progress.includes.is_empty()).then(|| {
            progress
                .includes
                .iter()
                .map(|i| i.artifact.clone())
                .collect()
        });
        status.source_verification_mode = verify_mode(obj).map(|(_, m)| m.to_owned());
        status.source_verification_fingerprint = progress
            .verification
            .as_ref()
            .map(|v| v.fingerprint.clone());
    }
    status.conditions = Some(conds.clone());
    status.observed_generation = obj.metadata.generation;
    if let Some(token) = driftless_core::status::reconcile_request(obj) {
        status.last_handled_reconcile_at = Some(token.to_owned());
    }
    publish(obj, ctx, api, &status, old.conditions.as_deref(), &conds).await?;
    Ok(conds)
}

/// A source's conditions once its chain ended: on success `ArtifactInStorage` and `Ready`
/// name the stored revision and the failure conditions go; on failure the step's condition,
/// `Stalled` when retrying cannot help, and `Ready=False`, with the step's reason. `old` are
/// the conditions before (those written while building, else the recorded ones).
pub(crate) fn outcome_conditions(
    old: Option<Vec<Condition>>,
    generation: Option<i64>,
    artifact: Option<&Artifact>,
    verified: Option<&str>,
    failure: Option<&StepError>,
) -> Vec<Condition> {
    let mut conds = old.unwrap_or_default();
    match failure {
        None => {
            let revision = artifact.map(|a| a.revision.as_str()).unwrap_or_default();
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
            match verified {
                Some(m) => {
                    conditions::mark(
                        &mut conds,
                        types::SOURCE_VERIFIED,
                        Status::True,
                        reasons::SUCCEEDED,
                        m,
                        generation,
                    );
                }
                None => {
                    conditions::remove(&mut conds, types::SOURCE_VERIFIED);
                }
            }
            conditions::mark_ready(&mut conds, reasons::SUCCEEDED, message, generation);
        }
        Some(err) => {
            if let Some(condition) = err.condition {
                let cond_status = if condition == types::SOURCE_VERIFIED {
                    Status::False
                } else {
                    Status::True
                };
                conditions::mark(
                    &mut conds,
                    condition,
                    cond_status,
                    err.reason,
                    err.message.clone(),
                    generation,
                );
            }
            if artifact.is_none() {
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
    conds
}

/// Applies a source's whole `status` by server-side apply and publishes an Event when `Ready`
/// changed from what `old` conditions said.
pub(crate) async fn publish<K: FluxObject, S: Serialize>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    status: &S,
    old: Option<&[Condition]>,
    conds: &[Condition],
) -> Result<(), Error> {
    driftless_core::status::apply_status(api, obj, &ctx.runtime.name, status).await?;
    let old_ready = old.and_then(|c| conditions::get(c, types::READY));
    let new_ready = conditions::get(conds, types::READY);
    if let Err(e) = ctx
        .runtime
        .events
        .publish_ready_change(obj, old_ready, new_ready)
        .await
    {
        tracing::warn!(error = %e, "publishing an event failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(conds: &'a [Condition], type_: &str) -> Option<(&'a str, &'a str, &'a str)> {
        conditions::get(conds, type_)
            .map(|c| (c.status.as_str(), c.reason.as_str(), c.message.as_str()))
    }

    #[test]
    fn a_new_revision_marks_the_artifact_outdated_while_building() {
        let mut old = Vec::new();
        conditions::mark_ready(&mut old, reasons::SUCCEEDED, "stored", Some(1));
        conditions::mark(
            &mut old,
            types::ARTIFACT_IN_STORAGE,
            Status::True,
            reasons::SUCCEEDED,
            "stored",
            Some(1),
        );
        let rev = "main@sha1:2222222222222222222222222222222222222222";
        let conds = progressing_conditions(&old, &Outdated::NewRevision(rev.into()), Some(1));
        let building = format!("building artifact: new upstream revision '{rev}'");
        assert_eq!(
            get(&conds, types::ARTIFACT_OUTDATED),
            Some((
                "True",
                "NewRevision",
                format!("new upstream revision '{rev}'").as_str()
            ))
        );
        assert_eq!(
            get(&conds, types::RECONCILING),
            Some(("True", reasons::PROGRESSING, building.as_str()))
        );
        assert_eq!(
            get(&conds, types::READY),
            Some(("Unknown", reasons::PROGRESSING, building.as_str()))
        );
        assert_eq!(
            get(&conds, types::ARTIFACT_IN_STORAGE).map(|c| c.0),
            Some("True"),
            "the current artifact is still stored"
        );
    }

    #[test]
    fn a_first_build_or_config_change_is_not_outdated() {
        for outdated in [Outdated::NoArtifact, Outdated::ConfigChange] {
            let conds = progressing_conditions(&[], &outdated, Some(2));
            assert_eq!(get(&conds, types::ARTIFACT_OUTDATED), None, "{outdated:?}");
            assert_eq!(get(&conds, types::RECONCILING).map(|c| c.0), Some("True"));
            assert_eq!(get(&conds, types::READY).map(|c| c.0), Some("Unknown"));
        }
        let conds = progressing_conditions(&[], &Outdated::IncludeChange, Some(2));
        assert_eq!(
            get(&conds, types::ARTIFACT_OUTDATED).map(|c| c.1),
            Some("IncludeChange")
        );
    }
}
