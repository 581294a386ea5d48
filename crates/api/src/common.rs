//! Types shared by several Flux kinds: artifacts, object references, inventories, status
//! conditions and the on-demand reconcile request echo. Each concept lives here once so that
//! every kind serializes it the same way.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Go-style duration with hours allowed (`1h30m`, `5m`, `10s`, `500ms`): intervals.
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";
/// Go-style duration without hours (`60s`, `5m`): timeouts of single operations.
pub const TIMEOUT_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$";

/// The annotation whose new value asks a controller for an immediate reconcile.
pub const RECONCILE_REQUEST_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";
/// The finalizer every Flux controller puts on the objects it manages.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// A file produced by a source controller and served over HTTP for other controllers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Relative path of the file in the controller's storage.
    pub path: String,
    /// HTTP address from which the file can be downloaded.
    pub url: String,
    /// Human-readable source version, e.g. `main@sha1:<hex>` or `sha1:<hex>`.
    pub revision: String,
    /// Digest of the file, `<algorithm>:<hex>`; consumers verify downloads against it.
    #[schemars(extend("pattern" = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"))]
    pub digest: String,
    /// When the artifact last changed.
    pub last_update_time: Time,
    /// Size of the file in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Source-specific annotations, such as OCI manifest annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Reference to an object in the same namespace, by name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct LocalObjectReference {
    /// Name of the referent.
    pub name: String,
}

/// Reference to one key of a Secret in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SecretKeyReference {
    /// Name of the Secret.
    pub name: String,
    /// Key in the Secret; when empty the controller's default key is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Reference to an object by name, optionally in another namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct NamespacedObjectReference {
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; defaults to the namespace of the referring object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Reference to an object of a given kind, optionally in another namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedObjectKindReference {
    /// API version of the referent; when empty the newest served version is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; defaults to the namespace of the referring object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Dependency on another object of the same kind that must be ready first.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependencyReference {
    /// Name of the dependency.
    pub name: String,
    /// Namespace of the dependency; defaults to the namespace of the dependent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// CEL expression over the dependency (`dep`) and the dependent (`self`) that must be true,
    /// in addition to readiness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_expr: Option<String>,
}

/// Objects applied by a reconciler, so that later runs can prune what left the source.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ResourceInventory {
    /// The applied objects.
    pub entries: Vec<ResourceRef>,
}

/// One applied object of an inventory.
#[derive(
    Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub struct ResourceRef {
    /// Object identity, `<namespace>_<name>_<group>_<kind>`.
    pub id: String,
    /// API version of the object.
    pub v: String,
}

/// Reference to a kubeconfig Secret or ConfigMap used to reach a remote cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, kube::KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = kube::core::Rule::new("has(self.configMapRef) != has(self.secretRef)")
        .message("exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified"),
)]
pub struct KubeConfigReference {
    /// ConfigMap holding provider settings for a workload-identity kubeconfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalObjectReference>,
    /// Secret holding the kubeconfig (key `value` or `value.yaml` unless `key` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyReference>,
}

/// Schema of `status.conditions`: a list of `metav1.Condition` with the validations the API
/// server applies to them. k8s-openapi's own schema for `Condition` carries no validations,
/// so the list is described here by hand.
pub fn conditions_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "description": "State of one aspect of the object.",
            "required": ["lastTransitionTime", "message", "reason", "status", "type"],
            "properties": {
                "lastTransitionTime": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When the status last changed."
                },
                "message": {
                    "type": "string",
                    "maxLength": 32768,
                    "description": "Human-readable details of the transition."
                },
                "observedGeneration": {
                    "type": "integer",
                    "format": "int64",
                    "minimum": 0,
                    "description": "metadata.generation the condition was set for."
                },
                "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1024,
                    "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
                    "description": "CamelCase reason of the last transition."
                },
                "status": {
                    "type": "string",
                    "enum": ["True", "False", "Unknown"],
                    "description": "Status of the condition."
                },
                "type": {
                    "type": "string",
                    "maxLength": 316,
                    "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
                    "description": "Condition type, e.g. Ready."
                }
            }
        }
    })
}

/// Schema of a free-form JSON value (Helm values, webhook payload fields): any object,
/// kept as is by the API server.
pub fn preserve_unknown_fields(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// The conditions of an object, in the form every Flux status has.
pub type Conditions = Vec<Condition>;

/// Reference to a source object, optionally in another namespace. `K` is the kind: an enum
/// of the kinds the referring object accepts, or `String` where any kind is allowed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceSourceReference<K> {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: K,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; defaults to the namespace of the referring object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Labels and annotations added to every object a reconciler applies.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct CommonMetadata {
    /// Annotations added to every applied object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels added to every applied object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Kustomize image override: replaces the name, tag or digest of matching container images.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeImage {
    /// Image name to match, without tag or digest.
    pub name: String,
    /// Replacement image name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// Replacement tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
    /// Replacement digest; takes precedence over `newTag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Kustomize patch: a strategic merge or JSON 6902 patch applied to the selected objects.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct KustomizePatch {
    /// The patch document, YAML or JSON.
    pub patch: String,
    /// Objects the patch applies to; those named in the patch when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<KustomizeSelector>,
}

