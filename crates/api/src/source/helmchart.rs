//! `HelmChart` (source.toolkit.fluxcd.io/v1): a chart taken from a HelmRepository, or built
//! from a directory of a GitRepository or Bucket artifact, packaged as an artifact.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    Artifact, DURATION_PATTERN, LocalObjectReference, OidcIdentityMatch, VerificationProvider,
    conditions_schema,
};

/// Desired state of a HelmChart.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, kube::KubeSchema,
)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "HelmChart",
    plural = "helmcharts",
    namespaced,
    status = "HelmChartStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "hc",
    category = "fluxcd",
    category = "fluxcd-sources",
    category = "all",
    doc = "A Helm chart fetched from a repository or built from a source, stored as an artifact.",
    printcolumn = r#"{"name":"Chart","type":"string","jsonPath":".spec.chart"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.version"}"#,
    printcolumn = r#"{"name":"Source Kind","type":"string","jsonPath":".spec.sourceRef.kind"}"#,
    printcolumn = r#"{"name":"Source Name","type":"string","jsonPath":".spec.sourceRef.name"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.verify) || self.sourceRef.kind == 'HelmRepository'"
).message("spec.verify is only supported when spec.sourceRef.kind is 'HelmRepository'"))]
pub struct HelmChartSpec {
    /// Chart name in a HelmRepository, or path of the chart directory in a GitRepository or
    /// Bucket artifact.
    pub chart: String,
    /// Semver range of the chart version; ignored for charts built from Git or a Bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "*"))]
    pub version: Option<String>,
    /// The source of the chart, in the same namespace.
    pub source_ref: LocalHelmChartSourceReference,
    /// How often the source is checked for a new chart.
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub interval: String,
    /// When a chart built from source is repackaged: on a new chart version or on any new
    /// source revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ChartVersion"))]
    pub reconcile_strategy: Option<ReconcileStrategy>,
    /// Values files merged in order into the chart's default values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_files: Option<Vec<String>>,
    /// Skip values files that do not exist instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_values_files: Option<bool>,
    /// Stops reconciliation while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Signature verification of charts from OCI HelmRepositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<OCIVerification>,
}

/// Reference to the source of a chart, in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalHelmChartSourceReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: HelmChartSourceKind,
    /// Name of the referent.
    pub name: String,
}

/// Kinds a chart can come from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum HelmChartSourceKind {
    /// A chart repository (HTTP index or OCI registry).
    #[default]
    HelmRepository,
    /// A chart directory in a Git repository.
    GitRepository,
    /// A chart directory in a bucket.
    Bucket,
}

/// When a chart built from source gets a new artifact.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum ReconcileStrategy {
    /// When the chart's version changes.
    #[default]
    ChartVersion,
    /// On every new source revision.
    Revision,
}

/// Signature verification of an OCI chart.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIVerification {
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
}

/// Observed state of a HelmChart.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct HelmChartStatus {
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Source artifact revision the current chart was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_source_artifact_revision: Option<String>,
    /// `spec.chart` as used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_chart_name: Option<String>,
    /// `spec.valuesFiles` as used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_values_files: Option<Vec<String>>,
    /// Ready, Reconciling, Stalled, ArtifactInStorage, SourceVerified, BuildFailed, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Address of the stored chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The packaged chart of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}
