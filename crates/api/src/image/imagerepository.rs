//! `ImageRepository` (image.toolkit.fluxcd.io/v1): a container image repository whose tags are
//! scanned at an interval, for ImagePolicies to choose from.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    common::{
        CloudProvider, DURATION_PATTERN, LocalObjectReference, TIMEOUT_PATTERN, conditions_schema,
    },
    source::AccessFrom,
};

/// Desired state of an ImageRepository.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "image.toolkit.fluxcd.io",
    version = "v1",
    kind = "ImageRepository",
    plural = "imagerepositories",
    namespaced,
    status = "ImageRepositoryStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "imgrepo",
    shortname = "imagerepo",
    category = "fluxcd",
    category = "fluxcd-images",
    category = "all",
    doc = "A container image repository whose tags are scanned.",
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.image"}"#,
    printcolumn = r#"{"name":"Tags","type":"string","jsonPath":".status.lastScanResult.tagCount"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Last scan","type":"string","priority":1,"jsonPath":".status.lastScanResult.scanTime"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ImageRepositorySpec {
    /// Image name without tag, e.g. `ghcr.io/org/app`.
    pub image: String,
    /// How often the tags are scanned.
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub interval: String,
    /// Timeout of a scan; `interval` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = TIMEOUT_PATTERN))]
    pub timeout: Option<String>,
    /// Image pull Secret (`kubernetes.io/dockerconfigjson`) with registry credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Secret with the proxy `address`, `username` and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Service account whose image pull secrets are used for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub service_account_name: Option<String>,
    /// Secret with TLS client certificate, key and CA (`tls.crt`, `tls.key`, `ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Namespaces whose ImagePolicies may use this repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_from: Option<AccessFrom>,
    /// Stops scanning while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Regular expressions of tags left out of the scan result (signatures by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = [r"^.*\.sig$"], "maxItems" = 25))]
    pub exclusion_list: Option<Vec<String>>,
    /// Platform identity used to log in to the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "generic"))]
    pub provider: Option<CloudProvider>,
    /// Allow plain HTTP to the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
}

/// Outcome of the last tag scan.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanResult {
    /// Digest of the scanned tag list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Number of tags found.
    pub tag_count: i64,
    /// When the scan ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_time: Option<Time>,
    /// A sample of the newest tags, in reverse alphabetical order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_tags: Option<Vec<String>>,
}

/// Observed state of an ImageRepository.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct ImageRepositoryStatus {
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Fully qualified image name, e.g. `index.docker.io/library/nginx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_image_name: Option<String>,
    /// Result of the last scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scan_result: Option<ScanResult>,
    /// `spec.exclusionList` as used for the last scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_exclusion_list: Option<Vec<String>>,
    /// Last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}
