//! The README quickstart, step by step, in the world `cargo xtask up` creates (the same sample
//! repository and Flux objects, rebuilt in this test's own namespace by `sample::World`): a new
//! image tag rolls out, a hand edit is reverted, a deleted file prunes its object, `git revert`
//! rolls back, and `git log` is the audit trail. Every step asserts the cluster and the
//! Kustomization's status at the commit it pushed.

use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_e2e::TestEnv;
use driftless_e2e::git_server::GitServer;
use driftless_e2e::sample::{
    self, APP, APPS, CLUSTER_SETTINGS, CLUSTER_SETTINGS_FILE, FIRST_COMMIT_MESSAGE, FIRST_TAG,
    IMAGE, INFRASTRUCTURE, INFRASTRUCTURE_KUSTOMIZATION, STAGING_OVERLAY, STAGING_REPLICAS, World,
    image,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::Api;
use kube::api::{Patch, PatchParams};

/// Generous: two cores shared with other test binaries.
const TIMEOUT: Duration = Duration::from_secs(180);

fn replicas(d: &Deployment) -> Option<i32> {
    d.spec.replicas
}

fn inventory(k: &Kustomization) -> Vec<String> {
    k.status
        .as_ref()
        .and_then(|s| s.inventory.as_ref())
        .map(|i| i.entries.iter().map(|e| e.id.clone()).collect())
        .unwrap_or_default()
}

fn ready_reason(k: &Kustomization) -> Option<String> {
    driftless_e2e::flux::condition(k, "Ready")
        .map(|(status, reason, _)| format!("{status} {reason}"))
}

/// Commits what is staged (and tracked changes) as `author`, pushes, returns the commit id.
fn commit_as(world: &World<'_>, author: &str, message: &str) -> anyhow::Result<String> {
    world.repo.git(&[
        "commit",
        "--quiet",
        "-a",
        &format!("--author={author}"),
        "-m",
        message,
    ])?;
    world.repo.push()?;
    world.repo.git(&["rev-parse", "HEAD"])
}

#[tokio::test]
async fn readme_walkthrough_rollout_drift_prune_revert_and_audit_trail() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let server = GitServer::start()?;
    let mut world = World::start(&env, &server, "scenario-walk", "1m", None).await?;
    let app_ns = world.sample.app_namespace.clone();
    let deployments: Api<Deployment> = world.app_api();
    let config_maps: Api<ConfigMap> = world.app_api();
    let services: Api<Service> = world.app_api();

    // `cargo xtask up`: both Kustomizations Ready at the pushed commit, the app running.
    world.wait_all_applied(&world.first_commit, TIMEOUT).await?;
    let d = deployments.get(APP).await?;
    assert_eq!(image(&d), Some(format!("{IMAGE}:{FIRST_TAG}").as_str()));
    assert_eq!(replicas(&d), Some(STAGING_REPLICAS));
    assert!(
        services.get_opt(APP).await?.is_some(),
        "the Service is applied"
    );
    assert!(
        config_maps.get_opt(CLUSTER_SETTINGS).await?.is_some(),
        "infrastructure is applied"
    );

    // 1. Roll out a new image: edit newTag in the staging overlay, commit, push, reconcile.
    let overlay_path = world.repo.work_path().join(STAGING_OVERLAY);
    let overlay = std::fs::read_to_string(&overlay_path)?;
    let edited = sample::with_image_tag(&overlay, "6.7.1").expect("the overlay sets newTag");
    std::fs::write(&overlay_path, edited)?;
    let rollout = commit_as(&world, "Alice Dev <alice@example.com>", "podinfo 6.7.1")?;
    world
        .reconcile_with_source(APPS, "rollout", TIMEOUT)
        .await?;
    let k = world.wait_applied(APPS, &rollout, TIMEOUT).await?;
    assert_eq!(
        ready_reason(&k).as_deref(),
        Some("True ReconciliationSucceeded")
    );
    assert_eq!(
        k.status
            .as_ref()
            .and_then(|s| s.last_applied_revision.clone()),
        Some(format!("main@sha1:{rollout}"))
    );
    assert!(
        inventory(&k).contains(&format!("{app_ns}_{APP}_apps_Deployment")),
        "{:?}",
        inventory(&k)
    );
    let d = deployments.get(APP).await?;
    assert_eq!(
        image(&d),
        Some(format!("{IMAGE}:6.7.1").as_str()),
        "the new tag rolled out"
    );

    // 2. Drift: `kubectl scale --replicas=5` by hand is reverted at the next reconcile.
    deployments
        .patch_scale(
            APP,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 5}})),
        )
        .await?;
    assert_eq!(
        replicas(&deployments.get(APP).await?),
        Some(5),
        "scaled by hand"
    );
    world.reconcile(APPS, "drift", TIMEOUT).await?;
    assert_eq!(
        replicas(&deployments.get(APP).await?),
        Some(STAGING_REPLICAS),
        "Git's replicas are back"
    );
    let k = world.wait_applied(APPS, &rollout, TIMEOUT).await?;
    assert_eq!(
        ready_reason(&k).as_deref(),
        Some("True ReconciliationSucceeded")
    );

    // 3. Delete a file (and its kustomization entry): the object is pruned.
    world.repo.git(&["rm", "--quiet", CLUSTER_SETTINGS_FILE])?;
    let list_path = world.repo.work_path().join(INFRASTRUCTURE_KUSTOMIZATION);
    let list = std::fs::read_to_string(&list_path)?;
    std::fs::write(&list_path, list.replace("  - cluster-settings.yaml\n", ""))?;
    let prune = commit_as(
        &world,
        "Bob Ops <bob@example.com>",
        "Remove cluster-settings: nothing reads it",
    )?;
    world
        .reconcile_with_source(INFRASTRUCTURE, "prune", TIMEOUT)
        .await?;
    let k = world.wait_applied(INFRASTRUCTURE, &prune, TIMEOUT).await?;
    assert!(
        !inventory(&k).iter().any(|id| id.contains(CLUSTER_SETTINGS)),
        "{:?}",
        inventory(&k)
    );
    assert!(
        config_maps
            .get_opt(CLUSTER_SETTINGS)
            .await?
            .is_none_or(|c| c.metadata.deletion_timestamp.is_some()),
        "the ConfigMap is pruned"
    );
    // apps follows the same source: applied at the new commit, nothing of it changed.
    world.wait_applied(APPS, &prune, TIMEOUT).await?;
    assert_eq!(
        image(&deployments.get(APP).await?),
        Some(format!("{IMAGE}:6.7.1").as_str())
    );

    // 4. Rollback is a commit: revert the image commit (HEAD~1 now).
    world.repo.git(&["revert", "--no-edit", "HEAD~1"])?;
    world.repo.push()?;
    let revert = world.repo.git(&["rev-parse", "HEAD"])?;
    world.reconcile_with_source(APPS, "revert", TIMEOUT).await?;
    let k = world.wait_applied(APPS, &revert, TIMEOUT).await?;
    assert_eq!(
        ready_reason(&k).as_deref(),
        Some("True ReconciliationSucceeded")
    );
    assert_eq!(
        image(&deployments.get(APP).await?),
        Some(format!("{IMAGE}:{FIRST_TAG}").as_str()),
        "rolled back to the old image"
    );
    assert!(
        config_maps
            .get_opt(CLUSTER_SETTINGS)
            .await?
            .is_none_or(|c| c.metadata.deletion_timestamp.is_some()),
        "reverting the image commit does not bring back the pruned ConfigMap"
    );

    // 5. `git log` on the server is the audit trail: who changed what, when and why.
    let bare = world.repo.bare_path().display().to_string();
    let log = world.repo.git(&[
        "--git-dir",
        &bare,
        "log",
        "--format=%H|%an <%ae>|%s",
        "main",
    ])?;
    let log: Vec<&str> = log.lines().collect();
    let tester = "Driftless Test <test@driftless.invalid>";
    assert_eq!(
        log,
        [
            format!("{revert}|{tester}|Revert \"podinfo 6.7.1\""),
            format!("{prune}|Bob Ops <bob@example.com>|Remove cluster-settings: nothing reads it"),
            format!("{rollout}|Alice Dev <alice@example.com>|podinfo 6.7.1"),
            format!("{}|{tester}|{FIRST_COMMIT_MESSAGE}", world.first_commit),
        ]
    );
    let changed = |commit: &str| {
        world.repo.git(&[
            "--git-dir",
            &bare,
            "show",
            "--format=",
            "--name-only",
            commit,
        ])
    };
    assert_eq!(changed(&rollout)?, STAGING_OVERLAY);
    assert_eq!(changed(&revert)?, STAGING_OVERLAY);
    assert_eq!(
        changed(&prune)?,
        format!("{CLUSTER_SETTINGS_FILE}\n{INFRASTRUCTURE_KUSTOMIZATION}")
    );

    world.controllers.source.ensure_running()?;
    world.controllers.kustomize.ensure_running()?;
    world.delete(TIMEOUT).await?;
    Ok(())
}
