//! The source-controller binary reaching its git server through `spec.proxySecretRef`: an
//! authenticating HTTP proxy on loopback relays the fetch (and counts it), and a wrong proxy
//! password is a `Ready=False` that names the proxy, the previous artifact kept.

use std::time::Duration;

use driftless_api::source::gitrepository::GitRepository;
use driftless_e2e::git_server::GitServer;
use driftless_e2e::proxy::{PROXY_PASSWORD, PROXY_USER, Proxy};
use driftless_e2e::source::{
    SourceController, artifact, condition, create_git_repository, create_http_credentials,
    create_secret, download_artifact, main_branch, ready_revision,
};
use driftless_e2e::{TestEnv, wait};
use kube::Api;

const TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test]
async fn fetches_through_an_authenticating_proxy() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    let first = repo.commit(&[("app.yaml", b"kind: ConfigMap\n")], "first")?;
    repo.push()?;
    let proxy = Proxy::start()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("src-proxy").await?;
    let mut controller = SourceController::start(&env, &ns, &[])?;
    create_http_credentials(&env, &ns, "creds").await?;
    let address = proxy.address();
    create_secret(
        &env,
        &ns,
        "proxy",
        &[
            ("address", address.as_str()),
            ("username", PROXY_USER),
            ("password", PROXY_PASSWORD),
        ],
    )
    .await?;
    create_secret(
        &env,
        &ns,
        "wrong-proxy",
        &[
            ("address", address.as_str()),
            ("username", PROXY_USER),
            ("password", "not-the-password"),
        ],
    )
    .await?;

    let api: Api<GitRepository> = Api::namespaced(env.client(), ns.name());
    let mut spec = main_branch(&server.http_url("app"), "creds");
    spec["proxySecretRef"] = serde_json::json!({"name": "proxy"});
    create_git_repository(&api, &ns, "via-proxy", spec).await?;

    let want = format!("main@sha1:{first}");
    let ready = wait::wait_for(&api, "via-proxy", TIMEOUT, "be Ready", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await;
    controller.process.ensure_running()?;
    let ready = ready?;
    assert!(
        proxy.relayed() > 0,
        "the fetch did not go through the proxy"
    );
    let files = download_artifact(&ready)?;
    assert_eq!(
        files.get("app.yaml").map(Vec::as_slice),
        Some(&b"kind: ConfigMap\n"[..])
    );

    // The proxy refuses the password: not Ready, and the artifact fetched before stays.
    let before = artifact(&ready);
    api.patch(
        "via-proxy",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({
            "spec": {"proxySecretRef": {"name": "wrong-proxy"}}
        })),
    )
    .await?;
    let failed = wait::wait_for(&api, "via-proxy", TIMEOUT, "fail at the proxy", |r| {
        condition(r, "Ready").is_some_and(|(s, _, _)| s == "False")
    })
    .await?;
    controller.process.ensure_running()?;
    let (_, reason, message) = condition(&failed, "Ready").unwrap_or_default();
    assert!(!reason.is_empty(), "no reason on Ready=False");
    assert!(
        message.to_lowercase().contains("proxy"),
        "the message does not name the proxy: {reason}: {message}"
    );
    assert_eq!(
        artifact(&failed),
        before,
        "the previous artifact was dropped"
    );
    Ok(())
}
