//! Talking to the remote: URL checks, libgit2 callbacks (credentials, host verification,
//! deadline) and the cheap `ls-remote` that resolves a ref without downloading objects.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use driftless_core::artifact::Revision;
use git2::{CertificateCheckStatus, Cred, CredentialType, Direction, ErrorClass, ErrorCode};

use super::refs::{GitRef, revision, select_semver_tag};
use super::{GitError, RemoteSpec, http, tls};

/// The transport a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `http://`
    Http,
    /// `https://`
    Https,
    /// `ssh://`
    Ssh,
}

/// A URL split into what the callbacks need.
#[derive(Debug, Clone)]
pub(super) struct ParsedUrl {
    pub transport: Transport,
    pub host: String,
    pub port: u16,
}

/// Check `url` and extract its transport, host and port. Only `http`, `https` and `ssh` URLs
/// are accepted (as the CRD's pattern says); scp-like `git@host:path` is refused with a hint.
pub(super) fn parse_url(url: &str) -> Result<ParsedUrl, GitError> {
    let bad = |reason: &str| GitError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected http://, https:// or ssh:// (for scp-like git@host:path, write ssh://git@host/path)"))?;
    let (transport, default_port) = match scheme {
        "http" => (Transport::Http, 80),
        "https" => (Transport::Https, 443),
        "ssh" => (Transport::Ssh, 22),
        other => return Err(bad(&format!("unsupported scheme {other:?}"))),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return Err(bad("no host"));
    }
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (h, rest) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed '[' in host"))?;
        (h.to_owned(), rest.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (host_port.to_owned(), None),
        }
    };
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p.parse().map_err(|_| bad(&format!("bad port {p:?}")))?,
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace()) {
        return Err(bad("bad host"));
    }
    if rest.len() <= authority.len() + 1 {
        return Err(bad("no repository path"));
    }
    Ok(ParsedUrl {
        transport,
        host,
        port,
    })
}

/// State shared by the libgit2 callbacks of one operation: the first failure they saw (so the
/// error says "wrong password" rather than libgit2's generic text) and the deadline.
pub(super) struct Session<'r> {
    pub remote: &'r RemoteSpec,
    pub url: ParsedUrl,
    pub deadline: Instant,
    pub max_fetch_bytes: u64,
    failure: RefCell<Option<GitError>>,
    credential_attempts: Cell<u32>,
}

impl<'r> Session<'r> {
    pub fn new(remote: &'r RemoteSpec, max_fetch_bytes: u64) -> Result<Self, GitError> {
        Ok(Self {
            url: parse_url(&remote.url)?,
            remote,
            deadline: Instant::now() + remote.timeout,
            max_fetch_bytes,
            failure: RefCell::new(None),
            credential_attempts: Cell::new(0),
        })
    }

    fn fail(&self, err: GitError) -> git2::Error {
        let msg = err.to_string();
        self.failure.borrow_mut().get_or_insert(err);
        git2::Error::from_str(&msg)
    }

    fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn record_timeout(&self) {
        self.failure.borrow_mut().get_or_insert(GitError::Timeout {
            url: self.remote.url.clone(),
            timeout: self.remote.timeout,
        });
    }

    /// Turn a libgit2 error into the most precise [`GitError`].
    pub fn error(&self, err: &git2::Error) -> GitError {
        if let Some(recorded) = self.failure.borrow_mut().take() {
            return recorded;
        }
        let url = self.remote.url.clone();
        let message = err.message().to_owned();
        let lower = message.to_ascii_lowercase();
        if err.code() == ErrorCode::Auth
            || (err.class() == ErrorClass::Ssh && lower.contains("authenticat"))
            || lower.contains("401")
        {
            return GitError::AuthFailed {
                url,
                reason: message,
            };
        }
        if err.code() == ErrorCode::Certificate || err.class() == ErrorClass::Ssl {
            return GitError::UntrustedHost {
                host: self.url.host.clone(),
                reason: message,
            };
        }
        GitError::Git { url, message }
    }

