//! `ArtifactGenerator` (source.extensions.fluxcd.io/v1beta1): builds ExternalArtifacts from
//! files copied out of other sources' artifacts.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{CommonMetadata, conditions_schema};

/// `@<alias>/<path>`: a path inside the artifact of the source with that alias.
const ALIAS_PATH_PATTERN: &str = r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$";
/// `@<alias>`: a source by its alias.
const ALIAS_PATTERN: &str = r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$";
/// A DNS-1123 label: namespace and service account names.
const DNS_LABEL_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// Desired state of an ArtifactGenerator.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, kube::KubeSchema,
)]
#[kube(
    group = "source.extensions.fluxcd.io",
    version = "v1beta1",
    kind = "ArtifactGenerator",
    plural = "artifactgenerators",
    namespaced,
    status = "ArtifactGeneratorStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "ag",
    category = "fluxcd",
    category = "fluxcd-sources",
    category = "all",
    doc = "Generates ExternalArtifacts from the artifacts of other sources.",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    // Names and namespaces may hold `{capture}` placeholders when pathPattern is set, so the
    // object-name limits apply only without it.
    validation = kube::core::Rule::new(
        r"has(self.pathPattern) && size(self.pathPattern) > 0 || self.artifacts.all(a, a.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$') && a.name.size() <= 253)"
    ).message("artifact names must be valid Kubernetes object names when pathPattern is not set"),
    validation = kube::core::Rule::new(
        r"has(self.pathPattern) && size(self.pathPattern) > 0 || self.artifacts.all(a, !has(a.__namespace__) || (a.__namespace__.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && a.__namespace__.size() <= 63))"
    ).message("artifact namespaces must be valid Kubernetes namespaces when pathPattern is not set"),
)]
pub struct ArtifactGeneratorSpec {
    /// Sources whose artifacts are read, each under a unique alias.
    #[schemars(length(min = 1, max = 1000))]
    pub sources: Vec<SourceReference>,
    /// The artifacts to generate.
    #[schemars(length(min = 1, max = 1000))]
    pub artifacts: Vec<OutputArtifact>,
    /// `@<alias>/<pattern>`: one set of artifacts per matching directory; its `{name}`
    /// captures can be used in the artifacts' fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), extend("pattern" = ALIAS_PATH_PATTERN))]
    pub path_pattern: Option<String>,
    /// Labels and annotations added to every generated object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// Namespaces the generator may create, label and prune for its artifacts; target
    /// namespaces must already exist when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_namespaces: Option<ManagedNamespaces>,
    /// Service account (in this namespace) whose permissions decide in which namespaces
    /// artifacts may be written; required for `managedNamespaces` unless the controller has
    /// `--default-service-account`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), extend("pattern" = DNS_LABEL_PATTERN))]
    pub service_account_name: Option<String>,
}

/// A source read by an ArtifactGenerator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceReference {
    /// Name of the source in `from` paths, unique in the generator.
    #[schemars(length(max = 63), extend("pattern" = r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$"))]
    pub alias: String,
    /// Kind of the source.
    pub kind: GeneratorSourceKind,
    /// Name of the source.
    #[schemars(length(max = 253), extend("pattern" = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))]
    pub name: String,
    /// Namespace of the source; the generator's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), extend("pattern" = DNS_LABEL_PATTERN))]
    pub namespace: Option<String>,
}

/// Kinds an ArtifactGenerator reads from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum GeneratorSourceKind {
    /// A Bucket.
    Bucket,
    /// A GitRepository.
    #[default]
    GitRepository,
    /// An OCIRepository.
    #[serde(rename = "OCIRepository")]
    OciRepository,
    /// A HelmChart.
    HelmChart,
    /// An ExternalArtifact.
    ExternalArtifact,
}

/// One generated ExternalArtifact.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputArtifact {
    /// Name of the ExternalArtifact; may hold `{capture}` placeholders with `pathPattern`.
    #[schemars(length(max = 1024))]
    pub name: String,
    /// Namespace of the ExternalArtifact; the generator's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub namespace: Option<String>,
    /// `@<alias>`: the source whose revision becomes the artifact's; the content digest when
    /// unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("pattern" = ALIAS_PATTERN))]
    pub revision: Option<String>,
    /// `@<alias>`: the source whose origin revision is recorded in the artifact's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("pattern" = ALIAS_PATTERN))]
    pub origin_revision: Option<String>,
    /// `@<alias>/<path>` of a YAML file exported in the ExternalArtifact's
    /// `status.exportedInputs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), extend("pattern" = ALIAS_PATH_PATTERN))]
    pub inputs_from: Option<String>,
    /// Copy operations, in order; later ones overwrite earlier ones.
    #[schemars(length(min = 1))]
    pub copy: Vec<CopyOperation>,
}

