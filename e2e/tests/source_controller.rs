//! The source-controller binary against the real control plane and the real git server:
//! artifact, ignore rules and links, wrong credentials, the no-op path, requestedAt, a new
//! commit, suspend and deletion cleanup.

use std::time::Duration;

use anyhow::Context as _;
use driftless_api::source::gitrepository::GitRepository;
use driftless_e2e::git_server::{GitServer, HTTP_USER};
use driftless_e2e::source::{
    SourceController, artifact_files, create_git_repository, create_http_credentials,
    create_secret, has_condition, http_get, last_handled, main_branch, ready_revision,
    request_reconcile,
};
use driftless_e2e::{TestEnv, wait};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use sha2::Digest as _;

const TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test]
async fn git_repository_lifecycle() -> anyhow::Result<()> {
    // kube and reqwest link two rustls providers; pick kube's, as the controllers do.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    repo.commit_symlink("passwd", "/etc/passwd", "link out")?;
    repo.commit_symlink("up", "../..", "link up")?;
    let first = repo.commit(
        &[
            ("deploy/app.yaml", b"kind: ConfigMap\n"),
            ("logo.png", b"png"),
            (".sourceignore", b"secret.txt\n"),
            ("secret.txt", b"do not ship"),
        ],
        "first",
    )?;
    repo.push()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("source-ctl").await?;
    let mut controller = SourceController::start(&env, &ns, &[])?;
    let addr = controller.addr.clone();
    create_http_credentials(&env, &ns, "creds").await?;
    create_secret(
        &env,
        &ns,
        "wrong",
        &[("username", HTTP_USER), ("password", "nope")],
    )
    .await?;
    let api: Api<GitRepository> = Api::namespaced(env.client(), ns.name());
    create_git_repository(
        &api,
        &ns,
        "app",
        main_branch(&server.http_url("app"), "creds"),
    )
    .await?;
    create_git_repository(
        &api,
        &ns,
        "bad",
        main_branch(&server.http_url("app"), "wrong"),
    )
    .await?;
    let mut sparse = main_branch(&server.http_url("app"), "creds");
    sparse["sparseCheckout"] = serde_json::json!(["deploy"]);
    create_git_repository(&api, &ns, "sparse", sparse).await?;

    // A good repository becomes Ready with Flux's revision and a served, verifiable artifact.
    let want = format!("main@sha1:{first}");
    let app = wait::wait_for(&api, "app", TIMEOUT, "be Ready", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await;
    controller.process.ensure_running()?;
    let app = app?;
    assert!(has_condition(
        &app,
        "ArtifactInStorage",
        "True",
        "Succeeded"
    ));
    let artifact = app
        .status
        .as_ref()
        .and_then(|s| s.artifact.clone())
        .context("artifact")?;
    assert!(
        artifact
            .url
            .starts_with(&format!("http://{addr}/gitrepository/{}/app/", ns.name()))
    );
    let (code, body) = http_get(&artifact.url)?;
    assert_eq!(code, 200);
    assert_eq!(
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body))),
        artifact.digest
    );
    let entries: Vec<String> = artifact_files(&body)?.into_keys().collect();
    assert!(
        entries.iter().any(|e| e == "deploy/app.yaml"),
        "{entries:?}"
    );
    for excluded in ["logo.png", "secret.txt", "passwd", "up"] {
        assert!(
            !entries.iter().any(|e| e == excluded),
            "{excluded} shipped: {entries:?}"
        );
    }
    let (code, _) = http_get(&format!("http://{addr}/../../etc/passwd"))?;
    assert_eq!(code, 404);

    // sparseCheckout: only the listed folder ships.
    let sparse = wait::wait_for(&api, "sparse", TIMEOUT, "be Ready", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await?;
    let url = sparse
        .status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.url.clone())
        .context("sparse artifact")?;
    let (_, body) = http_get(&url)?;
    let files: Vec<String> = artifact_files(&body)?.into_keys().collect();
    assert_eq!(files, ["deploy/app.yaml"]);
    assert!(entries.iter().any(|e| e == ".sourceignore"), "{entries:?}");

    // Wrong credentials: Ready=False with Flux's reason, FetchFailed=True.
    let bad = wait::wait_for(&api, "bad", TIMEOUT, "fail authentication", |r| {
        has_condition(r, "Ready", "False", "AuthenticationFailed")
    })
    .await?;
    assert!(has_condition(
        &bad,
        "FetchFailed",
        "True",
        "AuthenticationFailed"
    ));

    // requestedAt with nothing new: handled, no pack downloaded, same artifact.
    let packs = server.http_upload_packs();
    request_reconcile(&api, "app", "one").await?;
    let app = wait::wait_for(&api, "app", TIMEOUT, "handle request one", |r| {
        last_handled(r) == Some("one")
    })
    .await?;
    assert_eq!(
        server.http_upload_packs(),
        packs,
        "the no-op path must not fetch"
    );
    assert_eq!(
        app.status.as_ref().and_then(|s| s.artifact.clone()),
        Some(artifact.clone())
    );

    // A new commit and a request: a new artifact.
    let second = repo.commit(&[("deploy/app.yaml", b"kind: Secret\n")], "second")?;
    repo.push()?;
    request_reconcile(&api, "app", "two").await?;
    let want = format!("main@sha1:{second}");
    wait::wait_for(&api, "app", TIMEOUT, "pick up the new commit", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await?;

    // Suspended: a request is not handled.
    let suspend = serde_json::json!({"spec": {"suspend": true}});
    api.patch("app", &PatchParams::default(), &Patch::Merge(&suspend))
        .await?;
    request_reconcile(&api, "bad", "probe").await?;
    request_reconcile(&api, "app", "three").await?;
    // The controller handles requests in order of arrival; once the later "bad" probe is
    // handled, "app"'s earlier request would have been too had it not been suspended.
    wait::wait_for(&api, "bad", TIMEOUT, "handle the probe", |r| {
        last_handled(r) == Some("probe")
    })
    .await?;
    let app = api.get("app").await?;
    assert_eq!(last_handled(&app), Some("two"));

    // Deletion removes the artifacts from storage.
    let dir = controller
        .storage_path()
        .join(format!("gitrepository/{}/app", ns.name()));
    assert!(dir.is_dir());
    api.delete("app", &DeleteParams::default()).await?;
    wait::wait_deleted(&api, "app", TIMEOUT).await?;
    assert!(
        !dir.exists(),
        "artifacts of a deleted GitRepository must be removed"
    );
    controller.process.ensure_running()?;
    Ok(())
}
