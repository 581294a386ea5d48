//! source-controller's `--feature-gates` (Flux source-controller v1.10's set), each
//! implemented or refused at start with the reason (`driftless_core::flags::Gate`).

use driftless_core::flags::{Gate, gates};

/// Every gate of Flux's source-controller, with Flux's default.
pub const GATES: &[Gate] = &[
    gates::CACHE_SECRETS_AND_CONFIG_MAPS,
    gates::OBJECT_LEVEL_WORKLOAD_IDENTITY,
];
