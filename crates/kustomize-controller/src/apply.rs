//! Steps 4–6: apply (dry-run, stages), prune, health.

use crate::{
    Context, StepError,
    build::{NAME_LABEL, NAMESPACE_LABEL},
    drift,
};
use driftless_api::{common::ResourceInventory, kustomize::Kustomization};
use driftless_core::{
    apply::{Action, Applier, ApplyOptions, ChangeSet, DeleteOptions, FieldManager, ObjectRef},
    conditions::reasons,
    health,
};
use kube::{ResourceExt, api::DynamicObject};
use std::{collections::BTreeMap, time::Duration};

/// The applier acting for `k`: impersonating its service account (or
/// `--default-service-account`), else as the controller.
pub fn applier_for(ctx: &Context, k: &Kustomization) -> Result<Applier, StepError> {
    let sa = k
        .spec
        .service_account_name
        .clone()
        .or_else(|| ctx.default_service_account.clone());
    let client = match sa {
        None => ctx.runtime.client.clone(),
        Some(sa) => {
            let user = format!(
                "system:serviceaccount:{}:{sa}",
                k.namespace().unwrap_or_default()
            );
            ctx.impersonated(&user).map_err(|e| {
                StepError::new(
                    reasons::RECONCILIATION_FAILED,
                    format!("impersonating {sa}: {e}"),
                )
            })?
        }
    };
    Ok(Applier::new(
        client,
        ctx.resolver.clone(),
        crate::FIELD_MANAGER,
    ))
}

/// Applies the built objects; `ReconciliationFailed` with the API server's message.
/// `before_dry_run`: the managers of `--override-manager-before-dry-run`.
pub async fn apply(
    applier: &Applier,
    k: &Kustomization,
    objects: Vec<serde_json::Value>,
    timeout: Duration,
    before_dry_run: &[FieldManager],
) -> Result<ChangeSet, StepError> {
    let fail = |m: String| StepError::new(reasons::RECONCILIATION_FAILED, m);
    let objects = objects
        .into_iter()
        .map(serde_json::from_value::<DynamicObject>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("invalid object in the build output: {e}")))?;
    let opts = ApplyOptions {
        force: k.spec.force.unwrap_or(false),
        wait_timeout: timeout,
        ignore_paths: drift::ignore_paths(k, &objects)?,
        // As Flux: fields kubectl & co. set by hand are taken over, so the next apply removes
        // what Git does not have (objects annotated `ssa: Merge` keep them).
        take_over: FieldManager::flux_defaults(crate::FIELD_MANAGER),
        take_over_before_dry_run: before_dry_run.to_vec(),
    };
    applier
        .apply_all(objects, &opts)
        .await
        .map_err(|e| fail(e.to_string()))
}

/// The owner labels objects must carry to be pruned or deleted.
pub fn owner(k: &Kustomization) -> DeleteOptions {
    DeleteOptions {
        owner_labels: BTreeMap::from([
            (NAME_LABEL.to_owned(), k.name_any()),
            (
                NAMESPACE_LABEL.to_owned(),
                k.namespace().unwrap_or_default(),
            ),
        ]),
    }
}

/// Deletes what left the inventory when `spec.prune`; `PruneFailed` otherwise.
pub async fn prune(
    applier: &Applier,
    k: &Kustomization,
    old: Option<&ResourceInventory>,
    new: &ResourceInventory,
) -> Result<ChangeSet, StepError> {
    match old {
        Some(old) if k.spec.prune => applier
            .prune(old, new, &owner(k))
            .await
            .map_err(|e| StepError::new(reasons::PRUNE_FAILED, e.to_string())),
        _ => Ok(ChangeSet::default()),
    }
}

/// Compiles `healthCheckExprs`; a mistake stalls the Kustomization (`InvalidCELExpression`)
/// until the spec changes. Run before anything is applied, and again by [`health`] (cheap).
pub fn health_exprs(k: &Kustomization) -> Result<health::CustomHealth, StepError> {
    health::CustomHealth::compile(k.spec.health_check_exprs.as_deref().unwrap_or_default())
        .map_err(|e| StepError::new(reasons::INVALID_CEL_EXPRESSION, e.to_string()).stalled())
}

/// What to wait for: every object the apply left in the cluster (`wait`; objects just pruned
/// are gone and not waited on), else the `healthChecks`.
pub fn health_targets(k: &Kustomization, changes: &ChangeSet) -> Vec<ObjectRef> {
    let ns = k.namespace().unwrap_or_default();
    if k.spec.wait.unwrap_or(false) {
        return changes
            .changes
            .iter()
            .filter(|c| c.action != Action::Deleted)
            .map(|c| c.object.clone())
            .collect();
    }
    k.spec
        .health_checks
        .iter()
        .flatten()
        .map(|h| {
            let api_version = h.api_version.clone().unwrap_or_default();
            let (group, version) = match api_version.rsplit_once('/') {
                Some((g, v)) => (g.to_owned(), v.to_owned()),
                None => (String::new(), api_version),
            };
            ObjectRef {
                group,
                version,
                kind: h.kind.clone(),
                namespace: h.namespace.clone().unwrap_or_else(|| ns.clone()),
                name: h.name.clone(),
            }
        })
        .collect()
}

/// Waits for `targets` ([`health_targets`]) to become healthy; `HealthCheckFailed`. The kinds
/// `healthCheckExprs` lists are judged by their expressions.
pub async fn health(
    applier: &Applier,
    k: &Kustomization,
    targets: &[ObjectRef],
    timeout: Duration,
) -> Result<(), StepError> {
    let custom = health_exprs(k)?;
    // Read with the tenant's rights too: a health check cannot reveal what it may not read.
    health::wait_with(
        applier.client(),
        applier.resolver(),
        targets,
        timeout,
        &custom,
    )
    .await
    .map_err(|e| StepError::new(reasons::HEALTH_CHECK_FAILED, e.to_string()))
}

/// `deletionPolicy: WaitForTermination`: waits, within `spec.timeout`, until the objects the
/// deletion removed are gone (their finalizers done), before the Kustomization may go.
pub async fn wait_terminated(
    applier: &Applier,
    k: &Kustomization,
    deleted: &ChangeSet,
) -> Result<(), driftless_core::apply::ApplyError> {
    let objects: Vec<ObjectRef> = deleted
        .changes
        .iter()
        .filter(|c| c.action == driftless_core::apply::Action::Deleted)
        .map(|c| c.object.clone())
        .collect();
    let timeout = driftless_core::reconcile::parse_or(
        k.spec.timeout.as_deref(),
        driftless_core::reconcile::interval(k),
    );
    applier.wait_deleted(&objects, timeout).await
}
