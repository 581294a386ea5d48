//! A real HTTP Helm repository on loopback: charts packaged by the pinned `helm package`, the
//! `index.yaml` written by the pinned `helm repo index`, files served as a chart museum or a
//! static site would (optionally behind basic auth). Stopped on drop.
//!
//! ```text
//!  test ── add_chart("podinfo", "6.7.0") ──▶ helm package ─▶ <dir>/repo/podinfo-6.7.0.tgz
//!                                          └▶ helm repo index <dir>/repo --url http://127.0.0.1:P
//!  client ── GET http://127.0.0.1:P/index.yaml | /<chart>.tgz ──▶ hyper ──▶ <dir>/repo/<file>
//! ```
//!
//! Also the home of running the pinned helm CLI for fixtures ([`helm_command`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::cache;
use crate::http_serve::{HttpServer, has_basic_auth, text, unauthorized};

/// The user name the basic-auth variant accepts.
pub const HELM_REPO_USER: &str = "charts";
/// The password of [`HELM_REPO_USER`].
pub const HELM_REPO_PASSWORD: &str = "helm-s3cr3t";

/// The pinned helm with its config, cache and data under `home` (never the user's).
pub fn helm_command(home: &Path) -> Result<Command> {
    static BIN: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let bin = BIN
        .get_or_init(|| cache::helm_binary().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("the pinned helm binary: {e}"))?;
    let mut cmd = Command::new(bin);
    cmd.env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_REGISTRY_CONFIG", home.join("registry.json"));
    Ok(cmd)
}

/// Runs a command to completion; its stdout and stderr on success, an error with both
/// otherwise.
pub fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!(
            "{:?} {:?} failed ({}): {text}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status
        );
    }
    Ok(text)
}

/// Writes a small chart (one ConfigMap carrying `.Values.greeting`) named `name` at `version`
/// into `<parent>/<name>` and returns that directory.
pub fn write_chart(parent: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let dir = parent.join(name);
    std::fs::create_dir_all(dir.join("templates"))?;
    std::fs::write(
        dir.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{version}\"\n\
             description: A test chart.\ntype: application\n"
        ),
    )?;
    std::fs::write(dir.join("values.yaml"), "greeting: hello\n")?;
    std::fs::write(
        dir.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\n\
         data:\n  greeting: {{ .Values.greeting | quote }}\n  version: {{ .Chart.Version | quote }}\n",
    )?;
    Ok(dir)
}

/// `helm package <chart_dir> -d <out>`; returns the `.tgz`.
pub fn package_chart(chart_dir: &Path, out: &Path) -> Result<PathBuf> {
    let home = tempfile::tempdir()?;
    std::fs::create_dir_all(out)?;
    let text = run(helm_command(home.path())?
        .arg("package")
        .arg(chart_dir)
        .arg("-d")
        .arg(out))?;
    // "Successfully packaged chart and saved it to: <path>"
    let path = text
        .lines()
        .find_map(|l| l.split_once("saved it to: ").map(|(_, p)| p.trim()))
        .ok_or_else(|| anyhow!("helm package did not say where it saved the chart: {text}"))?;
    Ok(PathBuf::from(path))
}

/// The fixture. Dropping it stops the server and removes the charts.
pub struct HelmRepo {
    dir: tempfile::TempDir,
    server: HttpServer,
    basic_auth: bool,
}

impl std::fmt::Debug for HelmRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelmRepo")
            .field("addr", &self.server.addr())
            .field("basic_auth", &self.basic_auth)
            .finish_non_exhaustive()
    }
}

impl HelmRepo {
    /// Starts an empty repository (an `index.yaml` with no entries) on a free loopback port;
    /// with `basic_auth`, every request needs [`HELM_REPO_USER`]/[`HELM_REPO_PASSWORD`].
    pub fn start(basic_auth: bool) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("driftless-helm-repo-")
            .tempdir()?;
        std::fs::create_dir_all(dir.path().join("repo"))?;
        let root = dir.path().join("repo");
        let server = HttpServer::start("helm-repo", move |req| serve(&root, basic_auth, &req))?;
        let repo = Self {
            dir,
            server,
            basic_auth,
        };
        repo.reindex()?;
        Ok(repo)
    }

    /// `http://127.0.0.1:<port>`, a HelmRepository `url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Where the served files live (`index.yaml` and the `.tgz` charts).
    pub fn repo_dir(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Packages [`write_chart`]'s chart `name` at `version` with `helm package`, then rewrites
    /// the index with `helm repo index`; returns the `.tgz`.
    pub fn add_chart(&self, name: &str, version: &str) -> Result<PathBuf> {
        let src = tempfile::tempdir()?;
        let chart = write_chart(src.path(), name, version)?;
        let tgz = package_chart(&chart, &self.repo_dir())?;
        self.reindex()?;
        Ok(tgz)
    }

    /// `helm repo index <repo dir> --url <url>` over every `.tgz` there.
    pub fn reindex(&self) -> Result<()> {
        let home = tempfile::tempdir()?;
        run(helm_command(home.path())?
            .args(["repo", "index"])
            .arg(self.repo_dir())
            .args(["--url", &self.url()]))?;
        Ok(())
    }
}

fn serve(root: &Path, basic_auth: bool, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if basic_auth && !has_basic_auth(req, HELM_REPO_USER, HELM_REPO_PASSWORD) {
        return unauthorized("helm-repo");
    }
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    // One flat directory: a name with a separator or `..` is never a served file.
    let name = req.uri().path().trim_start_matches('/');
    if name.is_empty() || name.contains('/') || name.contains("..") {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    match std::fs::read(root.join(name)) {
        Ok(bytes) => Response::new(Full::new(Bytes::from(bytes))),
        Err(_) => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}