    /// The callbacks every libgit2 network operation of this session uses.
    pub fn callbacks(&self) -> git2::RemoteCallbacks<'_> {
        let mut cb = git2::RemoteCallbacks::new();
        let creds = &self.remote.credentials;
        cb.credentials(move |_url, user_from_url, allowed| {
            let attempt = self.credential_attempts.get() + 1;
            self.credential_attempts.set(attempt);
            let url = self.remote.url.clone();
            if allowed.contains(CredentialType::USERNAME) {
                return Cred::username(user_from_url.unwrap_or("git"));
            }
            if allowed.contains(CredentialType::SSH_KEY) {
                let Some((key, passphrase)) = &creds.ssh_identity else {
                    return Err(self.fail(GitError::AuthFailed {
                        url,
                        reason: "the server asks for an SSH key: set \"identity\" in secretRef"
                            .into(),
                    }));
                };
                if attempt > 2 {
                    return Err(self.fail(GitError::AuthFailed {
                        url,
                        reason: "the server refused the SSH key in \"identity\"".into(),
                    }));
                }
                return Cred::ssh_key_from_memory(
                    user_from_url.unwrap_or("git"),
                    None,
                    key,
                    passphrase.as_deref(),
                )
                .map_err(|e| {
                    self.fail(GitError::InvalidSecret(format!(
                        "\"identity\" is not a usable private key: {}",
                        e.message()
                    )))
                });
            }
            if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
                let Some((user, password)) = &creds.basic else {
                    let reason = if creds.bearer_token.is_some() {
                        "the server refused the bearer token in \"bearerToken\""
                    } else {
                        "the server requires credentials: set \"username\" and \"password\" (or \"bearerToken\") in secretRef"
                    };
                    return Err(self.fail(GitError::AuthFailed {
                        url,
                        reason: reason.into(),
                    }));
                };
                if attempt > 1 {
                    return Err(self.fail(GitError::AuthFailed {
                        url,
                        reason: "the server refused the username and password".into(),
                    }));
                }
                return Cred::userpass_plaintext(user, password);
            }
            Err(self.fail(GitError::AuthFailed {
                url,
                reason: format!("no supported credential type (server allows {allowed:?})"),
            }))
        });
        cb.certificate_check(move |cert, host| {
            if let Some(hostkey) = cert.as_hostkey() {
                let Some(known) = &creds.known_hosts else {
                    return Err(self.fail(GitError::InvalidSecret(
                        "an ssh:// URL needs \"known_hosts\"".into(),
                    )));
                };
                let Some(raw) = hostkey.hostkey() else {
                    return Err(self.fail(GitError::UntrustedHost {
                        host: host.to_owned(),
                        reason: "the server's raw host key is unavailable".into(),
                    }));
                };
                return match known.check(&self.url.host, self.url.port, raw) {
                    Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
                    Err(reason) => Err(self.fail(GitError::UntrustedHost {
                        host: host.to_owned(),
                        reason,
                    })),
                };
            }
            if let (Some(x509), Some(ca)) = (cert.as_x509(), &creds.ca_pem) {
                return match tls::verify_leaf(x509.data(), host, ca) {
                    Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
                    Err(reason) => Err(self.fail(GitError::UntrustedHost {
                        host: host.to_owned(),
                        reason,
                    })),
                };
            }
            // No ca.crt: libgit2's own verification against the system trust store decides.
            Ok(CertificateCheckStatus::CertificatePassthrough)
        });
        cb.transfer_progress(move |progress| {
            if self.expired() {
                self.record_timeout();
                return false;
            }
            if progress.received_bytes() as u64 > self.max_fetch_bytes {
                self.failure
                    .borrow_mut()
                    .get_or_insert(GitError::TooLarge(format!(
                        "the download exceeds {} bytes",
                        self.max_fetch_bytes
                    )));
                return false;
            }
            true
        });
        cb.sideband_progress(move |_| {
            if self.expired() {
                self.record_timeout();
                return false;
            }
            true
        });
        cb
    }

    /// Proxy options from `proxySecretRef`, or none (libgit2 then uses no proxy).
    pub fn proxy(&self) -> git2::ProxyOptions<'static> {
        let mut proxy = git2::ProxyOptions::new();
        if let Some(p) = &self.remote.proxy {
            proxy.url(&p.url());
        }
        proxy
    }

    /// The URL to hand libgit2: the remote's, or the same routed through the reqwest
    /// transport when libgit2's cannot serve it (see `http`).
    pub fn git_url(&self) -> String {
        let over_http = matches!(self.url.transport, Transport::Http | Transport::Https);
        if over_http && http::needed(self.remote) {
            http::transport_url(&self.remote.url)
        } else {
            self.remote.url.clone()
        }
    }
}

/// What to download for a resolved ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPlan {
    /// Remote refspec sources; all fetched into `refs/driftless/*` locally.
    pub refs: Vec<String>,
    /// Whether a depth-1 fetch suffices (false for commits, which may be deep in history).
    pub shallow: bool,
}

/// The outcome of [`resolve`]: the ref named by `spec.ref`, found on the remote.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// What to fetch.
    pub(crate) plan: FetchPlan,
    /// The commit the ref points at now (None when it can only be known by fetching).
    pub commit: Option<git2::Oid>,
    /// The revision label (`main`, `v1.2.3`, `refs/pull/1/head`), None for a bare commit.
    pub label: Option<String>,
    /// The tag name, when the ref is a tag or a semver selection (for `verify.mode: Tag`).
    pub tag: Option<String>,
}

impl Resolved {
    /// The revision the artifact will carry if the fetch finds [`Self::commit`]: the cheap
    /// no-op check compares it with the stored artifact's revision.
    pub fn revision(&self) -> Option<Revision> {
        self.commit.map(|c| revision(self.label.as_deref(), c))
    }
}

