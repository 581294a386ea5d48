//! kustomize-controller's `--feature-gates` (Flux kustomize-controller v1.10's set), each
//! implemented or refused at start with the reason (`driftless_core::flags::Gate`).

use driftless_core::flags::{Gate, gates};

/// An unset `${var}` without default fails the build instead of becoming empty.
pub const STRICT_POST_BUILD_SUBSTITUTIONS: &str = "StrictPostBuildSubstitutions";
/// A `dependsOn[].readyExpr` must hold in addition to the dependency being Ready, instead of
/// replacing that check.
pub const ADDITIVE_CEL_DEPENDENCY_CHECK: &str = "AdditiveCELDependencyCheck";
/// `sourceRef.kind: ExternalArtifact` is accepted.
pub const EXTERNAL_ARTIFACT: &str = "ExternalArtifact";

/// Every gate of Flux's kustomize-controller, with Flux's default.
pub const GATES: &[Gate] = &[
    Gate::both(STRICT_POST_BUILD_SUBSTITUTIONS, true),
    Gate::both(EXTERNAL_ARTIFACT, false),
    gates::CACHE_SECRETS_AND_CONFIG_MAPS,
    Gate::only(
        "DisableStatusPollerCache",
        true,
        true,
        "health checks read objects directly; there is no status poller cache",
    ),
    Gate::only(
        "DisableFailFastBehavior",
        false,
        false,
        "health checks always stop at the first failed object",
    ),
    Gate::only(
        "GroupChangeLog",
        false,
        false,
        "the change set is logged object by object",
    ),
    Gate::both(ADDITIVE_CEL_DEPENDENCY_CHECK, false),
    Gate::only(
        "CancelHealthCheckOnNewRevision",
        false,
        false,
        "a health check runs to its timeout even when a new revision arrives",
    ),
    // Driftless never watches the ConfigMaps and Secrets of postBuild.substituteFrom (their
    // changes apply at the next interval), and always reads sources from the API server, so
    // both values of these gates give its one behaviour; Flux's defaults must be accepted.
    Gate::both("DisableConfigWatchers", false),
    Gate::both("DirectSourceFetch", false),
    Gate::only(
        "MigrateAPIVersion",
        false,
        false,
        "applied objects are not migrated to newer API versions",
    ),
    gates::OBJECT_LEVEL_WORKLOAD_IDENTITY,
];

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_core::flags::FeatureGates;

    #[test]
    fn flux_defaults_and_every_gate_resolve() {
        let on = FeatureGates::default().resolve(GATES).expect("defaults");
        assert!(on.enabled(STRICT_POST_BUILD_SUBSTITUTIONS));
        assert!(!on.enabled(EXTERNAL_ARTIFACT));
        // Setting every gate to its Flux default is accepted (what a Flux Deployment may do).
        let all: Vec<String> = GATES
            .iter()
            .map(|g| format!("{}={}", g.name, g.default))
            .collect();
        let gates: FeatureGates = all.join(",").parse().expect("syntax");
        assert!(gates.resolve(GATES).is_ok());
        let additive = "AdditiveCELDependencyCheck=true"
            .parse::<FeatureGates>()
            .expect("syntax")
            .resolve(GATES)
            .expect("implemented");
        assert!(additive.enabled(ADDITIVE_CEL_DEPENDENCY_CHECK));
        let e = "GroupChangeLog=true"
            .parse::<FeatureGates>()
            .expect("syntax")
            .resolve(GATES)
            .expect_err("refused");
        assert!(e.to_string().contains("object by object"), "{e}");
    }
}
