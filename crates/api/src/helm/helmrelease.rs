//! `HelmRelease` (helm.toolkit.fluxcd.io/v2): a Helm release of a chart from a source, with
//! values, install/upgrade/test/rollback/uninstall settings, drift detection and history.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    common::{
        CloudProvider, CommonMetadata, DURATION_PATTERN, DependencyReference, HealthCheckExpr,
        IgnoreRule, KubeConfigReference, KustomizeImage, KustomizePatch, LocalObjectReference,
        ResourceInventory, TIMEOUT_PATTERN, ValuesKind, conditions_schema, preserve_unknown_fields,
    },
    source::{OCILayerSelector, OCIRepositoryRef, OCIRepositoryVerification, ReconcileStrategy},
};

/// Desired state of a HelmRelease.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, kube::KubeSchema,
)]
#[kube(
    group = "helm.toolkit.fluxcd.io",
    version = "v2",
    kind = "HelmRelease",
    plural = "helmreleases",
    namespaced,
    status = "HelmReleaseStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "hr",
    category = "fluxcd",
    category = "fluxcd-appliers",
    category = "all",
    doc = "A Helm release of a chart taken from a source.",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))"
).message("either chart or chartRef must be set"))]
pub struct HelmReleaseSpec {
    /// Template of the HelmChart or OCIRepository the controller creates for this release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<HelmChartTemplate>,
    /// An existing chart source: OCIRepository, HelmChart or ExternalArtifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_ref: Option<HelmCrossNamespaceReference<ChartRefKind>>,
    /// How often the release is checked and corrected.
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub interval: String,
    /// Kubeconfig of a remote cluster to release to instead of this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,
    /// Stops reconciliation while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Release name; `[<targetNamespace>-]<name>` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 53))]
    pub release_name: Option<String>,
    /// Namespace the release's objects go to; the HelmRelease's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,
    /// Namespace of the release records; the HelmRelease's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub storage_namespace: Option<String>,
    /// HelmReleases that must be ready before this one is released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<DependencyReference>>,
    /// Timeout of each Helm action (install, upgrade, test, rollback, uninstall).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// Number of release records kept; 5 when unset, 0 for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_history: Option<i64>,
    /// Service account impersonated for Helm actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,
    /// Reuse one Kubernetes client for all actions of a reconcile; true when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_client: Option<bool>,
    /// Detection and correction of changes made to the release's objects in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_detection: Option<DriftDetection>,
    /// Install settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Install>,
    /// Upgrade settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,
    /// Helm test settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Test>,
    /// Rollback settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
    /// Uninstall settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall: Option<Uninstall>,
    /// How the controller waits for the release's objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_strategy: Option<WaitStrategy>,
    /// ConfigMaps and Secrets whose values are merged, in order, before `values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_from: Option<Vec<ValuesReference>>,
    /// Chart values; they win over `valuesFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_fields")]
    pub values: Option<serde_json::Value>,
    /// Post-renderers applied to the rendered manifests, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_renderers: Option<Vec<PostRenderer>>,
    /// Whether post-renderers also apply to hooks, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_render_strategy: Option<PostRenderStrategy>,
    /// Labels and annotations added to every object of the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// Custom health checks for kinds without a `Ready` condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_exprs: Option<Vec<HealthCheckExpr>>,
}

/// Reference to a chart source, optionally in another namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmCrossNamespaceReference<K> {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: K,
    /// Name of the referent.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the referent; the HelmRelease's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// Kinds `spec.chartRef` accepts.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum ChartRefKind {
    /// An OCI artifact holding a chart.
    #[serde(rename = "OCIRepository")]
    #[default]
    OciRepository,
    /// A HelmChart object.
    HelmChart,
    /// An ExternalArtifact holding a chart.
    ExternalArtifact,
}

/// Kinds the chart template's source can be.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum ChartSourceKind {
    /// A chart repository.
    #[default]
    HelmRepository,
    /// A chart directory in Git.
    GitRepository,
    /// A chart directory in a bucket.
    Bucket,
}

