//! kustomize-controller end to end: the real control plane, the real git server and the real
//! source-controller. Each test runs its own controllers, restricted by a label selector to
//! the objects of its namespace, so tests run in parallel without interfering.

use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_e2e::flux::{FluxControllers, SELECTOR_LABEL, create_git_source};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::{TestEnv, TestNamespace, wait};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

const TIMEOUT: Duration = Duration::from_secs(90);

fn kustomization(
    ns: &TestNamespace,
    name: &str,
    spec: serde_json::Value,
) -> anyhow::Result<Kustomization> {
    let mut full = serde_json::json!({
        "interval": "10m",
        "prune": true,
        "sourceRef": {"kind": "GitRepository", "name": "repo"},
    });
    if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
        full.extend(extra.clone());
    }
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "labels": {SELECTOR_LABEL: ns.name()}},
        "spec": full,
    }))?)
}

fn ready(k: &Kustomization) -> Option<(String, String)> {
    let c = k
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    Some((c.status.clone(), c.reason.clone()))
}

fn applied(k: &Kustomization) -> Option<&str> {
    k.status.as_ref()?.last_applied_revision.as_deref()
}

fn requested_at(token: &str) -> serde_json::Value {
    serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}})
}

fn data(cm: &ConfigMap, key: &str) -> Option<String> {
    cm.data.as_ref()?.get(key).cloned()
}

