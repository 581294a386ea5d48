//! [`RegistryClient`]: one registry connection with fixed credentials and transport options.
//!
//! oci-client remembers the first credentials it is given per registry host, so a client is
//! built per set of credentials rather than shared; building one is cheap (no I/O).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageIndex, OciImageManifest,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use crate::error::error_chain;
use crate::{Credentials, Error};

/// Tags asked for per page of `tags/list` (the distribution registry's own default cap).
const DEFAULT_TAG_PAGE: usize = 1000;
/// Connect and read timeout unless the caller sets one: a stalled registry must fail the
/// reconcile rather than hold it forever.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A repository in a registry: `host[:port]/path`, from `oci://host[:port]/path` (the
/// OCIRepository `url`) or the same without the scheme (an image name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    registry: String,
    path: String,
}

impl Repository {
    /// Parses `oci://host[:port]/path` or `host[:port]/path`; a tag or digest is refused,
    /// since the reference is chosen separately (`spec.ref`). A name without a host is a
    /// Docker Hub name (`nginx` is `docker.io/library/nginx`), as Docker and Flux read it.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let name = url.strip_prefix("oci://").unwrap_or(url);
        if name.contains("://") {
            return Err(invalid("only the oci:// scheme is supported"));
        }
        if name.is_empty() || name.ends_with('/') {
            return Err(invalid("a repository path is required after the host"));
        }
        let last = name.rsplit('/').next().unwrap_or(name);
        if name.contains('@') || last.contains(':') {
            return Err(invalid(
                "the URL must not carry a tag or digest; set spec.ref instead",
            ));
        }
        let reference = Reference::try_from(name).map_err(|e| invalid(&e.to_string()))?;
        Ok(Self {
            registry: reference.registry().to_owned(),
            path: reference.repository().to_owned(),
        })
    }

    /// `host[:port]`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `host[:port]/path`, the form docker config keys are matched against.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }

    /// The reference of `tag_or_digest` (a tag, or `sha256:<hex>`) in this repository.
    fn reference(&self, tag_or_digest: &str) -> Reference {
        if tag_or_digest.contains(':') {
            Reference::with_digest(
                self.registry.clone(),
                self.path.clone(),
                tag_or_digest.to_owned(),
            )
        } else {
            Reference::with_tag(
                self.registry.clone(),
                self.path.clone(),
                tag_or_digest.to_owned(),
            )
        }
    }
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

/// TLS material from a Secret (`certSecretRef`): the `ca.crt` to trust.
#[derive(Clone, Default)]
pub struct TlsConfig {
    ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("ca", &self.ca_pem.is_some())
            .finish()
    }
}

impl TlsConfig {
    /// Reads a Secret's data. `ca.crt` (PEM) is added to the trusted roots.
    ///
    /// A client certificate (`tls.crt` + `tls.key`) is refused: oci-client builds its own
    /// HTTP client and offers no way to present one, and accepting the keys while connecting
    /// without them would hide the problem until the registry refuses the handshake.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, Error> {
        let ca_pem = data.get("ca.crt").or_else(|| data.get("caFile")).cloned();
        if let Some(pem) = &ca_pem {
            reqwest::Certificate::from_pem_bundle(pem)
                .ok()
                .filter(|certs| !certs.is_empty())
                .ok_or_else(|| {
                    Error::InvalidTls("ca.crt is not a PEM certificate (bundle)".to_owned())
                })?;
        }
        let has_cert = data.contains_key("tls.crt") || data.contains_key("certFile");
        let has_key = data.contains_key("tls.key") || data.contains_key("keyFile");
        if has_cert || has_key {
            return Err(Error::InvalidTls(
                "client certificates (tls.crt/tls.key) are not supported for OCI registries \
                 yet; remove them from the Secret (keep ca.crt) or use credentials"
                    .to_owned(),
            ));
        }
        Ok(Self { ca_pem })
    }

    /// Trusts `ca_pem` (PEM, one or more certificates) in addition to the system roots.
    pub fn with_ca_pem(ca_pem: impl Into<Vec<u8>>) -> Self {
        Self {
            ca_pem: Some(ca_pem.into()),
        }
    }
}

/// An HTTP(S) proxy (`proxySecretRef`: `address`, optional `username` and `password`).
#[derive(Clone)]
pub struct ProxyConfig {
    url: String,
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = reqwest::Url::parse(&self.url)
            .map(|mut u| {
                let _ = u.set_password(None);
                u.to_string()
            })
            .unwrap_or_default();
        f.debug_struct("ProxyConfig").field("url", &shown).finish()
    }
}