/// Selects objects by group, version, kind, name, namespace, labels and annotations.
/// Name and namespace are regular expressions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeSelector {
    /// API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Annotation selector, in label selector syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
    /// Label selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
}

/// JSON pointers ignored when comparing objects in the cluster with the desired state.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct IgnoreRule {
    /// JSON pointer paths, e.g. `/spec/replicas`.
    pub paths: Vec<String>,
    /// Objects the rule applies to; all objects when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<KustomizeSelector>,
}

/// CEL expressions that compute the health of objects of one kind.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckExpr {
    /// API version of the objects, `group/version`.
    pub api_version: String,
    /// Kind of the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// True when the object is healthy.
    pub current: String,
    /// True while the object is progressing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<String>,
    /// True when the object has failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// Cloud platforms whose workload identity a source can use instead of a Secret.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum CloudProvider {
    /// No platform identity; credentials come from `secretRef`.
    #[default]
    Generic,
    /// Amazon Web Services.
    Aws,
    /// Microsoft Azure.
    Azure,
    /// Google Cloud.
    Gcp,
}

/// Signature verification tools for OCI artifacts and Helm charts.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum VerificationProvider {
    /// Sigstore cosign.
    #[default]
    Cosign,
    /// Notary Project notation.
    Notation,
}

/// Keyless (OIDC) signature identity: both regular expressions must match the certificate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct OidcIdentityMatch {
    /// Regular expression for the OIDC issuer.
    pub issuer: String,
    /// Regular expression for the identity subject.
    pub subject: String,
}

/// Kinds that can hold values or variables.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum ValuesKind {
    /// A Secret.
    #[default]
    Secret,
    /// A ConfigMap.
    ConfigMap,
}

/// Access to the status fields most Flux kinds share, so that runtime code (conditions,
/// observed generation, reconcile requests) can be written once for every kind.
pub trait FluxStatus {
    /// The conditions, empty when none are set.
    fn conditions(&self) -> &[Condition];
    /// The conditions, for updating in place.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    /// `status.observedGeneration`.
    fn observed_generation(&self) -> Option<i64>;
    /// Sets `status.observedGeneration`.
    fn set_observed_generation(&mut self, generation: i64);
    /// `status.lastHandledReconcileAt`: the last reconcile request token handled.
    fn last_handled_reconcile_at(&self) -> Option<&str>;
    /// Sets `status.lastHandledReconcileAt`.
    fn set_last_handled_reconcile_at(&mut self, token: String);
}

/// Implements [`FluxStatus`] for status structs with the fields `conditions`,
/// `observed_generation` and `last_handled_reconcile_at`.
macro_rules! impl_flux_status {
    ($($status:ty),+ $(,)?) => {$(
        impl $crate::common::FluxStatus for $status {
            fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
                self.conditions.as_deref().unwrap_or_default()
            }
            fn conditions_mut(
                &mut self,
            ) -> &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
                self.conditions.get_or_insert_with(Vec::new)
            }
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn set_observed_generation(&mut self, generation: i64) {
                self.observed_generation = Some(generation);
            }
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                self.last_handled_reconcile_at.as_deref()
            }
            fn set_last_handled_reconcile_at(&mut self, token: String) {
                self.last_handled_reconcile_at = Some(token);
            }
        }
    )+};
}

impl_flux_status!(
    crate::source::GitRepositoryStatus,
    crate::source::OCIRepositoryStatus,
    crate::source::HelmRepositoryStatus,
    crate::source::HelmChartStatus,
    crate::source::BucketStatus,
    crate::kustomize::KustomizationStatus,
    crate::helm::HelmReleaseStatus,
    crate::image::ImageRepositoryStatus,
    crate::image::ImagePolicyStatus,
    crate::image::ImageUpdateAutomationStatus,
    crate::notification::ReceiverStatus,
);

/// Drops an enum type's own description from its schema, so that a field of that type keeps
/// the field's description in the CRD. Without it, kube's rewrite of `Option<Enum>` fields
/// replaces the field's description with the enum's (`kubectl explain` would show the type's
/// doc instead of the field's).
pub fn keep_field_description(schema: &mut Schema) {
    schema.remove("description");
}
