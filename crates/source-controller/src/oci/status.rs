//! Step 4, status: the OCIRepository's conditions (shared with the other sources), its
//! observed fields and `status.url`, applied as a whole.

use driftless_api::source::ocirepository::{OCIRepository, OCIRepositoryStatus};
use driftless_core::reconcile::{self, Error};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Api;

use super::Progress;
use crate::reconcile::outdated::Outdated;
use crate::reconcile::status::{outcome_conditions, progressing_conditions, publish};
use crate::reconcile::{Context, StepError};

/// Show that a new artifact is being pulled before the download starts (best effort).
pub(super) async fn progressing(
    obj: &OCIRepository,
    ctx: &Context,
    api: &Api<OCIRepository>,
    outdated: &Outdated,
    progress: &mut Progress,
) {
    let old = obj.status.clone().unwrap_or_default();
    let conds = progressing_conditions(
        old.conditions.as_deref().unwrap_or_default(),
        outdated,
        obj.metadata.generation,
    );
    let status = OCIRepositoryStatus {
        conditions: Some(conds.clone()),
        ..old
    };
    if reconcile::report_progress(api, obj, &ctx.runtime.name, &status).await {
        progress.conditions = Some(conds);
    }
}

pub(super) async fn write(
    obj: &OCIRepository,
    ctx: &Context,
    api: &Api<OCIRepository>,
    progress: &Progress,
    failure: Option<&StepError>,
) -> Result<Vec<Condition>, Error> {
    let old = obj.status.clone().unwrap_or_default();
    let conds = outcome_conditions(
        progress.conditions.clone().or(old.conditions.clone()),
        obj.metadata.generation,
        progress.artifact.as_ref(),
        None,
        failure,
    );
    let mut status = OCIRepositoryStatus {
        artifact: progress.artifact.clone(),
        // Deprecated in Flux but still written: the artifact's download URL.
        url: progress.artifact.as_ref().map(|a| a.url.clone()),
        conditions: Some(conds.clone()),
        observed_generation: obj.metadata.generation,
        ..old.clone()
    };
    if failure.is_none() {
        status.observed_ignore = obj.spec.ignore.clone();
        status.observed_layer_selector = obj.spec.layer_selector.clone();
    }
    if let Some(token) = driftless_core::status::reconcile_request(obj) {
        status.last_handled_reconcile_at = Some(token.to_owned());
    }
    publish(obj, ctx, api, &status, old.conditions.as_deref(), &conds).await?;
    Ok(conds)
}
