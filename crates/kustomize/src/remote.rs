//! Remote entries in `resources:` and `components:`: kustomize's remote-target grammar, and the
//! hook through which the caller fetches git bases. The engine stays pure: it parses the URL and
//! builds the directory it is handed; cloning (auth, TLS, limits, timeouts) is the caller's.
//!
//! ```text
//!  [git::]https://host/org/repo//path?ref=v1   `//` ends the repository
//!  https://host/org/repo.git/path?ref=v1       so does a `.git` segment
//!  https://dev.azure.com/org/proj/_git/repo/p  and the segment after `_git/`
//!  github.com/org/repo/path?ref=v1             github.com: owner/repo, then the path
//!  ssh://git@host/org/repo//path               scp-like git@host:org/repo//path too
//!  query: ref (or version), timeout (seconds or 1m30s), submodules (bool)
//! ```
//!
//! An `http(s)` URL that matches none of the repository markers is a plain remote file
//! (kustomize downloads it); that form is refused with a message, see [`RemoteTarget::File`].

use std::path::PathBuf;
use std::time::Duration;

/// A git repository directory named by a `resources:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteBase {
    /// The entry as written, for messages.
    pub raw: String,
    /// What to clone: an `https://`, `http://` or `ssh://` URL (scp-like input is rewritten to
    /// `ssh://`).
    pub repo_url: String,
    /// The kustomization directory inside the repository, `/`-separated; empty for the root.
    pub path: String,
    /// `?ref=` (or `?version=`): a branch, tag or full commit SHA; `None` means the remote's
    /// default branch (its `HEAD`).
    pub reference: Option<String>,
    /// `?timeout=`; `None` leaves the caller's default (kustomize's is 27s).
    pub timeout: Option<Duration>,
    /// `?submodules=`; kustomize clones submodules unless told not to.
    pub submodules: bool,
}

impl RemoteBase {
    /// [`Self::repo_url`] without a password (`https://user:***@host/…`), for logs and
    /// messages: a kustomization in Git may embed credentials in the URL.
    pub fn display_url(&self) -> String {
        redact(&self.repo_url)
    }
}

/// `url` with the password of its userinfo, if any, replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// What a remote-looking entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteTarget {
    /// A directory in a git repository.
    Git(RemoteBase),
    /// A single file over HTTP(S).
    File(String),
}

/// Fetches git remote bases for a build. A controller implements it on top of its git layer
/// and passes it in [`crate::BuildOptions::remote`]; one instance should live for one build, so
/// that its checkouts (and any cache of them) go away with the build.
pub trait RemoteFetcher: Send + Sync + std::fmt::Debug {
    /// Checks out `base.repo_url` at `base.reference` and returns the repository's root
    /// directory. The error is shown to the user after the entry, so it should say what failed.
    fn fetch_git(&self, base: &RemoteBase) -> Result<PathBuf, String>;
}

