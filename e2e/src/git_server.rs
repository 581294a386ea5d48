//! A real git server on loopback: smart HTTP (basic auth, bearer token, HTTPS with a generated
//! CA) and SSH (key authentication, a host key), started and stopped by the tests.
//!
//! ```text
//!   test ──git2/git──▶ http://127.0.0.1:P   ─┐
//!                      https://127.0.0.1:Q  ─┼─▶ hyper ──CGI──▶ `git http-backend` ─┐
//!                      https://127.0.0.1:M  ─┤   (M: mutual TLS, client certificate required)
//!                      ssh://root@127.0.0.1:R ─▶ sshd -D (own config, host key) ──────┼─▶ <root>/<name>.git
//! ```
//!
//! Why `git http-backend` and Debian's `sshd` rather than a Rust implementation: the tests must
//! talk to the same server code that real Git hosts run, so a bug in our client cannot be hidden
//! by a matching bug in a fake. The HTTP front end is ours only because `http-backend` is a CGI
//! program and needs something to speak HTTP for it; it adds basic/bearer authentication, TLS,
//! a byte counter and a throttle (so a test can stop the server in the middle of a fetch).
//!
//! Needs the Debian packages `git` (with `/usr/lib/git-core/git-http-backend`), `openssh-server`
//! (`/usr/sbin/sshd`), `openssh-client` (`ssh-keygen`) and, for signed commits and tags, `gnupg`.
//!
//! The server runs on its own tokio runtime, so its helpers are plain blocking functions that a
//! test may call from anywhere, including from inside another runtime.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener as StdTcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::sync::watch;

/// The user name and password the HTTP(S) endpoints accept.
pub const HTTP_USER: &str = "flux";
/// See [`HTTP_USER`].
pub const HTTP_PASSWORD: &str = "s3cr3t-pass";
/// The bearer token the HTTP(S) endpoints accept as an alternative to basic auth.
pub const BEARER_TOKEN: &str = "token-0123456789";

const HTTP_BACKEND: &str = "/usr/lib/git-core/git-http-backend";
const SSHD: &str = "/usr/sbin/sshd";

/// The fixture. Dropping it stops every server and removes every repository.
pub struct GitServer {
    dir: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
    http: HttpEndpoint,
    https: HttpEndpoint,
    https_mtls: HttpEndpoint,
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    sshd: Child,
    ssh_port: u16,
    ssh_user: String,
    host_key_line: String,
    gpg: Option<GpgHome>,
}

/// Shared state of one HTTP(S) listener.
struct HttpEndpoint {
    addr: SocketAddr,
    /// Flipped to `true` to drop every connection at once ("the server goes away").
    kill: watch::Sender<bool>,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Stats {
    /// Response body bytes written to clients since start.
    bytes_sent: AtomicU64,
    /// Requests served (any status).
    requests: AtomicU64,
    /// Upload-pack requests (`POST .../git-upload-pack`): the expensive part of a fetch.
    upload_packs: AtomicU64,
    /// When non-zero, the response body is sent in chunks of this size with a pause between.
    throttle_chunk: AtomicUsize,
}

/// A GnuPG home with two generated signing keys: the trusted one and a stranger's.
struct GpgHome {
    dir: PathBuf,
    trusted_fpr: String,
    other_fpr: String,
}

/// Which generated key signs a commit or a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// The key whose public half [`GitServer::trusted_gpg_public_key`] returns.
    Trusted,
    /// A key nobody trusts (for "wrongly signed" tests).
    Stranger,
}

impl GitServer {
    /// Start HTTP, HTTPS and SSH on free loopback ports.
    pub fn start() -> Result<Self> {
        ensure!(
            Path::new(HTTP_BACKEND).exists(),
            "{HTTP_BACKEND} is missing: install the Debian package `git`"
        );
        ensure!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install the Debian package `openssh-server`"
        );
        let dir = tempfile::Builder::new()
            .prefix("driftless-git-")
            .tempdir()?;
        let repos = dir.path().join("repos");
        std::fs::create_dir_all(&repos)?;
        std::fs::create_dir_all(dir.path().join("home"))?;

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("git-server")
            .build()?;

