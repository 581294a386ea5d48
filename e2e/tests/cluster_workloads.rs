//! The control plane behaves like a real cluster for workloads: the scheduler and kwok make a
//! Deployment Available, the garbage collector removes what it owned, the namespace controller
//! finishes a namespace deletion.

use std::time::Duration;

use driftless_e2e::workload::{deployment, is_available};
use driftless_e2e::{TestEnv, wait};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};

const TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn a_deployment_becomes_available_and_its_replicasets_and_pods_are_collected()
-> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("workloads").await?;
    let deployments: Api<Deployment> = Api::namespaced(env.client(), ns.name());
    let replicasets: Api<ReplicaSet> = Api::namespaced(env.client(), ns.name());
    let pods: Api<Pod> = Api::namespaced(env.client(), ns.name());

    deployments
        .create(&PostParams::default(), &deployment("web", 2)?)
        .await?;
    wait::wait_for(
        &deployments,
        "web",
        TIMEOUT,
        "be Available with 2 replicas",
        |d| is_available(d, 2),
    )
    .await?;

    let selector = ListParams::default().labels("app=web");
    let running = pods.list(&selector).await?.items;
    assert_eq!(running.len(), 2, "two pods: {running:?}");
    for pod in &running {
        let spec = pod.spec.as_ref().expect("a pod has a spec");
        let status = pod.status.as_ref().expect("kwok sets the pod status");
        assert!(
            spec.node_name
                .as_deref()
                .is_some_and(|n| n.starts_with("kwok-node-")),
            "the scheduler placed the pod on a kwok node: {spec:?}"
        );
        assert_eq!(status.phase.as_deref(), Some("Running"), "{status:?}");
        assert!(
            status.pod_ip.is_some(),
            "kwok gave the pod an IP: {status:?}"
        );
    }
    assert_eq!(replicasets.list(&selector).await?.items.len(), 1);

    deployments
        .delete("web", &DeleteParams::background())
        .await?;
    wait::wait_deleted(&deployments, "web", TIMEOUT).await?;
    wait::until(
        TIMEOUT,
        "the ReplicaSet and Pods of web to be collected",
        || async {
            let rs = replicasets.list(&selector).await?.items.len();
            let left = pods.list(&selector).await?.items.len();
            Ok(if rs == 0 && left == 0 {
                Ok(())
            } else {
                Err(format!("{rs} ReplicaSets and {left} Pods left"))
            })
        },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn deleting_a_namespace_with_objects_completes() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("ns-delete").await?;
    let deployments: Api<Deployment> = Api::namespaced(env.client(), ns.name());
    let configmaps: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());

    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "settings" },
        "data": { "key": "value" },
    }))?;
    configmaps.create(&PostParams::default(), &cm).await?;
    deployments
        .create(&PostParams::default(), &deployment("app", 1)?)
        .await?;
    wait::wait_for(&deployments, "app", TIMEOUT, "be Available", |d| {
        is_available(d, 1)
    })
    .await?;

    ns.delete_and_wait(&env, TIMEOUT).await
}
