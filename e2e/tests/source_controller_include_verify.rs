//! The source-controller binary against the real control plane and the real git server:
//! `spec.include` (another GitRepository's artifact copied in, followed when it changes) and
//! `spec.verify` (PGP-signed commits and tags, against the keys of a Secret).

use std::time::Duration;

use anyhow::Context as _;
use driftless_api::source::gitrepository::GitRepository;
use driftless_e2e::git_server::{GitServer, Signer};
use driftless_e2e::source::{
    SourceController, artifact, condition, create_git_repository, create_http_credentials,
    create_secret, download_artifact, has_condition, last_handled, main_branch, ready_revision,
    request_reconcile,
};
use driftless_e2e::{TestEnv, wait};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(90);

fn included_revisions(repo: &GitRepository) -> Vec<String> {
    repo.status
        .as_ref()
        .and_then(|s| s.included_artifacts.as_ref())
        .map(|a| a.iter().map(|a| a.revision.clone()).collect())
        .unwrap_or_default()
}

fn text(files: &std::collections::BTreeMap<String, Vec<u8>>, path: &str) -> String {
    files
        .get(path)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .unwrap_or_else(|| panic!("{path} is not in the artifact: {:?}", files.keys()))
}

#[tokio::test]
async fn include_copies_another_artifact_and_follows_its_new_commits() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let lib = server.create_repo("lib")?;
    let lib1 = lib.commit(
        &[
            ("manifests/cm.yaml", b"kind: ConfigMap\n"),
            ("README.md", b"not copied"),
        ],
        "lib one",
    )?;
    lib.push()?;
    let app = server.create_repo("app")?;
    let app1 = app.commit(&[("app.yaml", b"kind: Deployment\n")], "app one")?;
    app.push()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("src-include").await?;
    let mut controller = SourceController::start(&env, &ns, &[])?;
    create_http_credentials(&env, &ns, "creds").await?;
    let api: Api<GitRepository> = Api::namespaced(env.client(), ns.name());
    create_git_repository(
        &api,
        &ns,
        "lib",
        main_branch(&server.http_url("lib"), "creds"),
    )
    .await?;
    let mut app_spec = main_branch(&server.http_url("app"), "creds");
    app_spec["include"] = json!([{
        "repository": {"name": "lib"},
        "fromPath": "manifests",
        "toPath": "vendor/lib",
    }]);
    create_git_repository(&api, &ns, "app", app_spec).await?;
    create_git_repository(
        &api,
        &ns,
        "orphan",
        json!({
            "url": server.http_url("app"), "ref": {"branch": "main"},
            "secretRef": {"name": "creds"}, "include": [{"repository": {"name": "missing"}}],
        }),
    )
    .await?;

    // app is Ready with lib's artifact under toPath, and records what it included.
    let want_lib = format!("main@sha1:{lib1}");
    let app_obj = wait::wait_for(&api, "app", TIMEOUT, "include lib", |r| {
        ready_revision(r).is_some() && included_revisions(r) == [want_lib.clone()]
    })
    .await;
    controller.process.ensure_running()?;
    let app_obj = app_obj?;
    let lib_obj = api.get("lib").await?;
    let included = app_obj
        .status
        .as_ref()
        .and_then(|s| s.included_artifacts.clone())
        .context("includedArtifacts")?;
    assert_eq!(Some(&included[0]), artifact(&lib_obj).as_ref());
    assert_eq!(
        ready_revision(&app_obj),
        Some(format!("main@sha1:{app1}")),
        "the revision stays the including repository's own"
    );
    assert_eq!(
        app_obj
            .status
            .as_ref()
            .and_then(|s| s.observed_include.clone()),
        app_obj.spec.include.clone()
    );
    let files = download_artifact(&app_obj)?;
    assert_eq!(text(&files, "vendor/lib/cm.yaml"), "kind: ConfigMap\n");
    assert_eq!(text(&files, "app.yaml"), "kind: Deployment\n");
    assert!(
        !files.contains_key("vendor/lib/README.md"),
        "only fromPath is copied: {:?}",
        files.keys()
    );

    // Nothing changed, here or in lib: a request is handled without fetching.
    let packs = server.http_upload_packs();
    request_reconcile(&api, "app", "unchanged").await?;
    let handled = wait::wait_for(&api, "app", TIMEOUT, "handle the request", |r| {
        last_handled(r) == Some("unchanged")
    })
    .await?;
    assert_eq!(
        server.http_upload_packs(),
        packs,
        "the no-op path compares the includes and fetches nothing"
    );
    assert_eq!(artifact(&handled), artifact(&app_obj));
    assert_eq!(ready_revision(&handled), ready_revision(&app_obj));

    // An include of a repository that does not exist: IncludeUnavailable, not Ready.
    let orphan = wait::wait_for(&api, "orphan", TIMEOUT, "report the missing include", |r| {
        condition(r, "Ready").is_some_and(|(s, _, _)| s == "False")
    })
    .await?;
    let (status, reason, message) =
        condition(&orphan, "IncludeUnavailable").context("IncludeUnavailable")?;
    assert_eq!((status.as_str(), reason.as_str()), ("True", "NotFound"));
    assert!(message.contains("missing"), "{message}");

    // A new commit in lib, and a request to lib only: app follows through the watch.
    let lib2 = lib.commit(
        &[("manifests/cm.yaml", b"kind: ConfigMap\nv: 2\n")],
        "lib two",
    )?;
    lib.push()?;
    request_reconcile(&api, "lib", "lib-two").await?;
    let want_lib = format!("main@sha1:{lib2}");
    let app_obj = wait::wait_for(&api, "app", TIMEOUT, "follow lib's new commit", |r| {
        ready_revision(r).is_some() && included_revisions(r) == [want_lib.clone()]
    })
    .await?;
    assert_eq!(
        last_handled(&app_obj),
        Some("unchanged"),
        "app was not asked again: lib's new artifact triggered it"
    );
    assert_eq!(ready_revision(&app_obj), Some(format!("main@sha1:{app1}")));
    let files = download_artifact(&app_obj)?;
    assert_eq!(
        text(&files, "vendor/lib/cm.yaml"),
        "kind: ConfigMap\nv: 2\n"
    );
    controller.process.ensure_running()?;
    Ok(())
}

