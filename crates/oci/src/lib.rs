//! Registry access for OCI sources (OCIRepository, OCI HelmRepository/HelmChart) and image
//! scanning: credentials, tags, manifests, blobs and pushes, over the OCI distribution API.
//!
//! ```text
//!  dockerconfigjson bytes ─ auth::from_docker_configs(…, "host/path") ─▶ Credentials ─┐
//!  Secret data (ca.crt) ─── TlsConfig::from_secret_data ─┐                           │
//!  Secret data (address) ── ProxyConfig::from_secret_data ┴▶ ClientOptions ──────────┴▶ RegistryClient
//!                                                                                        │
//!  Repository::parse("oci://host/path") ─▶ list_tags · resolve (HEAD) · fetch_manifest ◀─┤
//!                                          fetch_blob (limit, digest) · push            ◀┘
//!  select_layer(manifest, layerSelector) ─▶ the descriptor to fetch; revision(tag, digest)
//! ```
//!
//! The crate knows nothing of Kubernetes: the caller reads Secrets and passes their bytes.
//! The HTTP protocol (token dance, uploads, digest headers) is oci-client's; this crate adds
//! what a GitOps source needs on top: Docker/kubelet credential matching, size limits and
//! atomic blob files, a HEAD-only digest check for no-op reconciles, and errors that say what
//! to fix and carry Flux's condition reason ([`Error::reason`]).

pub mod auth;
mod client;
mod error;
mod layer;

pub use auth::Credentials;
pub use client::{
    Artifact, Blob, ClientOptions, FetchedManifest, Manifest, ProxyConfig, RegistryClient,
    Repository, TlsConfig,
};
pub use error::{
    Error, REASON_AUTHENTICATION_FAILED, REASON_LAYER_OPERATION_FAILED, REASON_PULL_FAILED,
    REASON_URL_INVALID,
};
pub use layer::{
    FLUX_CONFIG_MEDIA_TYPE, FLUX_CONTENT_MEDIA_TYPE, HELM_CHART_CONFIG_MEDIA_TYPE,
    HELM_CHART_CONTENT_MEDIA_TYPE, revision, select_layer,
};
/// The manifest and descriptor types, oci-client's (the OCI image spec's JSON).
pub use oci_client::manifest::{OciDescriptor as Descriptor, OciImageIndex, OciImageManifest};
