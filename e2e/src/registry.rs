//! A real OCI registry on loopback: the distribution project's `registry` (the reference
//! implementation of the OCI distribution spec, pinned and built into the cache like helm),
//! started per fixture in a temp dir and stopped on drop.
//!
//! ```text
//!  test ── oci client / helm push ──▶ http(s)://127.0.0.1:P ──▶ registry serve <dir>/config.yml
//!                                      (anonymous | htpasswd | token) × (plain | TLS)
//!                                      token: ──▶ http://127.0.0.1:T/token (JWTs for flux/…)
//!                                                                  └─▶ <dir>/data (blobs), <dir>/registry.log
//! ```
//!
//! The access log is kept so a test can see which requests a client made (e.g. that a no-op
//! check used HEAD and downloaded no blob).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;

use crate::cache;
use crate::http_serve::{HttpServer, has_basic_auth, text, unauthorized};

/// The user the htpasswd variant accepts.
pub const REGISTRY_USER: &str = "flux";
/// The password of [`REGISTRY_USER`].
pub const REGISTRY_PASSWORD: &str = "oci-s3cr3t";

/// How long the registry may take to listen (a cold start on 2 busy cores).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Which registry to start.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistryOptions {
    /// Require [`REGISTRY_USER`]/[`REGISTRY_PASSWORD`] (htpasswd, bcrypt).
    pub htpasswd: bool,
    /// Serve HTTPS with a certificate from a generated CA ([`Registry::ca_pem`]).
    pub tls: bool,
    /// Require bearer tokens from a token endpoint (the Docker token flow that ghcr.io and
    /// Docker Hub use), which hands them out for [`REGISTRY_USER`]/[`REGISTRY_PASSWORD`].
    pub token: bool,
}

/// A running registry; dropping it stops the process and removes its storage.
pub struct Registry {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
    options: RegistryOptions,
    ca_pem: Option<String>,
    token_server: Option<TokenServer>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("host", &self.host())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The pinned registry binary, built at most once per test process.
pub fn registry_binary() -> Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| cache::registry_binary().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("the pinned OCI registry binary: {e}"))
}

impl Registry {
    /// Anonymous, plain HTTP.
    pub fn anonymous() -> Result<Self> {
        Self::start(RegistryOptions::default())
    }

