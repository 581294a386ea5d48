//! kustomize-controller v1.10's behaviour on a downloaded artifact whose digest is not the one
//! its source advertises: `Ready=False` with reason `ArtifactFailed`, not stalled, and retried
//! at `retryInterval` until the source is right again. Real control plane, real git server,
//! real source-controller; the mismatch is made by rewriting the GitRepository's status.

use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_e2e::flux::{FluxControllers, condition, create_git_source, create_kustomization};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::source::{artifact, ready_revision};
use driftless_e2e::{TestEnv, wait};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(90);
const WRONG: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

#[tokio::test]
async fn a_digest_mismatch_fails_with_artifact_failed_and_is_retried() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    repo.commit(
        &[(
            "deploy/a.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n" as &[u8],
        )],
        "first",
    )?;
    repo.push()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-digest").await?;
    let mut controllers = FluxControllers::start(&env, &ns, &[])?;
    let sources = create_git_source(&env, &ns, &server.http_url("app")).await?;
    let source = wait::wait_for(&sources, "repo", TIMEOUT, "be Ready", |r| {
        ready_revision(r).is_some()
    })
    .await;
    controllers.source.ensure_running()?;
    let good = artifact(&source?).ok_or_else(|| anyhow::anyhow!("no artifact"))?;

    // The source advertises a digest its file does not have (as after a tampered or
    // truncated download), before the Kustomization ever fetches it.
    let status = |digest: &str| {
        let mut artifact = serde_json::to_value(&good).unwrap_or_default();
        artifact["digest"] = digest.into();
        json!({"status": {"artifact": artifact}})
    };
    sources
        .patch_status(
            "repo",
            &PatchParams::default(),
            &Patch::Merge(&status(WRONG)),
        )
        .await?;

    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    create_kustomization(
        &api,
        &ns,
        "app",
        json!({
            "interval": "1h",
            "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "repo"},
        }),
        json!({"path": "./deploy", "retryInterval": "2s", "targetNamespace": ns.name()}),
    )
    .await?;
    let failed = wait::wait_for(&api, "app", TIMEOUT, "fail on the digest", |k| {
        condition(k, "Ready").is_some_and(|c| c.0 == "False")
    })
    .await;
    controllers.kustomize.ensure_running()?;
    let failed = failed?;
    let (_, reason, message) = condition(&failed, "Ready").unwrap_or_default();
    assert_eq!(reason, "ArtifactFailed", "{message}");
    assert!(message.contains("digest"), "{message}");
    assert!(
        condition(&failed, "Stalled").is_none(),
        "a digest mismatch is retried, not stalled"
    );
    let configmaps: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    assert!(
        configmaps.get_opt("a").await?.is_none(),
        "nothing from an unverified artifact is applied"
    );

    // The source is right again: the retry (retryInterval, no reconcile request) applies it.
    sources
        .patch_status(
            "repo",
            &PatchParams::default(),
            &Patch::Merge(&status(&good.digest)),
        )
        .await?;
    let applied = wait::wait_for(&api, "app", TIMEOUT, "apply after the retry", |k| {
        condition(k, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await?;
    assert_eq!(
        applied
            .status
            .as_ref()
            .and_then(|s| s.last_applied_revision.clone()),
        Some(good.revision.clone())
    );
    assert!(configmaps.get_opt("a").await?.is_some());
    controllers.kustomize.ensure_running()?;
    Ok(())
}
