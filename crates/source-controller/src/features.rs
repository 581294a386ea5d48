//! source-controller's `--feature-gates` (Flux source-controller v1.10's set), each
//! implemented or refused at start with the reason (`driftless_core::flags::Gate`).

use driftless_core::flags::Gate;

/// Every gate of Flux's source-controller, with Flux's default.
pub const GATES: &[Gate] = &[
    Gate::only(
        "CacheSecretsAndConfigMaps",
        false,
        false,
        "Secrets and ConfigMaps are read from the API server on each use, never cached",
    ),
    Gate::only(
        "ObjectLevelWorkloadIdentity",
        false,
        false,
        "cloud workload identity (spec.serviceAccountName with a cloud provider) is not supported",
    ),
];