impl ProxyConfig {
    /// From a proxy Secret's data; `address` is required (`http://host:port`).
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, Error> {
        let text = |key: &str| -> Result<Option<String>, Error> {
            data.get(key)
                .map(|v| {
                    String::from_utf8(v.clone())
                        .map(|s| s.trim().to_owned())
                        .map_err(|_| Error::InvalidProxy(format!("{key} is not UTF-8")))
                })
                .transpose()
        };
        let address = text("address")?
            .filter(|a| !a.is_empty())
            .ok_or_else(|| Error::InvalidProxy("the Secret has no `address`".to_owned()))?;
        Self::new(
            &address,
            text("username")?.as_deref(),
            text("password")?.as_deref(),
        )
    }

    /// A proxy at `address` (`http://` or `https://`), with optional basic credentials.
    pub fn new(
        address: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<Self, Error> {
        let mut url = reqwest::Url::parse(address)
            .map_err(|e| Error::InvalidProxy(format!("address {address:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::InvalidProxy(format!(
                "address {address:?} must be http://host:port or https://host:port"
            )));
        }
        if let Some(user) = username.filter(|u| !u.is_empty()) {
            url.set_username(user)
                .and_then(|()| url.set_password(password))
                .map_err(|()| Error::InvalidProxy("cannot set credentials".to_owned()))?;
        }
        Ok(Self {
            url: url.to_string(),
        })
    }

    /// The proxy URL, credentials included (percent-encoded).
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Plain HTTP instead of HTTPS (OCIRepository `insecure`).
    pub insecure: bool,
    /// Extra trusted CA (OCIRepository `certSecretRef`).
    pub tls: Option<TlsConfig>,
    /// Proxy for every request (OCIRepository `proxySecretRef`).
    pub proxy: Option<ProxyConfig>,
    /// Connect and read timeout (OCIRepository `timeout`); 60 s when unset.
    pub timeout: Option<Duration>,
    /// Tags per `tags/list` page; 1000 when unset.
    pub tag_page_size: Option<usize>,
}

/// A manifest as fetched: its digest, its media type and its content.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// `sha256:<hex>` of the manifest bytes, what a tag resolves to.
    pub digest: String,
    /// The manifest's media type.
    pub media_type: String,
    /// The parsed manifest.
    pub manifest: Manifest,
}

/// An image (artifact) manifest or an index of manifests (multi-platform images).
#[derive(Debug, Clone)]
pub enum Manifest {
    /// `application/vnd.oci.image.manifest.v1+json` or Docker's v2 manifest.
    Image(Box<OciImageManifest>),
    /// `application/vnd.oci.image.index.v1+json` or Docker's manifest list.
    Index(OciImageIndex),
}

/// A blob to push: its media type, bytes and annotations.
#[derive(Debug, Clone, Default)]
pub struct Blob {
    /// e.g. `application/vnd.cncf.flux.content.v1.tar+gzip`.
    pub media_type: String,
    /// The content.
    pub data: Bytes,
    /// Descriptor annotations.
    pub annotations: BTreeMap<String, String>,
}

/// An artifact to push: a config blob, layers and manifest annotations.
#[derive(Debug, Clone, Default)]
pub struct Artifact {
    /// The config blob (Flux: `application/vnd.cncf.flux.config.v1+json`, `{}`).
    pub config: Blob,
    /// The layers, in order.
    pub layers: Vec<Blob>,
    /// Manifest annotations (`org.opencontainers.image.source`, `…revision`, `…created`).
    pub annotations: BTreeMap<String, String>,
    /// The manifest's `artifactType`, if any.
    pub artifact_type: Option<String>,
}