#[tokio::test]
async fn verify_accepts_trusted_signatures_and_refuses_others() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    server.require_gpg()?;
    let repo = server.create_repo("app")?;
    let signed = repo.commit_signed(&[("a.yaml", b"a: 1\n")], "signed", Signer::Trusted)?;
    repo.tag_signed("v1.0.0", "signed tag", Signer::Trusted)?;
    repo.tag_annotated("v1.0.1", "unsigned tag")?;
    repo.push()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("src-verify").await?;
    let mut controller = SourceController::start(&env, &ns, &[])?;
    create_http_credentials(&env, &ns, "creds").await?;
    let trusted = server.trusted_gpg_public_key()?;
    create_secret(&env, &ns, "pgp", &[("author.asc", &trusted)]).await?;
    let api: Api<GitRepository> = Api::namespaced(env.client(), ns.name());
    let spec = |reference: serde_json::Value, mode: &str| {
        json!({
            "url": server.http_url("app"), "ref": reference, "secretRef": {"name": "creds"},
            "verify": {"mode": mode, "secretRef": {"name": "pgp"}},
        })
    };
    create_git_repository(&api, &ns, "head", spec(json!({"branch": "main"}), "HEAD")).await?;
    create_git_repository(&api, &ns, "tag", spec(json!({"tag": "v1.0.0"}), "Tag")).await?;
    create_git_repository(
        &api,
        &ns,
        "unsigned-tag",
        spec(json!({"tag": "v1.0.1"}), "Tag"),
    )
    .await?;

    // HEAD signed by a trusted key: Ready and SourceVerified.
    let want = format!("main@sha1:{signed}");
    let head = wait::wait_for(&api, "head", TIMEOUT, "verify HEAD", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await;
    controller.process.ensure_running()?;
    let head = head?;
    let (status, reason, message) = condition(&head, "SourceVerified").context("SourceVerified")?;
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Succeeded"));
    assert!(message.contains(&signed), "{message}");
    assert_eq!(
        head.status
            .as_ref()
            .and_then(|s| s.source_verification_mode.as_deref()),
        Some("HEAD")
    );
    let good = artifact(&head).context("artifact")?;

    // Tag mode: the signed annotated tag verifies, the unsigned one is refused.
    let tag = wait::wait_for(&api, "tag", TIMEOUT, "verify the tag", |r| {
        ready_revision(r).is_some()
    })
    .await?;
    let (status, _, message) = condition(&tag, "SourceVerified").context("SourceVerified")?;
    assert_eq!(status, "True");
    assert!(message.contains("tag 'v1.0.0'"), "{message}");
    let unsigned_tag = wait::wait_for(&api, "unsigned-tag", TIMEOUT, "refuse the tag", |r| {
        has_condition(r, "SourceVerified", "False", "InvalidGitObject")
    })
    .await?;
    let (status, _, message) = condition(&unsigned_tag, "Ready").context("Ready")?;
    assert_eq!(status, "False");
    assert!(
        message.contains("tag \"v1.0.1\" is not signed"),
        "{message}"
    );
    assert_eq!(
        artifact(&unsigned_tag),
        None,
        "nothing unverified is stored"
    );

    // An unsigned commit, then one signed by a key the Secret does not hold: refused, and the
    // verified artifact stays in status and served.
    let refused = |token: &'static str, expected: &'static str, commit: String| {
        let api = api.clone();
        let good = good.clone();
        async move {
            request_reconcile(&api, "head", token).await?;
            let head = wait::wait_for(&api, "head", TIMEOUT, "refuse the commit", |r| {
                last_handled(r) == Some(token)
            })
            .await?;
            let (ready, reason, message) = condition(&head, "Ready").context("Ready")?;
            assert_eq!(
                (ready.as_str(), reason.as_str()),
                ("False", "InvalidCommitSignature")
            );
            assert!(message.contains(expected), "{message}");
            assert!(
                has_condition(&head, "SourceVerified", "False", "InvalidCommitSignature"),
                "{:?}",
                condition(&head, "SourceVerified")
            );
            assert_eq!(artifact(&head).as_ref(), Some(&good), "the artifact stays");
            // The artifact is outdated (the remote moved on) and the reconcile is retried.
            let (outdated, reason, message) =
                condition(&head, "ArtifactOutdated").context("ArtifactOutdated")?;
            assert_eq!(
                (outdated.as_str(), reason.as_str()),
                ("True", "NewRevision")
            );
            assert!(
                message.contains(&format!("main@sha1:{commit}")),
                "{message}"
            );
            assert!(
                has_condition(&head, "Reconciling", "True", "ProgressingWithRetry"),
                "{:?}",
                condition(&head, "Reconciling")
            );
            download_artifact(&head)?;
            anyhow::Ok(())
        }
    };
    let unsigned = repo.commit(&[("a.yaml", b"a: 2\n")], "unsigned")?;
    repo.push()?;
    refused("unsigned", "is not signed", unsigned.clone()).await?;
    let stranger = repo.commit_signed(&[("a.yaml", b"a: 3\n")], "stranger", Signer::Stranger)?;
    repo.push()?;
    refused("stranger", "no trusted key", stranger.clone()).await?;
    assert_ne!(unsigned, stranger);

    // Trusting the stranger's key too (two armored blocks in one value): accepted.
    let both = format!("{trusted}{}", server.stranger_gpg_public_key()?);
    let patch = json!({"stringData": {"author.asc": both}});
    Api::<Secret>::namespaced(env.client(), ns.name())
        .patch("pgp", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    request_reconcile(&api, "head", "trusted").await?;
    let want = format!("main@sha1:{stranger}");
    let head = wait::wait_for(&api, "head", TIMEOUT, "accept the newly trusted key", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
            && has_condition(r, "SourceVerified", "True", "Succeeded")
    })
    .await?;
    for gone in ["ArtifactOutdated", "Reconciling", "Stalled"] {
        assert_eq!(
            condition(&head, gone),
            None,
            "{gone} must be removed when Ready"
        );
    }
    controller.process.ensure_running()?;
    Ok(())
}