    /// Starts a registry with `options` on a free loopback port and waits until it listens.
    pub fn start(options: RegistryOptions) -> Result<Self> {
        anyhow::ensure!(
            !(options.htpasswd && options.token),
            "a registry has one auth method: htpasswd or token"
        );
        // The free port is found by binding and releasing it, so another process may take it
        // before the registry binds: try again on a fresh port.
        let mut attempt = 1;
        loop {
            match Self::start_once(options) {
                Err(e) if attempt < 3 && format!("{e:#}").contains("address already in use") => {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn start_once(options: RegistryOptions) -> Result<Self> {
        let bin = registry_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("driftless-registry-")
            .tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut config = format!(
            "version: 0.1\n\
             log:\n  level: info\n  formatter: text\n\
             storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: {secret}\n",
            data = dir.path().join("data").display(),
            secret = random_hex(),
        );
        let mut ca_pem = None;
        if options.tls {
            let pki = crate::pki::generate()?;
            let cert = dir.path().join("server.crt");
            let key = dir.path().join("server.key");
            std::fs::write(&cert, &pki.server_cert_pem)?;
            std::fs::write(&key, &pki.server_key_pem)?;
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
            ca_pem = Some(pki.ca_pem);
        }
        if options.htpasswd {
            let hash = bcrypt::hash_with_result(REGISTRY_PASSWORD, 4)
                .context("hashing the registry password")?
                .format_for_version(bcrypt::Version::TwoY);
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{REGISTRY_USER}:{hash}\n"))?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: driftless-registry\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let mut token_server = None;
        if options.token {
            let server = TokenServer::start()?;
            let bundle = dir.path().join("token-signer.crt");
            std::fs::write(&bundle, &server.cert_pem)?;
            config.push_str(&format!(
                "auth:\n  token:\n    realm: http://{}/token\n    service: {TOKEN_SERVICE}\n    \
                 issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                server.http.addr(),
                bundle.display()
            ));
            token_server = Some(server);
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(&bin)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // The registry reads OTEL_* and REGISTRY_* variables; none of ours may leak in.
            .env("OTEL_TRACES_EXPORTER", "none")
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut registry = Self {
            dir,
            child,
            port,
            options,
            ca_pem,
            token_server,
        };
        registry.wait_listening()?;
        Ok(registry)
    }

    fn wait_listening(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the registry exited ({status}) during start:\n{}",
                    self.log()
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the registry did not listen on 127.0.0.1:{} within {}s:\n{}",
                    self.port,
                    START_TIMEOUT.as_secs(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:<port>`, the registry part of a reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `oci://127.0.0.1:<port>/<path>`, an OCIRepository `url`.
    pub fn oci_url(&self, path: &str) -> String {
        format!("oci://{}/{path}", self.host())
    }

    /// `http(s)://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        let scheme = if self.options.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// The options it was started with.
    pub fn options(&self) -> RegistryOptions {
        self.options
    }

    /// The CA that issued the server certificate (TLS variant only), a Secret's `ca.crt`.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A `.dockerconfigjson` for this registry with `user`/`password`, as `kubectl create
    /// secret docker-registry` writes it.
    pub fn docker_config_json(&self, user: &str, password: &str) -> String {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        serde_json::json!({
            "auths": {
                self.host(): { "username": user, "password": password, "auth": auth }
            }
        })
        .to_string()
    }

    /// How many tokens the token endpoint handed out (token variant; 0 otherwise).
    pub fn tokens_issued(&self) -> u64 {
        self.token_server
            .as_ref()
            .map_or(0, |t| t.issued.load(Ordering::Relaxed))
    }

    /// The registry's log so far (access log included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Stops the registry now (e.g. to test an unreachable registry); idempotent.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Runs the pinned `helm push <chart_tgz> oci://<host>/<path>` against this registry
    /// (logging in first when it needs credentials), and returns helm's output.
    pub fn helm_push(&self, chart_tgz: &Path, path: &str) -> Result<String> {
        let home = tempfile::tempdir()?;
        let tls_args: Vec<String> = match &self.ca_pem {
            Some(ca) => {
                let ca_file = home.path().join("ca.crt");
                std::fs::write(&ca_file, ca)?;
                vec!["--ca-file".to_owned(), ca_file.display().to_string()]
            }
            None => vec!["--plain-http".to_owned()],
        };
        if self.options.htpasswd || self.options.token {
            let mut login = crate::helm_repo::helm_command(home.path())?;
            login
                .args([
                    "registry",
                    "login",
                    &self.host(),
                    "--username",
                    REGISTRY_USER,
                ])
                .args(["--password", REGISTRY_PASSWORD])
                .args(tls_args.iter().filter(|a| *a != "--plain-http"));
            if self.ca_pem.is_none() {
                login.arg("--insecure");
            }
            crate::helm_repo::run(&mut login)?;
        }
        let mut push = crate::helm_repo::helm_command(home.path())?;
        push.arg("push")
            .arg(chart_tgz)
            .arg(self.oci_url(path))
            .args(&tls_args);
        crate::helm_repo::run(&mut push)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `service` (token audience) and `issuer` the token-auth registry expects.
const TOKEN_SERVICE: &str = "driftless-registry";
const TOKEN_ISSUER: &str = "driftless-e2e-token-server";

/// The token endpoint of the token variant: for the right basic credentials it grants the
/// scopes asked for in a JWT signed (EdDSA) by a self-signed certificate the registry trusts
/// (`rootcertbundle`), carried in the token's `x5c` header as the registry's verifier wants.
struct TokenServer {
    http: HttpServer,
    cert_pem: String,
    issued: Arc<AtomicU64>,
}

impl TokenServer {
    fn start() -> Result<Self> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "driftless token signer");
        let cert = params.self_signed(&key)?;
        let x5c = base64::engine::general_purpose::STANDARD.encode(cert.der());
        let issued = Arc::new(AtomicU64::new(0));
        let counter = issued.clone();
        let http = HttpServer::start("registry-token", move |req| {
            if !has_basic_auth(&req, REGISTRY_USER, REGISTRY_PASSWORD) {
                return unauthorized("registry-token");
            }
            match issue_token(&key, &x5c, &req) {
                Ok(token) => {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let body = serde_json::json!({ "token": token, "expires_in": 300 });
                    let mut resp = text(hyper::StatusCode::OK, &body.to_string());
                    resp.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json"),
                    );
                    resp
                }
                Err(e) => text(hyper::StatusCode::BAD_REQUEST, &format!("{e:#}\n")),
            }
        })?;
        Ok(Self {
            http,
            cert_pem: cert.pem(),
            issued,
        })
    }
}

/// A JWT granting every `scope=type:name:actions` of the request.
fn issue_token(
    key: &rcgen::KeyPair,
    x5c: &str,
    req: &hyper::Request<hyper::body::Incoming>,
) -> Result<String> {
    use rcgen::SigningKey as _;
    let url = url::Url::parse(&format!("http://token{}", req.uri()))?;
    let access: Vec<serde_json::Value> = url
        .query_pairs()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, scopes)| {
            scopes
                .split(' ')
                .filter_map(|scope| {
                    let (kind, rest) = scope.split_once(':')?;
                    let (name, actions) = rest.rsplit_once(':')?;
                    Some(serde_json::json!({
                        "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()
                    }))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let header = serde_json::json!({ "alg": "EdDSA", "typ": "JWT", "x5c": [x5c] });
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER, "sub": REGISTRY_USER, "aud": TOKEN_SERVICE,
        "exp": now + 300, "nbf": now.saturating_sub(10), "iat": now, "jti": random_hex(),
        "access": access,
    });
    let signing_input = format!("{}.{}", b64(&header), b64(&claims));
    let signature = key
        .sign(signing_input.as_bytes())
        .map_err(|e| anyhow!("signing the token: {e}"))?;
    Ok(format!(
        "{signing_input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
    ))
}

fn random_hex() -> String {
    use rand::Rng as _;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `org.opencontainers.image.revision` annotation of [`flux_artifact`]s.
pub const FLUX_SOURCE_REVISION: &str = "main@sha1:0123456789abcdef0123456789abcdef01234567";

/// An artifact shaped as `flux push artifact` makes it: Flux's config and content media
/// types, the source and revision annotations, one layer holding `content`.
pub fn flux_artifact(content: &[u8]) -> driftless_oci::Artifact {
    let annotations = [
        (
            "org.opencontainers.image.source",
            "https://example.com/repo.git",
        ),
        ("org.opencontainers.image.revision", FLUX_SOURCE_REVISION),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    driftless_oci::Artifact {
        config: driftless_oci::Blob {
            media_type: driftless_oci::FLUX_CONFIG_MEDIA_TYPE.to_owned(),
            data: bytes::Bytes::from_static(b"{}"),
            ..driftless_oci::Blob::default()
        },
        layers: vec![driftless_oci::Blob {
            media_type: driftless_oci::FLUX_CONTENT_MEDIA_TYPE.to_owned(),
            data: bytes::Bytes::copy_from_slice(content),
            ..driftless_oci::Blob::default()
        }],
        annotations,
        artifact_type: None,
    }
}