/// Parses a `resources:`/`components:` entry that is not a local path.
pub fn parse(entry: &str) -> Result<RemoteTarget, String> {
    let (forced_git, rest) = match strip_prefix_ci(entry, "git::") {
        Some(rest) => (true, rest),
        None => (false, entry),
    };
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (host, repo_and_path, is_http) = split_host(location)?;
    let Some((repo, path)) = split_repo(&host, repo_and_path) else {
        if is_http && !forced_git {
            return Ok(RemoteTarget::File(entry.to_owned()));
        }
        return Err(
            "cannot tell where the repository ends: separate it from the directory with '//' \
             (https://host/org/repo//dir?ref=v1) or end it with '.git'"
                .into(),
        );
    };
    let path = path.trim_matches('/');
    if path.split('/').any(|s| s == "..") {
        return Err(format!("the directory {path:?} leaves the repository"));
    }
    let repo = repo.trim_end_matches('/');
    if repo.is_empty() {
        return Err("the URL names no repository".into());
    }
    let mut base = RemoteBase {
        raw: entry.to_owned(),
        repo_url: format!("{host}{repo}"),
        path: path.to_owned(),
        reference: None,
        timeout: None,
        submodules: true,
    };
    apply_query(&mut base, query)?;
    Ok(RemoteTarget::Git(base))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Splits `location` into the clone URL's scheme and authority (`https://host:port/`) and the
/// rest; scp-like `user@host:path` becomes `ssh://user@host/`. The flag says whether the URL is
/// HTTP(S), the only scheme under which a plain file can be named.
fn split_host(location: &str) -> Result<(String, &str, bool), String> {
    for scheme in ["https://", "http://", "ssh://"] {
        if let Some(rest) = strip_prefix_ci(location, scheme) {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            if authority.is_empty() || authority.rsplit('@').next().is_none_or(str::is_empty) {
                return Err("the URL names no host".into());
            }
            return Ok((
                format!("{}{authority}/", scheme.to_ascii_lowercase()),
                path,
                scheme != "ssh://",
            ));
        }
    }
    if strip_prefix_ci(location, "file://").is_some() {
        return Err(
            "file:// remote bases are refused: they would read the controller's own filesystem"
                .into(),
        );
    }
    if let Some(rest) = strip_prefix_ci(location, "github.com/") {
        return Ok(("https://github.com/".into(), rest, true));
    }
    // scp-like: user@host:path (no scheme, an '@' before the first ':' and no '/' before it).
    if let Some((user_host, path)) = location.split_once(':')
        && let Some((user, host)) = user_host.split_once('@')
        && !user.is_empty()
        && !host.is_empty()
        && !user_host.contains('/')
    {
        return Ok((format!("ssh://{user}@{host}/"), path, false));
    }
    if let Some(rest) = strip_prefix_ci(location, "github.com:") {
        return Ok(("ssh://git@github.com/".into(), rest, false));
    }
    Err(
        "a remote base needs a scheme: https://, http://, ssh:// or scp-like git@host:org/repo \
         (github.com/org/repo is the only shorthand)"
            .into(),
    )
}

/// Splits the part after the host into the repository path and the directory inside it, by
/// kustomize's markers in its order: `//`, `_git/<repo>`, a `.git` segment end, and for
/// github.com the first two segments.
fn split_repo<'a>(host: &str, rest: &'a str) -> Option<(&'a str, &'a str)> {
    if let Some(i) = rest.find("//") {
        return Some((&rest[..i], &rest[i + 2..]));
    }
    if let Some(i) = rest.find("_git/") {
        let after = i + "_git/".len();
        let end = rest[after..].find('/').map_or(rest.len(), |j| after + j);
        return Some((&rest[..end], &rest[end..]));
    }
    let mut from = 0;
    while let Some(i) = rest[from..].find(".git") {
        let end = from + i + ".git".len();
        if end == rest.len() || rest.as_bytes()[end] == b'/' {
            return Some((&rest[..end], &rest[end..]));
        }
        from = end;
    }
    if host == "https://github.com/" || host.ends_with("@github.com/") {
        let mut slashes = rest.match_indices('/').map(|(i, _)| i);
        let first = slashes.next()?;
        let end = slashes.next().unwrap_or(rest.len());
        if first == 0 || end == first + 1 {
            return None;
        }
        return Some((&rest[..end], &rest[end..]));
    }
    None
}

fn apply_query(base: &mut RemoteBase, query: &str) -> Result<(), String> {
    let mut version = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "ref" if !value.is_empty() => base.reference = Some(value.to_owned()),
            "version" if !value.is_empty() => version = Some(value.to_owned()),
            "timeout" if !value.is_empty() => base.timeout = Some(parse_timeout(value)?),
            "submodules" if !value.is_empty() => {
                base.submodules = parse_bool(value)
                    .ok_or_else(|| format!("submodules={value:?} is not a boolean"))?;
            }
            // kustomize ignores parameters it does not know (`cache`, go-getter's own, …).
            _ => {}
        }
    }
    if base.reference.is_none() {
        base.reference = version;
    }
    Ok(())
}

/// kustomize's `timeout`: whole seconds (`61`) or a Go duration (`1m30s`, `500ms`).
fn parse_timeout(value: &str) -> Result<Duration, String> {
    let bad = || format!("timeout={value:?} is neither seconds (61) nor a duration (1m30s)");
    if let Ok(secs) = value.parse::<u64>() {
        return (secs > 0)
            .then(|| Duration::from_secs(secs))
            .ok_or_else(bad);
    }
    let mut total = Duration::ZERO;
    let mut rest = value;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(number * scale).map_err(|_| bad())?;
    }
    (!total.is_zero()).then_some(total).ok_or_else(bad)
}

