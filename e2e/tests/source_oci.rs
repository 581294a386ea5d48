//! OCIRepository end to end: the source-controller binary against the real control plane and
//! the real distribution registry (htpasswd), artifacts pushed as `flux push artifact` does
//! (a tar.gz of manifests, Flux's media types and annotations) with driftless-oci; then a
//! Kustomization with `sourceRef.kind: OCIRepository` applying what was pushed.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use driftless_api::kustomize::Kustomization;
use driftless_api::source::ocirepository::OCIRepository;
use driftless_e2e::flux::{FluxControllers, create_kustomization};
use driftless_e2e::proxy::{PROXY_PASSWORD, PROXY_USER};
use driftless_e2e::registry::{
    FLUX_SOURCE_REVISION, REGISTRY_PASSWORD, REGISTRY_USER, Registry, RegistryOptions,
    flux_artifact,
};
use driftless_e2e::source::{
    SourceController, artifact_files, create_docker_config_secret, create_secret, create_source,
    http_get, request_reconcile,
};
use driftless_e2e::tcp_fault::{Fault, TcpFault};
use driftless_e2e::{TestEnv, wait};
use driftless_oci::{
    ClientOptions, Credentials, FLUX_CONTENT_MEDIA_TYPE, HELM_CHART_CONTENT_MEDIA_TYPE,
    RegistryClient, Repository,
};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use sha2::Digest as _;

const TIMEOUT: Duration = Duration::from_secs(120);

/// A client that pushes to the fixture's anonymous plain-HTTP registry.
fn anonymous_pusher() -> Result<RegistryClient> {
    Ok(RegistryClient::new(
        &ClientOptions {
            insecure: true,
            ..ClientOptions::default()
        },
        &Credentials::Anonymous,
    )?)
}

/// A tar.gz of `files`, as `flux push artifact` packs a directory.
fn tgz(files: &[(&str, &str)]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, path, content.as_bytes())?;
    }
    Ok(builder.into_inner()?.finish()?)
}

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n"
    )
}

/// Pushes a manifests artifact to `repo:tag` and returns the manifest digest and layer bytes.
async fn push(
    client: &RegistryClient,
    repo: &Repository,
    tag: &str,
    files: &[(&str, &str)],
) -> Result<(String, Vec<u8>)> {
    let layer = tgz(files)?;
    let digest = client.push(repo, tag, &flux_artifact(&layer)).await?;
    Ok((digest, layer))
}

fn condition(obj: &OCIRepository, type_: &str) -> Option<(String, String, String)> {
    obj.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn ready_revision(obj: &OCIRepository) -> Option<String> {
    let (status, _, _) = condition(obj, "Ready")?;
    (status == "True" && obj.status.as_ref()?.observed_generation == obj.metadata.generation)
        .then(|| {
            obj.status
                .as_ref()?
                .artifact
                .as_ref()
                .map(|a| a.revision.clone())
        })
        .flatten()
}

/// Waits until `name` is Ready=False with `reason`; returns the object.
async fn wait_failed(api: &Api<OCIRepository>, name: &str, reason: &str) -> Result<OCIRepository> {
    wait::wait_for(api, name, TIMEOUT, &format!("fail with {reason}"), |r| {
        condition(r, "Ready").is_some_and(|(s, re, _)| s == "False" && re == reason)
    })
    .await
}

/// The served artifact of `obj`: its digest checked against status, its bytes.
fn served(obj: &OCIRepository) -> Result<Vec<u8>> {
    let artifact = obj
        .status
        .as_ref()
        .and_then(|s| s.artifact.clone())
        .context("no artifact")?;
    let (code, body) = http_get(&artifact.url)?;
    anyhow::ensure!(code == 200, "GET {} answered {code}", artifact.url);
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body)));
    anyhow::ensure!(
        digest == artifact.digest,
        "served {digest}, status {}",
        artifact.digest
    );
    Ok(body)
}

fn file(files: &BTreeMap<String, Vec<u8>>, name: &str) -> Option<String> {
    files
        .iter()
        .find(|(path, _)| path.trim_start_matches("./") == name)
        .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
}

