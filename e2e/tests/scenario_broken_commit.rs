//! A broken commit in the world `cargo xtask up` creates (rebuilt in this test's namespace by
//! `sample::World`): invalid YAML pushed to main applies nothing — not even the valid change
//! in the same commit — and reports the builder's message as `Ready=False`, while the previous
//! revision keeps running; the fix commit recovers.

use std::time::Duration;

use driftless_e2e::git_server::GitServer;
use driftless_e2e::sample::{
    self, APP, APPS, CLUSTER_SETTINGS, FIRST_TAG, IMAGE, STAGING_OVERLAY, World, image,
    main_revision,
};
use driftless_e2e::{TestEnv, flux, wait};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::Api;

/// Generous: two cores shared with other test binaries.
const TIMEOUT: Duration = Duration::from_secs(180);

const SERVICE_FILE: &str = "apps/podinfo/base/service.yaml";

#[tokio::test]
async fn invalid_yaml_applies_nothing_keeps_the_previous_revision_and_the_fix_recovers()
-> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let server = GitServer::start()?;
    let mut world = World::start(&env, &server, "scenario-broken", "1m", None).await?;
    let deployments: Api<Deployment> = world.app_api();
    let services: Api<Service> = world.app_api();
    let config_maps: Api<ConfigMap> = world.app_api();
    world.wait_all_applied(&world.first_commit, TIMEOUT).await?;
    let version =
        |o: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| o.resource_version.clone();
    // A Deployment's status moves on its own (kube-controller-manager): compare its spec's
    // generation; the others have no status, so any write shows in their resourceVersion.
    let generation = |d: &Deployment| d.metadata.generation;
    let deployment_before = generation(&deployments.get(APP).await?);
    let service_before = version(&services.get(APP).await?.metadata);
    let settings_before = version(&config_maps.get(CLUSTER_SETTINGS).await?.metadata);

    // One commit: a new image tag (valid) and a Service file that is not YAML.
    let work = world.repo.work_path().to_path_buf();
    let overlay = std::fs::read_to_string(work.join(STAGING_OVERLAY))?;
    let service = std::fs::read_to_string(work.join(SERVICE_FILE))?;
    let tagged = sample::with_image_tag(&overlay, "6.7.2").expect("the overlay sets newTag");
    let broken_service = service.replace("  selector:\n", "  selector: [app: podinfo\n");
    assert_ne!(broken_service, service, "the edit must break the file");
    let broken = world.repo.commit(
        &[
            (STAGING_OVERLAY, tagged.as_bytes()),
            (SERVICE_FILE, broken_service.as_bytes()),
        ],
        "podinfo 6.7.2",
    )?;
    world.repo.push()?;
    world.reconcile_with_source(APPS, "broken", TIMEOUT).await?;
    let k = wait::wait_for(
        &world.kustomizations(),
        APPS,
        TIMEOUT,
        "fail at the broken commit",
        |k| {
            let status = k.status.as_ref();
            status.and_then(|s| s.last_attempted_revision.as_deref())
                == Some(&main_revision(&broken))
                && flux::condition(k, "Ready").is_some_and(|(s, _, _)| s == "False")
        },
    )
    .await?;
    let (_, reason, message) = flux::condition(&k, "Ready").expect("Ready is set");
    assert_eq!(reason, "BuildFailed");
    assert!(
        message.contains("service.yaml: invalid YAML"),
        "the builder's message names the file: {message}"
    );
    assert_eq!(
        k.status
            .as_ref()
            .and_then(|s| s.last_applied_revision.clone()),
        Some(main_revision(&world.first_commit)),
        "the previous revision stays the applied one"
    );

    // Nothing of the broken commit reached the cluster; the previous revision runs on.
    let d = deployments.get(APP).await?;
    assert_eq!(image(&d), Some(format!("{IMAGE}:{FIRST_TAG}").as_str()));
    assert_eq!(
        generation(&d),
        deployment_before,
        "Deployment spec untouched"
    );
    assert_eq!(version(&services.get(APP).await?.metadata), service_before);
    assert_eq!(
        version(&config_maps.get(CLUSTER_SETTINGS).await?.metadata),
        settings_before
    );

    // The fix commit (the Service file restored) applies the whole of it.
    let fix = world
        .repo
        .commit(&[(SERVICE_FILE, service.as_bytes())], "Fix service.yaml")?;
    world.repo.push()?;
    world.reconcile_with_source(APPS, "fix", TIMEOUT).await?;
    let k = world.wait_applied(APPS, &fix, TIMEOUT).await?;
    assert_eq!(
        flux::condition(&k, "Ready").map(|(s, r, _)| (s, r)),
        Some(("True".to_owned(), "ReconciliationSucceeded".to_owned()))
    );
    assert_eq!(
        image(&deployments.get(APP).await?),
        Some(format!("{IMAGE}:6.7.2").as_str()),
        "the fix applies the tag of the broken commit too"
    );

    world.controllers.source.ensure_running()?;
    world.controllers.kustomize.ensure_running()?;
    world.delete(TIMEOUT).await?;
    Ok(())
}
