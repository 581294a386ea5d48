//! kustomize-controller end to end, the reconcile shape of `core::reconcile`: a suspended
//! Kustomization does not apply a new commit (and does once resumed), `wait: true` with a
//! prune on the same commit does not wait on what it just pruned, and a health wait shows
//! `Reconciling=True` "Health check in progress". Real control plane, git server and
//! source-controller.

use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_e2e::flux::{FluxControllers, condition, create_git_source, create_kustomization};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::source::{ready_revision, request_reconcile};
use driftless_e2e::{TestEnv, wait};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams};

const TIMEOUT: Duration = Duration::from_secs(120);

fn cm(name: &str, value: &str) -> Vec<u8> {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: {value}\n")
        .into_bytes()
}

fn applied(k: &Kustomization) -> Option<&str> {
    k.status.as_ref()?.last_applied_revision.as_deref()
}

fn value(cm: &ConfigMap) -> Option<String> {
    cm.data.as_ref()?.get("k").cloned()
}

#[tokio::test]
async fn suspended_kustomization_does_not_apply_a_new_commit() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    let first = repo.commit(
        &[
            ("paused/a.yaml", cm("a", "one").as_slice()),
            ("witness/w.yaml", cm("w", "one").as_slice()),
        ],
        "first",
    )?;
    repo.push()?;
    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-suspend").await?;
    let mut controllers = FluxControllers::start(&env, &ns, &[])?;
    let sources = create_git_source(&env, &ns, &server.http_url("app")).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    for name in ["paused", "witness"] {
        create_kustomization(
            &api,
            &ns,
            name,
            serde_json::json!({"interval": "10m", "prune": true, "targetNamespace": ns.name(),
                               "sourceRef": {"kind": "GitRepository", "name": "repo"}}),
            serde_json::json!({"path": format!("./{name}")}),
        )
        .await?;
    }
    let at_first = format!("main@sha1:{first}");
    for name in ["paused", "witness"] {
        wait::wait_for(&api, name, TIMEOUT, "apply the first commit", |k| {
            applied(k) == Some(at_first.as_str())
        })
        .await?;
    }

    api.patch(
        "paused",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"suspend": true}})),
    )
    .await?;
    let second = repo.commit(
        &[
            ("paused/a.yaml", cm("a", "two").as_slice()),
            ("witness/w.yaml", cm("w", "two").as_slice()),
        ],
        "second",
    )?;
    repo.push()?;
    request_reconcile(&sources, "repo", "second").await?;
    let at_second = format!("main@sha1:{second}");
    wait::wait_for(&sources, "repo", TIMEOUT, "fetch the second commit", |r| {
        ready_revision(r).as_deref() == Some(at_second.as_str())
    })
    .await?;
    // The source's new artifact wakes both Kustomizations at once, and a reconcile request
    // asks for the suspended one explicitly: once the witness applied the commit, a
    // reconcile of the suspended one would have too.
    api.patch(
        "paused",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"annotations": {
            "reconcile.fluxcd.io/requestedAt": "while-suspended"}}})),
    )
    .await?;
    let witness = wait::wait_for(&api, "witness", TIMEOUT, "apply the second commit", |k| {
        applied(k) == Some(at_second.as_str())
    })
    .await;
    controllers.kustomize.ensure_running()?;
    witness?;
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    assert_eq!(value(&cms.get("w").await?).as_deref(), Some("two"));
    assert_eq!(
        value(&cms.get("a").await?).as_deref(),
        Some("one"),
        "a suspended Kustomization applied a new commit"
    );
    let paused = api.get("paused").await?;
    assert_eq!(applied(&paused), Some(at_first.as_str()));
    assert_ne!(
        paused
            .status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref()),
        Some("while-suspended"),
        "a suspended Kustomization handled a reconcile request"
    );

    // Resumed: the commit it skipped is applied.
    api.patch(
        "paused",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"suspend": false}})),
    )
    .await?;
    wait::wait_for(&api, "paused", TIMEOUT, "apply the second commit", |k| {
        applied(k) == Some(at_second.as_str())
    })
    .await?;
    assert_eq!(value(&cms.get("a").await?).as_deref(), Some("two"));
    Ok(())
}

