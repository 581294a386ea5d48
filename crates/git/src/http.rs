//! A smart-HTTP transport for libgit2 built on reqwest, for what libgit2's own HTTP transport
//! cannot do:
//! - a `bearerToken` on every request: libgit2 sends custom headers on a fetch but not on the
//!   ref listing, so without this transport the cheap remote check could not run;
//! - a TLS client certificate (`tls.crt`/`tls.key`): libgit2 has no API for one.
//!
//! ```text
//!  Session (remote needs it) ──► url "driftless+https://host/repo.git"
//!        │ with_config(HttpConfig)          │ libgit2 smart protocol (negotiation, packs,
//!        ▼                                  ▼ progress callbacks: limits and deadline)
//!  thread-local config ──► factory ──► Subtransport::action
//!                                        ├─ UploadPackLs: GET  <url>/info/refs?service=git-upload-pack
//!                                        └─ UploadPack:   POST <url>/git-upload-pack
//!                                              (reqwest: ca.crt roots, client identity, proxy,
//!                                               Authorization, timeout)
//! ```
//!
//! The transport is registered once per process under its own URL schemes, so every other
//! remote keeps libgit2's transport. libgit2 calls the transport on the thread that runs the
//! operation, so the per-operation configuration travels in a thread-local set around it.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream, Transport};
use git2::{ErrorClass, ErrorCode};

use super::{GitError, RemoteSpec};

/// URL scheme prefix that routes a remote through this transport.
const PREFIX: &str = "driftless+";

/// The smart-HTTP content type of a ref advertisement.
const ADVERTISEMENT: &str = "application/x-git-upload-pack-advertisement";

thread_local! {
    static CURRENT: RefCell<Option<Arc<HttpConfig>>> = const { RefCell::new(None) };
}

/// What one operation's requests carry: a client with the TLS and proxy settings, and the
/// `Authorization` header.
struct HttpConfig {
    client: reqwest::blocking::Client,
    authorization: Option<String>,
    auth_kind: AuthKind,
}

#[derive(Clone, Copy)]
enum AuthKind {
    Bearer,
    Basic,
    None,
}

/// Whether `remote` needs this transport rather than libgit2's: for what libgit2 cannot carry
/// (a bearer token, a client certificate) and for a proxy in front of a plain-`http://` remote,
/// which libgit2 silently bypasses (it proxies only HTTPS, through CONNECT).
pub(super) fn needed(remote: &RemoteSpec) -> bool {
    let http = remote.url.starts_with("http://") || remote.url.starts_with("https://");
    let proxied_plain_http = remote.url.starts_with("http://") && remote.proxy.is_some();
    http && (remote.credentials.bearer_token.is_some()
        || remote.credentials.client_cert.is_some()
        || proxied_plain_http)
}

/// The URL to hand libgit2 so that it picks this transport.
pub(super) fn transport_url(url: &str) -> String {
    format!("{PREFIX}{url}")
}