        let tls = generate_tls()?;
        // Not `block_on`: the caller may itself be inside a runtime (a `#[tokio::test]`).
        let http = on_runtime(&runtime, serve_http(repos.clone(), None))?;
        let https = on_runtime(&runtime, serve_http(repos.clone(), Some(tls.server)))?;
        let https_mtls = on_runtime(&runtime, serve_http(repos.clone(), Some(tls.mutual)))?;

        let (sshd, ssh_port, host_key_line) = start_sshd(dir.path())?;
        let ssh_user = current_user()?;
        let gpg = GpgHome::create(dir.path())?;

        Ok(Self {
            dir,
            runtime: Some(runtime),
            http,
            https,
            https_mtls,
            ca_pem: tls.ca_pem,
            client_cert_pem: tls.client_cert_pem,
            client_key_pem: tls.client_key_pem,
            sshd,
            ssh_port,
            ssh_user,
            host_key_line,
            gpg,
        })
    }

    fn repos_dir(&self) -> PathBuf {
        self.dir.path().join("repos")
    }

    /// `http://127.0.0.1:<port>/<name>.git`
    pub fn http_url(&self, name: &str) -> String {
        format!("http://{}/{name}.git", self.http.addr)
    }

    /// `https://127.0.0.1:<port>/<name>.git` (certificate issued by [`Self::ca_pem`] for
    /// `127.0.0.1` and `localhost`).
    pub fn https_url(&self, name: &str) -> String {
        format!("https://{}/{name}.git", self.https.addr)
    }

    /// `https://127.0.0.1:<port>/<name>.git` on the endpoint that requires a TLS client
    /// certificate issued by [`Self::ca_pem`] ([`Self::client_cert_pem`] is one), in addition
    /// to HTTP authentication.
    pub fn mtls_url(&self, name: &str) -> String {
        format!("https://{}/{name}.git", self.https_mtls.addr)
    }

    /// A client certificate (PEM) the mutual-TLS endpoint accepts (a Secret's `tls.crt`).
    pub fn client_cert_pem(&self) -> &str {
        &self.client_cert_pem
    }

    /// The private key (PKCS#8 PEM) of [`Self::client_cert_pem`] (a Secret's `tls.key`).
    pub fn client_key_pem(&self) -> &str {
        &self.client_key_pem
    }

    /// `ssh://<user>@127.0.0.1:<port>/<abs path>/<name>.git`
    pub fn ssh_url(&self, name: &str) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.ssh_user,
            self.ssh_port,
            self.repos_dir().join(format!("{name}.git")).display()
        )
    }

    /// The PEM of the CA that issued the HTTPS server's certificate (a Secret's `ca.crt`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A `known_hosts` line for the SSH server (a Secret's `known_hosts`).
    pub fn known_hosts(&self) -> String {
        format!("[127.0.0.1]:{} {}\n", self.ssh_port, self.host_key_line)
    }

    /// A `known_hosts` line naming the SSH server's address with a key that is not its key.
    pub fn wrong_known_hosts(&self) -> Result<String> {
        let key = std::fs::read_to_string(self.dir.path().join("ssh/other_host_key.pub"))?;
        Ok(format!(
            "[127.0.0.1]:{} {}\n",
            self.ssh_port,
            key_type_and_body(&key)?
        ))
    }

    /// The OpenSSH private key the SSH server accepts (a Secret's `identity`).
    pub fn ssh_identity(&self) -> Result<String> {
        Ok(std::fs::read_to_string(
            self.dir.path().join("ssh/client_key"),
        )?)
    }

    /// A valid OpenSSH private key the SSH server does not accept.
    pub fn wrong_ssh_identity(&self) -> Result<String> {
        Ok(std::fs::read_to_string(
            self.dir.path().join("ssh/stranger_key"),
        )?)
    }

    /// Fails unless `gpg` is installed (signed commits and tags need it; CI installs gnupg),
    /// so a signature test never passes by skipping its assertions.
    pub fn require_gpg(&self) -> Result<()> {
        self.gpg().map(|_| ())
    }

    /// The armored public key of [`Signer::Trusted`] (a verify Secret's `<name>.asc`).
    pub fn trusted_gpg_public_key(&self) -> Result<String> {
        let gpg = self.gpg()?;
        gpg.export(&gpg.trusted_fpr)
    }

    /// The armored public key of [`Signer::Stranger`].
    pub fn stranger_gpg_public_key(&self) -> Result<String> {
        let gpg = self.gpg()?;
        gpg.export(&gpg.other_fpr)
    }

    fn gpg(&self) -> Result<&GpgHome> {
        self.gpg
            .as_ref()
            .ok_or_else(|| anyhow!("gpg is not installed: install the Debian package `gnupg`"))
    }

    /// Response body bytes the HTTP endpoint has sent since start.
    pub fn http_bytes_sent(&self) -> u64 {
        self.http.stats.bytes_sent.load(Ordering::SeqCst)
    }

    /// Requests the HTTP and HTTPS endpoints have served since start.
    pub fn http_requests(&self) -> u64 {
        self.http.stats.requests.load(Ordering::SeqCst)
            + self.https.stats.requests.load(Ordering::SeqCst)
            + self.https_mtls.stats.requests.load(Ordering::SeqCst)
    }

    /// Pack downloads (`POST git-upload-pack`) served over HTTP(S) since start: a fetch makes
    /// one, a remote check (`ls-remote`) makes none.
    pub fn http_upload_packs(&self) -> u64 {
        self.http.stats.upload_packs.load(Ordering::SeqCst)
            + self.https.stats.upload_packs.load(Ordering::SeqCst)
            + self.https_mtls.stats.upload_packs.load(Ordering::SeqCst)
    }

    /// Slow the HTTP endpoint down to `chunk` bytes per 10 ms (0 = full speed), so that a test
    /// can act while a fetch is in flight.
    pub fn throttle_http(&self, chunk: usize) {
        self.http
            .stats
            .throttle_chunk
            .store(chunk, Ordering::SeqCst);
    }

    /// Drop every HTTP connection and stop accepting new ones: the server "goes away".
    pub fn kill_http(&self) {
        let _ = self.http.kill.send(true);
    }

    /// Create an empty bare repository `<name>.git` that accepts pushes over HTTP.
    pub fn create_repo(&self, name: &str) -> Result<Repo<'_>> {
        let bare = self.repos_dir().join(format!("{name}.git"));
        if let Some(parent) = bare.parent() {
            std::fs::create_dir_all(parent)?;
        }
        self.git(
            None,
            &["init", "--quiet", "--bare", "-b", "main", path_str(&bare)?],
        )?;
        self.git(Some(&bare), &["config", "http.receivepack", "true"])?;
        self.git(
            Some(&bare),
            &["config", "uploadpack.allowAnySHA1InWant", "true"],
        )?;
        self.git(Some(&bare), &["config", "uploadpack.allowFilter", "true"])?;
        let work = self.dir.path().join("work").join(name);
        std::fs::create_dir_all(&work)?;
        self.git(Some(&work), &["init", "--quiet", "-b", "main"])?;
        let push_url = format!(
            "http://{HTTP_USER}:{HTTP_PASSWORD}@{}/{name}.git",
            self.http.addr
        );
        self.git(Some(&work), &["remote", "add", "origin", &push_url])?;
        Ok(Repo {
            server: self,
            name: name.to_owned(),
            work,
            bare,
        })
    }

    /// Run git with an isolated configuration (no system or user config leaks in).
    fn git(&self, cwd: Option<&Path>, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new("git");
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        cmd.args(args)
            .env("HOME", self.dir.path().join("home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Driftless Test")
            .env("GIT_AUTHOR_EMAIL", "test@driftless.invalid")
            .env("GIT_COMMITTER_NAME", "Driftless Test")
            .env("GIT_COMMITTER_EMAIL", "test@driftless.invalid")
            .env("GIT_TERMINAL_PROMPT", "0");
        if let Some(gpg) = &self.gpg {
            cmd.env("GNUPGHOME", &gpg.dir);
        }
        let out = cmd
            .output()
            .with_context(|| format!("running git {args:?}"))?;
        ensure!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.sshd.kill();
        let _ = self.sshd.wait();
        let _ = self.http.kill.send(true);
        let _ = self.https.kill.send(true);
        let _ = self.https_mtls.kill.send(true);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        if let Some(gpg) = &self.gpg {
            // gpg-agent outlives gpg; stop it so no process is left behind.
            let _ = Command::new("gpgconf")
                .args(["--kill", "all"])
                .env("GNUPGHOME", &gpg.dir)
                .output();
        }
    }
}

