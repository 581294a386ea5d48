//! Step 1: resolve references — dependencies, then the source and its artifact.

use crate::Context;
use driftless_api::kustomize::{Kustomization, KustomizationSourceKind};
use driftless_core::reconcile::{self, StepError};
use driftless_core::{
    conditions::{self, reasons},
    health::BoolExpr,
};
use kube::{
    Api, ResourceExt,
    api::{ApiResource, DynamicObject, GroupVersionKind},
};

/// The artifact a source advertises.
#[derive(Debug, Clone)]
pub struct SourceArtifact {
    pub url: String,
    pub revision: String,
    pub digest: String,
    /// Where the artifact's content came from, when the source says (an OCI artifact pushed
    /// by `flux push artifact` records the commit it was built from): Flux reports it as
    /// `status.lastAppliedOriginRevision`.
    pub origin_revision: Option<String>,
}

/// The artifact metadata key that holds the origin revision, as Flux reads it.
const ORIGIN_REVISION_KEY: &str = "org.opencontainers.image.revision";

/// Fails with `DependencyNotReady` unless every `dependsOn` Kustomization is Ready at its
/// current generation.
pub async fn dependencies(ctx: &Context, k: &Kustomization) -> Result<(), StepError> {
    let ns = k.namespace().unwrap_or_default();
    let exprs = ready_exprs(k)?;
    for (dep, expr) in k.spec.depends_on.iter().flatten().zip(exprs) {
        let dep_ns = dep.namespace.clone().unwrap_or_else(|| ns.clone());
        if ctx.no_cross_namespace_refs && dep_ns != ns {
            return Err(StepError::new(
                reasons::ACCESS_DENIED,
                format!(
                    "can't access '{dep_ns}/{}', cross-namespace references have been blocked",
                    dep.name
                ),
            )
            .stalled());
        }
        let api: Api<Kustomization> = Api::namespaced(ctx.runtime.client.clone(), &dep_ns);
        let not_ready = |why: &str| {
            StepError::new(
                reasons::DEPENDENCY_NOT_READY,
                format!("dependency '{dep_ns}/{}' is not ready: {why}", dep.name),
            )
            .retry_after(ctx.requeue_dependency)
        };
        let found = api
            .get_opt(&dep.name)
            .await
            .map_err(|e| not_ready(&e.to_string()))?
            .ok_or_else(|| not_ready("not found"))?;
        let Some(expr) = expr else {
            if !ready_at_generation(&found) {
                return Err(not_ready("not Ready at its current generation"));
            }
            continue;
        };
        if ctx
            .features
            .enabled(crate::features::ADDITIVE_CEL_DEPENDENCY_CHECK)
            && !ready_at_generation(&found)
        {
            return Err(not_ready("not Ready at its current generation"));
        }
        match ready_by_expr(&expr, &found, k) {
            Ok(true) => {}
            Ok(false) => return Err(not_ready("its readyExpr is false")),
            Err(message) => return Err(not_ready(&format!("readyExpr {message}"))),
        }
    }
    Ok(())
}

/// The compiled `dependsOn[].readyExpr`s, one per entry (`None` without one). An expression
/// that does not compile stalls the Kustomization: only an edit fixes it.
fn ready_exprs(k: &Kustomization) -> Result<Vec<Option<BoolExpr>>, StepError> {
    k.spec
        .depends_on
        .iter()
        .flatten()
        .map(|dep| match dep.ready_expr.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => BoolExpr::compile(text, &READY_EXPR_VARIABLES)
                .map(Some)
                .map_err(|e| {
                    StepError::new(
                        reasons::INVALID_CEL_EXPRESSION,
                        format!("dependsOn '{}': invalid readyExpr {text:?}: {e}", dep.name),
                    )
                    .stalled()
                }),
            _ => Ok(None),
        })
        .collect()
}

/// As in Flux: `self` is the dependency, `dep` the Kustomization that depends on it.
const READY_EXPR_VARIABLES: [&str; 2] = ["self", "dep"];

fn ready_by_expr(
    expr: &BoolExpr,
    dependency: &Kustomization,
    k: &Kustomization,
) -> Result<bool, String> {
    let json = |o: &Kustomization| serde_json::to_value(o).map_err(|e| e.to_string());
    expr.evaluate(&[("self", &json(dependency)?), ("dep", &json(k)?)])
}

/// Whether `k` is Ready for its current generation: what a dependent waits for.
pub fn ready_at_generation(k: &Kustomization) -> bool {
    k.status.as_ref().is_some_and(|s| {
        s.observed_generation == k.metadata.generation
            && conditions::is_ready(s.conditions.as_deref().unwrap_or_default())
    })
}

/// The source's artifact; `ArtifactFailed` when the source is missing, not Ready or has none.
pub async fn source(ctx: &Context, k: &Kustomization) -> Result<SourceArtifact, StepError> {
    let ns = k.namespace().unwrap_or_default();
    let r = &k.spec.source_ref;
    let src_ns = r.namespace.clone().unwrap_or_else(|| ns.clone());
    if ctx.no_cross_namespace_refs && src_ns != ns {
        return Err(StepError::new(
            reasons::ACCESS_DENIED,
            format!(
                "can't access '{}/{src_ns}/{}', cross-namespace references have been blocked",
                kind_name(r.kind),
                r.name
            ),
        )
        .stalled());
    }
    if r.kind == KustomizationSourceKind::ExternalArtifact
        && !ctx.features.enabled(crate::features::EXTERNAL_ARTIFACT)
    {
        return Err(StepError::new(
            reasons::ACCESS_DENIED,
            format!(
                "can't access 'ExternalArtifact/{src_ns}/{}', the ExternalArtifact feature gate is disabled (--feature-gates=ExternalArtifact=true enables it)",
                r.name
            ),
        )
        .stalled());
    }
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "source.toolkit.fluxcd.io",
        "v1",
        kind_name(r.kind),
    ));
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.runtime.client.clone(), &src_ns, &ar);
    let subject = format!("{} '{src_ns}/{}'", kind_name(r.kind), r.name);
    let fail = |m: String| StepError::new(reasons::ARTIFACT_FAILED, m);
    let obj = api
        .get_opt(&r.name)
        .await
        .map_err(|e| fail(format!("{subject}: {e}")))?
        .ok_or_else(|| fail(format!("Source '{subject}' not found")))?;
    match reconcile::source_status(obj.data.get("status")) {
        (true, Some(a)) => Ok(SourceArtifact {
            url: a.url,
            revision: a.revision,
            origin_revision: a
                .metadata
                .as_ref()
                .and_then(|m| m.get(ORIGIN_REVISION_KEY))
                .filter(|v| !v.is_empty())
                .cloned(),
            digest: a.digest,
        }),
        (false, _) => Err(fail(format!("Source {subject} is not ready"))),
        (true, None) => Err(fail(format!("Source {subject} has no artifact"))),
    }
}

pub fn kind_name(kind: KustomizationSourceKind) -> &'static str {
    match kind {
        KustomizationSourceKind::GitRepository => "GitRepository",
        KustomizationSourceKind::OciRepository => "OCIRepository",
        KustomizationSourceKind::Bucket => "Bucket",
        KustomizationSourceKind::ExternalArtifact => "ExternalArtifact",
    }
}
