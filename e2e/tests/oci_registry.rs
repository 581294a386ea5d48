//! `driftless-oci` against the real distribution registry (pinned, built into the cache) and
//! the real `helm` CLI: charts pushed by `helm push` are read by the library, artifacts pushed
//! by the library are pulled by `helm pull`, and each failure a source must report (wrong
//! credentials, unknown tag, wrong layer type, oversized blob, unknown CA, dead registry)
//! comes back as the error, with Flux's reason, that a user can act on.
//!
//! No Kubernetes here: the library takes Secret bytes, so the tests hand it the bytes a
//! `kubernetes.io/dockerconfigjson` Secret would hold.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, ensure};
use bytes::Bytes;
use driftless_e2e::helm_repo::{self, HELM_REPO_PASSWORD, HELM_REPO_USER, HelmRepo};
use driftless_e2e::proxy::{PROXY_PASSWORD, PROXY_USER, Proxy};
use driftless_e2e::registry::{
    FLUX_SOURCE_REVISION, REGISTRY_PASSWORD, REGISTRY_USER, Registry, RegistryOptions,
    flux_artifact,
};
use driftless_e2e::tcp_fault::{Fault, TcpFault};
use driftless_oci::{
    Artifact, Blob, ClientOptions, Credentials, Error, FLUX_CONTENT_MEDIA_TYPE,
    HELM_CHART_CONFIG_MEDIA_TYPE, HELM_CHART_CONTENT_MEDIA_TYPE, Manifest, ProxyConfig,
    RegistryClient, Repository, TlsConfig,
};

fn plain() -> ClientOptions {
    ClientOptions {
        insecure: true,
        ..ClientOptions::default()
    }
}

fn anonymous(options: &ClientOptions) -> Result<RegistryClient> {
    Ok(RegistryClient::new(options, &Credentials::Anonymous)?)
}

/// Packages the test chart `name` at `version` with the real `helm package`.
fn chart_tgz(dir: &Path, name: &str, version: &str) -> Result<std::path::PathBuf> {
    let src = helm_repo::write_chart(&dir.join("src").join(version), name, version)?;
    helm_repo::package_chart(&src, &dir.join("out"))
}

fn image(fetched: &driftless_oci::FetchedManifest) -> Result<&driftless_oci::OciImageManifest> {
    match &fetched.manifest {
        Manifest::Image(m) => Ok(m),
        Manifest::Index(_) => anyhow::bail!("expected an image manifest, got an index"),
    }
}

#[tokio::test]
async fn charts_pushed_by_helm_are_listed_resolved_and_pulled() -> Result<()> {
    let registry = Registry::anonymous()?;
    let work = tempfile::tempdir()?;
    let v1 = chart_tgz(work.path(), "podinfo", "1.0.0")?;
    let v2 = chart_tgz(work.path(), "podinfo", "1.1.0")?;
    registry.helm_push(&v1, "charts")?;
    let pushed = registry.helm_push(&v2, "charts")?;

    let client = anonymous(&plain())?;
    let repo = Repository::parse(&registry.oci_url("charts/podinfo"))?;
    let mut tags = client.list_tags(&repo).await?;
    tags.sort();
    assert_eq!(tags, ["1.0.0", "1.1.0"]);

    let digest = client.resolve(&repo, "1.1.0").await?;
    assert!(
        pushed.contains(&digest),
        "helm push reported another digest than {digest}: {pushed}"
    );
    let fetched = client.fetch_manifest(&repo, "1.1.0").await?;
    assert_eq!(fetched.digest, digest);
    let manifest = image(&fetched)?;
    assert_eq!(manifest.config.media_type, HELM_CHART_CONFIG_MEDIA_TYPE);
    let layer = driftless_oci::select_layer(manifest, Some(HELM_CHART_CONTENT_MEDIA_TYPE))?;

    let dest = work.path().join("pulled.tgz");
    let size = client
        .fetch_blob(&repo, layer, &dest, 10 * 1024 * 1024)
        .await?;
    let original = std::fs::read(&v2)?;
    assert_eq!(size, original.len() as u64);
    assert_eq!(
        std::fs::read(&dest)?,
        original,
        "the pulled layer is the chart helm pushed"
    );
    assert_eq!(
        driftless_oci::revision(Some("1.1.0"), &fetched.digest),
        format!("1.1.0@{digest}")
    );
    Ok(())
}