#[tokio::test]
async fn apply_drift_update_prune_broken_commit_and_deletion() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    // No kustomization.yaml: the controller generates one, as Flux does.
    let first = repo.commit(
        &[
            ("deploy/a.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  greeting: ${greeting}\n  fallback: ${missing:=dflt}\n  from: ${from_cm}\n" as &[u8]),
            ("deploy/b.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  k: v\n"),
            ("deploy/raw.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: raw\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  k: ${greeting}\n"),
        ],
        "first",
    )?;
    repo.push()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-apply").await?;
    let mut controllers = FluxControllers::start(&env, &ns, &[])?;
    let sources = create_git_source(&env, &ns, &server.http_url("app")).await?;
    let vars: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    vars.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "vars"},
            "data": {"from_cm": "cm-value", "greeting": "overridden by substitute"}}))?,
    )
    .await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    api.create(
        &PostParams::default(),
        &kustomization(
            &ns,
            "app",
            serde_json::json!({
                "path": "./deploy",
                "targetNamespace": ns.name(),
                "postBuild": {"substitute": {"greeting": "hello"},
                          "substituteFrom": [{"kind": "ConfigMap", "name": "vars"},
                                             {"kind": "Secret", "name": "absent", "optional": true}]},
            }),
        )?,
    )
    .await?;

    let k = wait::wait_for(&api, "app", TIMEOUT, "apply the first commit", |k| {
        applied(k).is_some_and(|r| r.ends_with(&first))
    })
    .await?;
    assert_eq!(
        ready(&k),
        Some(("True".into(), "ReconciliationSucceeded".into()))
    );
    let status = k.status.clone().unwrap_or_default();
    let ids: Vec<String> = status
        .inventory
        .unwrap_or_default()
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        ids,
        [
            format!("{0}_a__ConfigMap", ns.name()),
            format!("{0}_b__ConfigMap", ns.name()),
            format!("{0}_raw__ConfigMap", ns.name())
        ]
    );
    assert!(
        k.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"finalizers.fluxcd.io".to_owned())
    );
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    let a = cms.get("a").await?;
    assert_eq!(data(&a, "greeting").as_deref(), Some("hello"));
    assert_eq!(data(&a, "fallback").as_deref(), Some("dflt"));
    assert_eq!(data(&a, "from").as_deref(), Some("cm-value"));
    let raw = cms.get("raw").await?;
    assert_eq!(
        data(&raw, "k").as_deref(),
        Some("${greeting}"),
        "opt-out annotation"
    );
    let labels = a.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("app")
    );

    // Drift: a hand edit and a hand deletion are reverted at the next reconcile.
    cms.patch(
        "a",
        &PatchParams::apply("kubectl").force(),
        &Patch::Apply(serde_json::json!({"apiVersion":"v1","kind":"ConfigMap",
            "metadata":{"name":"a"},"data":{"greeting":"by hand"}})),
    )
    .await?;
    cms.delete("b", &DeleteParams::default()).await?;
    api.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(requested_at("drift")),
    )
    .await?;
    wait::wait_for(&api, "app", TIMEOUT, "handle the drift request", |k| {
        k.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some("drift")
    })
    .await?;
    assert_eq!(
        data(&cms.get("a").await?, "greeting").as_deref(),
        Some("hello")
    );
    assert!(
        cms.get_opt("b").await?.is_some(),
        "the deleted object is recreated"
    );

    // No-op: a reconcile that finds no drift writes no applied object.
    let versions = |cm: &ConfigMap| cm.metadata.resource_version.clone();
    let before = (
        versions(&cms.get("a").await?),
        versions(&cms.get("b").await?),
    );
    api.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(requested_at("noop")),
    )
    .await?;
    wait::wait_for(&api, "app", TIMEOUT, "handle the no-op request", |k| {
        k.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some("noop")
    })
    .await?;
    let after = (
        versions(&cms.get("a").await?),
        versions(&cms.get("b").await?),
    );
    assert_eq!(
        before, after,
        "an unchanged reconcile must not write the applied objects"
    );

    // Update: a new commit changes a and removes b, which is pruned.
    repo.git(&["rm", "-q", "deploy/b.yaml"])?;
    let second = repo.commit(
        &[(
            "deploy/a.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  greeting: bye\n"
                as &[u8],
        )],
        "second: change a, remove b",
    )?;
    repo.push()?;
    sources
        .patch(
            "repo",
            &PatchParams::default(),
            &Patch::Merge(requested_at("second")),
        )
        .await?;
    wait::wait_for(&api, "app", TIMEOUT, "apply the second commit", |k| {
        applied(k).is_some_and(|r| r.ends_with(&second))
    })
    .await?;
    assert_eq!(
        data(&cms.get("a").await?, "greeting").as_deref(),
        Some("bye")
    );
    let b = cms.get_opt("b").await?;
    assert!(
        b.is_none_or(|b| b.metadata.deletion_timestamp.is_some()),
        "b is pruned"
    );

    // A broken commit (a Service the API server refuses) applies nothing, keeps the old state.
    let broken = repo.commit(
        &[
            ("deploy/a.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  greeting: broken\n" as &[u8]),
            ("deploy/svc.yaml", b"apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  type: ClusterIP\n"),
        ],
        "broken",
    )?;
    repo.push()?;
    sources
        .patch(
            "repo",
            &PatchParams::default(),
            &Patch::Merge(requested_at("broken")),
        )
        .await?;
    let k = wait::wait_for(&api, "app", TIMEOUT, "fail on the broken commit", |k| {
        k.status
            .as_ref()
            .and_then(|s| s.last_attempted_revision.as_deref())
            .is_some_and(|r| r.ends_with(&broken))
            && ready(k).is_some_and(|(s, _)| s == "False")
    })
    .await?;
    assert_eq!(
        ready(&k).map(|r| r.1).as_deref(),
        Some("ReconciliationFailed")
    );
    assert!(
        applied(&k).is_some_and(|r| r.ends_with(&second)),
        "lastAppliedRevision stays"
    );
    assert_eq!(
        data(&cms.get("a").await?, "greeting").as_deref(),
        Some("bye"),
        "nothing applied"
    );

    // Deletion with prune: the inventory goes with the Kustomization.
    api.delete("app", &DeleteParams::default()).await?;
    wait::wait_deleted(&api, "app", TIMEOUT).await?;
    let a = cms.get_opt("a").await?;
    assert!(
        a.is_none_or(|a| a.metadata.deletion_timestamp.is_some()),
        "a is deleted with the Kustomization"
    );
    controllers.kustomize.ensure_running()?;
    Ok(())
}