impl HttpConfig {
    /// The client for `remote`: `ca.crt` as the only roots when set, the client identity, the
    /// proxy (or none: libgit2's transport uses none either unless told), `spec.timeout`.
    fn new(remote: &RemoteSpec) -> Result<Self, GitError> {
        let creds = &remote.credentials;
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(remote.timeout)
            .connect_timeout(remote.timeout.min(Duration::from_secs(30)))
            .user_agent(concat!(
                "git/2.0 (driftless/",
                env!("CARGO_PKG_VERSION"),
                ")"
            ));
        if let Some(ca) = &creds.ca_pem {
            let roots = reqwest::Certificate::from_pem_bundle(ca.as_bytes()).map_err(|e| {
                GitError::InvalidSecret(format!("\"ca.crt\" is not PEM certificates: {e}"))
            })?;
            if roots.is_empty() {
                return Err(GitError::InvalidSecret(
                    "\"ca.crt\" holds no certificate".into(),
                ));
            }
            builder = builder.tls_certs_only(roots);
        }
        if let Some((cert, key)) = &creds.client_cert {
            let pem = format!("{}\n{}\n", cert.trim_end(), key.trim_end());
            let identity = reqwest::Identity::from_pem(pem.as_bytes()).map_err(|e| {
                GitError::InvalidSecret(format!(
                    "\"tls.crt\"/\"tls.key\" are not a PEM certificate and private key: {e}"
                ))
            })?;
            builder = builder.identity(identity);
        }
        builder = match &remote.proxy {
            Some(p) => {
                let mut proxy = reqwest::Proxy::all(&p.address).map_err(|e| {
                    GitError::InvalidSecret(format!("proxy address {:?}: {e}", p.address))
                })?;
                if let Some(user) = &p.username {
                    proxy = proxy.basic_auth(user, p.password.as_deref().unwrap_or_default());
                }
                builder.proxy(proxy)
            }
            None => builder.no_proxy(),
        };
        let client = builder.build().map_err(|e| GitError::Git {
            url: remote.url.clone(),
            message: format!("building the HTTP client: {}", error_chain(&e)),
        })?;
        let (authorization, auth_kind) = match (&creds.bearer_token, &creds.basic) {
            (Some(token), _) => (Some(format!("Bearer {token}")), AuthKind::Bearer),
            (None, Some((user, password))) => {
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                (Some(format!("Basic {encoded}")), AuthKind::Basic)
            }
            (None, None) => (None, AuthKind::None),
        };
        Ok(Self {
            client,
            authorization,
            auth_kind,
        })
    }

    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::blocking::Response, git2::Error> {
        let request = match &self.authorization {
            Some(value) => request.header(reqwest::header::AUTHORIZATION, value),
            None => request,
        };
        let response = request.send().map_err(|e| send_error(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            let reason = match self.auth_kind {
                AuthKind::Bearer => "the server refused the bearer token in \"bearerToken\"",
                AuthKind::Basic => "the server refused the username and password",
                AuthKind::None => {
                    "the server requires credentials: set \"username\" and \"password\" (or \"bearerToken\") in secretRef"
                }
            };
            return Err(git2::Error::new(ErrorCode::Auth, ErrorClass::Http, reason));
        }
        Err(git2::Error::new(
            ErrorCode::GenericError,
            ErrorClass::Http,
            format!("{url} answered HTTP {status}"),
        ))
    }
}

/// Runs `work` with the transport configured for `remote` on this thread when the remote needs
/// it; otherwise just runs `work`.
pub(super) fn with_transport<T>(
    remote: &RemoteSpec,
    work: impl FnOnce() -> Result<T, GitError>,
) -> Result<T, GitError> {
    if !needed(remote) {
        return work();
    }
    register()?;
    let config = HttpConfig::new(remote)?;
    with_config(config, work)
}

/// Runs `work` with `config` as the transport configuration of this thread.
fn with_config<T>(config: HttpConfig, work: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|c| c.borrow_mut().take());
        }
    }
    CURRENT.with(|c| *c.borrow_mut() = Some(Arc::new(config)));
    let _reset = Reset;
    work()
}

/// Registers the transport for `driftless+http` and `driftless+https` (once per process).
fn register() -> Result<(), GitError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            for scheme in ["driftless+http", "driftless+https"] {
                // SAFETY: git2 asks callers to synchronize registration with the creation of
                // transports; the OnceLock runs this exactly once, and a transport for these
                // schemes can only be created after it returned (every user calls register()
                // first and gets the URL only then).
                #[allow(unsafe_code)]
                let registered = unsafe { git2::transport::register(scheme, factory) };
                registered.map_err(|e| format!("registering the {scheme} transport: {e}"))?;
            }
            Ok(())
        })
        .clone()
        .map_err(|message| GitError::Git {
            url: String::new(),
            message,
        })
}

fn factory(remote: &git2::Remote<'_>) -> Result<Transport, git2::Error> {
    let config = CURRENT.with(|c| c.borrow().clone()).ok_or_else(|| {
        git2::Error::from_str("the driftless HTTP transport was used outside of an operation")
    })?;
    Transport::smart(remote, true, Subtransport { config })
}

struct Subtransport {
    config: Arc<HttpConfig>,
}

