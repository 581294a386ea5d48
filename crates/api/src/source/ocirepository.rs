//! `OCIRepository` (source.toolkit.fluxcd.io/v1): an OCI artifact pulled from a registry and
//! republished as an artifact.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    Artifact, CloudProvider, DURATION_PATTERN, LocalObjectReference, OidcIdentityMatch,
    TIMEOUT_PATTERN, VerificationProvider, conditions_schema,
};

/// Desired state of an OCIRepository.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "OCIRepository",
    plural = "ocirepositories",
    namespaced,
    status = "OCIRepositoryStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "ocirepo",
    category = "fluxcd",
    category = "fluxcd-sources",
    category = "all",
    doc = "An OCI artifact to pull from a container registry and publish as an artifact.",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    // Flux v2.10 requires these through root rules instead of `required`, so that the
    // OCIRepository fields can be embedded in a HelmRelease's chart template.
    validation = kube::core::Rule::new("has(self.spec) && has(self.spec.url)").message("spec.url is required"),
    validation = kube::core::Rule::new("has(self.spec) && has(self.spec.interval)").message("spec.interval is required")
)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositorySpec {
    /// Repository address, `oci://<host>/<path>`, without tag or digest (required: the API
    /// server's root rule refuses an object without it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(extend("pattern" = r"^oci://.*$"))]
    pub url: String,
    /// Tag, semver range or digest to pull; `latest` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ref")]
    pub reference: Option<OCIRepositoryRef>,
    /// Which layer to take from the artifact and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_selector: Option<OCILayerSelector>,
    /// Platform identity used to log in to the registry; read it with
    /// [`OCIRepositorySpec::provider`], which applies the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<CloudProvider>,
    /// Image pull Secret (`kubernetes.io/dockerconfigjson`) with registry credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Signature verification of the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<OCIRepositoryVerification>,
    /// Service account whose image pull secrets are used for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with TLS client certificate, key and CA (`tls.crt`, `tls.key`, `ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Secret with the proxy `address`, `username` and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// How often the registry is checked for a new artifact (required, like `url`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub interval: String,
    /// Timeout of registry operations; read it with [`OCIRepositorySpec::timeout`], which
    /// applies the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = TIMEOUT_PATTERN))]
    pub timeout: Option<String>,
    /// `.gitignore`-style patterns excluded from the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Allow plain HTTP to the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Stops reconciliation while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Timeout of registry operations when `spec.timeout` is unset.
pub const OCI_DEFAULT_TIMEOUT: &str = "60s";

/// The fields whose schema defaults Flux v2.10 dropped (so that a HelmRelease's inline
/// OCIRepository template stays unset unless the user sets them) and applies in code instead.
impl OCIRepositorySpec {
    /// `spec.provider`, `generic` when unset.
    pub fn provider(&self) -> CloudProvider {
        self.provider.unwrap_or_default()
    }

    /// `spec.timeout`, [`OCI_DEFAULT_TIMEOUT`] when unset.
    pub fn timeout(&self) -> &str {
        self.timeout.as_deref().unwrap_or(OCI_DEFAULT_TIMEOUT)
    }
}

/// The OCI reference to pull. Precedence: digest, semver, tag.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryRef {
    /// Image digest, `sha256:<hex>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Semver range matched against tags; the highest match is pulled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Regular expression that tags must match before the semver range applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver_filter: Option<String>,
    /// Tag name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Selects one layer of an OCI artifact.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCILayerSelector {
    /// Media type of the layer; the first layer when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Whether the layer is extracted (a tarball) or copied as is; `extract` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<OCILayerOperation>,
}

/// What is done with the selected layer.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum OCILayerOperation {
    /// Untar the layer into the artifact.
    #[default]
    Extract,
    /// Store the layer as the artifact, unchanged.
    Copy,
}

/// Signature verification of an OCI artifact.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryVerification {
    /// Verification tool.
    #[schemars(extend("default" = "cosign"))]
    pub provider: VerificationProvider,
    /// Secret with the trusted public keys (cosign) or trust policy and certificates
    /// (notation); keyless verification when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Identities accepted in keyless verification; any identity when empty.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "matchOIDCIdentity"
    )]
    pub match_oidc_identity: Option<Vec<OidcIdentityMatch>>,
    /// Secret with a custom Sigstore trusted root for keyless verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root_secret_ref: Option<LocalObjectReference>,
}

/// Observed state of an OCIRepository.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct OCIRepositoryStatus {
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, ArtifactInStorage, SourceVerified, FetchFailed, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Address the artifact was pulled from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The artifact of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// `spec.ignore` as used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// `spec.layerSelector` as used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_layer_selector: Option<OCILayerSelector>,
    /// Fingerprint of the keys or identities that verified the current artifact's
    /// signature; when they change the same digest is verified again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_verification_fingerprint: Option<String>,
    /// Last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}
