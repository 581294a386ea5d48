//! Steps 4–6: apply (dry-run, stages), prune, health.

use crate::{
    Ctx,
    build::{NAME_LABEL, NAMESPACE_LABEL},
    drift,
    error::Failure,
};
use driftless_api::{common::ResourceInventory, kustomize::Kustomization};
use driftless_core::{
    apply::{Applier, ApplyOptions, ChangeSet, DeleteOptions, FieldManager, ObjectRef},
    conditions::reasons,
    health,
};
use kube::{ResourceExt, api::DynamicObject};
use std::{collections::BTreeMap, time::Duration};

/// The applier acting for `k`: impersonating its service account (or
/// `--default-service-account`), else as the controller.
pub fn applier_for(ctx: &Ctx, k: &Kustomization) -> Result<Applier, Failure> {
    let sa = k
        .spec
        .service_account_name
        .clone()
        .or_else(|| ctx.default_service_account.clone());
    let client = match sa {
        None => ctx.client.clone(),
        Some(sa) => {
            let mut config = ctx.config.clone();
            config.auth_info.impersonate = Some(format!(
                "system:serviceaccount:{}:{sa}",
                k.namespace().unwrap_or_default()
            ));
            kube::Client::try_from(config).map_err(|e| {
                Failure::new(
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
pub async fn apply(
    applier: &Applier,
    k: &Kustomization,
    objects: Vec<serde_json::Value>,
    timeout: Duration,
) -> Result<ChangeSet, Failure> {
    let fail = |m: String| Failure::new(reasons::RECONCILIATION_FAILED, m);
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
) -> Result<ChangeSet, Failure> {
    match old {
        Some(old) if k.spec.prune => applier
            .prune(old, new, &owner(k))
            .await
            .map_err(|e| Failure::new(reasons::PRUNE_FAILED, e.to_string())),
        _ => Ok(ChangeSet::default()),
    }
}

/// Compiles `healthCheckExprs`; a mistake stalls the Kustomization (`InvalidCELExpression`)
/// until the spec changes. Run before anything is applied, and again by [`health`] (cheap).
pub fn health_exprs(k: &Kustomization) -> Result<health::CustomHealth, Failure> {
    health::CustomHealth::compile(k.spec.health_check_exprs.as_deref().unwrap_or_default())
        .map_err(|e| Failure::stalled(reasons::INVALID_CEL_EXPRESSION, e.to_string()))
}

/// Waits for every applied object (`wait`) or the `healthChecks`; `HealthCheckFailed`.
/// The kinds `healthCheckExprs` lists are judged by their expressions.
/// Returns whether a health check ran (so `Healthy` is reported).
pub async fn health(
    applier: &Applier,
    k: &Kustomization,
    applied: &ChangeSet,
    timeout: Duration,
) -> Result<bool, Failure> {
    let ns = k.namespace().unwrap_or_default();
    let objects: Vec<ObjectRef> = if k.spec.wait.unwrap_or(false) {
        applied.changes.iter().map(|c| c.object.clone()).collect()
    } else {
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
    };
    if objects.is_empty() {
        return Ok(false);
    }
    let custom = health_exprs(k)?;
    // Read with the tenant's rights too: a health check cannot reveal what it may not read.
    health::wait_with(
        applier.client(),
        applier.resolver(),
        &objects,
        timeout,
        &custom,
    )
    .await
    .map_err(|e| Failure::new(reasons::HEALTH_CHECK_FAILED, e.to_string()))?;
    Ok(true)
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
    let timeout = crate::parse_duration(k.spec.timeout.as_deref(), crate::interval(k));
    applier.wait_deleted(&objects, timeout).await
}
