//! Credentials from `kubernetes.io/dockerconfigjson` Secrets, picked for one registry the way
//! the kubelet (and so Flux) picks them.
//!
//! A Secret's `auths` keys are written by people and tools in many shapes
//! (`https://index.docker.io/v1/`, `ghcr.io`, `registry:5000/team`, `*.example.com`), so a key
//! is normalised (scheme and trailing `/` dropped) and matched against the image's
//! `host[:port]/path`: each host label may be a glob (`*`), the port must be equal, and the
//! key's path must be a prefix of the image's path at a `/` boundary. Of the keys that match,
//! the longest wins; across several Secrets (a service account's `imagePullSecrets`), the
//! first Secret that has a match wins, as the kubelet's keyring does.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;

use crate::Error;

/// How to authenticate to a registry. `Debug` never shows a password or token.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// No credentials (the registry may still hand out anonymous tokens).
    #[default]
    Anonymous,
    /// A user name and password; used for HTTP basic auth or exchanged for a bearer token.
    Basic {
        /// The user name.
        username: String,
        /// The password (or a personal access token used as one).
        password: String,
    },
    /// A registry bearer token (`registrytoken` in a docker config) sent as is.
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Credentials {
    pub(crate) fn to_registry_auth(&self) -> oci_client::secrets::RegistryAuth {
        use oci_client::secrets::RegistryAuth;
        match self {
            Self::Anonymous => RegistryAuth::Anonymous,
            Self::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Self::Bearer(token) => RegistryAuth::Bearer(token.clone()),
        }
    }
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: Option<BTreeMap<String, AuthEntry>>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The credentials for `image` (`host[:port]/path`, no scheme, no tag) in one Secret's
/// `.dockerconfigjson` (or legacy `.dockercfg`, the same map without the `auths` wrapper).
///
/// `Ok(None)` when no entry matches; an error when the JSON or a matching entry is unusable,
/// so that a typo in the Secret is reported instead of silently pulling anonymously.
pub fn from_docker_config(config: &[u8], image: &str) -> Result<Option<Credentials>, Error> {
    let entries = parse_entries(config)?;
    let Some((key, entry)) = entries
        .iter()
        .filter(|(key, _)| key_matches(key, image))
        .max_by_key(|(key, _)| normalise_key(key).len())
    else {
        return Ok(None);
    };
    entry_credentials(key, entry).map(Some)
}

/// The credentials for `image` from a list of Secrets' docker configs, in order: the first
/// that has a matching entry wins (`imagePullSecrets` of a service account, then
/// `secretRef`, as the caller orders them). `Anonymous` when none matches.
pub fn from_docker_configs<'a>(
    configs: impl IntoIterator<Item = &'a [u8]>,
    image: &str,
) -> Result<Credentials, Error> {
    for config in configs {
        if let Some(credentials) = from_docker_config(config, image)? {
            return Ok(credentials);
        }
    }
    Ok(Credentials::Anonymous)
}

fn parse_entries(config: &[u8]) -> Result<BTreeMap<String, AuthEntry>, Error> {
    let value: serde_json::Value = serde_json::from_slice(config)
        .map_err(|e| Error::InvalidDockerConfig(format!("not valid JSON: {e}")))?;
    let invalid = |e: serde_json::Error| Error::InvalidDockerConfig(e.to_string());
    if value.get("auths").is_some() {
        let parsed: DockerConfig = serde_json::from_value(value).map_err(invalid)?;
        return Ok(parsed.auths.unwrap_or_default());
    }
    serde_json::from_value(value).map_err(invalid)
}

fn entry_credentials(key: &str, entry: &AuthEntry) -> Result<Credentials, Error> {
    if let Some(token) = entry.registrytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Credentials::Bearer(token.to_owned()));
    }
    let (username, password) = match (entry.username.as_deref(), entry.password.as_deref()) {
        (Some(u), Some(p)) if !u.is_empty() => (u.to_owned(), p.to_owned()),
        _ => match entry.auth.as_deref().filter(|a| !a.is_empty()) {
            Some(auth) => decode_auth(key, auth)?,
            None if entry.identitytoken.is_some() => {
                return Err(Error::InvalidDockerConfig(format!(
                    "entry {key:?} has only an identitytoken (an OAuth2 refresh token), which is \
                     not supported: give username and password (or auth) instead"
                )));
            }
            None => {
                return Err(Error::InvalidDockerConfig(format!(
                    "entry {key:?} has neither username/password, auth nor registrytoken"
                )));
            }
        },
    };
    Ok(Credentials::Basic { username, password })
}