impl SmartSubtransport for Subtransport {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        let base = url
            .strip_prefix(PREFIX)
            .ok_or_else(|| git2::Error::from_str("unexpected URL for the driftless transport"))?
            .trim_end_matches('/');
        match action {
            Service::UploadPackLs => {
                let url = format!("{base}/info/refs?service=git-upload-pack");
                let response = self.config.send(self.config.client.get(&url), &url)?;
                let content_type = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if content_type != ADVERTISEMENT {
                    return Err(git2::Error::from_str(&format!(
                        "{url} is not a smart-HTTP Git server (content type {content_type:?})"
                    )));
                }
                Ok(Box::new(Stream {
                    config: self.config.clone(),
                    url,
                    request: Vec::new(),
                    response: Some(response),
                }))
            }
            Service::UploadPack => Ok(Box::new(Stream {
                config: self.config.clone(),
                url: format!("{base}/git-upload-pack"),
                request: Vec::new(),
                response: None,
            })),
            Service::ReceivePackLs | Service::ReceivePack => Err(git2::Error::from_str(
                "pushing is not supported by the driftless transport",
            )),
        }
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

/// One request/response exchange: libgit2 writes the request body, then reads the response
/// (the POST is sent at the first read).
struct Stream {
    config: Arc<HttpConfig>,
    url: String,
    request: Vec<u8>,
    response: Option<reqwest::blocking::Response>,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.response.is_none() {
            let request = self
                .config
                .client
                .post(&self.url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-git-upload-pack-request",
                )
                .header(
                    reqwest::header::ACCEPT,
                    "application/x-git-upload-pack-result",
                )
                .body(std::mem::take(&mut self.request));
            let response = self
                .config
                .send(request, &self.url)
                .map_err(|e| std::io::Error::other(e.message().to_owned()))?;
            self.response = Some(response);
        }
        match self.response.as_mut() {
            Some(response) => response.read(buf),
            None => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.request.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The whole `source()` chain of `e`: reqwest's own message hides the TLS cause.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A failed request as a libgit2 error whose code says what went wrong: the server refused
/// our client certificate (an alert from the server), we refused the server's certificate,
/// or the network failed.
fn send_error(e: &reqwest::Error) -> git2::Error {
    let message = error_chain(e);
    let lower = message.to_ascii_lowercase();
    if lower.contains("received fatal alert") {
        return git2::Error::new(
            ErrorCode::Auth,
            ErrorClass::Ssl,
            format!(
                "the server refused the TLS handshake (check \"tls.crt\"/\"tls.key\"): {message}"
            ),
        );
    }
    if lower.contains("certificate") {
        return git2::Error::new(ErrorCode::Certificate, ErrorClass::Ssl, message);
    }
    git2::Error::new(ErrorCode::GenericError, ErrorClass::Net, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credentials;

    fn remote(url: &str, pairs: &[(&str, &str)]) -> RemoteSpec {
        let data = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        RemoteSpec {
            url: url.to_owned(),
            credentials: Credentials::from_secret(url, &data).expect("valid secret"),
            proxy: None,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn only_bearer_or_client_certificates_need_it() {
        assert!(!needed(&remote("https://h/r", &[])));
        assert!(!needed(&remote(
            "https://h/r",
            &[("username", "u"), ("password", "p")]
        )));
        assert!(needed(&remote("https://h/r", &[("bearerToken", "t")])));
        assert!(needed(&remote(
            "http://h/r",
            &[("tls.crt", "c"), ("tls.key", "k")]
        )));
        assert_eq!(transport_url("https://h/r"), "driftless+https://h/r");
    }

    #[test]
    fn malformed_pem_is_a_secret_error() {
        let err = HttpConfig::new(&remote(
            "https://h/r",
            &[("tls.crt", "not a cert"), ("tls.key", "not a key")],
        ))
        .err()
        .expect("refused");
        assert!(matches!(err, GitError::InvalidSecret(_)), "{err:?}");
        let err = HttpConfig::new(&remote(
            "https://h/r",
            &[("bearerToken", "t"), ("ca.crt", "garbage")],
        ))
        .err()
        .expect("refused");
        assert!(err.to_string().contains("ca.crt"), "{err}");
    }
}
