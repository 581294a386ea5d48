//! `ExternalArtifact` (source.toolkit.fluxcd.io/v1): an artifact produced by a controller
//! outside Flux, published through this object's status for Kustomizations and HelmReleases.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::common::{Artifact, CrossNamespaceSourceReference, conditions_schema};

/// Desired state of an ExternalArtifact.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "ExternalArtifact",
    plural = "externalartifacts",
    namespaced,
    status = "ExternalArtifactStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "ea",
    category = "fluxcd",
    category = "fluxcd-sources",
    category = "all",
    doc = "An artifact produced by a third-party controller.",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Source","type":"string","jsonPath":".spec.sourceRef.name"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ExternalArtifactSpec {
    /// The object the artifact was generated from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<CrossNamespaceSourceReference<String>>,
}

/// Observed state of an ExternalArtifact, written by the producing controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalArtifactStatus {
    /// The current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Ready and producer-specific conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Structured data exported from the source (an ArtifactGenerator's `inputsFrom` file),
    /// for consumers that template with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "exported_inputs_schema")]
    pub exported_inputs: Option<BTreeMap<String, serde_json::Value>>,
}

/// A map of free-form JSON values, as `status.exportedInputs` is declared upstream.
fn exported_inputs_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": { "x-kubernetes-preserve-unknown-fields": true }
    })
}