fn decode_auth(key: &str, auth: &str) -> Result<(String, String), Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|e| {
            Error::InvalidDockerConfig(format!("entry {key:?}: auth is not base64: {e}"))
        })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::InvalidDockerConfig(format!("entry {key:?}: auth is not UTF-8 once decoded"))
    })?;
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), password.to_owned())),
        _ => Err(Error::InvalidDockerConfig(format!(
            "entry {key:?}: auth must be base64 of `username:password`"
        ))),
    }
}

/// Docker Hub is written under several names; they are one registry.
const DOCKER_HUB_ALIASES: [&str; 4] = [
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "registry.hub.docker.com",
];

/// `https://index.docker.io/v1/` -> `index.docker.io`, `http://reg:5000/team/` -> `reg:5000/team`.
fn normalise_key(key: &str) -> &str {
    let key = key.trim();
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let key = key.trim_end_matches('/');
    // Docker's own key for the Hub carries an API version path, not a repository path.
    key.strip_suffix("/v1")
        .or_else(|| key.strip_suffix("/v2"))
        .unwrap_or(key)
}

/// Whether a docker config key applies to `image` (`host[:port]/path`).
pub(crate) fn key_matches(key: &str, image: &str) -> bool {
    let key = normalise_key(key);
    let (key_host, key_path) = key.split_once('/').unwrap_or((key, ""));
    let (image_host, image_path) = image.split_once('/').unwrap_or((image, ""));
    if !host_matches(key_host, image_host) {
        return false;
    }
    key_path.is_empty()
        || image_path == key_path
        || image_path
            .strip_prefix(key_path)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn host_matches(pattern: &str, host: &str) -> bool {
    let (pattern, pattern_port) = split_port(pattern);
    let (host, host_port) = split_port(host);
    if pattern_port != host_port {
        return false;
    }
    let pattern = pattern.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    if DOCKER_HUB_ALIASES.contains(&pattern.as_str()) && DOCKER_HUB_ALIASES.contains(&host.as_str())
    {
        return true;
    }
    let pattern_labels: Vec<&str> = pattern.split('.').collect();
    let host_labels: Vec<&str> = host.split('.').collect();
    pattern_labels.len() == host_labels.len()
        && pattern_labels
            .iter()
            .zip(&host_labels)
            .all(|(p, h)| glob_matches(p, h))
}

fn split_port(host: &str) -> (&str, Option<&str>) {
    match host.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (h, Some(port))
        }
        _ => (host, None),
    }
}

