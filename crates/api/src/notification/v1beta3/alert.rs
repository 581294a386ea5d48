//! `Alert` (notification.toolkit.fluxcd.io/v1beta3, served and deprecated): the v1 Alert plus
//! `summary`, which v1 dropped. Objects written through v1beta3 before the upgrade keep their
//! `summary` in storage until they are next written through v1.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    common::LocalObjectReference,
    notification::{EventSeverity, EventSourceReference},
};

/// Desired state of a v1beta3 Alert.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1beta3",
    kind = "Alert",
    plural = "alerts",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    category = "fluxcd",
    category = "fluxcd-notifications",
    category = "all",
    doc = "Forwards the events of selected Flux objects to a Provider (deprecated: use v1).",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AlertSpec {
    /// The Provider that delivers the events, in the same namespace.
    pub provider_ref: LocalObjectReference,
    /// Short description of the impact, added to every event (not in v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub summary: Option<String>,
    /// Objects whose events are forwarded.
    pub event_sources: Vec<EventSourceReference>,
    /// Metadata added to every event; event metadata wins on conflicts.
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
