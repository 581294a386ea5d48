//! Step 2, source: refuse what is not built (verification, cloud identity), read credentials
//! and transport options from Secrets, and ask the registry which digest `spec.ref` names now.
//! Only tags are listed (semver) and the manifest digest is asked with HEAD: nothing is
//! downloaded here, so an unchanged artifact costs one or two small requests.

use std::collections::BTreeMap;
use std::time::Duration;

use driftless_api::common::CloudProvider;
use driftless_api::source::ocirepository::OCIRepository;
use driftless_core::conditions::{reasons, types};
use driftless_oci::{ClientOptions, ProxyConfig, RegistryClient, Repository, TlsConfig};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::{Api, ResourceExt as _};

use super::{Progress, Remote};
use crate::reconcile::source::secret_data;
use crate::reconcile::{Context, StepError};

/// Flux's default `spec.timeout` (the CRD default; applied here when the field is unset).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The key of a `kubernetes.io/dockerconfigjson` Secret.
const DOCKER_CONFIG_KEY: &str = ".dockerconfigjson";

fn fetch_failed(reason: &'static str, message: impl Into<String>) -> StepError {
    StepError::new(reason, message).on(types::FETCH_FAILED)
}

/// An error of the registry layer, with the reason it carries (Flux's).
pub(super) fn oci_step_error(err: driftless_oci::Error) -> StepError {
    let stalled = matches!(err, driftless_oci::Error::InvalidUrl { .. });
    let failure = fetch_failed(err.reason(), err.to_string());
    if stalled { failure.stalled() } else { failure }
}

/// Fields whose feature is not built are refused, never ignored: the user learns at once
/// that the artifact is not verified or that platform identity is not used.
fn refuse_unsupported(obj: &OCIRepository) -> Result<(), StepError> {
    if let Some(verify) = &obj.spec.verify {
        let provider = serde_json::to_value(verify.provider)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(StepError::new(
            reasons::VERIFICATION_ERROR,
            format!(
                "spec.verify ({provider}) is not supported yet: the artifact cannot be verified; \
                 remove spec.verify to pull it unverified"
            ),
        )
        .on(types::SOURCE_VERIFIED)
        .stalled());
    }
    if let Some(provider) = obj.spec.provider.filter(|p| *p != CloudProvider::Generic) {
        return Err(fetch_failed(
            reasons::AUTHENTICATION_FAILED,
            format!(
                "spec.provider {provider:?} needs the platform's workload identity, which is not \
                 supported yet; use provider 'generic' with spec.secretRef or \
                 spec.serviceAccountName image pull secrets"
            ),
        )
        .stalled());
    }
    Ok(())
}

/// The docker configs to take credentials from, in order: `spec.secretRef`, then the image
/// pull secrets of `spec.serviceAccountName`. A Secret without `.dockerconfigjson` is an
/// error: pulling anonymously instead would hide the mistake behind a 401.
async fn docker_configs(obj: &OCIRepository, ctx: &Context) -> Result<Vec<Vec<u8>>, StepError> {
    let ns = obj.namespace().unwrap_or_default();
    let mut names = Vec::new();
    if let Some(r) = &obj.spec.secret_ref {
        names.push(r.name.clone());
    }
    if let Some(sa) = &obj.spec.service_account_name {
        let api: Api<ServiceAccount> = Api::namespaced(ctx.runtime.client.clone(), &ns);
        let account = api
            .get_opt(sa)
            .await
            .map_err(|e| {
                fetch_failed(
                    reasons::AUTHENTICATION_FAILED,
                    format!("reading service account '{ns}/{sa}': {e}"),
                )
            })?
            .ok_or_else(|| {
                fetch_failed(
                    reasons::AUTHENTICATION_FAILED,
                    format!("service account '{ns}/{sa}' not found"),
                )
            })?;
        names.extend(
            account
                .image_pull_secrets
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.name),
        );
    }
    let mut configs = Vec::new();
    for name in names {
        let mut data = secret_data(ctx, &ns, &name).await?;
        let config = data.remove(DOCKER_CONFIG_KEY).ok_or_else(|| {
            fetch_failed(
                reasons::AUTHENTICATION_FAILED,
                format!(
                    "secret '{ns}/{name}' has no '{DOCKER_CONFIG_KEY}' key: registry credentials \
                     must be a kubernetes.io/dockerconfigjson Secret"
                ),
            )
        })?;
        configs.push(config);
    }
    Ok(configs)
}

