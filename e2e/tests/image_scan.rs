//! Image scanning against the real registry (pinned distribution, built into the cache):
//! tags pushed with a real OCI client (oci-client, through driftless-oci) are listed page by
//! page, the default exclusion drops signature tags, the tag store keeps the rest, and an
//! ImagePolicy's selector picks the right one — then the newer tag once it is pushed, with its
//! digest looked up as `digestReflectionPolicy: IfNotPresent` asks. Wrong
//! credentials and a dead registry come back with Flux's reasons.
//!
//! No Kubernetes here: this is the library the ImageRepository/ImagePolicy reconcilers use.

use std::collections::BTreeMap;

use anyhow::Result;
use bytes::Bytes;
use driftless_api::image::{
    ImagePolicyChoice, ImageRef, ReflectionPolicy, SemVerPolicy, TagFilter,
};
use driftless_e2e::registry::{REGISTRY_PASSWORD, REGISTRY_USER, Registry, RegistryOptions};
use driftless_image_automation_controller::latest;
use driftless_image_automation_controller::policy::TagSelector;
use driftless_image_automation_controller::scan::{self, StoreKey, TagStore};
use driftless_oci::{Artifact, Blob, ClientOptions, Credentials, RegistryClient, Repository};

const KEY: StoreKey<'static> = StoreKey {
    namespace: "apps",
    name: "web",
};

/// A minimal image-like artifact; its content differs per tag so each tag has its own digest.
fn image(tag: &str) -> Artifact {
    Artifact {
        config: Blob {
            media_type: "application/vnd.oci.image.config.v1+json".into(),
            data: Bytes::from(format!("{{\"tag\":\"{tag}\"}}")),
            annotations: BTreeMap::new(),
        },
        layers: vec![Blob {
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            data: Bytes::from(tag.as_bytes().to_vec()),
            annotations: BTreeMap::new(),
        }],
        ..Artifact::default()
    }
}

fn options(page: usize) -> ClientOptions {
    ClientOptions {
        insecure: true,
        tag_page_size: Some(page),
        ..ClientOptions::default()
    }
}

fn semver(range: &str) -> ImagePolicyChoice {
    ImagePolicyChoice {
        semver: Some(SemVerPolicy {
            range: range.into(),
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn pushed_tags_are_scanned_paged_stored_and_chosen() -> Result<()> {
    let registry = Registry::anonymous()?;
    let client = RegistryClient::new(&options(2), &Credentials::Anonymous)?;
    let repo = Repository::parse(&format!("{}/team/web", registry.host()))?;
    for tag in [
        "1.0.0",
        "1.1.0",
        "2.0.0-rc.1",
        "1.2.0",
        "latest",
        "sha256-abc.sig",
    ] {
        client.push(&repo, tag, &image(tag)).await?;
    }
    let store_dir = tempfile::tempdir()?;
    let store = TagStore::new(store_dir.path(), 10_000);

    let scanned = scan::scan(&client, &repo, &[], &store, &KEY).await?;
    assert_eq!(scanned.tag_count, 5, "the .sig tag is excluded by default");
    assert_eq!(
        scanned.latest_tags,
        ["latest", "2.0.0-rc.1", "1.2.0", "1.1.0", "1.0.0"]
    );
    let tags = store.load(&KEY)?.expect("stored");
    let selector = TagSelector::new(&semver("^1.0"), None)?;
    assert_eq!(selector.latest(tags.iter().map(String::as_str))?, "1.2.0");

    // A newer tag is picked once pushed and rescanned; the revision moves.
    client.push(&repo, "1.3.0", &image("1.3.0")).await?;
    let rescanned = scan::scan(&client, &repo, &[], &store, &KEY).await?;
    assert_eq!(rescanned.tag_count, 6);
    assert_ne!(rescanned.revision, scanned.revision);
    let tags = store.load(&KEY)?.expect("stored");
    let chosen = selector.latest(tags.iter().map(String::as_str))?;
    assert_eq!(chosen, "1.3.0");

    // digestReflectionPolicy IfNotPresent: the chosen tag's digest is looked up (HEAD) and
    // recorded; the old latestRef becomes observedPreviousRef.
    let old = ImageRef {
        name: repo.name(),
        tag: "1.2.0".into(),
        digest: None,
    };
    let policy = ReflectionPolicy::IfNotPresent;
    assert!(latest::needs_digest(
        policy,
        Some(&old),
        &repo.name(),
        chosen
    ));
    let digest = client.resolve(&repo, chosen).await?;
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert_ne!(digest, client.resolve(&repo, "1.2.0").await?);
    let (latest_ref, previous) = latest::next_refs(
        policy,
        Some(&old),
        None,
        &repo.name(),
        chosen,
        Some(digest.clone()),
    );
    assert_eq!(latest_ref.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(previous, Some(old));

    // A user exclusion list replaces the default; a filter that matches nothing says so.
    let only_releases = scan::scan(&client, &repo, &["-rc".to_string()], &store, &KEY).await?;
    assert_eq!(
        only_releases.tag_count, 6,
        "latest, 4 releases and the .sig tag"
    );
    let tags = store.load(&KEY)?.expect("stored");
    let filter = TagFilter {
        pattern: Some("^v".into()),
        extract: None,
    };
    let err = TagSelector::new(&semver("*"), Some(&filter))?
        .latest(tags.iter().map(String::as_str))
        .expect_err("no tag starts with v");
    assert!(err.to_string().contains("spec.filterTags.pattern"), "{err}");
    Ok(())
}

#[tokio::test]
async fn wrong_credentials_and_dead_registries_fail_with_flux_reasons() -> Result<()> {
    let mut registry = Registry::start(RegistryOptions {
        htpasswd: true,
        ..RegistryOptions::default()
    })?;
    let repo = Repository::parse(&format!("{}/private/app", registry.host()))?;
    let good = Credentials::Basic {
        username: REGISTRY_USER.into(),
        password: REGISTRY_PASSWORD.into(),
    };
    RegistryClient::new(&options(100), &good)?
        .push(&repo, "1.0.0", &image("1.0.0"))
        .await?;
    let store_dir = tempfile::tempdir()?;
    let store = TagStore::new(store_dir.path(), 10_000);

    let scanned = scan::scan(
        &RegistryClient::new(&options(100), &good)?,
        &repo,
        &[],
        &store,
        &KEY,
    )
    .await?;
    assert_eq!(scanned.tag_count, 1);

    let wrong = Credentials::Basic {
        username: REGISTRY_USER.into(),
        password: "wrong".into(),
    };
    let err = scan::scan(
        &RegistryClient::new(&options(100), &wrong)?,
        &repo,
        &[],
        &store,
        &KEY,
    )
    .await
    .expect_err("wrong password");
    assert_eq!(err.reason(), "AuthenticationFailed", "{err}");
    // The failed scan left the previous list in place.
    assert_eq!(store.load(&KEY)?.expect("kept"), ["1.0.0"]);

    registry.kill();
    let err = scan::scan(
        &RegistryClient::new(&options(100), &good)?,
        &repo,
        &[],
        &store,
        &KEY,
    )
    .await
    .expect_err("registry is gone");
    assert!(!err.reason().is_empty());
    assert!(err.to_string().contains(&registry.host()), "{err}");
    Ok(())
}