#[tokio::test]
async fn oci_repository_pulls_from_a_real_registry() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = Registry::start(RegistryOptions {
        htpasswd: true,
        ..RegistryOptions::default()
    })?;
    let pusher = RegistryClient::new(
        &ClientOptions {
            insecure: true,
            ..ClientOptions::default()
        },
        &Credentials::Basic {
            username: REGISTRY_USER.to_owned(),
            password: REGISTRY_PASSWORD.to_owned(),
        },
    )?;
    let repo = Repository::parse(&registry.oci_url("app/manifests"))?;
    let v1_files = [
        ("app.yaml", config_map("app", "one")),
        ("README.md", "# docs".to_owned()),
    ];
    let v1_files: Vec<(&str, &str)> = v1_files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let (v1, _) = push(&pusher, &repo, "1.0.0", &v1_files).await?;
    // The same artifact in a repository only the no-op case reads, so that its access log
    // lines are told apart from the other objects' retries.
    let noop_repo = Repository::parse(&registry.oci_url("noop/app"))?;
    let (noop_digest, _) = push(&pusher, &noop_repo, "1.0.0", &v1_files).await?;
    assert_eq!(noop_digest, v1, "the same artifact has the same digest");
    push(
        &pusher,
        &repo,
        "1.1.0",
        &[("app.yaml", &config_map("app", "one-one"))],
    )
    .await?;
    let (v2, _) = push(
        &pusher,
        &repo,
        "2.0.0",
        &[("app.yaml", &config_map("app", "two"))],
    )
    .await?;
    let (latest, latest_layer) = push(
        &pusher,
        &repo,
        "latest",
        &[("app.yaml", &config_map("app", "latest"))],
    )
    .await?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("source-oci").await?;
    let mut controller = SourceController::start(&env, &ns, &[])?;
    let good = registry.docker_config_json(REGISTRY_USER, REGISTRY_PASSWORD);
    create_docker_config_secret(&env, &ns, "creds", &good).await?;
    let wrong = registry.docker_config_json(REGISTRY_USER, "wrong-password");
    create_docker_config_secret(&env, &ns, "wrong", &wrong).await?;
    create_docker_config_secret(&env, &ns, "pull", &good).await?;
    let sa: ServiceAccount = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "puller"}, "imagePullSecrets": [{"name": "pull"}],
    }))?;
    Api::<ServiceAccount>::namespaced(env.client(), ns.name())
        .create(&PostParams::default(), &sa)
        .await?;

    let api: Api<OCIRepository> = Api::namespaced(env.client(), ns.name());
    let url = registry.oci_url("app/manifests");
    let base = |extra: serde_json::Value| {
        let mut spec = serde_json::json!({"url": url, "insecure": true,
                                          "secretRef": {"name": "creds"}});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        spec
    };
    let cases = [
        (
            "tag",
            base(serde_json::json!({"url": registry.oci_url("noop/app"),
                                    "ref": {"tag": "1.0.0"}, "ignore": "*.md"})),
        ),
        (
            "semver",
            base(serde_json::json!({"ref": {"semver": ">=1.0.0", "semverFilter": "^1\\."}})),
        ),
        ("digest", base(serde_json::json!({"ref": {"digest": v2}}))),
        (
            "copy",
            base(serde_json::json!({"layerSelector": {
                "mediaType": FLUX_CONTENT_MEDIA_TYPE, "operation": "copy"}})),
        ),
        (
            "account",
            serde_json::json!({"url": url, "insecure": true, "serviceAccountName": "puller"}),
        ),
        (
            "missing",
            base(serde_json::json!({"ref": {"tag": "9.9.9"}})),
        ),
        (
            "chart-layer",
            base(
                serde_json::json!({"layerSelector": {"mediaType": HELM_CHART_CONTENT_MEDIA_TYPE}}),
            ),
        ),
        (
            "verify",
            base(serde_json::json!({"verify": {"provider": "cosign",
                                               "secretRef": {"name": "creds"}}})),
        ),
        (
            "anonymous",
            serde_json::json!({"url": url, "insecure": true}),
        ),
    ];
    for (name, spec) in cases {
        create_source(&api, &ns, name, spec).await?;
    }

    // A tag: Flux's revision, the manifest's annotations as metadata, the content extracted
    // and repacked without what `ignore` excludes.
    let want = format!("1.0.0@{v1}");
    let tag = wait::wait_for(&api, "tag", TIMEOUT, "be Ready at 1.0.0", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await;
    controller.process.ensure_running()?;
    let tag = tag?;
    let artifact = tag
        .status
        .as_ref()
        .and_then(|s| s.artifact.clone())
        .context("artifact")?;
    let metadata = artifact.metadata.clone().unwrap_or_default();
    assert_eq!(
        metadata
            .get("org.opencontainers.image.revision")
            .map(String::as_str),
        Some(FLUX_SOURCE_REVISION)
    );
    assert_eq!(
        condition(&tag, "ArtifactInStorage").map(|c| c.0),
        Some("True".to_owned())
    );
    let status = tag.status.clone().context("status")?;
    assert_eq!(status.observed_ignore.as_deref(), Some("*.md"));
    assert_eq!(status.url.as_deref(), Some(artifact.url.as_str()));
    let files = artifact_files(&served(&tag)?)?;
    assert_eq!(file(&files, "app.yaml"), Some(config_map("app", "one")));
    assert_eq!(
        file(&files, "README.md"),
        None,
        "ignored by spec.ignore: {files:?}"
    );

    // Semver after the filter: 2.0.0 matches the range but not `^1\.`.
    let semver = wait::wait_for(&api, "semver", TIMEOUT, "be Ready", |r| {
        ready_revision(r).is_some()
    })
    .await?;
    let revision = ready_revision(&semver).unwrap_or_default();
    assert!(revision.starts_with("1.1.0@sha256:"), "{revision}");
    assert_eq!(
        file(&artifact_files(&served(&semver)?)?, "app.yaml"),
        Some(config_map("app", "one-one"))
    );

    // A pinned digest: the revision is the digest alone.
    let digest = wait::wait_for(&api, "digest", TIMEOUT, "be Ready", |r| {
        ready_revision(r).as_deref() == Some(v2.as_str())
    })
    .await?;
    assert_eq!(
        file(&artifact_files(&served(&digest)?)?, "app.yaml"),
        Some(config_map("app", "two"))
    );

    // `copy` stores the layer's bytes unchanged; no ref is the `latest` tag.
    let want_latest = format!("latest@{latest}");
    let copy = wait::wait_for(&api, "copy", TIMEOUT, "be Ready at latest", |r| {
        ready_revision(r).as_deref() == Some(want_latest.as_str())
    })
    .await?;
    assert_eq!(served(&copy)?, latest_layer, "the layer as pushed");

    // Credentials from the service account's image pull secrets.
    wait::wait_for(&api, "account", TIMEOUT, "be Ready at latest", |r| {
        ready_revision(r).as_deref() == Some(want_latest.as_str())
    })
    .await?;

    // Failures, each with Flux's reason and a message that says what is wrong.
    let missing = wait_failed(&api, "missing", "OCIArtifactPullFailed").await?;
    let message = condition(&missing, "Ready")
        .map(|c| c.2)
        .unwrap_or_default();
    assert!(message.contains("9.9.9"), "{message}");
    assert_eq!(
        condition(&missing, "FetchFailed").map(|c| c.1),
        Some("OCIArtifactPullFailed".to_owned())
    );
    let chart = wait_failed(&api, "chart-layer", "OCIArtifactLayerOperationFailed").await?;
    let message = condition(&chart, "Ready").map(|c| c.2).unwrap_or_default();
    assert!(
        message.contains(HELM_CHART_CONTENT_MEDIA_TYPE)
            && message.contains(FLUX_CONTENT_MEDIA_TYPE),
        "names the wanted and the available media types: {message}"
    );
    let verify = wait_failed(&api, "verify", "VerificationError").await?;
    assert_eq!(
        condition(&verify, "Stalled").map(|c| c.0),
        Some("True".to_owned())
    );
    assert_eq!(
        condition(&verify, "SourceVerified").map(|c| c.0),
        Some("False".to_owned())
    );
    let anonymous = wait_failed(&api, "anonymous", "AuthenticationFailed").await?;
    assert!(anonymous.status.and_then(|s| s.artifact).is_none());

    // The no-op reconcile asks for the digest with HEAD and downloads nothing.
    let before = registry.log();
    request_reconcile(&api, "tag", "noop-1").await?;
    wait::wait_for(&api, "tag", TIMEOUT, "handle the request", |r| {
        r.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some("noop-1")
    })
    .await?;
    let log = registry.log();
    let new: Vec<&str> = log[before.len().min(log.len())..]
        .lines()
        .filter(|l| l.contains("\"") && l.contains("/v2/noop/app/"))
        .collect();
    assert!(
        new.iter()
            .any(|l| l.contains("\"HEAD /v2/noop/app/manifests/1.0.0")),
        "the digest was asked:\n{new:#?}"
    );
    assert!(
        new.iter()
            .all(|l| !l.contains("/blobs/") && !l.contains("\"GET /v2/noop/app/manifests/")),
        "no manifest or blob downloaded on the no-op path:\n{new:#?}"
    );

    // A wrong password fails the reconcile; the previous artifact stays served.
    let patch = serde_json::json!({"spec": {"secretRef": {"name": "wrong"}}});
    api.patch("tag", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let failed = wait_failed(&api, "tag", "AuthenticationFailed").await?;
    let kept = failed.status.as_ref().and_then(|s| s.artifact.clone());
    assert_eq!(kept.as_ref().map(|a| &a.digest), Some(&artifact.digest));
    served(&failed)?;
    let message = condition(&failed, "Ready").map(|c| c.2).unwrap_or_default();
    assert!(
        !message.contains("wrong-password"),
        "no secret in {message}"
    );
    controller.process.ensure_running()?;
    Ok(())
}

#[tokio::test]
async fn a_kustomization_applies_an_oci_artifact() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = Registry::anonymous()?;
    let pusher = anonymous_pusher()?;
    let repo = Repository::parse(&registry.oci_url("deploy/app"))?;
    let (first, _) = push(
        &pusher,
        &repo,
        "production",
        &[("deploy/app.yaml", &config_map("from-oci", "first"))],
    )
    .await?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("oci-kustomize").await?;
    let mut controllers = FluxControllers::start(&env, &ns, &[])?;
    let sources: Api<OCIRepository> = Api::namespaced(env.client(), ns.name());
    create_source(
        &sources,
        &ns,
        "app",
        serde_json::json!({"url": registry.oci_url("deploy/app"), "insecure": true,
                           "ref": {"tag": "production"}}),
    )
    .await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    create_kustomization(
        &api,
        &ns,
        "app",
        serde_json::json!({"interval": "10m", "prune": true, "path": "./deploy",
                           "targetNamespace": ns.name(),
                           "sourceRef": {"kind": "OCIRepository", "name": "app"}}),
        serde_json::json!({}),
    )
    .await?;
    let want = format!("production@{first}");
    let applied = wait::wait_for(&api, "app", TIMEOUT, "apply the artifact", |k| {
        k.status
            .as_ref()
            .and_then(|s| s.last_applied_revision.as_deref())
            == Some(want.as_str())
    })
    .await;
    controllers.source.ensure_running()?;
    controllers.kustomize.ensure_running()?;
    applied?;
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    let cm = cms.get("from-oci").await?;
    assert_eq!(
        cm.data.and_then(|d| d.get("value").cloned()).as_deref(),
        Some("first")
    );

    // A new push to the tag reaches the cluster through the OCIRepository's new artifact.
    let (second, _) = push(
        &pusher,
        &repo,
        "production",
        &[("deploy/app.yaml", &config_map("from-oci", "second"))],
    )
    .await?;
    request_reconcile(&sources, "app", "new-push").await?;
    let want = format!("production@{second}");
    wait::wait_for(&api, "app", TIMEOUT, "apply the new push", |k| {
        k.status
            .as_ref()
            .and_then(|s| s.last_applied_revision.as_deref())
            == Some(want.as_str())
    })
    .await?;
    let cm = cms.get("from-oci").await?;
    assert_eq!(
        cm.data.and_then(|d| d.get("value").cloned()).as_deref(),
        Some("second")
    );
    Ok(())
}

