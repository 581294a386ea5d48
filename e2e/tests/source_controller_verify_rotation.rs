//! Flux v2.10's `status.sourceVerificationFingerprint`: the source-controller binary verifies
//! the current commit again when the keys Secret of `spec.verify` changes, without a new
//! commit, against the real control plane and the real git server.

use std::time::Duration;

use anyhow::Context as _;
use driftless_api::source::gitrepository::GitRepository;
use driftless_e2e::git_server::{GitServer, Signer};
use driftless_e2e::source::{
    SourceController, artifact, condition, create_git_repository, create_http_credentials,
    create_secret, has_condition, last_handled, ready_revision, request_reconcile,
};
use driftless_e2e::{TestEnv, wait};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(90);

fn fingerprint(repo: &GitRepository) -> Option<String> {
    repo.status
        .as_ref()?
        .source_verification_fingerprint
        .clone()
}

#[tokio::test]
async fn rotated_keys_verify_the_same_commit_again() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    server.require_gpg()?;
    let repo = server.create_repo("app")?;
    let signed = repo.commit_signed(&[("a.yaml", b"a: 1\n")], "signed", Signer::Trusted)?;
    repo.push()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("src-verify-rotation").await?;
    let mut controller = SourceController::start(&env, &ns, &[])?;
    create_http_credentials(&env, &ns, "creds").await?;
    let trusted = server.trusted_gpg_public_key()?;
    let stranger = server.stranger_gpg_public_key()?;
    create_secret(&env, &ns, "pgp", &[("author.asc", &trusted)]).await?;
    let api: Api<GitRepository> = Api::namespaced(env.client(), ns.name());
    create_git_repository(
        &api,
        &ns,
        "app",
        json!({
            "url": server.http_url("app"), "ref": {"branch": "main"},
            "secretRef": {"name": "creds"},
            "verify": {"mode": "HEAD", "secretRef": {"name": "pgp"}},
        }),
    )
    .await?;
    let want = format!("main@sha1:{signed}");
    let verified = wait::wait_for(&api, "app", TIMEOUT, "verify HEAD", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await;
    controller.process.ensure_running()?;
    let verified = verified?;
    let first = fingerprint(&verified).context("the fingerprint is recorded")?;
    assert!(first.starts_with("sha256:"), "{first}");
    let good = artifact(&verified).context("artifact")?;

    // The same commit, and a Secret that no longer trusts its signer: verified again, refused.
    let secrets: Api<Secret> = Api::namespaced(env.client(), ns.name());
    let rotate = |keys: String| {
        let secrets = secrets.clone();
        async move {
            let patch = json!({"stringData": {"author.asc": keys}});
            secrets
                .patch("pgp", &PatchParams::default(), &Patch::Merge(&patch))
                .await
        }
    };
    rotate(stranger.clone()).await?;
    request_reconcile(&api, "app", "rotated").await?;
    let refused = wait::wait_for(&api, "app", TIMEOUT, "verify the commit again", |r| {
        last_handled(r) == Some("rotated")
    })
    .await?;
    let (ready, reason, message) = condition(&refused, "Ready").context("Ready")?;
    assert_eq!(
        (ready.as_str(), reason.as_str()),
        ("False", "InvalidCommitSignature"),
        "{message}"
    );
    assert!(
        has_condition(
            &refused,
            "SourceVerified",
            "False",
            "InvalidCommitSignature"
        ),
        "{:?}",
        condition(&refused, "SourceVerified")
    );
    assert_eq!(
        artifact(&refused).as_ref(),
        Some(&good),
        "the artifact stays"
    );
    assert_eq!(
        fingerprint(&refused).as_deref(),
        Some(first.as_str()),
        "the fingerprint stays that of the keys that verified the artifact"
    );

    // Trusting both keys: the same commit verifies, under a new fingerprint.
    rotate(format!("{trusted}{stranger}")).await?;
    request_reconcile(&api, "app", "both").await?;
    let reverified = wait::wait_for(&api, "app", TIMEOUT, "verify with both keys", |r| {
        last_handled(r) == Some("both") && ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await?;
    assert!(
        has_condition(&reverified, "SourceVerified", "True", "Succeeded"),
        "{:?}",
        condition(&reverified, "SourceVerified")
    );
    let second = fingerprint(&reverified).context("fingerprint")?;
    assert_ne!(second, first, "new keys, new fingerprint");
    assert_eq!(
        artifact(&reverified).map(|a| a.digest),
        Some(good.digest),
        "same commit, same content"
    );

    // Nothing changed since: the next reconcile is the no-op and keeps the fingerprint.
    request_reconcile(&api, "app", "again").await?;
    let again = wait::wait_for(&api, "app", TIMEOUT, "reconcile again", |r| {
        last_handled(r) == Some("again")
    })
    .await?;
    assert_eq!(fingerprint(&again), Some(second));
    assert!(has_condition(&again, "Ready", "True", "Succeeded"));
    controller.process.ensure_running()?;
    Ok(())
}
