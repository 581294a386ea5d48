//! [`TestNamespace`]: one namespace per test, so tests (and concurrent test runs sharing the
//! cluster) never see each other's objects.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{DeleteParams, PostParams};

use crate::{TestEnv, cluster, wait};

/// The label every test namespace carries, to find leftovers: `kubectl get ns -l driftless-e2e`.
pub const LABEL: &str = "driftless-e2e";

/// A namespace created for one test and deleted (without waiting) when dropped, also when the
/// test panics. Set `DRIFTLESS_E2E_KEEP=1` to keep it for a post-mortem.
#[derive(Debug)]
pub struct TestNamespace {
    name: String,
    kubeconfig: PathBuf,
    deleted: bool,
}

impl TestNamespace {
    pub(crate) async fn create(env: &TestEnv, prefix: &str) -> anyhow::Result<Self> {
        let name = unique_name(prefix);
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "labels": { LABEL: "true" } }
        }))
        .context("building a Namespace")?;
        Api::<Namespace>::all(env.client())
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        Ok(Self {
            name,
            kubeconfig: env.kubeconfig().to_path_buf(),
            deleted: false,
        })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the namespace and waits until the namespace controller has finished with it.
    pub async fn delete_and_wait(mut self, env: &TestEnv, timeout: Duration) -> anyhow::Result<()> {
        let api = Api::<Namespace>::all(env.client());
        api.delete(&self.name, &DeleteParams::default())
            .await
            .with_context(|| format!("deleting namespace {}", self.name))?;
        self.deleted = true;
        wait::wait_deleted(&api, &self.name, timeout).await
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.deleted || std::env::var_os("DRIFTLESS_E2E_KEEP").is_some() {
            return;
        }
        // Drop cannot await, and the test's runtime may be shutting down: delete from a thread
        // with its own runtime and client. Best effort; the label finds any leftover.
        let name = self.name.clone();
        let kubeconfig = self.kubeconfig.clone();
        let deleted = std::thread::spawn(move || -> anyhow::Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("building a runtime")?;
            rt.block_on(async {
                let client = cluster::client_for(&kubeconfig).await?;
                release_flux_finalizers(&client, &name).await;
                Api::<Namespace>::all(client)
                    .delete(&name, &DeleteParams::background())
                    .await
                    .with_context(|| format!("deleting namespace {name}"))?;
                anyhow::Ok(())
            })
        })
        .join();
        if let Ok(Err(e)) = deleted {
            eprintln!("e2e: {e:#}");
        }
    }
}

/// Drops the Flux finalizers of the namespace's GitRepositories and Kustomizations. At a
/// test's end its controllers are usually gone already (dropped before the namespace), and
/// nothing else would remove them: the namespace would stay Terminating on a long-lived
/// cluster. Tests of deletion delete while their controllers run ([`TestNamespace::delete_and_wait`]).
async fn release_flux_finalizers(client: &kube::Client, ns: &str) {
    async fn release<K>(api: Api<K>)
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let Ok(list) = api.list(&kube::api::ListParams::default()).await else {
            return; // e.g. the CRD is not installed
        };
        let patch = serde_json::json!({"metadata": {"finalizers": null}});
        for obj in list.items.iter().filter(|o| {
            !o.meta()
                .finalizers
                .as_deref()
                .unwrap_or_default()
                .is_empty()
        }) {
            if let Some(name) = obj.meta().name.as_deref() {
                let _ = api
                    .patch(
                        name,
                        &kube::api::PatchParams::default(),
                        &kube::api::Patch::Merge(&patch),
                    )
                    .await;
            }
        }
    }
    use driftless_api::{kustomize::Kustomization, source::gitrepository::GitRepository};
    release(Api::<Kustomization>::namespaced(client.clone(), ns)).await;
    release(Api::<GitRepository>::namespaced(client.clone(), ns)).await;
}

/// `<prefix>-<8 hex>`, trimmed to a valid DNS label.
fn unique_name(prefix: &str) -> String {
    let mut clean: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    clean.truncate(50);
    let clean = clean.trim_matches('-');
    let clean = if clean.is_empty() { "e2e" } else { clean };
    format!("{clean}-{:08x}", rand::random::<u32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_dns_labels() {
        let a = unique_name("GC test_1");
        let b = unique_name("GC test_1");
        assert_ne!(a, b);
        assert!(a.starts_with("gc-test-1-"), "{a}");
        let long = unique_name(&"x".repeat(100));
        assert!(long.len() <= 63, "{long}");
        assert!(unique_name("--").starts_with("e2e-"));
    }
}
