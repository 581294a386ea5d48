//! Workloads for the tests that check the control plane itself: a Deployment kwok can run, and
//! what "Available" means for it, as `kubectl rollout status` judges it.

use k8s_openapi::api::apps::v1::Deployment;

/// A Deployment of `replicas` pods labelled `app: <name>` whose image is never pulled (kwok runs
/// no containers).
pub fn deployment(name: &str, replicas: i32) -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": { "name": name },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "web", "image": "example.com/web:1.0" }] },
            },
        },
    }))?)
}

/// True when all `replicas` pods are available and the `Available` condition is True.
pub fn is_available(d: &Deployment, replicas: i32) -> bool {
    let Some(status) = &d.status else {
        return false;
    };
    status.available_replicas == Some(replicas)
        && status.conditions.as_ref().is_some_and(|c| {
            c.iter().any(|c| {
                c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")
            })
        })
}