/// Template of the chart source the controller creates and owns for a HelmRelease: a
/// HelmChart (`kind` unset or `HelmChart`: `spec.chart` + `spec.sourceRef`) or, since Flux
/// v2.10, an OCIRepository (`kind: OCIRepository`: `spec.url` and the OCIRepository fields).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, kube::KubeSchema)]
#[x_kube(
    validation = kube::core::Rule::new("!has(self.kind) || self.kind != 'OCIRepository' || (has(self.spec.url) && size(self.spec.url) > 0)")
        .message("chart.spec.url must be set when chart.kind is 'OCIRepository'"),
    validation = kube::core::Rule::new("!has(self.spec.url) || (has(self.kind) && self.kind == 'OCIRepository')")
        .message("chart.spec.url requires chart.kind: 'OCIRepository'; for a HelmChart template set spec.chart and spec.sourceRef instead"),
    validation = kube::core::Rule::new("(has(self.kind) && self.kind == 'OCIRepository') || (has(self.spec.chart) && has(self.spec.sourceRef))")
        .message("chart.spec.chart and chart.spec.sourceRef must be set when chart.kind is not 'OCIRepository'"),
    validation = kube::core::Rule::new("!has(self.kind) || self.kind != 'OCIRepository' || !has(self.spec.chart)")
        .message("chart.spec.chart cannot be set when chart.kind is 'OCIRepository'"),
    validation = kube::core::Rule::new("!has(self.kind) || self.kind != 'OCIRepository' || !has(self.spec.version) || self.spec.version == '*'")
        .message("chart.spec.version cannot be set when chart.kind is 'OCIRepository'"),
    validation = kube::core::Rule::new("!has(self.kind) || self.kind != 'OCIRepository' || !has(self.spec.sourceRef)")
        .message("chart.spec.sourceRef cannot be set when chart.kind is 'OCIRepository'"),
    validation = kube::core::Rule::new("!has(self.kind) || self.kind != 'OCIRepository' || !has(self.spec.reconcileStrategy) || self.spec.reconcileStrategy == 'ChartVersion'")
        .message("chart.spec.reconcileStrategy cannot be set when chart.kind is 'OCIRepository'"),
    validation = kube::core::Rule::new("!has(self.kind) || self.kind != 'OCIRepository' || !has(self.spec.valuesFiles)")
        .message("chart.spec.valuesFiles cannot be set when chart.kind is 'OCIRepository'"),
    validation = kube::core::Rule::new("!has(self.kind) || self.kind != 'OCIRepository' || !has(self.spec.ignoreMissingValuesFiles)")
        .message("chart.spec.ignoreMissingValuesFiles cannot be set when chart.kind is 'OCIRepository'"),
)]
pub struct HelmChartTemplate {
    /// Kind of the chart source created from the template; HelmChart when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ChartTemplateKind>,
    /// Labels and annotations of the created object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<CommonMetadata>,
    /// Spec of the created object.
    pub spec: HelmChartTemplateSpec,
}

impl HelmChartTemplate {
    /// `kind`, HelmChart when unset.
    pub fn kind(&self) -> ChartTemplateKind {
        self.kind.unwrap_or_default()
    }
}

/// Kinds of chart source a HelmRelease's `spec.chart` template creates.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum ChartTemplateKind {
    /// A HelmChart built from a HelmRepository, GitRepository or Bucket.
    #[default]
    HelmChart,
    /// An OCIRepository holding the chart as an OCI artifact.
    #[serde(rename = "OCIRepository")]
    OciRepository,
}

