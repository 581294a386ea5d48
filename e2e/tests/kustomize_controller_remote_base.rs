//! kustomize-controller end to end, remote bases: a Kustomization's source repository names a
//! base in a second repository on the real git server (public, as remote bases carry no
//! Secret); kustomize-controller fetches it through the git layer and applies its objects. With
//! `--no-remote-bases` the same source is refused. Real control plane, real source-controller.

use std::net::TcpListener;
use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_e2e::flux::{FluxControllers, condition, create_git_source, create_kustomization};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::{TestEnv, TestNamespace, wait};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;

const TIMEOUT: Duration = Duration::from_secs(120);

/// The shared repository: `deploy/` at tag `v1` says `version: v1`; `main` has moved on to
/// `v2`. `stalled` is a server that accepts connections and never answers. Returns the
/// source repository's URL.
fn repositories(server: &GitServer, stalled: &TcpListener) -> anyhow::Result<String> {
    let shared = server.create_repo("shared")?;
    shared.make_public()?;
    let base = |version: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  version: {version}\n"
        )
    };
    shared.commit(
        &[
            (
                "deploy/kustomization.yaml",
                b"resources: [settings.yaml]\nnamePrefix: shared-\n" as &[u8],
            ),
            ("deploy/settings.yaml", base("v1").as_bytes()),
        ],
        "v1",
    )?;
    shared.tag("v1")?;
    shared.commit(&[("deploy/settings.yaml", base("v2").as_bytes())], "v2")?;
    shared.push()?;

    let shared_url = server.http_url("shared");
    let app = server.create_repo("app")?;
    let pinned = format!("resources:\n- local.yaml\n- {shared_url}//deploy?ref=v1\n");
    // The `.git` segment ends the repository too; no ref: the default branch.
    let head = format!("resources:\n- {shared_url}/deploy\nnameSuffix: -head\n");
    let missing = format!("resources:\n- {shared_url}//deploy?ref=no-such-ref\n");
    // This very repository, which needs the credentials remote bases do not have.
    let private = format!("resources:\n- {}//pinned\n", server.http_url("app"));
    let stalled = format!(
        "resources:\n- http://{}/stalled.git//deploy?timeout=2s\n",
        stalled.local_addr()?
    );
    app.commit(
        &[
            ("pinned/kustomization.yaml", pinned.as_bytes()),
            (
                "pinned/local.yaml",
                b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n",
            ),
            ("head/kustomization.yaml", head.as_bytes()),
            ("missing/kustomization.yaml", missing.as_bytes()),
            ("stalled/kustomization.yaml", stalled.as_bytes()),
            ("private/kustomization.yaml", private.as_bytes()),
        ],
        "app",
    )?;
    app.push()?;
    Ok(server.http_url("app"))
}

async fn create(
    api: &Api<Kustomization>,
    ns: &TestNamespace,
    name: &str,
    path: &str,
) -> anyhow::Result<()> {
    create_kustomization(
        api,
        ns,
        name,
        serde_json::json!({
            "interval": "10m",
            "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "repo"},
            "targetNamespace": ns.name(),
        }),
        serde_json::json!({"path": path}),
    )
    .await
}

/// Ready=False for a build failure (before the source has an artifact it is ArtifactFailed).
fn build_failed(k: &Kustomization) -> bool {
    condition(k, "Ready").is_some_and(|c| c.0 == "False" && c.1 == "BuildFailed")
}

fn version(cm: &ConfigMap) -> Option<&str> {
    cm.data.as_ref()?.get("version").map(String::as_str)
}

#[tokio::test]
async fn remote_bases_are_fetched_at_their_ref_and_applied() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let stalled = TcpListener::bind("127.0.0.1:0")?;
    let app_url = repositories(&server, &stalled)?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-remote").await?;
    let mut controllers = FluxControllers::start(&env, &ns, &[])?;
    create_git_source(&env, &ns, &app_url).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    create(&api, &ns, "pinned", "./pinned").await?;
    create(&api, &ns, "head", "./head").await?;
    create(&api, &ns, "missing", "./missing").await?;
    create(&api, &ns, "stalled", "./stalled").await?;
    create(&api, &ns, "private", "./private").await?;

    let ready = |k: &Kustomization| condition(k, "Ready").is_some_and(|c| c.0 == "True");
    for name in ["pinned", "head"] {
        wait::wait_for(&api, name, TIMEOUT, "apply the remote base", ready).await?;
    }
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    let pinned = cms.get("shared-settings").await?;
    assert_eq!(version(&pinned), Some("v1"), "?ref=v1 is the tag");
    assert_eq!(
        pinned
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kustomize.toolkit.fluxcd.io/name"))
            .map(String::as_str),
        Some("pinned"),
        "the remote base's objects belong to the Kustomization"
    );
    cms.get("local").await?;
    let head = cms.get("shared-settings-head").await?;
    assert_eq!(version(&head), Some("v2"), "no ref: the default branch");

    let k = wait::wait_for(&api, "missing", TIMEOUT, "fail the build", build_failed).await?;
    let (_, _, message) = condition(&k, "Ready").unwrap_or_default();
    assert!(
        message.contains("no-such-ref") && message.contains("not found"),
        "{message}"
    );

    let k = wait::wait_for(&api, "private", TIMEOUT, "need credentials", build_failed).await?;
    let (_, _, message) = condition(&k, "Ready").unwrap_or_default();
    assert!(message.contains("requires credentials"), "{message}");

    // The deadline (?timeout=) ends a fetch from a server that never answers.
    let k = wait::wait_for(&api, "stalled", TIMEOUT, "time out", build_failed).await?;
    let (_, _, message) = condition(&k, "Ready").unwrap_or_default();
    assert!(message.contains("timed out"), "{message}");

    controllers.kustomize.ensure_running()?;
    controllers.source.ensure_running()?;
    Ok(())
}

#[tokio::test]
async fn no_remote_bases_refuses_them() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let stalled = TcpListener::bind("127.0.0.1:0")?;
    let app_url = repositories(&server, &stalled)?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-no-remote").await?;
    let mut controllers = FluxControllers::start(&env, &ns, &["--no-remote-bases=true"])?;
    create_git_source(&env, &ns, &app_url).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    create(&api, &ns, "pinned", "./pinned").await?;

    let k = wait::wait_for(
        &api,
        "pinned",
        TIMEOUT,
        "refuse the remote base",
        build_failed,
    )
    .await?;
    let (_, _, message) = condition(&k, "Ready").unwrap_or_default();
    assert!(
        message.contains("remote bases are disabled") && message.contains("shared.git//deploy"),
        "{message}"
    );
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    assert!(
        cms.get_opt("local").await?.is_none(),
        "a refused build applies nothing"
    );
    controllers.kustomize.ensure_running()?;
    Ok(())
}
