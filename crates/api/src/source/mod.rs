//! source.toolkit.fluxcd.io/v1: the kinds that fetch content and publish it as artifacts
//! for the appliers (Kustomization, HelmRelease).

pub mod bucket;
pub mod externalartifact;
pub mod gitrepository;
pub mod helmchart;
pub mod helmrepository;
pub mod ocirepository;

pub use bucket::*;
pub use externalartifact::*;
pub use gitrepository::*;
pub use helmchart::*;
pub use helmrepository::*;
pub use ocirepository::*;
