//! `Provider` (notification.toolkit.fluxcd.io/v1, the storage version): where and how events are
//! delivered. The deprecated v1beta3 form is [`super::v1beta3::Provider`].

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{LocalObjectReference, TIMEOUT_PATTERN};

/// Desired state of a Provider.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, kube::KubeSchema,
)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1",
    kind = "Provider",
    plural = "providers",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    category = "fluxcd",
    category = "fluxcd-notifications",
    category = "all",
    doc = "A notification service events are delivered to.",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "self.type == 'github' || self.type == 'gitlab' || self.type == 'gitea' || self.type == 'bitbucketserver' || self.type == 'bitbucket' || self.type == 'azuredevops' || !has(self.commitStatusExpr)"
).message("spec.commitStatusExpr is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types"))]
pub struct ProviderSpec {
    /// The service events are delivered to.
    #[serde(rename = "type")]
    pub type_: ProviderType,
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
    /// Secret with the proxy `address`, `username` and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Secret with the token, address or headers of the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Service account whose object-level workload identity authenticates to the cloud
    /// service (`azureeventhub`, `azuredevops`, `googlepubsub`).
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

/// Services a Provider can deliver to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::common::keep_field_description)]
pub enum ProviderType {
    /// Slack.
    Slack,
    /// Discord.
    Discord,
    /// Microsoft Teams.
    Msteams,
    /// Rocket.Chat.
    Rocket,
    /// Plain JSON POST.
    #[default]
    Generic,
    /// JSON POST with an HMAC signature header.
    #[serde(rename = "generic-hmac")]
    GenericHmac,
    /// GitHub commit status.
    Github,
    /// GitLab commit status.
    Gitlab,
    /// Gitea commit status.
    Gitea,
    /// Gitea pull request comment.
    Giteapullrequestcomment,
    /// Bitbucket Server commit status.
    Bitbucketserver,
    /// Bitbucket Cloud commit status.
    Bitbucket,
    /// Azure DevOps commit status.
    Azuredevops,
    /// Google Chat.
    Googlechat,
    /// Google Pub/Sub.
    Googlepubsub,
    /// Webex.
    Webex,
    /// Sentry.
    Sentry,
    /// Azure Event Hub.
    Azureeventhub,
    /// Telegram.
    Telegram,
    /// Lark.
    Lark,
    /// Matrix.
    Matrix,
    /// Opsgenie.
    Opsgenie,
    /// Prometheus Alertmanager.
    Alertmanager,
    /// Grafana annotations.
    Grafana,
    /// GitHub repository dispatch.
    Githubdispatch,
    /// GitHub pull request comment.
    Githubpullrequestcomment,
    /// GitLab merge request comment.
    Gitlabmergerequestcomment,
    /// PagerDuty.
    Pagerduty,
    /// Datadog events.
    Datadog,
    /// NATS subject.
    Nats,
    /// Zulip.
    Zulip,
    /// OpenTelemetry traces.
    Otel,
    /// Zoom.
    Zoom,
    /// incident.io.
    #[serde(rename = "incident.io")]
    IncidentIo,
    /// Mastodon status post (v1 only).
    Mastodon,
}