/// Resolve `reference` on the remote with one `ls-remote` round trip (no objects are
/// downloaded). A full commit SHA needs no round trip at all.
pub fn resolve(remote: &RemoteSpec, reference: &GitRef) -> Result<Resolved, GitError> {
    if let GitRef::Commit { sha, branch } = reference {
        parse_url(&remote.url)?;
        return Ok(commit_plan(sha, branch.as_deref()));
    }
    http::with_transport(remote, || {
        let session = Session::new(remote, u64::MAX)?;
        let listing = ls_remote(&session)?;
        resolve_in(remote, reference, &listing)
    })
}

/// Find `reference` in the remote's ref listing.
fn resolve_in(
    remote: &RemoteSpec,
    reference: &GitRef,
    listing: &[(String, git2::Oid)],
) -> Result<Resolved, GitError> {
    let heads = |name: &str| format!("refs/heads/{name}");
    let tags = |name: &str| format!("refs/tags/{name}");
    let find = |name: &str| -> Option<git2::Oid> {
        let peeled = format!("{name}^{{}}");
        listing
            .iter()
            .find(|(n, _)| *n == peeled)
            .or_else(|| listing.iter().find(|(n, _)| n == name))
            .map(|(_, oid)| *oid)
    };
    let not_found = |kind: &'static str, name: &str| GitError::RefNotFound {
        kind,
        name: name.to_owned(),
        url: remote.url.clone(),
    };
    let (full, label, tag, kind) = match reference {
        GitRef::Commit { sha, branch } => return Ok(commit_plan(sha, branch.as_deref())),
        GitRef::Branch(b) => (heads(b), b.clone(), None, "branch"),
        GitRef::Tag(t) => (tags(t), t.clone(), Some(t.clone()), "tag"),
        GitRef::Name(n) => (
            n.clone(),
            n.clone(),
            n.strip_prefix("refs/tags/").map(str::to_owned),
            "ref",
        ),
        GitRef::Semver(constraint) => {
            let names: Vec<&str> = listing
                .iter()
                .filter_map(|(n, _)| n.strip_prefix("refs/tags/"))
                .filter(|n| !n.ends_with("^{}"))
                .collect();
            let chosen =
                select_semver_tag(constraint, names.iter().copied())?.ok_or_else(|| {
                    GitError::NoMatchingTag {
                        url: remote.url.clone(),
                        constraint: constraint.clone(),
                    }
                })?;
            (
                tags(chosen),
                chosen.to_owned(),
                Some(chosen.to_owned()),
                "tag",
            )
        }
    };
    let commit = Some(find(&full).ok_or_else(|| not_found(kind, &label))?);
    Ok(Resolved {
        plan: FetchPlan {
            refs: vec![full],
            shallow: true,
        },
        commit,
        label: Some(label),
        tag,
    })
}

/// A commit needs no listing: the spec names it. Its branch (or every branch) is fetched in
/// full, since the commit may be anywhere in the history.
fn commit_plan(sha: &str, branch: Option<&str>) -> Resolved {
    let refs = match branch {
        Some(b) => vec![format!("refs/heads/{b}")],
        None => vec!["refs/heads/*".to_owned()],
    };
    let commit = git2::Oid::from_str(sha).ok().filter(|_| sha.len() == 40);
    Resolved {
        plan: FetchPlan {
            refs,
            shallow: false,
        },
        commit,
        label: branch.map(str::to_owned),
        tag: None,
    }
}

/// `git ls-remote`: every ref the remote advertises, with peeled tags as `<tag>^{}`.
fn ls_remote(session: &Session<'_>) -> Result<Vec<(String, git2::Oid)>, GitError> {
    let mut remote =
        git2::Remote::create_detached(session.git_url().as_str()).map_err(|e| session.error(&e))?;
    let conn = remote
        .connect_auth(
            Direction::Fetch,
            Some(session.callbacks()),
            Some(session.proxy()),
        )
        .map_err(|e| session.error(&e))?;
    let heads = conn.list().map_err(|e| session.error(&e))?;
    Ok(heads
        .iter()
        .map(|h| (h.name().to_owned(), h.oid()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("ssh://git@127.0.0.1:2222/srv/repo.git").expect("valid");
        assert_eq!(
            (u.transport, u.host.as_str(), u.port),
            (Transport::Ssh, "127.0.0.1", 2222)
        );
        let u = parse_url("https://github.com/org/repo").expect("valid");
        assert_eq!((u.transport, u.port), (Transport::Https, 443));
        let u = parse_url("http://[::1]:8080/r.git").expect("valid");
        assert_eq!((u.host.as_str(), u.port), ("::1", 8080));
        for bad in [
            "git@github.com:org/repo.git",
            "ftp://host/repo",
            "https://",
            "https:///repo",
            "https://host",
            "https://host:notaport/repo",
        ] {
            assert!(parse_url(bad).is_err(), "{bad} should be refused");
        }
    }
}
