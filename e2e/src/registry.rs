//! A real OCI registry on loopback: the distribution project's `registry` (the reference
//! implementation of the OCI distribution spec, pinned and built into the cache like helm),
//! started per fixture in a temp dir and stopped on drop.
//!
//! ```text
//!  test ── oci client / helm push ──▶ http(s)://127.0.0.1:P ──▶ registry serve <dir>/config.yml
//!                                      (anonymous | htpasswd basic auth) × (plain | TLS)
//!                                                                  └─▶ <dir>/data (blobs), <dir>/registry.log
//! ```
//!
//! The access log is kept so a test can see which requests a client made (e.g. that a no-op
//! check used HEAD and downloaded no blob).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;

use crate::cache;

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
}

/// A running registry; dropping it stops the process and removes its storage.
pub struct Registry {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
    options: RegistryOptions,
    ca_pem: Option<String>,
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
        if self.options.htpasswd {
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

fn random_hex() -> String {
    use rand::Rng as _;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