/// A repository on the server plus a working copy to commit from. Every change is pushed to
/// the server over HTTP, the way a user would.
pub struct Repo<'a> {
    server: &'a GitServer,
    name: String,
    work: PathBuf,
    bare: PathBuf,
}

impl Repo<'_> {
    /// The repository's name on the server (without `.git`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Path of the bare repository the server serves.
    pub fn bare_path(&self) -> &Path {
        &self.bare
    }

    /// Path of the working copy commits are made in.
    pub fn work_path(&self) -> &Path {
        &self.work
    }

    /// Run git in the working copy.
    pub fn git(&self, args: &[&str]) -> Result<String> {
        self.server.git(Some(&self.work), args)
    }

    /// Let anyone fetch this repository over HTTP(S) without credentials, as from a public
    /// host (what kustomize remote bases, which carry no Secret, need); pushing still needs
    /// them. Marked by git's own `git-daemon-export-ok` file in the bare repository.
    pub fn make_public(&self) -> Result<()> {
        std::fs::write(self.bare.join(PUBLIC_MARK), b"")?;
        Ok(())
    }

    /// Write `files` (path, content) into the working copy; no commit.
    pub fn write_files(&self, files: &[(&str, &[u8])]) -> Result<()> {
        for (path, content) in files {
            let full = self.work.join(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&full, content).with_context(|| format!("writing {path}"))?;
        }
        Ok(())
    }

    /// Write `files`, commit everything on the current branch and return the commit id.
    pub fn commit(&self, files: &[(&str, &[u8])], message: &str) -> Result<String> {
        self.write_files(files)?;
        self.git(&["add", "-A"])?;
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message])?;
        self.git(&["rev-parse", "HEAD"])
    }

    /// Like [`Self::commit`] but signed with `signer`'s PGP key.
    pub fn commit_signed(
        &self,
        files: &[(&str, &[u8])],
        message: &str,
        signer: Signer,
    ) -> Result<String> {
        let key = self.server.gpg()?.fingerprint(signer).to_owned();
        self.write_files(files)?;
        self.git(&["add", "-A"])?;
        self.git(&[
            "commit",
            "--quiet",
            "--allow-empty",
            &format!("--gpg-sign={key}"),
            "-m",
            message,
        ])?;
        self.git(&["rev-parse", "HEAD"])
    }

    /// Add a symbolic link `path` -> `target` and commit it.
    pub fn commit_symlink(&self, path: &str, target: &str, message: &str) -> Result<String> {
        let full = self.work.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::os::unix::fs::symlink(target, &full)?;
        self.commit(&[], message)
    }

    /// Switch the working copy to `branch`, creating it from HEAD when it does not exist.
    pub fn checkout_branch(&self, branch: &str) -> Result<()> {
        if self.git(&["checkout", "--quiet", branch]).is_err() {
            self.git(&["checkout", "--quiet", "-b", branch])?;
        }
        Ok(())
    }

    /// Lightweight tag at HEAD.
    pub fn tag(&self, name: &str) -> Result<()> {
        self.git(&["tag", name]).map(drop)
    }

    /// Annotated tag at HEAD.
    pub fn tag_annotated(&self, name: &str, message: &str) -> Result<()> {
        self.git(&["tag", "-a", name, "-m", message]).map(drop)
    }

    /// Annotated tag at HEAD signed with `signer`'s PGP key.
    pub fn tag_signed(&self, name: &str, message: &str, signer: Signer) -> Result<()> {
        let key = self.server.gpg()?.fingerprint(signer).to_owned();
        self.git(&["tag", "-u", &key, "-m", message, name])
            .map(drop)
    }

    /// Push every branch and tag to the server over HTTP (forced, so tests may rewrite).
    pub fn push(&self) -> Result<()> {
        self.git(&["push", "--quiet", "--force", "--all", "origin"])?;
        self.git(&["push", "--quiet", "--force", "--tags", "origin"])?;
        Ok(())
    }

    /// Push HEAD to an arbitrary ref on the server, e.g. `refs/pull/1/head`.
    pub fn push_ref(&self, refname: &str) -> Result<()> {
        self.git(&[
            "push",
            "--quiet",
            "--force",
            "origin",
            &format!("HEAD:{refname}"),
        ])
        .map(drop)
    }

    /// Delete a branch or tag on the server.
    pub fn delete_remote_ref(&self, refname: &str) -> Result<()> {
        self.git(&["push", "--quiet", "origin", &format!(":{refname}")])
            .map(drop)
    }
}