async fn optional_secret(
    ctx: &Context,
    ns: &str,
    name: Option<&str>,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, StepError> {
    match name {
        Some(name) => secret_data(ctx, ns, name).await.map(Some),
        None => Ok(None),
    }
}

/// The registry client for `obj`: credentials, CA, proxy, plain HTTP, timeout.
async fn client(
    obj: &OCIRepository,
    ctx: &Context,
    repo: &Repository,
) -> Result<RegistryClient, StepError> {
    let ns = obj.namespace().unwrap_or_default();
    let configs = docker_configs(obj, ctx).await?;
    let credentials =
        driftless_oci::auth::from_docker_configs(configs.iter().map(Vec::as_slice), &repo.name())
            .map_err(oci_step_error)?;
    let cert = obj.spec.cert_secret_ref.as_ref().map(|r| r.name.as_str());
    let tls = match optional_secret(ctx, &ns, cert).await? {
        Some(data) => Some(TlsConfig::from_secret_data(&data).map_err(oci_step_error)?),
        None => None,
    };
    let proxy_name = obj.spec.proxy_secret_ref.as_ref().map(|r| r.name.as_str());
    let proxy = match optional_secret(ctx, &ns, proxy_name).await? {
        Some(data) => Some(ProxyConfig::from_secret_data(&data).map_err(oci_step_error)?),
        None => None,
    };
    let timeout = match &obj.spec.timeout {
        Some(t) => driftless_core::duration::parse(t).map_err(|e| {
            fetch_failed(reasons::URL_INVALID, format!("spec.timeout: {e}")).stalled()
        })?,
        None => DEFAULT_TIMEOUT,
    };
    let options = ClientOptions {
        insecure: obj.spec.insecure.unwrap_or(false),
        tls,
        proxy,
        timeout: Some(timeout),
        ..ClientOptions::default()
    };
    RegistryClient::new(&options, &credentials).map_err(oci_step_error)
}

/// Which tag `spec.ref` names, by Flux's precedence: digest (no tag), semver (the highest
/// matching tag, after `semverFilter`), tag, else `latest`.
async fn select_tag(
    obj: &OCIRepository,
    client: &RegistryClient,
    repo: &Repository,
) -> Result<Option<String>, StepError> {
    let r = obj.spec.reference.clone().unwrap_or_default();
    let set = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    if set(&r.digest).is_some() {
        return Ok(None);
    }
    let invalid = |m: String| fetch_failed(reasons::URL_INVALID, m).stalled();
    let Some(range) = set(&r.semver) else {
        // Flux ignores a lone filter; it is refused here so the user sees it does nothing.
        if set(&r.semver_filter).is_some() {
            return Err(invalid(
                "spec.ref.semverFilter filters the tags of spec.ref.semver, which is not set: \
                 set spec.ref.semver (e.g. '*') or remove the filter"
                    .to_owned(),
            ));
        }
        return Ok(Some(set(&r.tag).unwrap_or_else(|| "latest".to_owned())));
    };
    let constraint = driftless_core::semver::Constraint::parse(&range)
        .map_err(|e| invalid(format!("spec.ref.semver {range:?} is invalid: {e}")))?;
    let filter = set(&r.semver_filter)
        .map(|f| {
            regex::Regex::new(&f)
                .map_err(|e| invalid(format!("spec.ref.semverFilter {f:?} is invalid: {e}")))
        })
        .transpose()?;
    let tags = client.list_tags(repo).await.map_err(oci_step_error)?;
    let candidates = tags
        .iter()
        .map(String::as_str)
        .filter(|t| filter.as_ref().is_none_or(|f| f.is_match(t)));
    // Not stalled (unlike a bad range): the matching tag may be pushed later.
    let (tag, _) =
        driftless_core::semver::latest_matching(&constraint, candidates).ok_or_else(|| {
            fetch_failed(
                driftless_oci::REASON_PULL_FAILED,
                format!(
                    "no tag of {repo} matches semver {range:?}{}; {} tags listed",
                    filter
                        .as_ref()
                        .map(|f| format!(" with filter {:?}", f.as_str()))
                        .unwrap_or_default(),
                    tags.len()
                ),
            )
        })?;
    Ok(Some(tag.to_owned()))
}

/// Refusals, client, tag selection and the HEAD for the digest.
pub(super) async fn resolve(
    obj: &OCIRepository,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<(), StepError> {
    refuse_unsupported(obj)?;
    let repo = Repository::parse(&obj.spec.url).map_err(oci_step_error)?;
    let client = client(obj, ctx, &repo).await?;
    let tag = select_tag(obj, &client, &repo).await?;
    let pinned = obj
        .spec
        .reference
        .as_ref()
        .and_then(|r| r.digest.clone())
        .filter(|d| !d.is_empty());
    let asked = tag.clone().or(pinned).unwrap_or_default();
    let digest = client
        .resolve(&repo, &asked)
        .await
        .map_err(oci_step_error)?;
    let revision = driftless_oci::revision(tag.as_deref(), &digest);
    progress.remote = Some(Remote {
        client,
        repo,
        digest,
        revision,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(spec: serde_json::Value) -> OCIRepository {
        let mut full = serde_json::json!({"url": "oci://r.io/app", "interval": "1m"});
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            full.extend(extra.clone());
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "app", "namespace": "ns"}, "spec": full,
        }))
        .expect("repo")
    }

    /// Refusals that need no registry: the client is built (no I/O) but never used.
    #[tokio::test]
    async fn bad_refs_are_refused_before_asking_the_registry() {
        let client = RegistryClient::new(
            &ClientOptions::default(),
            &driftless_oci::Credentials::Anonymous,
        )
        .expect("client");
        let repository = Repository::parse("oci://r.io/app").expect("repository");
        for (reference, needle) in [
            (
                serde_json::json!({"semverFilter": "^1"}),
                "set spec.ref.semver",
            ),
            (
                serde_json::json!({"semver": "not a range"}),
                "spec.ref.semver",
            ),
            (
                serde_json::json!({"semver": "*", "semverFilter": "(unclosed"}),
                "spec.ref.semverFilter",
            ),
        ] {
            let err = select_tag(
                &repo(serde_json::json!({"ref": reference})),
                &client,
                &repository,
            )
            .await
            .expect_err("refused");
            assert_eq!(err.reason, reasons::URL_INVALID, "{reference}");
            assert!(
                err.stalled && err.message.contains(needle),
                "{reference}: {err}"
            );
        }
        let tag = |reference| {
            let obj = repo(serde_json::json!({"ref": reference}));
            let client = &client;
            let repository = &repository;
            async move { select_tag(&obj, client, repository).await.expect("tag") }
        };
        assert_eq!(tag(serde_json::json!({})).await.as_deref(), Some("latest"));
        assert_eq!(
            tag(serde_json::json!({"tag": "v1"})).await.as_deref(),
            Some("v1")
        );
        assert_eq!(
            tag(serde_json::json!({"tag": "v1", "digest": "sha256:ab"})).await,
            None,
            "a digest wins and has no tag"
        );
    }

    #[test]
    fn verification_and_cloud_identity_are_refused_with_a_reason() {
        let err = refuse_unsupported(&repo(
            serde_json::json!({"verify": {"provider": "cosign", "secretRef": {"name": "k"}}}),
        ))
        .expect_err("verify refused");
        assert_eq!(err.reason, reasons::VERIFICATION_ERROR);
        assert_eq!(err.condition, Some(types::SOURCE_VERIFIED));
        assert!(err.stalled && err.message.contains("cosign"), "{err}");
        for provider in ["aws", "azure", "gcp"] {
            let err = refuse_unsupported(&repo(serde_json::json!({"provider": provider})))
                .expect_err(provider);
            assert_eq!(err.reason, reasons::AUTHENTICATION_FAILED);
            assert!(err.stalled && err.message.contains("generic"), "{err}");
        }
        assert!(refuse_unsupported(&repo(serde_json::json!({"provider": "generic"}))).is_ok());
        assert!(refuse_unsupported(&repo(serde_json::json!({}))).is_ok());
    }
}