/// A connection to registries with one set of credentials and transport options.
pub struct RegistryClient {
    client: oci_client::Client,
    auth: RegistryAuth,
    tag_page_size: usize,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client for `credentials` with `options`; no I/O.
    pub fn new(options: &ClientOptions, credentials: &Credentials) -> Result<Self, Error> {
        let timeout = options.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let mut config = ClientConfig {
            protocol: if options.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            read_timeout: Some(timeout),
            connect_timeout: Some(timeout),
            user_agent: concat!("driftless/", env!("CARGO_PKG_VERSION")),
            // Artifacts are not platform images: an index is returned, never resolved.
            platform_resolver: None,
            ..ClientConfig::default()
        };
        if let Some(ca) = options.tls.as_ref().and_then(|t| t.ca_pem.clone()) {
            config.extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data: ca,
            });
        }
        if let Some(proxy) = &options.proxy {
            config.https_proxy = Some(proxy.url.clone());
            config.http_proxy = Some(proxy.url.clone());
        }
        let client = oci_client::Client::try_from(config)
            .map_err(|e| Error::InvalidTls(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            client,
            auth: credentials.to_registry_auth(),
            tag_page_size: options.tag_page_size.unwrap_or(DEFAULT_TAG_PAGE).max(1),
        })
    }

    fn error(
        &self,
        repo: &Repository,
        what: &str,
        err: oci_client::errors::OciDistributionError,
    ) -> Error {
        Error::from_client(err, repo.registry(), &repo.name(), what)
    }

    /// Every tag of `repo`, in the registry's order, following `tags/list` pages.
    pub async fn list_tags(&self, repo: &Repository) -> Result<Vec<String>, Error> {
        let reference = repo.reference("latest");
        let mut tags: Vec<String> = Vec::new();
        loop {
            let page = self
                .client
                .list_tags(
                    &reference,
                    &self.auth,
                    Some(self.tag_page_size),
                    tags.last().map(String::as_str),
                )
                .await
                .map_err(|e| self.error(repo, "repository", e))?;
            let count = page.tags.len();
            // A registry that ignores `last` would repeat the first page forever.
            if page.tags.first().is_some_and(|t| tags.contains(t)) {
                break;
            }
            tags.extend(page.tags);
            if count < self.tag_page_size {
                break;
            }
        }
        tracing::debug!(repository = %repo, tags = tags.len(), "listed tags");
        Ok(tags)
    }

    /// The manifest digest `tag_or_digest` resolves to, asking with HEAD only (no manifest
    /// or blob download): the no-op check of a reconcile whose artifact is up to date.
    pub async fn resolve(&self, repo: &Repository, tag_or_digest: &str) -> Result<String, Error> {
        let what = if tag_or_digest.contains(':') {
            format!("digest {tag_or_digest:?}")
        } else {
            format!("tag {tag_or_digest:?}")
        };
        let digest = self
            .client
            .fetch_manifest_digest(&repo.reference(tag_or_digest), &self.auth)
            .await
            .map_err(|e| self.error(repo, &what, e))?;
        tracing::debug!(repository = %repo, reference = tag_or_digest, %digest, "resolved");
        Ok(digest)
    }

    /// The manifest `tag_or_digest` names, image manifest or index.
    pub async fn fetch_manifest(
        &self,
        repo: &Repository,
        tag_or_digest: &str,
    ) -> Result<FetchedManifest, Error> {
        let reference = repo.reference(tag_or_digest);
        let what = format!("manifest {tag_or_digest:?}");
        let (bytes, digest) = self
            .client
            .pull_manifest_raw(
                &reference,
                &self.auth,
                &[
                    OCI_IMAGE_MEDIA_TYPE,
                    OCI_IMAGE_INDEX_MEDIA_TYPE,
                    IMAGE_MANIFEST_MEDIA_TYPE,
                    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
                ],
            )
            .await
            .map_err(|e| self.error(repo, &what, e))?;
        let invalid = |detail: String| Error::InvalidManifest {
            reference: reference.whole(),
            detail,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        let media_type = value
            .get("mediaType")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_owned();
        let is_index = media_type == OCI_IMAGE_INDEX_MEDIA_TYPE
            || media_type == IMAGE_MANIFEST_LIST_MEDIA_TYPE
            || (media_type.is_empty() && value.get("manifests").is_some());
        let manifest = if is_index {
            Manifest::Index(serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?)
        } else if media_type.is_empty()
            || media_type == OCI_IMAGE_MEDIA_TYPE
            || media_type == IMAGE_MANIFEST_MEDIA_TYPE
        {
            Manifest::Image(Box::new(
                serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?,
            ))
        } else {
            return Err(invalid(format!("media type {media_type:?}")));
        };
        let media_type = if media_type.is_empty() {
            (if is_index {
                OCI_IMAGE_INDEX_MEDIA_TYPE
            } else {
                OCI_IMAGE_MEDIA_TYPE
            })
            .to_owned()
        } else {
            media_type
        };
        Ok(FetchedManifest {
            digest,
            media_type,
            manifest,
        })
    }

    /// Streams the blob `descriptor` names into `dest`, refusing more than `limit` bytes and
    /// bytes that do not hash to the digest. `dest` appears only when the blob is complete
    /// and verified (written beside it, then renamed), so a failed pull leaves no partial file.
    /// Returns the size.
    pub async fn fetch_blob(
        &self,
        repo: &Repository,
        descriptor: &OciDescriptor,
        dest: &Path,
        limit: u64,
    ) -> Result<u64, Error> {
        let what = format!("blob {}", descriptor.digest);
        let too_large = |size: String| Error::TooLarge {
            digest: descriptor.digest.clone(),
            size,
            limit,
        };
        if u64::try_from(descriptor.size).is_ok_and(|s| s > limit) {
            return Err(too_large(format!(
                "{} bytes in the manifest",
                descriptor.size
            )));
        }
        let expected_hex = descriptor
            .digest
            .strip_prefix("sha256:")
            .ok_or_else(|| Error::InvalidManifest {
                reference: repo.reference(&descriptor.digest).whole(),
                detail: format!("digest {:?} is not sha256", descriptor.digest),
            })?
            .to_owned();
        let reference = repo.reference(&descriptor.digest);
        let sized = self
            .client
            .pull_blob_stream(&reference, descriptor)
            .await
            .map_err(|e| self.error(repo, &what, e))?;
        if let Some(length) = sized.content_length.filter(|&l| l > limit) {
            return Err(too_large(format!("{length} bytes announced")));
        }

        let io = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io {
                action,
                path,
                source,
            }
        };
        let dir = dest.parent().unwrap_or_else(|| Path::new("."));
        let partial = tempfile::Builder::new()
            .prefix(".blob-")
            .tempfile_in(dir)
            .map_err(io("creating a file in", dir))?;
        let mut file = tokio::fs::File::from_std(
            partial
                .as_file()
                .try_clone()
                .map_err(io("opening", partial.path()))?,
        );
        let mut hasher = Sha256::new();
        let mut written: u64 = 0;
        let mut stream = sized.stream;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| blob_stream_error(repo, &what, e))?;
            written += chunk.len() as u64;
            if written > limit {
                return Err(too_large(format!("more than {limit} bytes sent")));
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(io("writing", partial.path()))?;
        }
        file.flush().await.map_err(io("writing", partial.path()))?;
        file.sync_all()
            .await
            .map_err(io("syncing", partial.path()))?;
        let actual = hex::encode(hasher.finalize());
        if actual != expected_hex {
            return Err(Error::DigestMismatch {
                what,
                expected: descriptor.digest.clone(),
                actual: format!("sha256:{actual}"),
            });
        }
        partial.persist(dest).map_err(|e| Error::Io {
            action: "renaming the blob to",
            path: dest.to_owned(),
            source: e.error,
        })?;
        tracing::debug!(repository = %repo, digest = %descriptor.digest, size = written, "pulled blob");
        Ok(written)
    }

    /// Pushes `artifact` as an OCI image manifest tagged `tag`; returns the manifest digest.
    pub async fn push(
        &self,
        repo: &Repository,
        tag: &str,
        artifact: &Artifact,
    ) -> Result<String, Error> {
        let reference = repo.reference(tag);
        let what = format!("tag {tag:?}");
        // Push credentials may differ from pull ones (a token scoped `pull,push`).
        self.client
            .auth(&reference, &self.auth, RegistryOperation::Push)
            .await
            .map_err(|e| self.error(repo, &what, e))?;
        let descriptor = |blob: &Blob| OciDescriptor {
            media_type: blob.media_type.clone(),
            digest: sha256_digest(&blob.data),
            size: blob.data.len() as i64,
            annotations: (!blob.annotations.is_empty()).then(|| blob.annotations.clone()),
            ..OciDescriptor::default()
        };
        let manifest = OciImageManifest {
            media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
            config: descriptor(&artifact.config),
            layers: artifact.layers.iter().map(descriptor).collect(),
            artifact_type: artifact.artifact_type.clone(),
            annotations: (!artifact.annotations.is_empty()).then(|| artifact.annotations.clone()),
            ..OciImageManifest::default()
        };
        for (blob, desc) in artifact
            .layers
            .iter()
            .zip(&manifest.layers)
            .chain(std::iter::once((&artifact.config, &manifest.config)))
        {
            self.client
                .push_blob(&reference, blob.data.clone(), &desc.digest)
                .await
                .map_err(|e| self.error(repo, &format!("upload of {}", desc.digest), e))?;
        }
        let body = serde_json::to_vec(&manifest).map_err(|e| Error::InvalidManifest {
            reference: reference.whole(),
            detail: e.to_string(),
        })?;
        let digest = sha256_digest(&body);
        self.client
            .push_manifest_raw(
                &reference,
                body,
                reqwest::header::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
            )
            .await
            .map_err(|e| self.error(repo, &what, e))?;
        tracing::debug!(repository = %repo, tag, %digest, "pushed artifact");
        Ok(digest)
    }
}