/// Run `fut` on the fixture's runtime and wait for its result from any thread.
fn on_runtime<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    fut: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .map_err(|_| anyhow!("the git server runtime stopped during start"))?
}

// ---------------------------------------------------------------------------------------------
// HTTP(S): hyper in front of `git http-backend`.

type Body = BoxBody<Bytes, std::io::Error>;

async fn serve_http(root: PathBuf, tls: Option<tokio_rustls::TlsAcceptor>) -> Result<HttpEndpoint> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (kill, killed) = watch::channel(false);
    let stats = Arc::new(Stats::default());
    let root = Arc::new(root);
    let task_stats = stats.clone();
    tokio::spawn(async move {
        let mut stop = killed.clone();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.wait_for(|k| *k) => return,
            };
            let Ok((stream, _)) = accepted else { continue };
            let (root, stats, tls) = (root.clone(), task_stats.clone(), tls.clone());
            let mut conn_stop = killed.clone();
            // Dropping the connection future (on kill) drops the response body stream, which
            // owns the CGI child (killed on drop) and the socket: nothing is left running.
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req| handle(req, root.clone(), stats.clone()));
                let serve = async {
                    match tls {
                        None => {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(stream).await {
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(s), service)
                                    .await;
                            }
                        }
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = conn_stop.wait_for(|k| *k) => {}
                }
            });
        }
    });
    Ok(HttpEndpoint { addr, kill, stats })
}

