//! `ImageUpdateAutomation` (image.toolkit.fluxcd.io/v1): writes the tags chosen by
//! ImagePolicies into the files of a GitRepository (setter markers) and pushes a commit.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    common::{DURATION_PATTERN, LocalObjectReference, conditions_schema},
    image::ImageRef,
    source::GitRepositoryRef,
};

/// Desired state of an ImageUpdateAutomation.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "image.toolkit.fluxcd.io",
    version = "v1",
    kind = "ImageUpdateAutomation",
    plural = "imageupdateautomations",
    namespaced,
    status = "ImageUpdateAutomationStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "iua",
    shortname = "imgupd",
    shortname = "imgauto",
    category = "fluxcd",
    category = "fluxcd-images",
    category = "all",
    doc = "Commits the images chosen by ImagePolicies to a Git repository.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Last run","type":"string","priority":1,"jsonPath":".status.lastAutomationRunTime"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateAutomationSpec {
    /// The GitRepository to update.
    pub source_ref: AutomationSourceReference,
    /// Checkout, commit and push settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSpec>,
    /// How often the automation runs.
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub interval: String,
    /// ImagePolicies taken into account; all in the namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "label_selector_schema")]
    pub policy_selector: Option<LabelSelector>,
    /// How long a run triggered by an ImagePolicy change waits, so that updates of several
    /// policies arriving within it go into one commit; no wait when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub policy_change_delay: Option<String>,
    /// Which files are updated and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {"strategy": "Setters"}))]
    pub update: Option<UpdateStrategy>,
    /// Stops the automation while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Reference to the GitRepository an automation updates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutomationSourceReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent; only GitRepository.
    #[schemars(extend("default" = "GitRepository"))]
    pub kind: AutomationSourceKind,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; the automation's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Kinds an automation can update.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum AutomationSourceKind {
    /// A Git repository.
    #[default]
    GitRepository,
}

/// Git settings of an automation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct GitSpec {
    /// Ref to check out; the GitRepository's ref when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout: Option<GitCheckoutSpec>,
    /// How commits are made.
    pub commit: CommitSpec,
    /// Where commits are pushed; the checked-out branch when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushSpec>,
}

/// The ref checked out before updating.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct GitCheckoutSpec {
    /// Branch, tag, semver, name or commit to check out.
    #[serde(rename = "ref")]
    pub reference: GitRepositoryRef,
}

/// Authorship, signing and message of automation commits.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitSpec {
    /// Author of the commits.
    pub author: CommitUser,
    /// Key used to sign the commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<SigningKey>,
    /// Go template of the commit message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template: Option<String>,
    /// Extra values available to the message template as `.Values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template_values: Option<BTreeMap<String, String>>,
}

/// Name and email of a commit author.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct CommitUser {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email address.
    pub email: String,
}

/// A commit signing key.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKey {
    /// Secret with the private key (`git.asc` for gpg, `identity` for ssh) and passphrase.
    pub secret_ref: LocalObjectReference,
    /// Key type; `gpg` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
    pub type_: Option<SigningKeyType>,
}

/// Kinds of commit signing keys.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum SigningKeyType {
    /// OpenPGP key.
    #[default]
    Gpg,
    /// SSH key.
    Ssh,
}

/// Where automation commits are pushed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct PushSpec {
    /// Branch to push to, created from the checked-out commit when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Refspec to push, e.g. `refs/heads/main:refs/heads/auto`; deletions (`:dst`) and forced
    /// pushes (`+src:dst`) are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = "^$|^[^+:]"))]
    pub refspec: Option<String>,
    /// Git push options (`-o`), e.g. for merge request creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
}

/// How files are updated.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct UpdateStrategy {
    /// Update mechanism.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Setters"))]
    pub strategy: Option<UpdateStrategyName>,
    /// Directory in the repository to update; the root when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Update mechanisms.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum UpdateStrategyName {
    /// Replace values marked with `# {"$imagepolicy": "<namespace>:<name>[:tag|:name|:digest]"}`.
    #[default]
    Setters,
}

/// Observed state of an ImageUpdateAutomation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct ImageUpdateAutomationStatus {
    /// When the automation last ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_automation_run_time: Option<Time>,
    /// SHA of the last pushed commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push_commit: Option<String>,
    /// When the last commit was pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push_time: Option<Time>,
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Images of the policies applied by the last run, by policy name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_policies: Option<BTreeMap<String, ImageRef>>,
    /// Source revision the last run started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_source_revision: Option<String>,
    /// Last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

/// Schema of a `metav1.LabelSelector` with the list and map markers the API server uses for
/// server-side apply; k8s-openapi's schema of the type carries none.
fn label_selector_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "properties": {
            "matchExpressions": {
                "type": "array",
                "x-kubernetes-list-type": "atomic",
                "description": "Requirements on label values; all must match.",
                "items": {
                    "type": "object",
                    "required": ["key", "operator"],
                    "properties": {
                        "key": { "type": "string", "description": "Label key." },
                        "operator": {
                            "type": "string",
                            "description": "In, NotIn, Exists or DoesNotExist."
                        },
                        "values": {
                            "type": "array",
                            "x-kubernetes-list-type": "atomic",
                            "description": "Values for In and NotIn.",
                            "items": { "type": "string" }
                        }
                    }
                }
            },
            "matchLabels": {
                "type": "object",
                "description": "Labels that must be equal.",
                "additionalProperties": { "type": "string" }
            }
        }
    })
}