#[tokio::test]
async fn an_artifact_pushed_by_the_library_is_pulled_by_helm() -> Result<()> {
    let registry = Registry::anonymous()?;
    let work = tempfile::tempdir()?;
    let tgz = chart_tgz(work.path(), "hello", "0.3.0")?;
    let chart = Bytes::from(std::fs::read(&tgz)?);
    let artifact = Artifact {
        config: Blob {
            media_type: HELM_CHART_CONFIG_MEDIA_TYPE.to_owned(),
            data: Bytes::from_static(br#"{"apiVersion":"v2","name":"hello","version":"0.3.0"}"#),
            ..Blob::default()
        },
        layers: vec![Blob {
            media_type: HELM_CHART_CONTENT_MEDIA_TYPE.to_owned(),
            data: chart.clone(),
            ..Blob::default()
        }],
        ..Artifact::default()
    };
    let client = anonymous(&plain())?;
    let repo = Repository::parse(&registry.oci_url("library-pushed/hello"))?;
    let digest = client.push(&repo, "0.3.0", &artifact).await?;
    assert_eq!(client.resolve(&repo, "0.3.0").await?, digest);

    let home = tempfile::tempdir()?;
    let out = work.path().join("helm-pulled");
    std::fs::create_dir_all(&out)?;
    helm_repo::run(
        helm_repo::helm_command(home.path())?
            .args(["pull", &registry.oci_url("library-pushed/hello")])
            .args(["--version", "0.3.0", "--plain-http", "-d"])
            .arg(&out),
    )?;
    assert_eq!(
        std::fs::read(out.join("hello-0.3.0.tgz"))?,
        chart.to_vec(),
        "helm pulled the bytes the library pushed"
    );

    // A Flux-style artifact: annotations and layers come back as pushed.
    let repo = Repository::parse(&registry.oci_url("manifests/app"))?;
    let digest = client
        .push(&repo, "latest", &flux_artifact(b"layer bytes"))
        .await?;
    let fetched = client.fetch_manifest(&repo, &digest).await?;
    assert_eq!(fetched.digest, digest, "fetch by digest");
    let manifest = image(&fetched)?;
    let annotations = manifest.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get("org.opencontainers.image.revision")
            .map(String::as_str),
        Some(FLUX_SOURCE_REVISION)
    );
    assert_eq!(manifest.layers.len(), 1);
    assert_eq!(manifest.layers[0].media_type, FLUX_CONTENT_MEDIA_TYPE);
    Ok(())
}

#[tokio::test]
async fn an_index_is_returned_as_an_index() -> Result<()> {
    let registry = Registry::anonymous()?;
    let client = anonymous(&plain())?;
    let repo = Repository::parse(&registry.oci_url("multi"))?;
    let amd64 = client
        .push(&repo, "amd64", &flux_artifact(b"amd64"))
        .await?;
    let arm64 = client
        .push(&repo, "arm64", &flux_artifact(b"arm64"))
        .await?;
    // The index is written with a plain PUT, as any client (docker buildx, crane) does.
    let mut manifests = Vec::new();
    for (digest, arch) in [(&amd64, "amd64"), (&arm64, "arm64")] {
        let raw = reqwest::Client::new()
            .get(format!(
                "{}/v2/multi/manifests/{digest}",
                registry.base_url()
            ))
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": raw.len(),
            "platform": { "os": "linux", "architecture": arch },
        }));
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    reqwest::Client::new()
        .put(format!("{}/v2/multi/manifests/latest", registry.base_url()))
        .header("Content-Type", "application/vnd.oci.image.index.v1+json")
        .body(index.to_string())
        .send()
        .await?
        .error_for_status()?;

    let fetched = client.fetch_manifest(&repo, "latest").await?;
    assert_eq!(
        fetched.media_type,
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(client.resolve(&repo, "latest").await?, fetched.digest);
    let Manifest::Index(index) = &fetched.manifest else {
        anyhow::bail!("expected an index, got {:?}", fetched.manifest);
    };
    let digests: Vec<&str> = index.manifests.iter().map(|m| m.digest.as_str()).collect();
    assert_eq!(digests, [amd64.as_str(), arm64.as_str()]);
    Ok(())
}

