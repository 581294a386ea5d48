//! notification.toolkit.fluxcd.io/v1: Receiver turns incoming webhooks into reconcile
//! requests; Alert and Provider forward Flux events to chat, Git commit statuses and other
//! services. Alert and Provider are also served as [`v1beta3`] (deprecated).
//!
//! ```text
//! webhook ──> Receiver ──requestedAt──> resources
//! events of eventSources ──> Alert ──providerRef──> Provider ──> Slack, GitHub, ...
//! ```

pub mod alert;
pub mod provider;
pub mod receiver;
pub mod v1beta3;

pub use alert::*;
pub use provider::*;
pub use receiver::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Flux kinds that emit events or can be reconciled on request.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum FluxKind {
    /// source.toolkit.fluxcd.io Bucket.
    Bucket,
    /// source.toolkit.fluxcd.io GitRepository.
    #[default]
    GitRepository,
    /// kustomize.toolkit.fluxcd.io Kustomization.
    Kustomization,
    /// helm.toolkit.fluxcd.io HelmRelease.
    HelmRelease,
    /// source.toolkit.fluxcd.io HelmChart.
    HelmChart,
    /// source.toolkit.fluxcd.io HelmRepository.
    HelmRepository,
    /// image.toolkit.fluxcd.io ImageRepository.
    ImageRepository,
    /// image.toolkit.fluxcd.io ImagePolicy.
    ImagePolicy,
    /// image.toolkit.fluxcd.io ImageUpdateAutomation.
    ImageUpdateAutomation,
    /// source.toolkit.fluxcd.io OCIRepository.
    #[serde(rename = "OCIRepository")]
    OciRepository,
    /// source.extensions.fluxcd.io ArtifactGenerator.
    ArtifactGenerator,
    /// source.toolkit.fluxcd.io ExternalArtifact.
    ExternalArtifact,
}
