//! helm.toolkit.fluxcd.io/v2: HelmRelease, which installs and upgrades a Helm chart taken from
//! a source and keeps the release in the desired state.
//!
//! ```text
//! HelmRepository/GitRepository/Bucket ──> HelmChart (spec.chart template)  ─┐
//! OCIRepository/HelmChart/ExternalArtifact (spec.chartRef) ──────────────────┴─> HelmRelease
//! ```

pub mod helmrelease;

pub use helmrelease::*;