fn text_response(status: StatusCode, text: &str) -> Response<Body> {
    let body = Full::new(Bytes::from(text.to_owned()))
        .map_err(|never| match never {})
        .boxed();
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp
}

/// The file in a bare repository that [`Repo::make_public`] writes.
const PUBLIC_MARK: &str = "git-daemon-export-ok";

/// A fetch (never a push) from a repository marked public.
fn public_fetch(req: &Request<Incoming>, root: &Path) -> bool {
    let path = req.uri().path();
    let fetch = path.ends_with("/git-upload-pack")
        || (path.ends_with("/info/refs") && req.uri().query() == Some("service=git-upload-pack"));
    let repo = path
        .trim_start_matches('/')
        .split_once(".git/")
        .map(|(repo, _)| format!("{repo}.git"));
    fetch
        && !path.contains("..")
        && repo.is_some_and(|repo| root.join(repo).join(PUBLIC_MARK).is_file())
}

/// Accept `Basic flux:<password>` or `Bearer <token>`.
fn authorized(req: &Request<Incoming>) -> bool {
    let Some(value) = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    if let Some(token) = value.strip_prefix("Bearer ") {
        return token == BEARER_TOKEN;
    }
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    decoded == format!("{HTTP_USER}:{HTTP_PASSWORD}").as_bytes()
}

async fn handle(
    req: Request<Incoming>,
    root: Arc<PathBuf>,
    stats: Arc<Stats>,
) -> Result<Response<Body>, std::convert::Infallible> {
    stats.requests.fetch_add(1, Ordering::SeqCst);
    if !authorized(&req) && !public_fetch(&req, &root) {
        let mut resp = text_response(StatusCode::UNAUTHORIZED, "authentication required\n");
        resp.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic realm=\"git\""),
        );
        return Ok(resp);
    }
    match run_cgi(req, &root, stats).await {
        Ok(resp) => Ok(resp),
        Err(e) => Ok(text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("{e:#}\n"),
        )),
    }
}

