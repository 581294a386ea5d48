//! `Receiver` (notification.toolkit.fluxcd.io/v1): a webhook endpoint that requests a
//! reconcile of its resources when a verified request arrives.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    common::{DURATION_PATTERN, LocalObjectReference, conditions_schema},
    notification::FluxKind,
};

/// Desired state of a Receiver.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, kube::KubeSchema,
)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1",
    kind = "Receiver",
    plural = "receivers",
    namespaced,
    status = "ReceiverStatus",
    derive = "PartialEq",
    derive = "Default",
    category = "fluxcd",
    category = "fluxcd-notifications",
    category = "all",
    doc = "A webhook endpoint that triggers reconciles of Flux objects.",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = kube::core::Rule::new("self.type != 'generic-oidc' || (has(self.oidcProviders) && size(self.oidcProviders) > 0)")
        .message("generic-oidc receivers must define at least one oidcProvider"),
    validation = kube::core::Rule::new("self.type == 'generic-oidc' || !has(self.oidcProviders) || size(self.oidcProviders) == 0")
        .message("oidcProviders can only be set when type is generic-oidc"),
    validation = kube::core::Rule::new("self.type != 'generic-oidc' || !has(self.secretRef)")
        .message("secretRef cannot be set when type is generic-oidc"),
    validation = kube::core::Rule::new("self.type == 'generic-oidc' || has(self.secretRef)")
        .message("secretRef is required when type is not generic-oidc"),
)]
pub struct ReceiverSpec {
    /// Sender of the webhook, which decides how requests are verified and parsed.
    #[serde(rename = "type")]
    pub type_: ReceiverType,
    /// Interval at which the Receiver is reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN, "default" = "10m"))]
    pub interval: Option<String>,
    /// Event types accepted (e.g. `push` for GitHub); all when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Objects to reconcile on a verified request.
    pub resources: Vec<ReceiverResourceReference>,
    /// CEL expression over `res` and `req` deciding per resource whether to reconcile it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_filter: Option<String>,
    /// Secret whose `token` verifies requests and forms the webhook path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// OIDC issuers whose ID tokens authenticate `generic-oidc` requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["issuerURL"]))]
    pub oidc_providers: Option<Vec<OidcProvider>>,
    /// Stops handling requests while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Webhook senders a Receiver understands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum ReceiverType {
    /// Any POST with the token in the path.
    #[default]
    Generic,
    /// POST signed with an HMAC of the token.
    #[serde(rename = "generic-hmac")]
    GenericHmac,
    /// POST with an OIDC ID token.
    #[serde(rename = "generic-oidc")]
    GenericOidc,
    /// GitHub webhook.
    Github,
    /// GitLab webhook.
    Gitlab,
    /// Bitbucket Server webhook.
    Bitbucket,
    /// Harbor webhook.
    Harbor,
    /// Docker Hub webhook.
    Dockerhub,
    /// Quay webhook.
    Quay,
    /// Google Container Registry Pub/Sub push.
    Gcr,
    /// Sonatype Nexus webhook.
    Nexus,
    /// Azure Container Registry webhook.
    Acr,
    /// CDEvents.
    Cdevents,
}

/// Flux objects a Receiver reconciles: one by name, or all (`*`) matching labels.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverResourceReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: FluxKind,
    /// Name of the referent, or `*` for all objects of the kind.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the referent; the Receiver's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub namespace: Option<String>,
    /// Labels the objects must have when `name` is `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// CEL expression over `res` and `req`; the object is reconciled only when it is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// An OIDC issuer trusted by a `generic-oidc` Receiver.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcProvider {
    /// Issuer address; its discovery document and keys are fetched from it.
    #[serde(rename = "issuerURL")]
    #[schemars(extend("pattern" = "^https?://"))]
    pub issuer_url: String,
    /// Expected `aud` claim; the webhook address when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Named CEL expressions over the token claims, usable in `validations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<OidcVariable>>,
    /// CEL expressions that must all be true for the token to be accepted.
    #[schemars(length(min = 1))]
    pub validations: Vec<OidcValidation>,
}

/// A named CEL expression over ID token claims.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct OidcVariable {
    /// Name the value is available under.
    pub name: String,
    /// CEL expression.
    pub expression: String,
}

/// A CEL check on an ID token.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct OidcValidation {
    /// CEL expression that must be true.
    pub expression: String,
    /// Error returned when it is false.
    pub message: String,
}

/// Observed state of a Receiver.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct ReceiverStatus {
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Path of the webhook, `/hook/<sha256 of token, name and namespace>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    /// Last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}
