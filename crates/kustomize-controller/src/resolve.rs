//! Step 1: resolve references — dependencies, then the source and its artifact.

use crate::Context;
use driftless_api::kustomize::{Kustomization, KustomizationSourceKind};
use driftless_core::conditions::{self, reasons};
use driftless_core::reconcile::{self, StepError};
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
}

/// Fails with `DependencyNotReady` unless every `dependsOn` Kustomization is Ready at its
/// current generation.
pub async fn dependencies(ctx: &Context, k: &Kustomization) -> Result<(), StepError> {
    let ns = k.namespace().unwrap_or_default();
    for dep in k.spec.depends_on.iter().flatten() {
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
        if !ready_at_generation(&found) {
            return Err(not_ready("not Ready at its current generation"));
        }
    }
    Ok(())
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
