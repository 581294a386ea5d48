//! kustomize-controller end to end, Kustomization fields that once were accepted and ignored:
//! `dependsOn[].readyExpr` gating a dependent, `deletionPolicy: WaitForTermination` keeping the
//! Kustomization until its objects are gone, `status.lastAppliedOriginRevision` from the
//! source artifact's metadata, and `buildMetadata` (origin annotations applied, transformer
//! annotations refused). Real control plane, git server, source-controller.

use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_api::source::ExternalArtifact;
use driftless_e2e::flux::{
    FluxControllers, condition, create_from_repo as create, create_git_source, has_condition as is,
};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::source::ready_revision;
use driftless_e2e::{TestEnv, TestNamespace, wait};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

const TIMEOUT: Duration = Duration::from_secs(90);

fn cm(name: &str, extra_metadata: &str) -> Vec<u8> {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{extra_metadata}data:\n  k: v\n"
    )
    .into_bytes()
}

/// A repository with `base/` and `app/` (one ConfigMap each) and `held/`, a ConfigMap whose
/// finalizer nobody removes but the test.
async fn setup(
    prefix: &str,
    kustomize_args: &[&str],
) -> anyhow::Result<(GitServer, TestEnv, TestNamespace, FluxControllers)> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    repo.commit(
        &[
            ("base/cm.yaml", &cm("base-cfg", "")),
            ("app/cm.yaml", &cm("app-cfg", "")),
            (
                "held/cm.yaml",
                &cm("held", "  finalizers: [e2e.driftless.dev/hold]\n"),
            ),
        ],
        "first",
    )?;
    repo.push()?;
    let env = TestEnv::get().await?;
    let ns = env.namespace(prefix).await?;
    let controllers = FluxControllers::start(&env, &ns, kustomize_args)?;
    create_git_source(&env, &ns, &server.http_url("app")).await?;
    Ok((server, env, ns, controllers))
}

#[tokio::test]
async fn ready_expr_gates_the_dependent() -> anyhow::Result<()> {
    let (_server, env, ns, mut controllers) =
        setup("kc-readyexpr", &["--requeue-dependency=2s"]).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());

    create(&api, &ns, "base", serde_json::json!({"path": "./base"})).await?;
    wait::wait_for(&api, "base", TIMEOUT, "become Ready", |k| {
        is(k, "Ready", "True", "ReconciliationSucceeded")
    })
    .await?;
    // The dependent asks more than Ready: the dependency must carry its own release label.
    let expr = "has(self.metadata.labels) && 'release' in self.metadata.labels \
                && self.metadata.labels['release'] == dep.metadata.labels['release']";
    create(
        &api,
        &ns,
        "app",
        serde_json::json!({"path": "./app", "dependsOn": [{"name": "base", "readyExpr": expr}]}),
    )
    .await?;
    // The label lives on the object, not the spec: set it after creation.
    api.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"labels": {"release": "r2"}}})),
    )
    .await?;
    let k = wait::wait_for(&api, "app", TIMEOUT, "wait on the readyExpr", |k| {
        is(k, "Ready", "False", "DependencyNotReady")
            && condition(k, "Ready").is_some_and(|c| c.2.contains("readyExpr is false"))
    })
    .await?;
    assert!(
        condition(&k, "Ready").is_some_and(|c| c.2.contains("base")),
        "{:?}",
        condition(&k, "Ready")
    );
    assert!(
        cms.get_opt("app-cfg").await?.is_none(),
        "nothing applied while the readyExpr is false"
    );

    // The dependency gets the release: the expression holds and the dependent applies.
    api.patch(
        "base",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"labels": {"release": "r2"}}})),
    )
    .await?;
    wait::wait_for(&api, "app", TIMEOUT, "become Ready", |k| {
        is(k, "Ready", "True", "ReconciliationSucceeded")
    })
    .await?;
    assert!(cms.get_opt("app-cfg").await?.is_some());

    // An expression that does not compile stalls with Flux's reason and names the entry.
    create(
        &api,
        &ns,
        "broken",
        serde_json::json!({"path": "./app", "namePrefix": "broken-",
            "dependsOn": [{"name": "base", "readyExpr": "self.status.conditions.exists(c, "}]}),
    )
    .await?;
    let k = wait::wait_for(&api, "broken", TIMEOUT, "refuse its readyExpr", |k| {
        is(k, "Ready", "False", "InvalidCELExpression")
    })
    .await?;
    assert!(
        is(&k, "Stalled", "True", "InvalidCELExpression"),
        "{:?}",
        condition(&k, "Stalled")
    );
    assert!(
        condition(&k, "Ready").is_some_and(|c| c.2.contains("readyExpr")),
        "{:?}",
        condition(&k, "Ready")
    );
    controllers.kustomize.ensure_running()?;
    Ok(())
}

