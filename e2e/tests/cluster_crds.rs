//! The API server accepts every generated CRD (structural schemas) and enforces their
//! validations: what users rely on when `kubectl apply` refuses a bad manifest.

use driftless_e2e::{TestEnv, crd_dir, install_crds};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, PostParams};

#[tokio::test]
async fn every_generated_crd_is_accepted_and_established() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let names = install_crds(&env.client(), &crd_dir()).await?;
    assert!(
        !names.is_empty(),
        "{} holds no CRD: generate them with `cargo xtask crds`",
        crd_dir().display()
    );
    let api: Api<CustomResourceDefinition> = Api::all(env.client());
    for name in &names {
        let crd = api.get(name).await?;
        let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
        for wanted in ["Established", "NamesAccepted"] {
            assert!(
                conditions
                    .iter()
                    .any(|c| c.type_ == wanted && c.status == "True"),
                "{name}: {wanted} is not True: {conditions:?}"
            );
        }
        assert!(
            !conditions
                .iter()
                .any(|c| c.type_ == "NonStructuralSchema" && c.status == "True"),
            "{name} has a non-structural schema: {conditions:?}"
        );
    }
    Ok(())
}

fn git_repository() -> ApiResource {
    ApiResource {
        group: "source.toolkit.fluxcd.io".into(),
        version: "v1".into(),
        api_version: "source.toolkit.fluxcd.io/v1".into(),
        kind: "GitRepository".into(),
        plural: "gitrepositories".into(),
    }
}

fn git_repository_object(name: &str, url: &str, interval: &str) -> anyhow::Result<DynamicObject> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": { "name": name },
        "spec": { "url": url, "interval": interval, "ref": { "branch": "main" } },
    }))?)
}

/// Expects the API server to refuse `obj` as Invalid (422), naming `field`.
async fn assert_rejected(api: &Api<DynamicObject>, obj: &DynamicObject, field: &str) {
    match api.create(&PostParams::default(), obj).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "expected Invalid, got {status:?}");
            assert!(
                status.message.contains(field),
                "the rejection should name {field}: {}",
                status.message
            );
        }
        Ok(created) => panic!("the API server accepted an invalid object: {created:?}"),
        Err(e) => panic!("expected a 422 from the API server, got {e}"),
    }
}

#[tokio::test]
async fn the_api_server_rejects_a_bad_interval_and_a_wrong_url_scheme() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(env.client());
    anyhow::ensure!(
        crds.get_opt("gitrepositories.source.toolkit.fluxcd.io")
            .await?
            .is_some(),
        "no GitRepository CRD in {}: generate it with `cargo xtask crds`",
        crd_dir().display()
    );
    let ns = env.namespace("crd-validation").await?;
    let api: Api<DynamicObject> = Api::namespaced_with(env.client(), ns.name(), &git_repository());

    // The same object with valid fields is accepted, so the refusals below are the fields'.
    let valid = git_repository_object("valid", "https://example.com/org/repo.git", "5m")?;
    api.create(&PostParams::default(), &valid).await?;
    let ssh = git_repository_object("ssh", "ssh://git@example.com/org/repo.git", "1h30m")?;
    api.create(&PostParams::default(), &ssh).await?;

    let bad_interval = git_repository_object(
        "bad-interval",
        "https://example.com/org/repo.git",
        "1 minute",
    )?;
    assert_rejected(&api, &bad_interval, "spec.interval").await;
    let bad_scheme = git_repository_object("bad-scheme", "ftp://example.com/org/repo.git", "5m")?;
    assert_rejected(&api, &bad_scheme, "spec.url").await;
    Ok(())
}
