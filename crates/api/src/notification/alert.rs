//! `Alert` (notification.toolkit.fluxcd.io/v1, the storage version): which events of which
//! objects are forwarded to a Provider. The deprecated v1beta3 form is
//! [`super::v1beta3::Alert`].

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{common::LocalObjectReference, notification::FluxKind};

/// Desired state of an Alert.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1",
    kind = "Alert",
    plural = "alerts",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    category = "fluxcd",
    category = "fluxcd-notifications",
    category = "all",
    doc = "Forwards the events of selected Flux objects to a Provider.",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AlertSpec {
    /// The Provider that delivers the events, in the same namespace.
    pub provider_ref: LocalObjectReference,
    /// Objects whose events are forwarded.
    pub event_sources: Vec<EventSourceReference>,
    /// Metadata added to every event. Precedence, lowest first: the involved object's
    /// `event.toolkit.fluxcd.io/` annotations, this field, the controller's own metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_metadata: Option<BTreeMap<String, String>>,
    /// Minimum severity forwarded: `info` forwards everything, `error` only errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "info"))]
    pub event_severity: Option<EventSeverity>,
    /// Regular expressions; only events whose message matches one are forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_list: Option<Vec<String>>,
    /// Regular expressions; events whose message matches one are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusion_list: Option<Vec<String>>,
    /// Stops forwarding while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Event severities an Alert can filter on.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum EventSeverity {
    /// Informational and error events.
    #[default]
    Info,
    /// Error events only.
    Error,
}

/// Flux objects whose events an Alert forwards: one by name, or all (`*`) matching labels.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSourceReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: FluxKind,
    /// Name of the referent, or `*` for all objects of the kind.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the referent; the Alert's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub namespace: Option<String>,
    /// Labels the objects must have when `name` is `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}