#[tokio::test]
async fn tags_are_listed_across_pages() -> Result<()> {
    let registry = Registry::anonymous()?;
    let client = RegistryClient::new(
        &ClientOptions {
            tag_page_size: Some(2),
            ..plain()
        },
        &Credentials::Anonymous,
    )?;
    let repo = Repository::parse(&registry.oci_url("paged"))?;
    let mut expected = Vec::new();
    for i in 0..5 {
        let tag = format!("v0.{i}.0");
        client
            .push(&repo, &tag, &flux_artifact(tag.as_bytes()))
            .await?;
        expected.push(tag);
    }
    let mut tags = client.list_tags(&repo).await?;
    tags.sort();
    assert_eq!(tags, expected);
    ensure!(
        registry.log().matches("/v2/paged/tags/list").count() >= 3,
        "5 tags in pages of 2 take 3 requests:\n{}",
        registry.log()
    );
    Ok(())
}

#[tokio::test]
async fn resolving_a_tag_asks_with_head_only() -> Result<()> {
    let registry = Registry::anonymous()?;
    let client = anonymous(&plain())?;
    let repo = Repository::parse(&registry.oci_url("noop/app"))?;
    let digest = client.push(&repo, "v1", &flux_artifact(b"content")).await?;
    let before = registry.log();
    assert_eq!(client.resolve(&repo, "v1").await?, digest);
    let log = registry.log();
    let new = &log[before.len()..];
    assert!(
        new.contains("\"HEAD /v2/noop/app/manifests/v1"),
        "resolve sends HEAD for the manifest:\n{new}"
    );
    assert!(
        !new.contains("\"GET /v2/noop/app/manifests") && !new.contains("/blobs/"),
        "resolve downloads neither the manifest nor a blob:\n{new}"
    );
    Ok(())
}

#[tokio::test]
async fn htpasswd_credentials_from_a_docker_config() -> Result<()> {
    let registry = Registry::start(RegistryOptions {
        htpasswd: true,
        ..RegistryOptions::default()
    })?;
    let work = tempfile::tempdir()?;
    let tgz = chart_tgz(work.path(), "private", "2.0.0")?;
    registry.helm_push(&tgz, "team")?;
    let repo = Repository::parse(&registry.oci_url("team/private"))?;

    // The bytes of a dockerconfigjson Secret, matched to the repository's host.
    let config = registry.docker_config_json(REGISTRY_USER, REGISTRY_PASSWORD);
    let other = r#"{"auths":{"elsewhere.example.com":{"username":"x","password":"y"}}}"#;
    let credentials = driftless_oci::auth::from_docker_configs(
        [other.as_bytes(), config.as_bytes()],
        &repo.name(),
    )?;
    assert!(matches!(credentials, Credentials::Basic { .. }));
    let client = RegistryClient::new(&plain(), &credentials)?;
    assert_eq!(client.list_tags(&repo).await?, ["2.0.0"]);
    client.resolve(&repo, "2.0.0").await?;

    for (what, credentials) in [
        (
            "a wrong password",
            Credentials::Basic {
                username: REGISTRY_USER.to_owned(),
                password: "wrong".to_owned(),
            },
        ),
        ("no credentials", Credentials::Anonymous),
    ] {
        let client = RegistryClient::new(&plain(), &credentials)?;
        let err = client.resolve(&repo, "2.0.0").await.expect_err(what);
        assert!(matches!(err, Error::Auth { .. }), "{what}: {err:?}");
        assert_eq!(err.reason(), "AuthenticationFailed", "{what}");
        assert!(
            err.to_string().contains("check the credentials"),
            "{what}: {err}"
        );
        assert!(!err.to_string().contains("wrong"), "no password in {err}");
        let err = client.list_tags(&repo).await.expect_err(what);
        assert!(matches!(err, Error::Auth { .. }), "{what} (tags): {err:?}");
    }
    Ok(())
}

