//! kustomize-controller end to end, policies: dependsOn ordering, health wait on a Deployment
//! that becomes Available and one that never does, impersonation refused outside the tenant's
//! RBAC, deletion without prune (orphaning). Real control plane, git server, source-controller.

use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_e2e::flux::{FluxControllers, condition, create_git_source, create_kustomization};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::{TestEnv, TestNamespace, wait};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, PostParams};

const TIMEOUT: Duration = Duration::from_secs(90);

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
            "targetNamespace": ns.name(),
            "sourceRef": {"kind": "GitRepository", "name": "repo"},
        }),
        spec,
    )
    .await
}

fn is(k: &Kustomization, type_: &str, status: &str, reason: &str) -> bool {
    condition(k, type_).is_some_and(|(s, r, _)| s == status && r == reason)
}

const DEPLOYMENT: &[u8] = b"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      tolerations:
      - {key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}
      containers:
      - {name: c, image: example.com/web:1}
";

const STUCK: &[u8] = b"apiVersion: apps/v1
kind: Deployment
metadata:
  name: stuck
spec:
  replicas: 1
  selector:
    matchLabels: {app: stuck}
  template:
    metadata:
      labels: {app: stuck}
    spec:
      nodeSelector: {no-such-node: anywhere}
      containers:
      - {name: c, image: example.com/stuck:1}
";

#[tokio::test]
async fn depends_on_health_impersonation_and_orphaning() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    repo.commit(
        &[
            ("web/deploy.yaml", DEPLOYMENT),
            ("stuck/deploy.yaml", STUCK),
            (
                "config/cm.yaml",
                b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  k: v\n"
                    as &[u8],
            ),
        ],
        "first",
    )?;
    repo.push()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-policy").await?;
    // A requeue delay far beyond TIMEOUT: "web" must be woken when "config" becomes Ready,
    // not retried on the clock.
    let mut controllers = FluxControllers::start(&env, &ns, &["--requeue-dependency=10m"])?;
    create_git_source(&env, &ns, &server.http_url("app")).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());

    // dependsOn: "web" waits for "config", which is created later.
    create(
        &api,
        &ns,
        "web",
        serde_json::json!({"path": "./web", "wait": true, "timeout": "60s",
        "dependsOn": [{"name": "config"}]}),
    )
    .await?;
    let k = wait::wait_for(&api, "web", TIMEOUT, "report its dependency", |k| {
        is(k, "Ready", "False", "DependencyNotReady")
    })
    .await?;
    assert!(
        condition(&k, "Ready").is_some_and(|c| c.2.contains("config")),
        "{:?}",
        condition(&k, "Ready")
    );
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    create(
        &api,
        &ns,
        "config",
        serde_json::json!({"path": "./config", "prune": false}),
    )
    .await?;

    // Woken by "config" becoming Ready; health wait success: the Deployment becomes
    // Available on the kwok nodes.
    let k = wait::wait_for(&api, "web", TIMEOUT, "become Ready and Healthy", |k| {
        is(k, "Ready", "True", "ReconciliationSucceeded")
    })
    .await?;
    assert!(
        is(&k, "Healthy", "True", "Succeeded"),
        "{:?}",
        condition(&k, "Healthy")
    );

    // Health wait failure: an unschedulable Deployment times out.
    create(
        &api,
        &ns,
        "stuck",
        serde_json::json!({"path": "./stuck", "wait": true, "timeout": "3s"}),
    )
    .await?;
    let k = wait::wait_for(&api, "stuck", TIMEOUT, "fail its health check", |k| {
        is(k, "Ready", "False", "HealthCheckFailed")
    })
    .await?;
    assert!(is(&k, "Healthy", "False", "HealthCheckFailed"));
    assert!(
        condition(&k, "Ready").is_some_and(|c| c.2.contains("Deployment/")),
        "{:?}",
        condition(&k, "Ready")
    );

    // Impersonation: a service account without RBAC may not create anything.
    let sas: Api<ServiceAccount> = Api::namespaced(env.client(), ns.name());
    sas.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "tenant"}}))?,
    )
    .await?;
    create(
        &api,
        &ns,
        "tenant",
        serde_json::json!({"path": "./config", "namePrefix": "tenant-",
        "serviceAccountName": "tenant"}),
    )
    .await?;
    let k = wait::wait_for(&api, "tenant", TIMEOUT, "be refused", |k| {
        is(k, "Ready", "False", "ReconciliationFailed")
    })
    .await?;
    let message = condition(&k, "Ready").map(|c| c.2).unwrap_or_default();
    assert!(
        message.contains("forbidden") && message.contains("system:serviceaccount"),
        "{message}"
    );
    assert!(cms.get_opt("tenant-cfg").await?.is_none());

    // The spec's overlay: namePrefix, images, patches and commonMetadata.
    create(
        &api,
        &ns,
        "overlay",
        serde_json::json!({"path": "./web", "namePrefix": "p-",
            "images": [{"name": "example.com/web", "newTag": "2"}],
            "patches": [{"patch": "- op: replace\n  path: /spec/replicas\n  value: 2\n",
                         "target": {"kind": "Deployment"}}],
            "commonMetadata": {"labels": {"team": "a"}, "annotations": {"owner": "ops"}}}),
    )
    .await?;
    wait::wait_for(&api, "overlay", TIMEOUT, "apply the overlay", |k| {
        is(k, "Ready", "True", "ReconciliationSucceeded")
    })
    .await?;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(env.client(), ns.name());
    let d = deployments.get("p-web").await?;
    let json = serde_json::to_value(&d)?;
    assert_eq!(json.pointer("/spec/replicas"), Some(&serde_json::json!(2)));
    assert_eq!(
        json.pointer("/spec/template/spec/containers/0/image"),
        Some(&serde_json::json!("example.com/web:2"))
    );
    let labels = d.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));
    let annotations = d.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get("owner").map(String::as_str), Some("ops"));

    // Deletion without prune orphans the objects.
    api.delete("config", &DeleteParams::default()).await?;
    wait::wait_deleted(&api, "config", TIMEOUT).await?;
    assert!(
        cms.get_opt("cfg").await?.is_some(),
        "prune: false orphans the objects"
    );
    controllers.kustomize.ensure_running()?;
    Ok(())
}