#[tokio::test]
async fn tls_proxy_corrupt_layers_suspend_and_deletion() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = Registry::start(RegistryOptions {
        tls: true,
        ..RegistryOptions::default()
    })?;
    let ca = registry
        .ca_pem()
        .context("TLS registry has a CA")?
        .to_owned();
    let pusher = RegistryClient::new(
        &ClientOptions {
            tls: Some(driftless_oci::TlsConfig::with_ca_pem(ca.clone())),
            ..ClientOptions::default()
        },
        &Credentials::Anonymous,
    )?;
    let repo = Repository::parse(&registry.oci_url("secure/app"))?;
    let (v1, _) = push(
        &pusher,
        &repo,
        "v1",
        &[("app.yaml", &config_map("app", "tls"))],
    )
    .await?;
    pusher
        .push(&repo, "corrupt", &flux_artifact(b"not a tar.gz"))
        .await?;
    let proxy = driftless_e2e::proxy::Proxy::start()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("source-oci-tls").await?;
    let mut controller = SourceController::start(&env, &ns, &[])?;
    create_secret(&env, &ns, "ca", &[("ca.crt", &ca)]).await?;
    create_secret(
        &env,
        &ns,
        "proxy",
        &[
            ("address", &proxy.address()),
            ("username", PROXY_USER),
            ("password", PROXY_PASSWORD),
        ],
    )
    .await?;
    let api: Api<OCIRepository> = Api::namespaced(env.client(), ns.name());
    let url = registry.oci_url("secure/app");
    let with_ca = |extra: serde_json::Value| {
        let mut spec = serde_json::json!({"url": url, "ref": {"tag": "v1"},
                                          "certSecretRef": {"name": "ca"}});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        spec
    };
    // Created first: had it been reconciled, it would be Ready before the others.
    create_source(
        &api,
        &ns,
        "suspended",
        with_ca(serde_json::json!({"suspend": true})),
    )
    .await?;
    create_source(&api, &ns, "tls", with_ca(serde_json::json!({}))).await?;
    create_source(
        &api,
        &ns,
        "proxied",
        with_ca(serde_json::json!({"proxySecretRef": {"name": "proxy"}})),
    )
    .await?;
    create_source(
        &api,
        &ns,
        "corrupt",
        with_ca(serde_json::json!({"ref": {"tag": "corrupt"}})),
    )
    .await?;
    create_source(
        &api,
        &ns,
        "no-ca",
        serde_json::json!({"url": url, "ref": {"tag": "v1"}}),
    )
    .await?;

    let want = format!("v1@{v1}");
    let tls = wait::wait_for(&api, "tls", TIMEOUT, "be Ready over TLS", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await;
    controller.process.ensure_running()?;
    let tls = tls?;
    assert_eq!(
        file(&artifact_files(&served(&tls)?)?, "app.yaml"),
        Some(config_map("app", "tls"))
    );
    wait::wait_for(
        &api,
        "proxied",
        TIMEOUT,
        "be Ready through the proxy",
        |r| ready_revision(r).as_deref() == Some(want.as_str()),
    )
    .await?;
    assert!(
        proxy.relayed() > 0,
        "the registry was reached through the proxy"
    );

    let no_ca = wait::wait_for(&api, "no-ca", TIMEOUT, "fail", |r| {
        condition(r, "Ready").is_some_and(|c| c.0 == "False")
    })
    .await?;
    let message = condition(&no_ca, "Ready").map(|c| c.2).unwrap_or_default();
    assert!(message.contains("ca.crt"), "says to give the CA: {message}");

    let corrupt = wait_failed(&api, "corrupt", "OCIArtifactLayerOperationFailed").await?;
    let message = condition(&corrupt, "Ready")
        .map(|c| c.2)
        .unwrap_or_default();
    assert!(message.contains("extracting the layer"), "{message}");

    let suspended = api.get("suspended").await?;
    assert!(
        suspended
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .is_none(),
        "a suspended OCIRepository pulls nothing: {:?}",
        suspended.status
    );
    let patch = serde_json::json!({"spec": {"suspend": false}});
    api.patch("suspended", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    wait::wait_for(&api, "suspended", TIMEOUT, "be Ready once resumed", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await?;

    // Deletion removes the object's artifacts from storage (the finalizer's cleanup).
    let stored = controller
        .storage_path()
        .join("ocirepository")
        .join(ns.name())
        .join("tls");
    assert!(stored.exists(), "{} holds the artifact", stored.display());
    api.delete("tls", &DeleteParams::default()).await?;
    wait::wait_deleted(&api, "tls", TIMEOUT).await?;
    assert!(
        !stored.exists(),
        "{} removed with the object",
        stored.display()
    );
    controller.process.ensure_running()?;
    Ok(())
}

#[tokio::test]
async fn a_registry_that_dies_or_stalls_mid_blob_keeps_the_previous_artifact() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = Registry::anonymous()?;
    let pusher = anonymous_pusher()?;
    let direct = Repository::parse(&registry.oci_url("flaky/app"))?;
    let (first, _) = push(
        &pusher,
        &direct,
        "v1",
        &[("app.yaml", &config_map("app", "first"))],
    )
    .await?;
    // Each connection gets this many bytes through: the small first artifact passes, the
    // 2 MiB layer pushed next does not.
    let budget = 256 * 1024;
    let upstream = registry.host().parse()?;
    let cut = TcpFault::start(upstream, Fault::CutAfter(budget))?;
    let stall = TcpFault::start(upstream, Fault::StallAfter(budget))?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("source-oci-fault").await?;
    let mut controller = SourceController::start(&env, &ns, &[])?;
    let api: Api<OCIRepository> = Api::namespaced(env.client(), ns.name());
    for (name, relay) in [("cut", &cut), ("stall", &stall)] {
        create_source(
            &api,
            &ns,
            name,
            serde_json::json!({"url": format!("oci://{}/flaky/app", relay.host()),
                               "insecure": true, "ref": {"tag": "v1"}, "timeout": "5s"}),
        )
        .await?;
    }
    let want = format!("v1@{first}");
    let mut before = Vec::new();
    for name in ["cut", "stall"] {
        let ready = wait::wait_for(&api, name, TIMEOUT, "be Ready through the relay", |r| {
            ready_revision(r).as_deref() == Some(want.as_str())
        })
        .await;
        controller.process.ensure_running()?;
        before.push(ready?);
    }

    // Incompressible bytes (xorshift), so the layer is as large on the wire as on disk.
    let mut state = 0x2545_f491_u32;
    let large: Vec<u8> = (0..2 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    pusher.push(&direct, "v1", &flux_artifact(&large)).await?;
    for (name, old) in ["cut", "stall"].into_iter().zip(&before) {
        request_reconcile(&api, name, "after-push").await?;
        let failed = wait_failed(&api, name, "OCIArtifactPullFailed").await?;
        let message = condition(&failed, "Ready").map(|c| c.2).unwrap_or_default();
        assert!(message.contains("blob"), "{name}: {message}");
        let kept = failed.status.as_ref().and_then(|s| s.artifact.as_ref());
        let previous = old.status.as_ref().and_then(|s| s.artifact.as_ref());
        assert_eq!(
            kept.map(|a| &a.digest),
            previous.map(|a| &a.digest),
            "{name}: the previous artifact stays in status"
        );
        assert_eq!(
            file(&artifact_files(&served(&failed)?)?, "app.yaml"),
            Some(config_map("app", "first")),
            "{name}: and stays served"
        );
    }
    controller.process.ensure_running()?;
    Ok(())
}