/// A failure while reading a blob's body: the connection broke, or oci-client's own digest
/// check (which runs at the end of the stream) failed.
fn blob_stream_error(repo: &Repository, what: &str, err: std::io::Error) -> Error {
    if let Some(oci_client::errors::DigestError::VerificationError { expected, actual }) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<oci_client::errors::DigestError>())
    {
        return Error::DigestMismatch {
            what: what.to_owned(),
            expected: expected.clone(),
            actual: actual.clone(),
        };
    }
    Error::Network {
        registry: repo.registry().to_owned(),
        detail: format!("reading {what}: {}", error_chain(&err)),
    }
}

fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repository_urls() {
        let r = Repository::parse("oci://127.0.0.1:5000/charts/podinfo").unwrap();
        assert_eq!(
            (r.registry(), r.path()),
            ("127.0.0.1:5000", "charts/podinfo")
        );
        assert_eq!(r.name(), "127.0.0.1:5000/charts/podinfo");
        let r = Repository::parse("ghcr.io/stefanprodan/manifests/podinfo").unwrap();
        assert_eq!(
            (r.registry(), r.path()),
            ("ghcr.io", "stefanprodan/manifests/podinfo")
        );
        let r = Repository::parse("nginx").unwrap();
        assert_eq!((r.registry(), r.path()), ("docker.io", "library/nginx"));
    }

    #[test]
    fn refuses_bad_repository_urls() {
        for (url, needle) in [
            ("https://ghcr.io/a/b", "oci://"),
            ("oci://", "required"),
            ("oci://ghcr.io/a/", "required"),
            ("oci://ghcr.io/a/b:v1", "spec.ref"),
            ("oci://ghcr.io/a/b@sha256:abc", "spec.ref"),
            ("oci://ghcr.io/A/B", "invalid"),
        ] {
            let err = Repository::parse(url).expect_err(url);
            assert_eq!(err.reason(), crate::error::REASON_URL_INVALID);
            let text = err.to_string().to_lowercase();
            assert!(text.contains(needle), "{url}: {text}");
        }
    }

    #[test]
    fn tls_from_secret_data() {
        let mut data = BTreeMap::new();
        assert!(TlsConfig::from_secret_data(&data).unwrap().ca_pem.is_none());
        data.insert("ca.crt".to_owned(), b"not a pem".to_vec());
        let err = TlsConfig::from_secret_data(&data).unwrap_err().to_string();
        assert!(err.contains("ca.crt"), "{err}");
        data.clear();
        data.insert("tls.crt".to_owned(), b"x".to_vec());
        data.insert("tls.key".to_owned(), b"y".to_vec());
        let err = TlsConfig::from_secret_data(&data).unwrap_err().to_string();
        assert!(err.contains("client certificates"), "{err}");
    }

    #[test]
    fn proxy_from_secret_data() {
        let mut data = BTreeMap::new();
        let err = ProxyConfig::from_secret_data(&data)
            .unwrap_err()
            .to_string();
        assert!(err.contains("address"), "{err}");
        data.insert("address".to_owned(), b"http://proxy.local:3128".to_vec());
        data.insert("username".to_owned(), b"us er".to_vec());
        data.insert("password".to_owned(), b"p@ss:word".to_vec());
        let proxy = ProxyConfig::from_secret_data(&data).unwrap();
        assert_eq!(
            proxy.url(),
            "http://us%20er:p%40ss%3Aword@proxy.local:3128/"
        );
        assert!(!format!("{proxy:?}").contains("word"));
        data.insert("address".to_owned(), b"socks9://x".to_vec());
        assert!(ProxyConfig::from_secret_data(&data).is_err());
    }
}
