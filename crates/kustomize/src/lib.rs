//! The kustomize engine, natively in Rust: `kustomize build` as a pure function.
//!
//! Files in, objects out — no Kubernetes client. Written by hand because no Rust
//! implementation of kustomize exists; it follows kustomize v5.5's observable behaviour and is
//! checked against `kubectl kustomize` by the conformance suite in `tests/conformance`.
//!
//! ```text
//!  kustomization.yaml ──load──▶ resources ◀── bases (recursive build) / files
//!                                   │   ◀── remote git bases (fetched by the caller's
//!                                   │       RemoteFetcher, then built like local ones)
//!                                   │   ◀── components (act on the accumulated set)
//!                                   ▼
//!          generators (ConfigMap/Secret; then built-in `generators:` configs)
//!                                   ▼
//!   transformers: patchesStrategicMerge → patches → namespace → prefix/suffix → labels
//!                 → annotations → patchesJson6902 → replicas → images → replacements
//!                 → built-in `transformers:` configs
//!                                   ▼ (top level only)
//!          content hashes → name references → vars → buildMetadata → sort
//! ```

mod build;
mod crds;
mod error;
mod fieldspec;
mod generators;
mod jsonpatch;
mod loader;
mod openapi;
mod patch;
mod plugins;
mod remote;
mod replacements;
mod resource;
mod select;
mod smp;
mod sort;
mod transform;
mod value;
mod vars;
pub mod yaml;

pub use build::{BuildOptions, KUSTOMIZATION_FILE_NAMES, build};
pub use error::{Error, Result};
pub use remote::{RemoteBase, RemoteFetcher, RemoteTarget};
pub use resource::Resource;
pub use select::Selector;
pub use value::{Map, Value};

/// Renders built resources as the YAML stream `kustomize build` prints.
pub fn to_yaml_stream(resources: &[Resource]) -> String {
    yaml::to_stream(resources.iter().map(Resource::object))
}