#[tokio::test]
async fn wait_for_termination_keeps_the_kustomization_until_its_objects_are_gone()
-> anyhow::Result<()> {
    let (_server, env, ns, mut controllers) = setup("kc-waitterm", &[]).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    create(
        &api,
        &ns,
        "held",
        serde_json::json!({"path": "./held", "deletionPolicy": "WaitForTermination",
            "timeout": "3s", "retryInterval": "2s"}),
    )
    .await?;
    wait::wait_for(&api, "held", TIMEOUT, "become Ready", |k| {
        is(k, "Ready", "True", "ReconciliationSucceeded")
    })
    .await?;

    api.delete("held", &DeleteParams::default()).await?;
    // The controller deleted the ConfigMap; its finalizer keeps it Terminating.
    wait::wait_for(&cms, "held", TIMEOUT, "be Terminating", |c| {
        c.metadata.deletion_timestamp.is_some()
    })
    .await?;
    // Once the controller has waited its timeout for the ConfigMap and given up for now, the
    // Kustomization is still there, held by its finalizer.
    wait::until(
        TIMEOUT,
        "the controller to wait for termination",
        || async {
            Ok(
                if controllers.kustomize.log().contains("not terminated yet") {
                    Ok(())
                } else {
                    Err("no wait reported in the log".to_owned())
                },
            )
        },
    )
    .await?;
    let k = api.get_opt("held").await?;
    assert!(
        k.as_ref()
            .is_some_and(|k| k.metadata.deletion_timestamp.is_some()),
        "the Kustomization went before its objects: {k:?}"
    );
    assert!(cms.get_opt("held").await?.is_some());

    // The object terminates: the Kustomization follows.
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
    )
    .await?;
    wait::wait_deleted(&cms, "held", TIMEOUT).await?;
    wait::wait_deleted(&api, "held", TIMEOUT).await?;
    controllers.kustomize.ensure_running()?;
    Ok(())
}

#[tokio::test]
async fn last_applied_origin_revision_comes_from_the_artifact_metadata() -> anyhow::Result<()> {
    let (_server, env, ns, mut controllers) =
        setup("kc-origin", &["--feature-gates=ExternalArtifact=true"]).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    let repos = driftless_e2e::source::git_repositories(&env, &ns);
    let repo = wait::wait_for(&repos, "repo", TIMEOUT, "have an artifact", |r| {
        ready_revision(r).is_some()
    })
    .await?;
    let mut artifact = serde_json::to_value(
        repo.status
            .as_ref()
            .and_then(|s| s.artifact.clone())
            .ok_or_else(|| anyhow::anyhow!("no artifact"))?,
    )?;
    // An ExternalArtifact (what a third-party producer publishes) carrying the git artifact,
    // with the commit it was built from in its metadata, as `flux push artifact` records it.
    let origin = "main@sha1:0123456789abcdef0123456789abcdef01234567";
    artifact["metadata"] = serde_json::json!({"org.opencontainers.image.revision": origin});
    let externals: Api<ExternalArtifact> = Api::namespaced(env.client(), ns.name());
    externals
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "ExternalArtifact",
                "metadata": {"name": "ext"}, "spec": {},
            }))?,
        )
        .await?;
    externals
        .patch_status(
            "ext",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {
                "artifact": artifact,
                "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                    "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z",
                    "observedGeneration": 1}],
            }})),
        )
        .await?;

    create(
        &api,
        &ns,
        "from-ext",
        serde_json::json!({"path": "./base",
            "sourceRef": {"kind": "ExternalArtifact", "name": "ext"}}),
    )
    .await?;
    let k = wait::wait_for(&api, "from-ext", TIMEOUT, "become Ready", |k| {
        is(k, "Ready", "True", "ReconciliationSucceeded")
    })
    .await?;
    let status = k.status.clone().unwrap_or_default();
    assert_eq!(status.last_applied_origin_revision.as_deref(), Some(origin));
    assert_eq!(status.last_applied_revision, ready_revision(&repo));

    // A git artifact has no origin revision: the field stays unset.
    create(&api, &ns, "from-git", serde_json::json!({"path": "./app"})).await?;
    let k = wait::wait_for(&api, "from-git", TIMEOUT, "become Ready", |k| {
        is(k, "Ready", "True", "ReconciliationSucceeded")
    })
    .await?;
    assert_eq!(k.status.and_then(|s| s.last_applied_origin_revision), None);
    controllers.kustomize.ensure_running()?;
    Ok(())
}

#[tokio::test]
async fn build_metadata_origin_annotations_are_applied_and_transformer_annotations_refused()
-> anyhow::Result<()> {
    let (_server, env, ns, mut controllers) = setup("kc-buildmeta", &[]).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    create(
        &api,
        &ns,
        "origins",
        serde_json::json!({"path": "./app", "buildMetadata": ["originAnnotations"]}),
    )
    .await?;
    wait::wait_for(&api, "origins", TIMEOUT, "become Ready", |k| {
        is(k, "Ready", "True", "ReconciliationSucceeded")
    })
    .await?;
    let cm = cms.get("app-cfg").await?;
    let origin = cm
        .metadata
        .annotations
        .unwrap_or_default()
        .remove("config.kubernetes.io/origin");
    assert_eq!(origin.as_deref(), Some("path: cm.yaml\n"));

    create(
        &api,
        &ns,
        "transformers",
        serde_json::json!({"path": "./base", "namePrefix": "t-",
            "buildMetadata": ["transformerAnnotations"]}),
    )
    .await?;
    let k = wait::wait_for(&api, "transformers", TIMEOUT, "refuse the option", |k| {
        is(k, "Ready", "False", "BuildFailed")
    })
    .await?;
    assert!(
        condition(&k, "Ready").is_some_and(|c| c.2.contains("transformerAnnotations")),
        "{:?}",
        condition(&k, "Ready")
    );
    assert!(cms.get_opt("t-base-cfg").await?.is_none());
    controllers.kustomize.ensure_running()?;
    Ok(())
}