/// `*` matches any run of characters within one host label (kubelet's `filepath.Match` use).
fn glob_matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            let Some(text) = text.strip_prefix(prefix) else {
                return false;
            };
            (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .any(|i| glob_matches(rest, &text[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn basic(u: &str, p: &str) -> Credentials {
        Credentials::Basic {
            username: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn reads_auth_and_username_password_entries() {
        let config = format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{}"}},
                "ghcr.io": {{"username": "bot", "password": "pat"}},
                "127.0.0.1:5000": {{"registrytoken": "tok"}}
            }}}}"#,
            b64("hub:pass:with:colons")
        );
        let c = config.as_bytes();
        assert_eq!(
            from_docker_config(c, "docker.io/library/nginx").unwrap(),
            Some(basic("hub", "pass:with:colons"))
        );
        assert_eq!(
            from_docker_config(c, "ghcr.io/org/app").unwrap(),
            Some(basic("bot", "pat"))
        );
        assert_eq!(
            from_docker_config(c, "127.0.0.1:5000/charts/podinfo").unwrap(),
            Some(Credentials::Bearer("tok".into()))
        );
        assert_eq!(from_docker_config(c, "quay.io/org/app").unwrap(), None);
        assert_eq!(from_docker_config(c, "127.0.0.1:5001/x").unwrap(), None);
    }

    #[test]
    fn legacy_dockercfg_without_auths_wrapper() {
        let config = format!(r#"{{"reg.example.com": {{"auth": "{}"}}}}"#, b64("u:p"));
        assert_eq!(
            from_docker_config(config.as_bytes(), "reg.example.com/a").unwrap(),
            Some(basic("u", "p"))
        );
    }

    #[test]
    fn bad_entries_are_reported_not_ignored() {
        for (config, needle) in [
            ("not json", "not valid JSON"),
            (r#"{"auths": {"r.io": {"auth": "%%%"}}}"#, "not base64"),
            (
                &format!(
                    r#"{{"auths": {{"r.io": {{"auth": "{}"}}}}}}"#,
                    b64("nocolon")
                ),
                "username:password",
            ),
            (r#"{"auths": {"r.io": {}}}"#, "neither"),
            (
                r#"{"auths": {"r.io": {"identitytoken": "x"}}}"#,
                "identitytoken",
            ),
            (r#"{"auths": ["r.io"]}"#, "invalid type"),
        ] {
            let err = from_docker_config(config.as_bytes(), "r.io/x")
                .expect_err(config)
                .to_string();
            assert!(err.contains(needle), "{config}: {err}");
        }
    }

    #[test]
    fn host_matching_follows_the_kubelet() {
        for (key, image, expected) in [
            ("registry.io", "registry.io/a/b", true),
            ("https://registry.io/", "registry.io/a/b", true),
            ("http://registry.io", "registry.io/a", true),
            ("REGISTRY.io", "registry.io/a", true),
            ("registry.io:5000", "registry.io/a", false),
            ("registry.io", "registry.io:5000/a", false),
            ("registry.io:5000", "registry.io:5000/a", true),
            ("*.registry.io", "eu.registry.io/a", true),
            ("*.registry.io", "registry.io/a", false),
            ("*.registry.io", "a.b.registry.io/a", false),
            ("*.*.registry.io", "a.b.registry.io/a", true),
            ("eu-*.registry.io", "eu-west.registry.io/a", true),
            ("eu-*.registry.io", "us-west.registry.io/a", false),
            ("registry.io/team", "registry.io/team/app", true),
            ("registry.io/team", "registry.io/team", true),
            ("registry.io/team", "registry.io/teamster/app", false),
            ("registry.io/team", "registry.io/other/app", false),
            (
                "https://index.docker.io/v1/",
                "docker.io/library/nginx",
                true,
            ),
            ("docker.io", "registry-1.docker.io/library/nginx", true),
        ] {
            assert_eq!(key_matches(key, image), expected, "{key} vs {image}");
        }
    }

    #[test]
    fn the_most_specific_key_wins() {
        let config = format!(
            r#"{{"auths": {{"r.io": {{"auth": "{}"}}, "r.io/team": {{"auth": "{}"}}, "*.io": {{"auth": "{}"}}}}}}"#,
            b64("any:1"),
            b64("team:2"),
            b64("glob:3")
        );
        assert_eq!(
            from_docker_config(config.as_bytes(), "r.io/team/app").unwrap(),
            Some(basic("team", "2"))
        );
        assert_eq!(
            from_docker_config(config.as_bytes(), "r.io/other").unwrap(),
            Some(basic("any", "1"))
        );
    }

    #[test]
    fn the_first_secret_with_a_match_wins() {
        let a = format!(r#"{{"auths": {{"a.io": {{"auth": "{}"}}}}}}"#, b64("a:1"));
        let b = format!(r#"{{"auths": {{"b.io": {{"auth": "{}"}}}}}}"#, b64("b:2"));
        let b2 = format!(r#"{{"auths": {{"b.io": {{"auth": "{}"}}}}}}"#, b64("b:3"));
        let configs = [a.as_bytes(), b.as_bytes(), b2.as_bytes()];
        assert_eq!(
            from_docker_configs(configs, "b.io/x").unwrap(),
            basic("b", "2")
        );
        assert_eq!(
            from_docker_configs(configs, "c.io/x").unwrap(),
            Credentials::Anonymous
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let shown = format!(
            "{:?} {:?}",
            basic("user", "hunter2"),
            Credentials::Bearer("tok-123".into())
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-123"),
            "{shown}"
        );
    }
}