/// Spec of the chart source created for a HelmRelease. The HelmChart fields (`chart`,
/// `version`, `sourceRef`, `reconcileStrategy`, `valuesFiles`, ...) and the OCIRepository
/// fields (`url`, `ref`, `layerSelector`, `provider`, ...) share it; the template's CEL rules
/// keep each kind to its own.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateSpec {
    /// Chart name in a repository, or chart directory path in Git or a bucket (HelmChart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub chart: Option<String>,
    /// Semver range of the chart version (HelmChart); read it with
    /// [`HelmChartTemplateSpec::version`], which applies the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The source of the chart (HelmChart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<HelmCrossNamespaceReference<ChartSourceKind>>,
    /// Check interval of the created object; the HelmRelease's interval when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub interval: Option<String>,
    /// When a chart built from source is repackaged (HelmChart); read it with
    /// [`HelmChartTemplateSpec::reconcile_strategy`], which applies the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_strategy: Option<ReconcileStrategy>,
    /// Values files of the chart merged into its default values (HelmChart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_files: Option<Vec<String>>,
    /// Skip values files that do not exist instead of failing (HelmChart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_values_files: Option<bool>,
    /// Signature verification of OCI charts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<OCIRepositoryVerification>,
    /// Repository address, `oci://<host>/<path>` (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = r"^oci://.*$"))]
    pub url: Option<String>,
    /// Tag, semver range or digest to pull (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ref")]
    pub reference: Option<OCIRepositoryRef>,
    /// Which layer of the artifact holds the chart (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_selector: Option<OCILayerSelector>,
    /// Platform identity used to log in to the registry (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<CloudProvider>,
    /// Image pull Secret with registry credentials (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Service account whose image pull secrets or identity are used (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with TLS client certificate, key and CA (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Secret with the proxy `address`, `username` and `password` (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Timeout of registry operations (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = TIMEOUT_PATTERN))]
    pub timeout: Option<String>,
    /// `.gitignore`-style patterns excluded from the artifact (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Allow plain HTTP to the registry (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Stops reconciliation of the created object while true (OCIRepository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// The defaults Flux v2.10 moved from the schema into code, so that an OCIRepository
/// template cannot carry HelmChart defaults.
impl HelmChartTemplateSpec {
    /// `version`, `*` (the newest) when unset.
    pub fn version(&self) -> &str {
        self.version.as_deref().unwrap_or("*")
    }

    /// `reconcileStrategy`, `ChartVersion` when unset.
    pub fn reconcile_strategy(&self) -> ReconcileStrategy {
        self.reconcile_strategy.unwrap_or_default()
    }
}

/// Drift detection settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct DriftDetection {
    /// `enabled` corrects drift, `warn` only reports it; `disabled` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DriftDetectionMode>,
    /// Fields excluded from drift detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<Vec<IgnoreRule>>,
}

/// Drift detection modes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum DriftDetectionMode {
    /// Detect and correct drift.
    Enabled,
    /// Detect and report drift.
    Warn,
    /// Do not detect drift.
    #[default]
    Disabled,
}

/// How CRDs of a chart's `crds/` directory are handled.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum CRDsPolicy {
    /// Leave CRDs alone.
    Skip,
    /// Create missing CRDs, never update.
    #[default]
    Create,
    /// Create missing CRDs and replace existing ones.
    CreateReplace,
}

/// What is done after a failed install or upgrade.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, kube::KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.retryInterval) || self.name != 'RemediateOnFailure'")
    .message(".retryInterval cannot be set when .name is 'RemediateOnFailure'"))]
pub struct InstallStrategy {
    /// `RemediateOnFailure` remediates per `remediation`; `RetryOnFailure` retries.
    pub name: ActionStrategyName,
    /// Interval between retries with `RetryOnFailure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub retry_interval: Option<String>,
}

/// What is done after a failed upgrade.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, kube::KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.retryInterval) || self.name == 'RetryOnFailure'")
    .message(".retryInterval can only be set when .name is 'RetryOnFailure'"))]
pub struct UpgradeStrategy {
    /// `RemediateOnFailure` remediates per `remediation`; `RetryOnFailure` retries.
    pub name: ActionStrategyName,
    /// Interval between retries with `RetryOnFailure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub retry_interval: Option<String>,
}

/// Failure strategies of install and upgrade.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum ActionStrategyName {
    /// Remediate (rollback or uninstall) per the remediation settings.
    #[default]
    RemediateOnFailure,
    /// Retry the action after `retryInterval`.
    RetryOnFailure,
}

