//! Step 2, source: credentials from Secrets and the cheap remote check ([`resolve`]); later,
//! unless the artifact is up to date (see `outdated`), fetch, checkout and signature
//! verification ([`fetch`]).

use std::collections::BTreeMap;
use std::time::Duration;

use driftless_api::source::gitrepository::{GitProvider, GitRepository, GitVerificationMode};
use driftless_core::artifact::DigestHasher;
use driftless_core::conditions::{reasons, types};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt as _};

use super::{Context, Progress, StepError};
use crate::git::{
    CheckoutOptions, Credentials, GitError, GitRef, ProxyConfig, RemoteSpec, TrustedKeys,
    VerifyMode, fetch_and_checkout_async, resolve_async, verify_signatures,
};

/// Flux's default `spec.timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

fn fetch_failed(reason: &'static str, message: impl Into<String>) -> StepError {
    StepError::new(reason, message).on(types::FETCH_FAILED)
}

/// Map a Git failure to Flux's condition reason.
fn git_step_error(err: GitError) -> StepError {
    let message = err.to_string();
    match err {
        GitError::InvalidUrl { .. } => fetch_failed(reasons::URL_INVALID, message).stalled(),
        GitError::InvalidRef(_) => fetch_failed(reasons::GIT_OPERATION_FAILED, message).stalled(),
        GitError::InvalidSecret(_)
        | GitError::AuthFailed { .. }
        | GitError::UntrustedHost { .. } => fetch_failed(reasons::AUTHENTICATION_FAILED, message),
        GitError::Unsupported(_) => fetch_failed(reasons::GIT_OPERATION_FAILED, message).stalled(),
        GitError::Verification { reason, .. } => {
            let failure = StepError::new(reason, message).on(types::SOURCE_VERIFIED);
            // Only a spec change can give a tag to verify.
            if reason == reasons::INVALID_VERIFICATION_MODE {
                failure.stalled()
            } else {
                failure
            }
        }
        _ => fetch_failed(reasons::GIT_OPERATION_FAILED, message),
    }
}

