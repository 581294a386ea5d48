//! `Bucket` (source.toolkit.fluxcd.io/v1): objects of an S3-compatible, GCS or Azure Blob
//! bucket, packaged as an artifact.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    Artifact, DURATION_PATTERN, LocalObjectReference, TIMEOUT_PATTERN, conditions_schema,
};

/// Desired state of a Bucket.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, kube::KubeSchema,
)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "Bucket",
    plural = "buckets",
    namespaced,
    status = "BucketStatus",
    derive = "PartialEq",
    derive = "Default",
    category = "fluxcd",
    category = "fluxcd-sources",
    category = "all",
    doc = "Objects of a storage bucket to download and package as an artifact.",
    printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".spec.endpoint"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = kube::core::Rule::new("self.provider == 'aws' || self.provider == 'generic' || !has(self.sts)")
        .message("STS configuration is only supported for the 'aws' and 'generic' Bucket providers"),
    validation = kube::core::Rule::new("self.provider != 'aws' || !has(self.sts) || self.sts.provider == 'aws'")
        .message("'aws' is the only supported STS provider for the 'aws' Bucket provider"),
    validation = kube::core::Rule::new("self.provider != 'generic' || !has(self.sts) || self.sts.provider == 'ldap'")
        .message("'ldap' is the only supported STS provider for the 'generic' Bucket provider"),
    validation = kube::core::Rule::new("!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.secretRef)")
        .message("spec.sts.secretRef is not required for the 'aws' STS provider"),
    validation = kube::core::Rule::new("!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.certSecretRef)")
        .message("spec.sts.certSecretRef is not required for the 'aws' STS provider"),
    validation = kube::core::Rule::new("self.provider != 'generic' || !has(self.serviceAccountName)")
        .message("ServiceAccountName is not supported for the 'generic' Bucket provider"),
    validation = kube::core::Rule::new("!has(self.secretRef) || !has(self.serviceAccountName)")
        .message("cannot set both .spec.secretRef and .spec.serviceAccountName"),
)]
pub struct BucketSpec {
    /// Storage API and authentication: `generic` (S3-compatible), `aws`, `gcp` or `azure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "generic"))]
    pub provider: Option<BucketProvider>,
    /// Name of the bucket.
    pub bucket_name: String,
    /// Storage endpoint host, e.g. `s3.amazonaws.com`.
    pub endpoint: String,
    /// Temporary credentials from a security token service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts: Option<BucketSTSSpec>,
    /// Use plain HTTP to the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Bucket region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Only objects whose key starts with this prefix are downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Secret with the credentials for the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Service account whose workload identity is used (not with `generic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with TLS client certificate, key and CA (`tls.crt`, `tls.key`, `ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Secret with the proxy `address`, `username` and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// How often the bucket is checked for changes.
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub interval: String,
    /// Timeout of bucket operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = TIMEOUT_PATTERN, "default" = "60s"))]
    pub timeout: Option<String>,
    /// `.gitignore`-style patterns excluded from the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Stops reconciliation while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Storage APIs a Bucket can read.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum BucketProvider {
    /// Any S3-compatible API (MinIO, ...), static credentials.
    #[default]
    Generic,
    /// Amazon S3.
    Aws,
    /// Google Cloud Storage.
    Gcp,
    /// Azure Blob Storage.
    Azure,
}

/// Security token service that issues temporary bucket credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketSTSSpec {
    /// Kind of token service.
    pub provider: BucketSTSProvider,
    /// Address of the token service.
    #[schemars(extend("pattern" = r"^(http|https)://.*$"))]
    pub endpoint: String,
    /// Secret with the credentials for the token service (`ldap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Secret with TLS material for the token service (`ldap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
}

/// Kinds of security token services.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum BucketSTSProvider {
    /// AWS STS.
    #[default]
    Aws,
    /// MinIO LDAP STS.
    Ldap,
}

/// Observed state of a Bucket.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct BucketStatus {
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, ArtifactInStorage, FetchFailed, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Address of the stored artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The artifact of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// `spec.ignore` as used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// Last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}