/// Install settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Install {
    /// Timeout of the install; `spec.timeout` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// What is done on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<InstallRemediation>,
    /// Failure strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<InstallStrategy>,
    /// Do not wait for the objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait_for_jobs: Option<bool>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Skip validation of the manifests against the OpenAPI schema.
    #[serde(rename = "disableOpenAPIValidation")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_openapi_validation: Option<bool>,
    /// Skip validation of the values against the chart's JSON schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_schema_validation: Option<bool>,
    /// Fail instead of adopting objects that exist but belong to no release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_take_ownership: Option<bool>,
    /// Reuse the name of a deleted release whose record remains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<bool>,
    /// Deprecated: use `crds: Skip`.
    #[serde(rename = "skipCRDs")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_crds: Option<bool>,
    /// CRD policy; `Create` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CRDsPolicy>,
    /// Create the target namespace when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_namespace: Option<bool>,
    /// Apply the objects with server-side apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<bool>,
}

/// Remediation of a failed install.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstallRemediation {
    /// Retries before giving up; negative for unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Do not count failed tests as install failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Uninstall after the last retry failed too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
}

/// Upgrade settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    /// Timeout of the upgrade; `spec.timeout` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// What is done on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<UpgradeRemediation>,
    /// Failure strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<UpgradeStrategy>,
    /// Do not wait for the objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait_for_jobs: Option<bool>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Skip validation of the manifests against the OpenAPI schema.
    #[serde(rename = "disableOpenAPIValidation")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_openapi_validation: Option<bool>,
    /// Skip validation of the values against the chart's JSON schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_schema_validation: Option<bool>,
    /// Fail instead of adopting objects that exist but belong to no release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_take_ownership: Option<bool>,
    /// Recreate objects whose update fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Reuse the values of the previous release instead of the chart's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_values: Option<bool>,
    /// Delete objects created by this upgrade when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_on_fail: Option<bool>,
    /// CRD policy; `Skip` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CRDsPolicy>,
    /// What happens when the chart name changes: upgrade in place or reinstall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_name_change_strategy: Option<ChartNameChangeStrategy>,
    /// Server-side apply for the upgrade; `auto` follows the previous release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<ServerSideApplyMode>,
}

/// Handling of a chart name change on upgrade.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum ChartNameChangeStrategy {
    /// Upgrade the existing release.
    #[default]
    InPlaceUpdate,
    /// Uninstall and install again.
    Reinstall,
}

/// Server-side apply modes of upgrade and rollback.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum ServerSideApplyMode {
    /// Always use server-side apply.
    Enabled,
    /// Use client-side (three-way merge) apply.
    Disabled,
    /// Use whatever the previous release used.
    #[default]
    Auto,
}

/// Remediation of a failed upgrade.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeRemediation {
    /// Retries before giving up; negative for unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Do not count failed tests as upgrade failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Remediate after the last retry failed too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
    /// Remediation action; `rollback` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RemediationStrategy>,
}

/// Remediation actions after a failed upgrade.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum RemediationStrategy {
    /// Roll back to the previous release.
    #[default]
    Rollback,
    /// Uninstall the release.
    Uninstall,
}

/// Helm test settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Test {
    /// Run the chart's tests after install and upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Timeout of the tests; `spec.timeout` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// Record failed tests without failing the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_failures: Option<bool>,
    /// Tests to run or skip by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<TestFilter>>,
}

/// Selects a Helm test by name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct TestFilter {
    /// Name of the test.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Skip this test instead of running only the listed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<bool>,
}

/// Rollback settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    /// Timeout of the rollback; `spec.timeout` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// Do not wait for the objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait_for_jobs: Option<bool>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Restart pods of the rolled-back objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recreate: Option<bool>,
    /// Recreate objects whose update fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Delete objects created by this rollback when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_on_fail: Option<bool>,
    /// Server-side apply for the rollback; `auto` follows the target release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<ServerSideApplyMode>,
}

/// Uninstall settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uninstall {
    /// Timeout of the uninstall; `spec.timeout` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Keep the release records after uninstall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_history: Option<bool>,
    /// Do not wait for the objects to be deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// Deletion propagation of the release's objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "background"))]
    pub deletion_propagation: Option<DeletionPropagation>,
}

/// Kubernetes deletion propagation policies.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum DeletionPropagation {
    /// Delete dependents in the background.
    #[default]
    Background,
    /// Delete dependents first.
    Foreground,
    /// Leave dependents.
    Orphan,
}

/// How readiness is awaited.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct WaitStrategy {
    /// `poller` uses kstatus, `legacy` Helm's own wait.
    pub name: WaitStrategyName,
}

