//! kustomize-controller's `--override-manager-before-dry-run` (Flux v2.10): a stale field
//! manager that co-owns a container Git removed leaves the merged Deployment invalid, so the
//! server-side apply dry-run fails on every reconcile; taking the named manager's fields over
//! before the dry-run lets the apply remove the container. Real control plane, git server and
//! source-controller.

use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_e2e::flux::{
    FluxControllers, condition, create_git_source, create_kustomization, selector_flag,
};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::{ControllerProcess, TestEnv, wait};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(120);
const LEGACY: &str = "legacy-controller";

fn deployment(containers: &[(&str, &str)]) -> Vec<u8> {
    let mut yaml = String::from(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  \
         selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        \
         app: web\n    spec:\n      containers:\n",
    );
    for (name, image) in containers {
        yaml.push_str(&format!(
            "        - name: {name}\n          image: {image}\n"
        ));
    }
    yaml.into_bytes()
}

fn containers(d: &Deployment) -> Vec<String> {
    let value = serde_json::to_value(d).unwrap_or_default();
    value["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn managers(d: &Deployment) -> Vec<String> {
    d.metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|e| e.manager.clone())
        .collect()
}

fn ready_at(k: &Kustomization, revision_other_than: &str) -> bool {
    condition(k, "Ready").is_some_and(|c| c.0 == "True")
        && k.status
            .as_ref()
            .and_then(|s| s.last_applied_revision.as_deref())
            .is_some_and(|r| r != revision_other_than)
}

fn revision(k: &Kustomization) -> String {
    k.status
        .as_ref()
        .and_then(|s| s.last_applied_revision.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_stale_manager_is_taken_over_before_the_dry_run() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    let one = deployment(&[("app", "nginx:1.27")]);
    repo.commit(&[("deploy/web.yaml", one.as_slice())], "one container")?;
    repo.push()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-override").await?;
    // First without the flag, to see the object wedged.
    let mut controllers = FluxControllers::start(&env, &ns, &[])?;
    let sources = create_git_source(&env, &ns, &server.http_url("app")).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    create_kustomization(
        &api,
        &ns,
        "web",
        json!({
            "interval": "1h",
            "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "repo"},
        }),
        json!({"path": "./deploy", "targetNamespace": ns.name(), "retryInterval": "2s"}),
    )
    .await?;
    let applied = wait::wait_for(&api, "web", TIMEOUT, "apply", |k| ready_at(k, "")).await;
    controllers.kustomize.ensure_running()?;
    let mut last = revision(&applied?);
    let push = |files: Vec<u8>, message: &'static str, token: &'static str| {
        let sources = sources.clone();
        let repo = &repo;
        async move {
            repo.commit(&[("deploy/web.yaml", files.as_slice())], message)?;
            repo.push()?;
            let reconcile =
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
            sources
                .patch("repo", &PatchParams::default(), &Patch::Merge(&reconcile))
                .await?;
            anyhow::Ok(())
        }
    };

    // A break-glass workflow adds a sidecar with a full update (operation Update): the legacy
    // manager creates the container, so it owns the container itself.
    let deployments: Api<Deployment> = Api::namespaced(env.client(), ns.name());
    let legacy = PatchParams {
        field_manager: Some(LEGACY.into()),
        ..PatchParams::default()
    };
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "busybox:1.35"}
    ]}}}});
    deployments
        .patch("web", &legacy, &Patch::Strategic(&patch))
        .await?;
    // Git adopts the sidecar with another image: Flux takes the image, the legacy manager
    // keeps the container's identity.
    let both = deployment(&[("app", "nginx:1.27"), ("sidecar", "busybox:1.36")]);
    push(both, "adopt the sidecar", "adopt").await?;
    let adopted = wait::wait_for(&api, "web", TIMEOUT, "adopt the sidecar", |k| {
        ready_at(k, &last)
    })
    .await?;
    last = revision(&adopted);
    assert!(
        managers(&deployments.get("web").await?)
            .iter()
            .any(|m| m == LEGACY)
    );

    // Git drops the sidecar: removing Flux's fields leaves it without an image, so every
    // dry-run is refused.
    push(one.clone(), "drop the sidecar", "drop").await?;
    let wedged = wait::wait_for(&api, "web", TIMEOUT, "be refused at the dry-run", |k| {
        condition(k, "Ready").is_some_and(|c| c.0 == "False" && c.2.contains("image"))
    })
    .await;
    controllers.kustomize.ensure_running()?;
    let (_, reason, message) = condition(&wedged?, "Ready").unwrap_or_default();
    assert_eq!(reason, "ReconciliationFailed", "{message}");

    // With the legacy manager taken over before the dry-run, the sidecar goes.
    let selector = selector_flag(&ns);
    let flag = format!("--override-manager-before-dry-run={LEGACY}");
    let with_flag = ControllerProcess::start(
        &env,
        "kustomize-controller",
        &["--metrics-addr=0", "--health-addr=0", &selector, &flag],
        &format!("{}-kustomize-override", ns.name()),
    )?;
    drop(std::mem::replace(&mut controllers.kustomize, with_flag));
    let dropped = wait::wait_for(&api, "web", TIMEOUT, "drop the sidecar", |k| {
        ready_at(k, &last)
    })
    .await;
    controllers.kustomize.ensure_running()?;
    dropped?;
    let web = deployments.get("web").await?;
    assert_eq!(containers(&web), ["app"]);
    assert!(
        !managers(&web).iter().any(|m| m == LEGACY),
        "{LEGACY}'s fields were taken over: {:?}",
        managers(&web)
    );
    Ok(())
}