/// Copies files matched in a source into the generated artifact.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct CopyOperation {
    /// `@<alias>/<glob>`: the files to copy.
    #[schemars(length(min = 1, max = 1024), extend("pattern" = ALIAS_PATH_PATTERN))]
    pub from: String,
    /// `@artifact/<path>`: where they go; no `..` segments.
    #[schemars(
        length(min = 1, max = 1024),
        extend("pattern" = r"^@artifact/([^/]{0,1}|[^./][^/]|[.][^./]|[^/]{3,})(/([^/]{0,1}|[^./][^/]|[.][^./]|[^/]{3,}))*$")
    )]
    pub to: String,
    /// Glob patterns of files left out of `from`'s matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(max = 1024)))]
    pub exclude: Option<Vec<String>>,
    /// How files are written: overwrite, merge YAML (Helm values style) or extract tarballs;
    /// overwrite when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<CopyStrategy>,
    /// A `from` that matches nothing is skipped instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// How a copy operation writes its files.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum CopyStrategy {
    /// Replace existing files.
    #[default]
    Overwrite,
    /// Merge YAML files the way Helm merges values.
    Merge,
    /// Extract `.tar.gz`/`.tgz` archives.
    Extract,
}

/// Namespaces an ArtifactGenerator creates and labels for its artifacts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedNamespaces {
    /// CEL expressions over `ns`; a namespace is managed when one is true (`default`,
    /// `kube-system`, `kube-public` and `flux-system` never are).
    #[schemars(length(min = 1))]
    pub allowed_names: Vec<String>,
    /// Labels and annotations of the managed namespaces, on top of `commonMetadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<NamespaceMetadata>,
    /// Delete managed namespaces no artifact targets any more, or when the generator goes.
    pub prune: bool,
}

/// Where the metadata of managed namespaces comes from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, kube::KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.fromSource) || (has(self.from) && size(self.from) > 0)")
    .message("either fromSource or at least one from operation must be set"))]
pub struct NamespaceMetadata {
    /// Operations applied in order, after `fromSource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<NamespaceMetadataFrom>>,
    /// A NamespaceMetadata file in a source artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_source: Option<NamespaceMetadataFromSource>,
}

/// Labels and annotations applied to one managed namespace, or all (`*`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct NamespaceMetadataFrom {
    /// Namespace name, or `*` for every managed namespace.
    #[schemars(length(max = 63), extend("pattern" = r"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$"))]
    pub namespace: String,
    /// Reset, override or merge the existing labels and annotations.
    pub strategy: NamespaceMetadataStrategy,
    /// Annotations to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// How a metadata operation combines with what a namespace has.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum NamespaceMetadataStrategy {
    /// Clear existing labels and annotations first.
    Reset,
    /// Merge, replacing existing keys.
    #[default]
    Override,
    /// Merge, keeping existing keys.
    Merge,
}

/// A NamespaceMetadata file read from a source, limited to the allowed keys.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, kube::KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("(has(self.allowedAnnotations) && size(self.allowedAnnotations) > 0) || (has(self.allowedLabels) && size(self.allowedLabels) > 0)")
    .message("at least one annotation or label must be set"))]
pub struct NamespaceMetadataFromSource {
    /// `@<alias>/<path>` of the file; only namespace-level captures.
    #[schemars(length(min = 1, max = 1024), extend("pattern" = ALIAS_PATH_PATTERN))]
    pub path: String,
    /// Annotation keys the file may set, each with a CEL expression over `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_annotations: Option<BTreeMap<String, String>>,
    /// Label keys the file may set, each with a CEL expression over `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_labels: Option<BTreeMap<String, String>>,
}

/// Observed state of an ArtifactGenerator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactGeneratorStatus {
    /// Ready, Reconciling, Stalled, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Generated ExternalArtifacts and managed Namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Vec<GeneratorInventoryEntry>>,
    /// Digest of the state of every source, to notice when one changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_sources_digest: Option<String>,
    /// Last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

/// An object an ArtifactGenerator manages.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct GeneratorInventoryEntry {
    /// Kind of the object; entries written before v2.10 have none (ExternalArtifact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<GeneratorInventoryKind>,
    /// Name of the object.
    pub name: String,
    /// Namespace of the object; empty for Namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Content digest of an artifact, or digest of the metadata applied to a Namespace.
    pub digest: String,
    /// File name of an artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// Kinds in an ArtifactGenerator's inventory.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum GeneratorInventoryKind {
    /// A generated ExternalArtifact.
    #[default]
    ExternalArtifact,
    /// A managed Namespace.
    Namespace,
}