pub(crate) async fn secret_data(
    ctx: &Context,
    ns: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, StepError> {
    let api: Api<Secret> = Api::namespaced(ctx.runtime.client.clone(), ns);
    match api.get_opt(name).await {
        Ok(Some(secret)) => Ok(secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect()),
        Ok(None) => Err(fetch_failed(
            reasons::AUTHENTICATION_FAILED,
            format!("secret '{ns}/{name}' not found"),
        )),
        Err(e) => Err(fetch_failed(
            reasons::AUTHENTICATION_FAILED,
            format!("reading secret '{ns}/{name}': {e}"),
        )),
    }
}

/// The `RemoteSpec` of `obj`: URL, credentials, proxy, timeout.
async fn remote_spec(obj: &GitRepository, ctx: &Context) -> Result<RemoteSpec, StepError> {
    let ns = obj.namespace().unwrap_or_default();
    if matches!(
        obj.spec.provider,
        Some(GitProvider::Azure | GitProvider::Github | GitProvider::Aws)
    ) || obj.spec.service_account_name.is_some()
    {
        return Err(fetch_failed(
            reasons::AUTHENTICATION_FAILED,
            "spec.provider other than 'generic' and spec.serviceAccountName are not supported yet",
        )
        .stalled());
    }
    let credentials = match &obj.spec.secret_ref {
        Some(r) => Credentials::from_secret(&obj.spec.url, &secret_data(ctx, &ns, &r.name).await?)
            .map_err(git_step_error)?,
        None => Credentials::default(),
    };
    let proxy = match &obj.spec.proxy_secret_ref {
        Some(r) => Some(
            ProxyConfig::from_secret(&secret_data(ctx, &ns, &r.name).await?)
                .map_err(git_step_error)?,
        ),
        None => None,
    };
    let timeout = match &obj.spec.timeout {
        Some(t) => driftless_core::duration::parse(t).map_err(|e| {
            fetch_failed(reasons::GIT_OPERATION_FAILED, format!("spec.timeout: {e}")).stalled()
        })?,
        None => DEFAULT_TIMEOUT,
    };
    Ok(RemoteSpec {
        url: obj.spec.url.clone(),
        credentials,
        proxy,
        timeout,
    })
}

/// `spec.verify.mode` as the Git layer's enum, and as written in `status.sourceVerificationMode`.
pub(super) fn verify_mode(obj: &GitRepository) -> Option<(VerifyMode, &'static str)> {
    let verify = obj.spec.verify.as_ref()?;
    Some(match verify.mode.unwrap_or_default() {
        GitVerificationMode::Head | GitVerificationMode::HeadLegacy => (VerifyMode::Head, "HEAD"),
        GitVerificationMode::Tag => (VerifyMode::Tag, "Tag"),
        GitVerificationMode::TagAndHEAD => (VerifyMode::TagAndHead, "TagAndHEAD"),
    })
}

/// Credentials, then the cheap remote check: which commit does `spec.ref` name now? Nothing
/// is downloaded (one ref listing; none at all for a full commit SHA).
pub(super) async fn resolve(
    obj: &GitRepository,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<(), StepError> {
    let r = obj.spec.reference.clone().unwrap_or_default();
    let reference = GitRef::from_spec(
        r.branch.as_deref(),
        r.tag.as_deref(),
        r.semver.as_deref(),
        r.name.as_deref(),
        r.commit.as_deref(),
    )
    .map_err(git_step_error)?;
    let remote = remote_spec(obj, ctx).await?;
    let resolved = resolve_async(remote.clone(), reference)
        .await
        .map_err(git_step_error)?;
    progress.remote = Some((remote, resolved));
    Ok(())
}

/// The no-op path: the stored artifact stays, and so does its verification.
pub(super) fn keep(obj: &GitRepository, progress: &mut Progress) {
    let status = obj.status.clone().unwrap_or_default();
    if obj.spec.verify.is_some() {
        progress.verified = status
            .conditions
            .as_ref()
            .and_then(|c| driftless_core::conditions::get(c, types::SOURCE_VERIFIED))
            .filter(|c| c.status == "True")
            .map(|c| c.message.clone());
    }
}

/// The trusted keys of `spec.verify` and the fingerprint recorded with what they verified.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The Secret's entries, in key order.
    pub keys: Vec<(String, Vec<u8>)>,
    /// [`fingerprint`] of `keys`.
    pub fingerprint: String,
}

/// Reads the keys Secret of `spec.verify` on every reconcile, not only when there is a new
/// commit, so that a key rotation has the current revision verified again (Flux v2.10's
/// `status.sourceVerificationFingerprint`).
pub(super) async fn verification(
    obj: &GitRepository,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<(), StepError> {
    let Some(verify) = &obj.spec.verify else {
        return Ok(());
    };
    let ns = obj.namespace().unwrap_or_default();
    let data = secret_data(ctx, &ns, &verify.secret_ref.name)
        .await
        .map_err(|e| {
            StepError::new(reasons::VERIFICATION_ERROR, e.message).on(types::SOURCE_VERIFIED)
        })?;
    progress.verification = Some(Verification {
        fingerprint: fingerprint(&data),
        keys: data.into_iter().collect(),
    });
    Ok(())
}

/// `sha256:<hex>` of the keys Secret's entries in key order, each as its name, a NUL, the
/// value's length (8 bytes, big-endian) and the value: any key added, removed, renamed or
/// changed gives another fingerprint, and no two Secrets share one by concatenation.
pub(super) fn fingerprint(data: &BTreeMap<String, Vec<u8>>) -> String {
    let mut hasher = DigestHasher::new();
    for (name, value) in data {
        hasher.update(name.as_bytes());
        hasher.update(&[0]);
        hasher.update(&(value.len() as u64).to_be_bytes());
        hasher.update(value);
    }
    hasher.finish().to_string()
}

/// Fetch and check out what [`resolve`] found, then verify signatures when asked.
pub(super) async fn fetch(
    obj: &GitRepository,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<(), StepError> {
    let Some((remote, resolved)) = progress.remote.clone() else {
        return Ok(());
    };
    let dir = tempfile::tempdir().map_err(|e| {
        StepError::new(
            reasons::DIR_CREATION_FAILED,
            format!("creating a temporary directory: {e}"),
        )
        .on(types::STORAGE_OPERATION_FAILED)
    })?;
    let options = CheckoutOptions {
        recurse_submodules: obj.spec.recurse_submodules.unwrap_or(false),
        sparse_checkout: obj.spec.sparse_checkout.clone().unwrap_or_default(),
        limits: ctx.limits,
        // Included artifacts are copied into the checkout; otherwise the artifact is packed
        // straight from the fetched objects.
        skip_worktree: progress.includes.is_empty(),
    };
    let checked = fetch_and_checkout_async(remote, resolved, options, dir.path().to_owned())
        .await
        .map_err(git_step_error)?;

    if let (Some((mode, _)), Some(verification)) = (verify_mode(obj), &progress.verification) {
        let keys = TrustedKeys::parse(&verification.keys).map_err(git_step_error)?;
        let message = verify_signatures(
            dir.path(),
            checked.commit,
            checked.tag.as_deref(),
            mode,
            &keys,
        )
        .map_err(git_step_error)?;
        progress.verified = Some(message);
    }
    progress.checkout = Some((dir, checked));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(entries: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect()
    }

    #[test]
    fn the_fingerprint_changes_with_any_key_and_only_then() {
        let one = secret(&[("author.asc", b"key A")]);
        let fp = fingerprint(&one);
        assert!(fp.starts_with("sha256:") && fp.len() == 71, "{fp}");
        assert_eq!(fp, fingerprint(&secret(&[("author.asc", b"key A")])));
        for other in [
            secret(&[("author.asc", b"key B")]),
            secret(&[("other.asc", b"key A")]),
            secret(&[("author.asc", b"key A"), ("second.asc", b"key B")]),
            // Not the concatenation of name and value.
            secret(&[("author.as", b"ckey A")]),
            secret(&[]),
        ] {
            assert_ne!(fp, fingerprint(&other), "{other:?}");
        }
    }
}
