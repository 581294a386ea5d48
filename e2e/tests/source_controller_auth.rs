//! The source-controller binary with the HTTP credentials libgit2 cannot carry by itself
//! (they go through the reqwest transport): a bearer token, on the remote check too (so the
//! no-op path fetches nothing), and a TLS client certificate against a mutual-TLS server.

use std::time::Duration;

use driftless_api::source::gitrepository::GitRepository;
use driftless_e2e::git_server::{BEARER_TOKEN, GitServer, HTTP_PASSWORD, HTTP_USER};
use driftless_e2e::source::{
    SourceController, artifact, condition, create_git_repository, create_secret, download_artifact,
    last_handled, main_branch, ready_revision, request_reconcile,
};
use driftless_e2e::{TestEnv, wait};
use kube::Api;

const TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test]
async fn bearer_token_and_client_certificate() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    let first = repo.commit(&[("app.yaml", b"kind: ConfigMap\n")], "first")?;
    repo.push()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("src-auth").await?;
    let mut controller = SourceController::start(&env, &ns, &[])?;
    create_secret(&env, &ns, "token", &[("bearerToken", BEARER_TOKEN)]).await?;
    let ca = server.ca_pem();
    create_secret(
        &env,
        &ns,
        "mtls",
        &[
            ("username", HTTP_USER),
            ("password", HTTP_PASSWORD),
            ("ca.crt", ca),
            ("tls.crt", server.client_cert_pem()),
            ("tls.key", server.client_key_pem()),
        ],
    )
    .await?;
    create_secret(
        &env,
        &ns,
        "not-pem",
        &[("ca.crt", ca), ("tls.crt", "CERT"), ("tls.key", "KEY")],
    )
    .await?;
    let api: Api<GitRepository> = Api::namespaced(env.client(), ns.name());
    create_git_repository(
        &api,
        &ns,
        "bearer",
        main_branch(&server.http_url("app"), "token"),
    )
    .await?;
    create_git_repository(
        &api,
        &ns,
        "mtls",
        main_branch(&server.mtls_url("app"), "mtls"),
    )
    .await?;
    create_git_repository(
        &api,
        &ns,
        "not-pem",
        main_branch(&server.mtls_url("app"), "not-pem"),
    )
    .await?;

    let want = format!("main@sha1:{first}");
    let mut ready = Vec::new();
    for name in ["bearer", "mtls"] {
        let obj = wait::wait_for(&api, name, TIMEOUT, "be Ready", |r| {
            ready_revision(r).as_deref() == Some(want.as_str())
        })
        .await;
        controller.process.ensure_running()?;
        let obj = obj?;
        let files = download_artifact(&obj)?;
        assert_eq!(
            files.get("app.yaml").map(Vec::as_slice),
            Some(&b"kind: ConfigMap\n"[..])
        );
        ready.push(obj);
    }

    // A tls.crt that is not PEM: not Ready, with a message that names the fields.
    let bad = wait::wait_for(&api, "not-pem", TIMEOUT, "refuse the Secret", |r| {
        condition(r, "Ready").is_some_and(|(s, _, _)| s == "False")
    })
    .await?;
    let (_, reason, message) = condition(&bad, "Ready").unwrap_or_default();
    assert_eq!(reason, "AuthenticationFailed");
    assert!(message.contains("tls.crt"), "{message}");

    // Nothing new: requests are handled by asking the remote with the token or the
    // certificate, and no pack is fetched.
    let packs = server.http_upload_packs();
    for (obj, token) in ready.iter().zip(["bearer-noop", "mtls-noop"]) {
        let name = obj.metadata.name.as_deref().unwrap_or_default();
        request_reconcile(&api, name, token).await?;
        let handled = wait::wait_for(&api, name, TIMEOUT, "handle the request", |r| {
            last_handled(r) == Some(token)
        })
        .await?;
        assert_eq!(artifact(&handled), artifact(obj), "{name}: same artifact");
    }
    assert_eq!(server.http_upload_packs(), packs, "the no-op path fetched");

    // A new commit is found the same way, and fetched.
    let second = repo.commit(&[("app.yaml", b"kind: Secret\n")], "second")?;
    repo.push()?;
    request_reconcile(&api, "bearer", "new").await?;
    let want = format!("main@sha1:{second}");
    wait::wait_for(&api, "bearer", TIMEOUT, "pick up the new commit", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await?;
    controller.process.ensure_running()?;
    Ok(())
}