/// Go's `strconv.ParseBool`.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(entry: &str) -> RemoteBase {
        match parse(entry) {
            Ok(RemoteTarget::Git(base)) => base,
            other => panic!("{entry}: expected a git base, got {other:?}"),
        }
    }

    fn parts(entry: &str) -> (String, String, Option<String>) {
        let b = git(entry);
        (b.repo_url, b.path, b.reference)
    }

    fn expect(repo: &str, path: &str, reference: Option<&str>) -> (String, String, Option<String>) {
        (repo.into(), path.into(), reference.map(Into::into))
    }

    #[test]
    fn documented_forms() {
        // The forms of kustomize's examples/remoteBuild.md and its repospec tests.
        assert_eq!(
            parts(
                "https://github.com/kubernetes-sigs/kustomize//examples/multibases/dev/?timeout=120&ref=v3.3.1"
            ),
            expect(
                "https://github.com/kubernetes-sigs/kustomize",
                "examples/multibases/dev",
                Some("v3.3.1")
            )
        );
        assert_eq!(
            parts("github.com/kubernetes-sigs/kustomize/examples/multibases?ref=v1.0.6"),
            expect(
                "https://github.com/kubernetes-sigs/kustomize",
                "examples/multibases",
                Some("v1.0.6")
            )
        );
        assert_eq!(
            parts("github.com/Liujingfang1/mysql"),
            expect("https://github.com/Liujingfang1/mysql", "", None)
        );
        assert_eq!(
            parts(
                "https://github.com/kubernetes-sigs/kustomize.git/examples/helloWorld?ref=v1.0.6"
            ),
            expect(
                "https://github.com/kubernetes-sigs/kustomize.git",
                "examples/helloWorld",
                Some("v1.0.6")
            )
        );
        assert_eq!(
            parts("git::https://gitlab.com/org/repo//deploy?ref=main"),
            expect("https://gitlab.com/org/repo", "deploy", Some("main"))
        );
        assert_eq!(
            parts("ssh://git@github.com/owner/repo//base"),
            expect("ssh://git@github.com/owner/repo", "base", None)
        );
        assert_eq!(
            parts("git@github.com:owner/repo//base?ref=v2"),
            expect("ssh://git@github.com/owner/repo", "base", Some("v2"))
        );
        assert_eq!(
            parts("git@gitlab.com:group/sub/repo.git/app"),
            expect("ssh://git@gitlab.com/group/sub/repo.git", "app", None)
        );
        assert_eq!(
            parts("https://dev.azure.com/org/project/_git/repo/deploy?version=v1"),
            expect(
                "https://dev.azure.com/org/project/_git/repo",
                "deploy",
                Some("v1")
            )
        );
        // A port is kept (kustomize's docs say ports are unsupported; a superset is harmless).
        assert_eq!(
            parts("http://127.0.0.1:8080/repos/base.git//app?ref=main"),
            expect("http://127.0.0.1:8080/repos/base.git", "app", Some("main"))
        );
    }

    #[test]
    fn query_parameters() {
        let b = git("https://host/org/repo//dir?ref=main&version=v9&timeout=90&submodules=false");
        assert_eq!(
            b.reference.as_deref(),
            Some("main"),
            "ref wins over version"
        );
        assert_eq!(b.timeout, Some(Duration::from_secs(90)));
        assert!(!b.submodules);
        let b = git("https://host/org/repo//dir?version=v9&timeout=1m30s&cache=true");
        assert_eq!(b.reference.as_deref(), Some("v9"));
        assert_eq!(b.timeout, Some(Duration::from_secs(90)));
        assert!(b.submodules, "kustomize's default");
        assert_eq!(
            git("https://host/r//d?timeout=1.5s").timeout,
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("https://bot:t0ken@host/org/repo//dir?ref=v1"),
            "https://bot:***@host/org/repo//dir?ref=v1"
        );
        assert_eq!(redact("ssh://git@host/org/repo"), "ssh://git@host/org/repo");
        assert_eq!(redact("git@host:org/repo"), "git@host:org/repo");
        assert_eq!(
            git("https://bot:t0ken@host/org/repo//dir").display_url(),
            "https://bot:***@host/org/repo"
        );
    }

    #[test]
    fn plain_http_urls_are_files() {
        let url = "https://raw.githubusercontent.com/org/repo/main/deploy.yaml";
        assert_eq!(parse(url), Ok(RemoteTarget::File(url.into())));
        // Forced git: the repository boundary is then required.
        let err = parse("git::https://example.com/org/repo/dir").expect_err("no marker");
        assert!(err.contains("'//'"), "{err}");
    }

    #[test]
    fn bad_input_says_what_to_fix() {
        for (entry, needle) in [
            (
                "https://host/org/repo//../../etc?ref=x",
                "leaves the repository",
            ),
            ("https://host/org/repo//d?timeout=soon", "timeout"),
            ("https://host/org/repo//d?timeout=0", "timeout"),
            ("https://host/org/repo//d?submodules=maybe", "submodules"),
            ("file:///srv/repo//d", "file://"),
            ("gitlab.com/org/repo//d", "scheme"),
            ("https:///org/repo//d", "no host"),
            ("ssh://git@host/org/repo/dir", "'//'"),
            ("https://host///dir", "no repository"),
        ] {
            let err = parse(entry).expect_err(entry);
            assert!(err.contains(needle), "{entry}: {err}");
        }
    }
}