/// Wait implementations.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum WaitStrategyName {
    /// kstatus polling.
    #[default]
    Poller,
    /// Helm's built-in wait.
    Legacy,
}

/// A ConfigMap or Secret key holding Helm values.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValuesReference {
    /// Kind of the referent.
    pub kind: ValuesKind,
    /// Name of the referent, in the HelmRelease's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Data key holding the values; `values.yaml` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), extend("pattern" = r"^[\-._a-zA-Z0-9]+$"))]
    pub values_key: Option<String>,
    /// Values path (`a.b[0].c`) the content is written to, instead of merging a YAML document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 250),
        extend("pattern" = r"^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$")
    )]
    pub target_path: Option<String>,
    /// Tolerate a missing referent or key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// Write the value at `targetPath` as a literal string, without parsing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<bool>,
}

/// A post-renderer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct PostRenderer {
    /// Kustomize patches and image overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizePostRenderer>,
}

/// Kustomize post-rendering.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct KustomizePostRenderer {
    /// Patches applied to the rendered objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Vec<KustomizePatch>>,
    /// Image overrides applied to the rendered objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<KustomizeImage>>,
}

/// Whether post-renderers apply to hooks.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum PostRenderStrategy {
    /// Post-render the manifests only, not hooks.
    #[default]
    Nohooks,
    /// Post-render manifests and hooks together.
    Combined,
    /// Post-render manifests and hooks separately.
    Separate,
}

/// Helm actions recorded as the last attempted one.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum ReleaseAction {
    /// helm install.
    Install,
    /// helm upgrade.
    Upgrade,
}

/// Observed state of a HelmRelease.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct HelmReleaseStatus {
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Digest of the post-renderers of the last successful release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_post_renderers_digest: Option<String>,
    /// Digest of the common metadata of the last successful release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_common_metadata_digest: Option<String>,
    /// Last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Ready, Reconciling, Stalled, Released, TestSuccess, Remediated, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// `<kind>/<namespace>/<name>` of the chart source (HelmChart or OCIRepository) created
    /// from `spec.chart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_chart: Option<String>,
    /// Namespace of the release records in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub storage_namespace: Option<String>,
    /// Recent releases, newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Snapshot>>,
    /// Generation of the spec of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_generation: Option<i64>,
    /// Failures since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<i64>,
    /// Install failures since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_failures: Option<i64>,
    /// Upgrade failures since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_failures: Option<i64>,
    /// Chart version of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// Digest of the chart artifact of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision_digest: Option<String>,
    /// Deprecated: SHA1 of the values of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_values_checksum: Option<String>,
    /// Deprecated: revision of the last successful release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_release_revision: Option<i64>,
    /// Digest of the values of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_config_digest: Option<String>,
    /// Install or upgrade: the last attempted action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_release_action: Option<ReleaseAction>,
    /// Duration of the last attempted action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_release_action_duration: Option<String>,
    /// Last `reconcile.fluxcd.io/forceAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_force_at: Option<String>,
    /// Last `reconcile.fluxcd.io/resetAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reset_at: Option<String>,
    /// Objects of the current release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<ResourceInventory>,
}

/// Summary of one Helm release record.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// API version of the snapshot format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Digest of the release record.
    pub digest: String,
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// Release revision.
    pub version: i64,
    /// Release status, e.g. `deployed`, `failed`, `superseded`.
    pub status: String,
    /// Chart name.
    pub chart_name: String,
    /// Chart version.
    pub chart_version: String,
    /// Application version of the chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// Digest of the values.
    pub config_digest: String,
    /// When the release was first deployed.
    pub first_deployed: Time,
    /// When the release was last deployed.
    pub last_deployed: Time,
    /// When the release was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Time>,
    /// Test hooks of the release and their last run, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_hooks: Option<BTreeMap<String, TestHookStatus>>,
    /// Digest of the OCI chart artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_digest: Option<String>,
    /// Helm action that produced the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// Last run of a Helm test hook.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestHookStatus {
    /// When the hook last started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_started: Option<Time>,
    /// When the hook last completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<Time>,
    /// Phase of the last run, e.g. `Succeeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}
