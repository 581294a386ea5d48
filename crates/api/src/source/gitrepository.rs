//! `GitRepository` (source.toolkit.fluxcd.io/v1): a Git repository checked out at a ref and
//! packaged as an artifact.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    Artifact, DURATION_PATTERN, LocalObjectReference, TIMEOUT_PATTERN, conditions_schema,
};

/// Desired state of a GitRepository.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, kube::KubeSchema,
)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "GitRepository",
    plural = "gitrepositories",
    namespaced,
    status = "GitRepositoryStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "gitrepo",
    category = "fluxcd",
    category = "fluxcd-sources",
    category = "all",
    doc = "A Git repository to fetch and package as an artifact.",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.serviceAccountName) || (has(self.provider) && (self.provider == 'azure' || self.provider == 'aws'))"
).message("serviceAccountName can only be set when provider is 'azure' or 'aws'"))]
pub struct GitRepositorySpec {
    /// Repository address: `http://`, `https://` or `ssh://`.
    #[schemars(extend("pattern" = r"^(http|https|ssh)://.*$"))]
    pub url: String,
    /// Secret with credentials: `username`/`password`, `bearerToken`, or `identity`,
    /// `identity.pub` and `known_hosts` for SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// How to authenticate: `generic` uses `secretRef`; `azure`, `aws` and `github` use the
    /// platform's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<GitProvider>,
    /// Service account whose workload identity is used with the `azure` or `aws` provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// How often the repository is checked for new commits.
    #[schemars(extend("pattern" = DURATION_PATTERN))]
    pub interval: String,
    /// Timeout of Git operations such as clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = TIMEOUT_PATTERN, "default" = "60s"))]
    pub timeout: Option<String>,
    /// What to check out; the default branch when unset.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ref")]
    pub reference: Option<GitRepositoryRef>,
    /// Verification of commit or tag signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<GitRepositoryVerification>,
    /// Secret with the proxy `address`, `username` and `password` used for Git operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// `.gitignore`-style patterns excluded from the artifact (overrides `.sourceignore`
    /// defaults when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Stops reconciliation while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Also check out Git submodules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurse_submodules: Option<bool>,
    /// Artifacts of other GitRepositories copied into this one's artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<GitRepositoryInclude>>,
    /// Only these directories are checked out (cone-mode sparse checkout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse_checkout: Option<Vec<String>>,
}

/// How a GitRepository authenticates to its host.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum GitProvider {
    /// Credentials from `secretRef`.
    #[default]
    Generic,
    /// AWS CodeCommit with workload identity.
    Aws,
    /// Azure DevOps with workload identity.
    Azure,
    /// GitHub App credentials.
    Github,
}

/// The Git reference to check out. Precedence: commit, name, semver, tag, branch.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct GitRepositoryRef {
    /// Branch name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Semver range matched against tags; the highest matching tag is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Full reference name, e.g. `refs/heads/main` or `refs/pull/1/head`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Commit SHA; with `branch` or `name` it must be reachable from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// OpenPGP signature verification of the checked-out commit or tag.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryVerification {
    /// What to verify: the HEAD commit, the tag, or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "HEAD"))]
    pub mode: Option<GitVerificationMode>,
    /// Secret whose values are the trusted armored public keys.
    pub secret_ref: LocalObjectReference,
}

/// Which Git object's signature is verified.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::common::keep_field_description)]
pub enum GitVerificationMode {
    /// Lower-case spelling of `HEAD`, kept for compatibility.
    #[serde(rename = "head")]
    HeadLegacy,
    /// The commit HEAD points to.
    #[default]
    #[serde(rename = "HEAD")]
    Head,
    /// The annotated tag.
    Tag,
    /// Both the tag and the commit it points to.
    TagAndHEAD,
}

/// Another GitRepository's artifact to copy into this one.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryInclude {
    /// The GitRepository to include, in the same namespace.
    pub repository: LocalObjectReference,
    /// Path in the included artifact to copy from; the root when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_path: Option<String>,
    /// Path in this artifact to copy to; the included repository's name when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_path: Option<String>,
}

/// Observed state of a GitRepository.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct GitRepositoryStatus {
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, ArtifactInStorage, SourceVerified, FetchFailed, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// The artifact of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Artifacts of the included repositories, in `spec.include` order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_artifacts: Option<Vec<Artifact>>,
    /// `spec.ignore` as used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// `spec.recurseSubmodules` as used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_recurse_submodules: Option<bool>,
    /// `spec.include` as used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_include: Option<Vec<GitRepositoryInclude>>,
    /// `spec.sparseCheckout` as used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_sparse_checkout: Option<Vec<String>>,
    /// Verification mode used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_verification_mode: Option<String>,
    /// Fingerprint of the keys that verified the current artifact's signature; when the keys
    /// change (a rotation) the same revision is verified again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_verification_fingerprint: Option<String>,
    /// Last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}