/// Run `git http-backend` for one request (RFC 3875 CGI) and stream its answer back.
async fn run_cgi(req: Request<Incoming>, root: &Path, stats: Arc<Stats>) -> Result<Response<Body>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let path = parts.uri.path().to_owned();
    if path.contains("..") {
        bail!("refusing path {path}");
    }
    if parts.method == hyper::Method::POST && path.ends_with("/git-upload-pack") {
        stats.upload_packs.fetch_add(1, Ordering::SeqCst);
    }
    let mut child = tokio::process::Command::new(HTTP_BACKEND)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", root)
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", parts.uri.query().unwrap_or_default())
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_USER", HTTP_USER)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting git http-backend")?;
    let mut stdin = child.stdin.take().context("http-backend stdin")?;
    stdin.write_all(&body).await?;
    drop(stdin);
    let stdout = child.stdout.take().context("http-backend stdout")?;
    let mut reader = BufReader::new(stdout);

    let mut status = StatusCode::OK;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            bail!("http-backend closed its output before the end of the headers");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').context("malformed CGI header")?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("500");
            status = StatusCode::from_u16(code.parse()?)?;
        } else {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }

    let state = BodyState {
        reader,
        child,
        stats,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        let chunk = st.stats.throttle_chunk.load(Ordering::SeqCst);
        let mut buf = vec![0u8; if chunk == 0 { 64 * 1024 } else { chunk }];
        if chunk != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match st.reader.read(&mut buf).await {
            Ok(0) => {
                let _ = st.child.wait().await;
                None
            }
            Ok(n) => {
                buf.truncate(n);
                st.stats.bytes_sent.fetch_add(n as u64, Ordering::SeqCst);
                Some((Ok(Frame::data(Bytes::from(buf))), st))
            }
            Err(e) => Some((Err(e), st)),
        }
    });
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    *resp.status_mut() = status;
    for (name, value) in headers {
        resp.headers_mut().append(
            hyper::header::HeaderName::from_bytes(name.as_bytes())?,
            hyper::header::HeaderValue::from_str(&value)?,
        );
    }
    Ok(resp)
}

struct BodyState {
    reader: BufReader<tokio::process::ChildStdout>,
    child: tokio::process::Child,
    stats: Arc<Stats>,
}

/// The generated TLS material: a CA, a server certificate it issued for 127.0.0.1/localhost
/// (served plain and with client authentication), and a client certificate it issued.
struct Tls {
    ca_pem: String,
    server: tokio_rustls::TlsAcceptor,
    mutual: tokio_rustls::TlsAcceptor,
    client_cert_pem: String,
    client_key_pem: String,
}

fn generate_tls() -> Result<Tls> {
    let pki = crate::pki::generate()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = vec![pki.server_cert_der.clone().into()];
    let server_key = || rustls::pki_types::PrivateKeyDer::Pkcs8(pki.server_key_der.clone().into());
    let config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain.clone(), server_key())?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone().into())?;
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()?;
    let mutual = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, server_key())?;
    Ok(Tls {
        ca_pem: pki.ca_pem,
        server: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        mutual: tokio_rustls::TlsAcceptor::from(Arc::new(mutual)),
        client_cert_pem: pki.client_cert_pem,
        client_key_pem: pki.client_key_pem,
    })
}

// ---------------------------------------------------------------------------------------------
// SSH: Debian's sshd with a generated configuration.

fn ssh_keygen(path: &Path) -> Result<()> {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "driftless-test",
            "-f",
        ])
        .arg(path)
        .output()
        .context("running ssh-keygen (Debian package openssh-client)")?;
    ensure!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// `ssh-ed25519 AAAA... comment` -> `ssh-ed25519 AAAA...`