#[tokio::test]
async fn the_bearer_token_flow_exchanges_credentials_for_tokens() -> Result<()> {
    let registry = Registry::start(RegistryOptions {
        token: true,
        ..RegistryOptions::default()
    })?;
    let work = tempfile::tempdir()?;
    let tgz = chart_tgz(work.path(), "tokened", "0.1.0")?;
    registry.helm_push(&tgz, "team")?;
    let issued_to_helm = registry.tokens_issued();
    assert!(issued_to_helm > 0, "helm got its tokens from the endpoint");

    let credentials = Credentials::Basic {
        username: REGISTRY_USER.to_owned(),
        password: REGISTRY_PASSWORD.to_owned(),
    };
    let client = RegistryClient::new(&plain(), &credentials)?;
    let chart = Repository::parse(&registry.oci_url("team/tokened"))?;
    assert_eq!(client.list_tags(&chart).await?, ["0.1.0"]);
    client.resolve(&chart, "0.1.0").await?;
    // Push needs a `pull,push` token of its own.
    let repo = Repository::parse(&registry.oci_url("team/app"))?;
    let digest = client.push(&repo, "v1", &flux_artifact(b"x")).await?;
    assert_eq!(client.resolve(&repo, "v1").await?, digest);
    assert!(
        registry.tokens_issued() > issued_to_helm,
        "the library got its tokens from the endpoint"
    );

    for credentials in [
        Credentials::Basic {
            username: REGISTRY_USER.to_owned(),
            password: "wrong".to_owned(),
        },
        Credentials::Anonymous,
        // A bearer token the registry did not issue (a `registrytoken` in a docker config).
        Credentials::Bearer("not-a-token".to_owned()),
    ] {
        let client = RegistryClient::new(&plain(), &credentials)?;
        let err = client.resolve(&chart, "0.1.0").await.expect_err("refused");
        assert!(
            matches!(err, Error::Auth { .. }),
            "{credentials:?}: {err:?}"
        );
        assert_eq!(err.reason(), "AuthenticationFailed");
    }
    Ok(())
}

