//! kustomize-controller end to end, what drift correction leaves alone and what it takes
//! back: `spec.ignore` rules, the take-over of fields set with kubectl, the
//! `kustomize.toolkit.fluxcd.io/ssa: Merge` opt-out; and Flux's non-strict substitution of an
//! unset variable. Real control plane, git server and source-controller.

use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_e2e::flux::{FluxControllers, create_git_source, create_kustomization};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::{TestEnv, wait};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams};

const TIMEOUT: Duration = Duration::from_secs(90);

fn data(cm: &ConfigMap, key: &str) -> Option<String> {
    cm.data.as_ref()?.get(key).cloned()
}

/// A hand edit of ConfigMap `name`'s data as field manager `manager` (a merge patch, the
/// way `kubectl edit` and `kubectl patch` write).
async fn edit_by_hand(
    cms: &Api<ConfigMap>,
    name: &str,
    manager: &str,
    data: serde_json::Value,
) -> anyhow::Result<()> {
    let params = PatchParams {
        field_manager: Some(manager.to_owned()),
        ..PatchParams::default()
    };
    cms.patch(
        name,
        &params,
        &Patch::Merge(serde_json::json!({"data": data})),
    )
    .await?;
    Ok(())
}

/// Asks for a reconcile and waits until it was handled.
async fn reconcile(api: &Api<Kustomization>, token: &str) -> anyhow::Result<()> {
    let patch = serde_json::json!({"metadata": {"annotations": {
        "reconcile.fluxcd.io/requestedAt": token}}});
    api.patch("app", &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    wait::wait_for(api, "app", TIMEOUT, token, |k| {
        k.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some(token)
    })
    .await?;
    Ok(())
}

fn managers(cm: &ConfigMap) -> Vec<String> {
    cm.metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|e| e.manager.clone())
        .collect()
}

#[tokio::test]
async fn ignored_paths_survive_kubectl_fields_are_taken_back_unless_ssa_merge() -> anyhow::Result<()>
{
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    repo.commit(
        &[
            ("deploy/a.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n  tuned: base\n  joined: x-${unset}-y\n" as &[u8]),
            ("deploy/o.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: o\ndata:\n  k: v\n"),
            ("deploy/m.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: Merge\ndata:\n  k: v\n"),
        ],
        "first",
    )?;
    repo.push()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-drift").await?;
    // Flux v1.10 is strict by default; this test checks the non-strict substitution.
    let mut controllers = FluxControllers::start(
        &env,
        &ns,
        &["--feature-gates=StrictPostBuildSubstitutions=false"],
    )?;
    create_git_source(&env, &ns, &server.http_url("app")).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    create_kustomization(
        &api,
        &ns,
        "app",
        serde_json::json!({"interval": "10m", "prune": true, "targetNamespace": ns.name(),
                           "sourceRef": {"kind": "GitRepository", "name": "repo"}}),
        serde_json::json!({
            "path": "./deploy",
            "postBuild": {"substitute": {"defined": "yes"}},
            "ignore": [{"paths": ["/data/tuned"],
                        "target": {"kind": "ConfigMap", "name": "a"}}],
        }),
    )
    .await?;
    wait::wait_for(&api, "app", TIMEOUT, "the first apply", |k| {
        k.status
            .as_ref()
            .is_some_and(|s| s.last_applied_revision.is_some())
    })
    .await?;
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    let a = cms.get("a").await?;
    assert_eq!(data(&a, "tuned").as_deref(), Some("base"));
    assert_eq!(
        data(&a, "joined").as_deref(),
        Some("x--y"),
        "an unset variable without default becomes empty (Flux's non-strict mode)"
    );

    // Drift only on an ignored path: nothing is written.
    edit_by_hand(
        &cms,
        "a",
        "e2e-tuner",
        serde_json::json!({"tuned": "by-tuner"}),
    )
    .await?;
    let before = cms.get("a").await?.metadata.resource_version;
    reconcile(&api, "ignored-only").await?;
    let a = cms.get("a").await?;
    assert_eq!(data(&a, "tuned").as_deref(), Some("by-tuner"));
    assert_eq!(a.metadata.resource_version, before, "nothing to correct");

    // Drift on an ignored and a watched path: the watched one is reverted, the other stays.
    edit_by_hand(
        &cms,
        "a",
        "e2e-tuner",
        serde_json::json!({"tuned": "tuned-again", "k": "drifted"}),
    )
    .await?;
    reconcile(&api, "mixed").await?;
    let a = cms.get("a").await?;
    assert_eq!(data(&a, "k").as_deref(), Some("v"), "reverted");
    assert_eq!(data(&a, "tuned").as_deref(), Some("tuned-again"), "ignored");

    // A field added with kubectl: taken over and removed, except under ssa: Merge.
    for name in ["o", "m"] {
        edit_by_hand(
            &cms,
            name,
            "kubectl-edit",
            serde_json::json!({"extra": "by hand"}),
        )
        .await?;
    }
    reconcile(&api, "takeover").await?;
    let o = cms.get("o").await?;
    assert_eq!(data(&o, "extra"), None, "kubectl's field is removed");
    assert_eq!(data(&o, "k").as_deref(), Some("v"));
    assert!(
        !managers(&o).iter().any(|m| m.starts_with("kubectl")),
        "{:?}",
        managers(&o)
    );
    let m = cms.get("m").await?;
    assert_eq!(
        data(&m, "extra").as_deref(),
        Some("by hand"),
        "ssa: Merge keeps other managers' fields"
    );
    assert!(managers(&m).iter().any(|m| m == "kubectl-edit"));

    // Once taken over, a reconcile finds nothing to write.
    let before = (
        cms.get("o").await?.metadata.resource_version,
        cms.get("m").await?.metadata.resource_version,
    );
    reconcile(&api, "settled").await?;
    let after = (
        cms.get("o").await?.metadata.resource_version,
        cms.get("m").await?.metadata.resource_version,
    );
    assert_eq!(before, after);
    controllers.kustomize.ensure_running()?;
    Ok(())
}
