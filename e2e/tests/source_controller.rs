//! The source-controller binary against the real control plane and the real git server:
//! artifact, ignore rules and links, wrong credentials, the no-op path, requestedAt, a new
//! commit, suspend and deletion cleanup.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use anyhow::Context as _;
use driftless_api::source::gitrepository::GitRepository;
use driftless_e2e::git_server::{GitServer, HTTP_PASSWORD, HTTP_USER};
use driftless_e2e::{ControllerProcess, TestEnv, wait};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use sha2::Digest as _;

const TIMEOUT: Duration = Duration::from_secs(90);

fn condition<'a>(repo: &'a GitRepository, type_: &str) -> Option<(&'a str, &'a str)> {
    repo.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.as_str(), c.reason.as_str()))
}

fn ready_revision(repo: &GitRepository) -> Option<String> {
    (condition(repo, "Ready")? == ("True", "Succeeded"))
        .then(|| {
            repo.status
                .as_ref()?
                .artifact
                .as_ref()
                .map(|a| a.revision.clone())
        })
        .flatten()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A plain HTTP/1.0 GET (the artifact server's URL), returning status code and body.
fn http_get(url: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let rest = url.strip_prefix("http://").context("http URL")?;
    let (host, path) = rest.split_once('/').context("path")?;
    let mut stream = std::net::TcpStream::connect(host)?;
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no header end")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let code = head.split_whitespace().nth(1).context("status")?.parse()?;
    Ok((code, response[split + 4..].to_vec()))
}

fn tar_entries(gz: &[u8]) -> anyhow::Result<Vec<String>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let mut names = Vec::new();
    for entry in archive.entries()? {
        let entry = entry?;
        names.push(entry.path()?.to_string_lossy().into_owned());
    }
    Ok(names)
}

async fn request_reconcile(
    api: &Api<GitRepository>,
    name: &str,
    token: &str,
) -> anyhow::Result<()> {
    let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

fn git_repository(name: &str, url: &str, secret: &str) -> anyhow::Result<GitRepository> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name},
        "spec": {
            "url": url,
            "interval": "10m",
            "ref": {"branch": "main"},
            "secretRef": {"name": secret},
        }
    }))?)
}

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
    let storage = tempfile::tempdir()?;
    let addr = format!("127.0.0.1:{}", free_port()?);
    let storage_path = format!("--storage-path={}", storage.path().display());
    let storage_addr = format!("--storage-addr={addr}");
    let adv_addr = format!("--storage-adv-addr={addr}");
    let mut controller = ControllerProcess::start(
        &env,
        "source-controller",
        &[
            "--metrics-addr=0",
            "--health-addr=0",
            &storage_path,
            &storage_addr,
            &adv_addr,
        ],
        ns.name(),
    )?;

    let secrets: Api<Secret> = Api::namespaced(env.client(), ns.name());
    let secret = |name: &str, password: &str| -> anyhow::Result<Secret> {
        Ok(serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "stringData": {"username": HTTP_USER, "password": password},
        }))?)
    };
    secrets
        .create(&PostParams::default(), &secret("creds", HTTP_PASSWORD)?)
        .await?;
    secrets
        .create(&PostParams::default(), &secret("wrong", "nope")?)
        .await?;

    let api: Api<GitRepository> = Api::namespaced(env.client(), ns.name());
    api.create(
        &PostParams::default(),
        &git_repository("app", &server.http_url("app"), "creds")?,
    )
    .await?;
    api.create(
        &PostParams::default(),
        &git_repository("bad", &server.http_url("app"), "wrong")?,
    )
    .await?;

    // A good repository becomes Ready with Flux's revision and a served, verifiable artifact.
    let want = format!("main@sha1:{first}");
    let app = wait::wait_for(&api, "app", TIMEOUT, "be Ready", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await;
    controller.ensure_running()?;
    let app = app?;
    assert_eq!(
        condition(&app, "ArtifactInStorage"),
        Some(("True", "Succeeded"))
    );
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
    let entries = tar_entries(&body)?;
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

    // Wrong credentials: Ready=False with Flux's reason, FetchFailed=True.
    let bad = wait::wait_for(&api, "bad", TIMEOUT, "fail authentication", |r| {
        condition(r, "Ready") == Some(("False", "AuthenticationFailed"))
    })
    .await?;
    assert_eq!(
        condition(&bad, "FetchFailed"),
        Some(("True", "AuthenticationFailed"))
    );

    // requestedAt with nothing new: handled, no pack downloaded, same artifact.
    let packs = server.http_upload_packs();
    request_reconcile(&api, "app", "one").await?;
    let app = wait::wait_for(&api, "app", TIMEOUT, "handle request one", |r| {
        r.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some("one")
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
        r.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some("probe")
    })
    .await?;
    let app = api.get("app").await?;
    assert_eq!(
        app.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref()),
        Some("two")
    );

    // Deletion removes the artifacts from storage.
    let dir = storage
        .path()
        .join(format!("gitrepository/{}/app", ns.name()));
    assert!(dir.is_dir());
    api.delete("app", &DeleteParams::default()).await?;
    wait::wait_deleted(&api, "app", TIMEOUT).await?;
    assert!(
        !dir.exists(),
        "artifacts of a deleted GitRepository must be removed"
    );
    controller.ensure_running()?;
    Ok(())
}