fn key_type_and_body(public_key: &str) -> Result<String> {
    let mut fields = public_key.split_whitespace();
    match (fields.next(), fields.next()) {
        (Some(kind), Some(body)) => Ok(format!("{kind} {body}")),
        _ => bail!("malformed public key {public_key:?}"),
    }
}

fn free_port() -> Result<u16> {
    Ok(StdTcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn current_user() -> Result<String> {
    let out = Command::new("id").arg("-un").output()?;
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| anyhow!("non-UTF-8 path {}", p.display()))
}

fn start_sshd(dir: &Path) -> Result<(Child, u16, String)> {
    let ssh = dir.join("ssh");
    std::fs::create_dir_all(&ssh)?;
    for key in ["host_key", "other_host_key", "client_key", "stranger_key"] {
        ssh_keygen(&ssh.join(key))?;
    }
    let client_pub = std::fs::read_to_string(ssh.join("client_key.pub"))?;
    std::fs::write(ssh.join("authorized_keys"), client_pub)?;
    // sshd refuses to start without its privilege separation directory.
    std::fs::create_dir_all("/run/sshd")?;
    let port = free_port()?;
    let config = ssh.join("sshd_config");
    let mut f = std::fs::File::create(&config)?;
    write!(
        f,
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\n\
         AuthorizedKeysFile {auth}\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
         PermitRootLogin prohibit-password\nLogLevel ERROR\n",
        host = ssh.join("host_key").display(),
        pid = ssh.join("sshd.pid").display(),
        auth = ssh.join("authorized_keys").display(),
    )?;
    drop(f);
    let mut child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting sshd")?;
    // Wait until it listens; a bad config makes it exit at once.
    for _ in 0..200 {
        if let Some(status) = child.try_wait()? {
            bail!(
                "sshd exited at start ({status}); run `{SSHD} -t -f {}`",
                config.display()
            );
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let host = std::fs::read_to_string(ssh.join("host_key.pub"))?;
            return Ok((child, port, key_type_and_body(&host)?));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    bail!("sshd did not listen on 127.0.0.1:{port}")
}

// ---------------------------------------------------------------------------------------------
// GnuPG: two signing keys in a private home.

impl GpgHome {
    fn create(dir: &Path) -> Result<Option<Self>> {
        if Command::new("gpg").arg("--version").output().is_err() {
            return Ok(None);
        }
        let home = dir.join("gnupg");
        std::fs::create_dir_all(&home)?;
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        let gen_key = |uid: &str| -> Result<String> {
            let out = Command::new("gpg")
                .env("GNUPGHOME", &home)
                .args([
                    "--batch",
                    "--pinentry-mode",
                    "loopback",
                    "--passphrase",
                    "",
                    "--quick-gen-key",
                    uid,
                    "ed25519",
                    "sign",
                    "never",
                ])
                .output()?;
            ensure!(
                out.status.success(),
                "gpg --quick-gen-key failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let out = Command::new("gpg")
                .env("GNUPGHOME", &home)
                .args(["--batch", "--with-colons", "--list-secret-keys", uid])
                .output()?;
            let listing = String::from_utf8(out.stdout)?;
            listing
                .lines()
                .find_map(|l| l.strip_prefix("fpr:"))
                .map(|rest| rest.trim_matches(':').to_owned())
                .ok_or_else(|| anyhow!("no fingerprint for {uid} in gpg output"))
        };
        let trusted_fpr = gen_key("Trusted Signer <trusted@driftless.invalid>")?;
        let other_fpr = gen_key("Stranger <stranger@driftless.invalid>")?;
        Ok(Some(Self {
            dir: home,
            trusted_fpr,
            other_fpr,
        }))
    }

    fn fingerprint(&self, signer: Signer) -> &str {
        match signer {
            Signer::Trusted => &self.trusted_fpr,
            Signer::Stranger => &self.other_fpr,
        }
    }

    fn export(&self, fpr: &str) -> Result<String> {
        let out = Command::new("gpg")
            .env("GNUPGHOME", &self.dir)
            .args(["--batch", "--armor", "--export", fpr])
            .output()?;
        ensure!(out.status.success(), "gpg --export failed");
        Ok(String::from_utf8(out.stdout)?)
    }
}