#[tokio::test]
async fn wait_does_not_wait_on_what_the_same_commit_pruned() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    repo.commit(
        &[
            ("deploy/a.yaml", cm("a", "one").as_slice()),
            ("deploy/b.yaml", cm("b", "one").as_slice()),
        ],
        "first",
    )?;
    repo.push()?;
    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-wait-prune").await?;
    let mut controllers = FluxControllers::start(&env, &ns, &[])?;
    let sources = create_git_source(&env, &ns, &server.http_url("app")).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    // A timeout far beyond the test's wait: a wait on the pruned object could only end in it.
    create_kustomization(
        &api,
        &ns,
        "app",
        serde_json::json!({"interval": "10m", "prune": true, "wait": true, "timeout": "10m",
                           "targetNamespace": ns.name(), "path": "./deploy",
                           "sourceRef": {"kind": "GitRepository", "name": "repo"}}),
        serde_json::json!({}),
    )
    .await?;
    wait::wait_for(&api, "app", TIMEOUT, "be Ready", |k| {
        condition(k, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await?;

    // One commit changes a and removes b: b is pruned and a waited on.
    repo.git(&["rm", "-q", "deploy/b.yaml"])?;
    let second = repo.commit(
        &[("deploy/a.yaml", cm("a", "two").as_slice())],
        "change a, remove b",
    )?;
    repo.push()?;
    request_reconcile(&sources, "repo", "second").await?;
    let at_second = format!("main@sha1:{second}");
    let k = wait::wait_for(&api, "app", TIMEOUT, "apply and pass health", |k| {
        applied(k) == Some(at_second.as_str())
            && condition(k, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    controllers.kustomize.ensure_running()?;
    let k = k?;
    assert_eq!(
        condition(&k, "Healthy").map(|c| c.0).as_deref(),
        Some("True")
    );
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    assert!(cms.get_opt("b").await?.is_none(), "b was pruned");
    assert_eq!(value(&cms.get("a").await?).as_deref(), Some("two"));
    Ok(())
}

#[tokio::test]
async fn a_health_wait_shows_reconciling_health_check_in_progress() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    repo.commit(&[("deploy/a.yaml", cm("a", "one").as_slice())], "first")?;
    repo.push()?;
    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-progress").await?;
    let mut controllers = FluxControllers::start(&env, &ns, &[])?;
    create_git_source(&env, &ns, &server.http_url("app")).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    // The health check names a ConfigMap nobody creates: the wait lasts its whole timeout.
    create_kustomization(
        &api,
        &ns,
        "app",
        serde_json::json!({"interval": "10m", "prune": true, "timeout": "10m",
                           "targetNamespace": ns.name(), "path": "./deploy",
                           "healthChecks": [{"apiVersion": "v1", "kind": "ConfigMap",
                                             "name": "never", "namespace": ns.name()}],
                           "sourceRef": {"kind": "GitRepository", "name": "repo"}}),
        serde_json::json!({}),
    )
    .await?;
    let k = wait::wait_for(&api, "app", TIMEOUT, "show the health wait", |k| {
        condition(k, "Reconciling").is_some_and(|c| c.2 == "Health check in progress")
    })
    .await;
    controllers.kustomize.ensure_running()?;
    let k = k?;
    assert_eq!(
        condition(&k, "Reconciling"),
        Some((
            "True".into(),
            "Progressing".into(),
            "Health check in progress".into()
        ))
    );
    assert_eq!(
        condition(&k, "Ready").map(|c| (c.0, c.1)),
        Some(("Unknown".into(), "Progressing".into()))
    );
    // What was applied before the wait is in the cluster already.
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    assert_eq!(value(&cms.get("a").await?).as_deref(), Some("one"));
    Ok(())
}