#[tokio::test]
async fn unknown_tags_and_repositories_are_not_found() -> Result<()> {
    let registry = Registry::anonymous()?;
    let client = anonymous(&plain())?;
    let repo = Repository::parse(&registry.oci_url("known"))?;
    client.push(&repo, "v1", &flux_artifact(b"x")).await?;

    let err = client.resolve(&repo, "v2").await.expect_err("unknown tag");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(err.reason(), "OCIArtifactPullFailed");
    assert!(err.to_string().contains("\"v2\""), "{err}");
    let err = client
        .fetch_manifest(&repo, "v2")
        .await
        .expect_err("unknown tag");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let missing = Repository::parse(&registry.oci_url("never/pushed"))?;
    let err = client.list_tags(&missing).await.expect_err("unknown repo");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn wrong_layer_types_and_oversized_blobs_are_refused() -> Result<()> {
    let registry = Registry::anonymous()?;
    let client = anonymous(&plain())?;
    let repo = Repository::parse(&registry.oci_url("big"))?;
    let content = vec![7u8; 64 * 1024];
    client.push(&repo, "v1", &flux_artifact(&content)).await?;
    let fetched = client.fetch_manifest(&repo, "v1").await?;
    let manifest = image(&fetched)?;

    let err = driftless_oci::select_layer(manifest, Some(HELM_CHART_CONTENT_MEDIA_TYPE))
        .expect_err("no chart layer in a Flux artifact");
    assert_eq!(err.reason(), "OCIArtifactLayerOperationFailed");
    assert!(err.to_string().contains(FLUX_CONTENT_MEDIA_TYPE), "{err}");

    let layer = driftless_oci::select_layer(manifest, Some(FLUX_CONTENT_MEDIA_TYPE))?;
    let work = tempfile::tempdir()?;
    let dest = work.path().join("layer");
    let err = client
        .fetch_blob(&repo, layer, &dest, 1024)
        .await
        .expect_err("over the limit");
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert!(!dest.exists(), "no file for a refused blob");

    // A manifest that understates the size: the registry's Content-Length is checked too.
    let mut lying = layer.clone();
    lying.size = 10;
    let err = client
        .fetch_blob(&repo, &lying, &dest, 1024)
        .await
        .expect_err("bytes on the wire over the limit");
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert!(!dest.exists(), "no partial file left behind");
    assert_eq!(
        std::fs::read_dir(work.path())?.count(),
        0,
        "no temporary file left behind"
    );

    let size = client
        .fetch_blob(&repo, layer, &dest, content.len() as u64)
        .await?;
    assert_eq!(size, content.len() as u64);
    assert_eq!(std::fs::read(&dest)?, content);
    Ok(())
}

#[tokio::test]
async fn tls_with_the_fixture_ca_and_refused_without() -> Result<()> {
    let registry = Registry::start(RegistryOptions {
        tls: true,
        htpasswd: true,
        ..RegistryOptions::default()
    })?;
    let work = tempfile::tempdir()?;
    let tgz = chart_tgz(work.path(), "secure", "1.2.3")?;
    registry.helm_push(&tgz, "tls")?;
    let repo = Repository::parse(&registry.oci_url("tls/secure"))?;
    let credentials = Credentials::Basic {
        username: REGISTRY_USER.to_owned(),
        password: REGISTRY_PASSWORD.to_owned(),
    };

    let mut secret = BTreeMap::new();
    secret.insert(
        "ca.crt".to_owned(),
        registry
            .ca_pem()
            .context("TLS registry has a CA")?
            .as_bytes()
            .to_vec(),
    );
    let trusted = ClientOptions {
        tls: Some(TlsConfig::from_secret_data(&secret)?),
        ..ClientOptions::default()
    };
    let client = RegistryClient::new(&trusted, &credentials)?;
    let digest = client.resolve(&repo, "1.2.3").await?;
    assert!(digest.starts_with("sha256:"), "{digest}");

    let client = RegistryClient::new(&ClientOptions::default(), &credentials)?;
    let err = client
        .resolve(&repo, "1.2.3")
        .await
        .expect_err("unknown CA");
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
    assert!(
        err.to_string().contains("certificate") && err.to_string().contains("ca.crt"),
        "the message names the certificate problem and the fix: {err}"
    );

    let client = RegistryClient::new(&plain(), &credentials)?;
    let err = client
        .resolve(&repo, "1.2.3")
        .await
        .expect_err("plain HTTP to a TLS port");
    assert!(
        matches!(err, Error::Network { .. } | Error::Registry { .. }),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn requests_go_through_the_proxy_of_a_proxy_secret() -> Result<()> {
    let proxy = Proxy::start()?;
    let proxy_secret = |password: &str| {
        let mut data = BTreeMap::new();
        data.insert("address".to_owned(), proxy.address().into_bytes());
        data.insert("username".to_owned(), PROXY_USER.as_bytes().to_vec());
        data.insert("password".to_owned(), password.as_bytes().to_vec());
        ProxyConfig::from_secret_data(&data)
    };

    // Plain HTTP: requests in absolute form.
    let registry = Registry::anonymous()?;
    let client = RegistryClient::new(
        &ClientOptions {
            proxy: Some(proxy_secret(PROXY_PASSWORD)?),
            ..plain()
        },
        &Credentials::Anonymous,
    )?;
    let repo = Repository::parse(&registry.oci_url("proxied"))?;
    let digest = client
        .push(&repo, "v1", &flux_artifact(b"via proxy"))
        .await?;
    assert_eq!(client.resolve(&repo, "v1").await?, digest);
    let relayed = proxy.relayed();
    assert!(relayed > 0, "the proxy relayed the requests");

    let client = RegistryClient::new(
        &ClientOptions {
            proxy: Some(proxy_secret("wrong")?),
            ..plain()
        },
        &Credentials::Anonymous,
    )?;
    let err = client.resolve(&repo, "v1").await.expect_err("407");
    assert!(matches!(err, Error::InvalidProxy(_)), "{err:?}");
    assert_eq!(err.reason(), "AuthenticationFailed");
    assert!(err.to_string().contains("proxy Secret"), "{err}");

    // HTTPS: a CONNECT tunnel, the registry's certificate checked end to end.
    let registry = Registry::start(RegistryOptions {
        tls: true,
        ..RegistryOptions::default()
    })?;
    let client = RegistryClient::new(
        &ClientOptions {
            proxy: Some(proxy_secret(PROXY_PASSWORD)?),
            tls: Some(TlsConfig::with_ca_pem(
                registry.ca_pem().context("TLS registry has a CA")?,
            )),
            ..ClientOptions::default()
        },
        &Credentials::Anonymous,
    )?;
    let repo = Repository::parse(&registry.oci_url("tunnelled"))?;
    let digest = client.push(&repo, "v1", &flux_artifact(b"tunnel")).await?;
    assert_eq!(client.resolve(&repo, "v1").await?, digest);
    assert!(
        proxy.relayed() > relayed,
        "the proxy tunnelled the requests"
    );
    Ok(())
}

#[tokio::test]
async fn a_dead_registry_is_a_network_error() -> Result<()> {
    let mut registry = Registry::anonymous()?;
    let client = anonymous(&plain())?;
    let repo = Repository::parse(&registry.oci_url("gone"))?;
    client.push(&repo, "v1", &flux_artifact(b"x")).await?;
    registry.kill();
    let err = client.resolve(&repo, "v1").await.expect_err("dead");
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
    assert_eq!(err.reason(), "OCIArtifactPullFailed");
    assert!(err.to_string().contains(&registry.host()), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_registry_that_dies_or_stalls_mid_blob_leaves_no_file() -> Result<()> {
    let registry = Registry::anonymous()?;
    let client = anonymous(&plain())?;
    let content: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let direct = Repository::parse(&registry.oci_url("flaky"))?;
    client.push(&direct, "v1", &flux_artifact(&content)).await?;
    let upstream = registry.host().parse()?;
    let work = tempfile::tempdir()?;
    let dest = work.path().join("layer");

    // The manifest (a few hundred bytes) gets through; the 2 MiB blob does not.
    let budget = 256 * 1024;
    for (fault, timeout) in [
        (Fault::CutAfter(budget), None),
        (
            Fault::StallAfter(budget),
            Some(std::time::Duration::from_secs(5)),
        ),
    ] {
        let relay = TcpFault::start(upstream, fault)?;
        let repo = Repository::parse(&format!("oci://{}/flaky", relay.host()))?;
        let client = RegistryClient::new(
            &ClientOptions { timeout, ..plain() },
            &Credentials::Anonymous,
        )?;
        let fetched = client.fetch_manifest(&repo, "v1").await?;
        let layer = driftless_oci::select_layer(image(&fetched)?, None)?;
        let err = client
            .fetch_blob(&repo, layer, &dest, 10 * 1024 * 1024)
            .await
            .expect_err("the transfer breaks");
        assert!(matches!(err, Error::Network { .. }), "{fault:?}: {err:?}");
        assert_eq!(err.reason(), "OCIArtifactPullFailed");
        assert_eq!(
            std::fs::read_dir(work.path())?.count(),
            0,
            "{fault:?}: neither the file nor a partial one is left"
        );
    }

    // A byte flipped in the middle of the blob: same length, wrong content.
    let relay = TcpFault::start(upstream, Fault::FlipByteAt(budget))?;
    let repo = Repository::parse(&format!("oci://{}/flaky", relay.host()))?;
    let fetched = client.fetch_manifest(&repo, "v1").await?;
    let layer = driftless_oci::select_layer(image(&fetched)?, None)?;
    let err = client
        .fetch_blob(&repo, layer, &dest, 10 * 1024 * 1024)
        .await
        .expect_err("corrupted");
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    assert_eq!(err.reason(), "OCIArtifactPullFailed");
    assert_eq!(
        std::fs::read_dir(work.path())?.count(),
        0,
        "no corrupt file kept"
    );

    // The same blob straight from the registry is whole and verified.
    let fetched = client.fetch_manifest(&direct, "v1").await?;
    let layer = driftless_oci::select_layer(image(&fetched)?, None)?;
    client
        .fetch_blob(&direct, layer, &dest, 10 * 1024 * 1024)
        .await?;
    assert_eq!(std::fs::read(&dest)?, content);
    Ok(())
}

#[tokio::test]
async fn the_http_helm_repository_serves_what_helm_indexed() -> Result<()> {
    let repo = HelmRepo::start(true)?;
    let tgz = repo.add_chart("podinfo", "6.7.0")?;
    repo.add_chart("podinfo", "6.7.1")?;

    let http = reqwest::Client::new();
    let index_url = format!("{}/index.yaml", repo.url());
    let denied = http.get(&index_url).send().await?;
    assert_eq!(denied.status(), reqwest::StatusCode::UNAUTHORIZED);
    let index = http
        .get(&index_url)
        .basic_auth(HELM_REPO_USER, Some(HELM_REPO_PASSWORD))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    assert!(
        index.contains("version: 6.7.0") && index.contains("version: 6.7.1"),
        "{index}"
    );
    assert!(
        index.contains(&format!("{}/podinfo-6.7.0.tgz", repo.url())),
        "{index}"
    );

    // The real helm CLI accepts the repository and pulls the packaged bytes.
    let home = tempfile::tempdir()?;
    let out = home.path().join("pulled");
    std::fs::create_dir_all(&out)?;
    helm_repo::run(
        helm_repo::helm_command(home.path())?
            .args(["repo", "add", "test", &repo.url()])
            .args([
                "--username",
                HELM_REPO_USER,
                "--password",
                HELM_REPO_PASSWORD,
            ]),
    )?;
    helm_repo::run(
        helm_repo::helm_command(home.path())?
            .args(["pull", "test/podinfo", "--version", "6.7.0", "-d"])
            .arg(&out),
    )?;
    assert_eq!(
        std::fs::read(out.join("podinfo-6.7.0.tgz"))?,
        std::fs::read(&tgz)?
    );
    Ok(())
}
