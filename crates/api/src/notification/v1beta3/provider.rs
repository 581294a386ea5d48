//! `Provider` (notification.toolkit.fluxcd.io/v1beta3, served and deprecated): the v1 Provider
//! plus `interval` and `proxy`, which v1 dropped, without the v1-only `mastodon` type.

use kube::CustomResource;
use serde::{Deserialize, Serialize};

use schemars::{Schema, SchemaGenerator};

use crate::{
    common::{DURATION_PATTERN, LocalObjectReference, TIMEOUT_PATTERN},
    notification::ProviderType,
};

/// Desired state of a v1beta3 Provider.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, kube::KubeSchema,
)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1beta3",
    kind = "Provider",
    plural = "providers",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    category = "fluxcd",
    category = "fluxcd-notifications",
    category = "all",
    doc = "A notification service events are delivered to (deprecated: use v1).",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "self.type == 'github' || self.type == 'gitlab' || self.type == 'gitea' || self.type == 'bitbucketserver' || self.type == 'bitbucket' || self.type == 'azuredevops' || !has(self.commitStatusExpr)"
).message("spec.commitStatusExpr is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types"))]
pub struct ProviderSpec {
    /// The service events are delivered to.
    #[serde(rename = "type")]
    #[schemars(schema_with = "provider_types")]
    pub type_: ProviderType,
    /// Interval at which the Provider is reconciled (unused by Flux, kept for compatibility).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub interval: Option<String>,
    /// Channel, room or topic to post to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub channel: Option<String>,
    /// Bot user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub username: Option<String>,
    /// Webhook or API address (for Git providers: the repository address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub address: Option<String>,
    /// Timeout of a delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = TIMEOUT_PATTERN))]
    pub timeout: Option<String>,
    /// HTTP(S) proxy address; deprecated in favour of `proxySecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), extend("pattern" = r"^(http|https)://.*$"))]
    pub proxy: Option<String>,
    /// Secret with the proxy `address`, `username` and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Secret with the token, address or headers of the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Service account whose workload identity authenticates to the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with TLS client certificate, key and CA (`tls.crt`, `tls.key`, `ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// CEL expression computing the commit status key of Git providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_status_expr: Option<String>,
    /// Stops deliveries while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// The v1 provider types without those v1 added (`mastodon`), so that the API server refuses
/// them through v1beta3 as Flux's CRD does.
fn provider_types(generator: &mut SchemaGenerator) -> Schema {
    const V1_ONLY: &[&str] = &["mastodon"];
    let mut schema = generator.subschema_for::<ProviderType>();
    let v1_only = |value: &serde_json::Value| {
        let name = value.get("const").unwrap_or(value);
        V1_ONLY.iter().any(|t| name == *t)
    };
    for key in ["enum", "oneOf"] {
        if let Some(serde_json::Value::Array(values)) = schema.get_mut(key) {
            values.retain(|value| !v1_only(value));
        }
    }
    schema
}
