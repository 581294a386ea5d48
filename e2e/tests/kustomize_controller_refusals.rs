//! kustomize-controller end to end, refusals that need no source: a missing source, a
//! cross-namespace source under `--no-cross-namespace-refs`, SOPS decryption (not supported
//! yet), and a suspended Kustomization that is left alone. Real control plane.

use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_e2e::flux::{condition, create_kustomization, selector_flag};
use driftless_e2e::{ControllerProcess, TestEnv, TestNamespace, wait};
use kube::Api;

const TIMEOUT: Duration = Duration::from_secs(60);

async fn create(
    api: &Api<Kustomization>,
    ns: &TestNamespace,
    name: &str,
    spec: serde_json::Value,
) -> anyhow::Result<()> {
    create_kustomization(
        api,
        ns,
        name,
        serde_json::json!({
            "interval": "10m",
            "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "missing"},
        }),
        spec,
    )
    .await
}

#[tokio::test]
async fn missing_source_cross_namespace_decryption_and_suspend() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-refuse").await?;
    let selector = selector_flag(&ns);
    let mut controller = ControllerProcess::start(
        &env,
        "kustomize-controller",
        &[
            "--metrics-addr=0",
            "--health-addr=0",
            &selector,
            "--no-cross-namespace-refs=true",
        ],
        &format!("{}-kustomize", ns.name()),
    )?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());

    // Created first, checked last: by then the controller has reconciled the later ones.
    create(&api, &ns, "paused", serde_json::json!({"suspend": true})).await?;
    create(&api, &ns, "missing", serde_json::json!({})).await?;
    let k = wait::wait_for(&api, "missing", TIMEOUT, "report the missing source", |k| {
        condition(k, "Ready").is_some_and(|c| c.0 == "False")
    })
    .await?;
    let (_, reason, message) = condition(&k, "Ready").unwrap_or_default();
    assert_eq!(reason, "ArtifactFailed");
    assert!(message.contains("not found"), "{message}");
    assert!(
        condition(&k, "Stalled").is_none(),
        "a missing source may appear: not stalled"
    );

    create(
        &api,
        &ns,
        "cross",
        serde_json::json!({"sourceRef": {"kind": "GitRepository", "name": "repo", "namespace": "elsewhere"}}),
    )
    .await?;
    let k = wait::wait_for(
        &api,
        "cross",
        TIMEOUT,
        "refuse the cross-namespace source",
        |k| condition(k, "Stalled").is_some_and(|c| c.0 == "True"),
    )
    .await?;
    let (_, reason, message) = condition(&k, "Ready").unwrap_or_default();
    assert_eq!(reason, "AccessDenied");
    assert!(
        message.contains("cross-namespace references have been blocked"),
        "{message}"
    );

    create(
        &api,
        &ns,
        "sops",
        serde_json::json!({"decryption": {"provider": "sops"}}),
    )
    .await?;
    let k = wait::wait_for(&api, "sops", TIMEOUT, "stall on decryption", |k| {
        condition(k, "Stalled").is_some_and(|c| c.0 == "True")
    })
    .await?;
    assert!(condition(&k, "Ready").is_some_and(|c| c.2.contains("not supported yet")));

    // Suspended: never reconciled, so no status is written (the others above prove the
    // controller is running and reconciling this namespace).
    wait::wait_for(&api, "paused", TIMEOUT, "get its finalizer", |k| {
        k.metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| !f.is_empty())
    })
    .await?;
    let k = api.get("paused").await?;
    assert!(
        condition(&k, "Ready").is_none(),
        "a suspended Kustomization is not reconciled"
    );
    controller.ensure_running()?;
    Ok(())
}
