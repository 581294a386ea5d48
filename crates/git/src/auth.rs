//! Credentials and proxy settings read from a Secret's data, validated against the URL's
//! transport before anything goes on the wire.

use std::collections::BTreeMap;

use super::GitError;
use super::known_hosts::KnownHosts;

/// Authentication material for one remote, from `spec.secretRef`.
#[derive(Clone, Default)]
pub struct Credentials {
    /// `username` + `password` (HTTP basic auth).
    pub basic: Option<(String, String)>,
    /// `bearerToken` (HTTP `Authorization: Bearer`).
    pub bearer_token: Option<String>,
    /// `identity` (an OpenSSH or PEM private key) and its optional `password`.
    pub ssh_identity: Option<(String, Option<String>)>,
    /// `known_hosts` (required for SSH: host keys are always checked).
    pub known_hosts: Option<KnownHosts>,
    /// `ca.crt`: PEM certificates trusted for HTTPS in addition to none else.
    pub ca_pem: Option<String>,
    /// `tls.crt` + `tls.key`: a TLS client certificate.
    pub client_cert: Option<(String, String)>,
}

/// Proxy settings from `spec.proxySecretRef`: `address`, `username`, `password`.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// `http://host:port`.
    pub address: String,
    /// Optional proxy credentials.
    pub username: Option<String>,
    /// See `username`.
    pub password: Option<String>,
}

fn text(data: &BTreeMap<String, Vec<u8>>, key: &str) -> Result<Option<String>, GitError> {
    match data.get(key) {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes.clone())
            .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_owned()))
            .map_err(|_| GitError::InvalidSecret(format!("field {key:?} is not UTF-8 text"))),
    }
}

impl Credentials {
    /// Read and check a Secret's data for `url`. An SSH URL needs `identity` and `known_hosts`;
    /// `username` needs `password`; `tls.crt` needs `tls.key`.
    pub fn from_secret(url: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<Self, GitError> {
        let username = text(data, "username")?;
        let password = text(data, "password")?;
        let is_ssh = url.starts_with("ssh://");
        let basic = match (username, password.clone()) {
            (Some(u), Some(p)) if !is_ssh => Some((u, p)),
            (Some(_), None) if !is_ssh => {
                return Err(GitError::InvalidSecret(
                    "\"username\" is set but \"password\" is missing".into(),
                ));
            }
            (None, Some(_)) if !is_ssh => {
                return Err(GitError::InvalidSecret(
                    "\"password\" is set but \"username\" is missing".into(),
                ));
            }
            _ => None,
        };
        let known_hosts = text(data, "known_hosts")?
            .map(|k| KnownHosts::parse(&k))
            .transpose()?;
        let ssh_identity = text(data, "identity")?.map(|key| (key, password.clone()));
        if is_ssh {
            if ssh_identity.is_none() {
                return Err(GitError::InvalidSecret(
                    "an ssh:// URL needs the private key in \"identity\"".into(),
                ));
            }
            if known_hosts.is_none() {
                return Err(GitError::InvalidSecret(
                    "an ssh:// URL needs the server's host keys in \"known_hosts\"".into(),
                ));
            }
        }
        let client_cert = match (text(data, "tls.crt")?, text(data, "tls.key")?) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(GitError::InvalidSecret(
                    "\"tls.crt\" and \"tls.key\" must be set together".into(),
                ));
            }
        };
        Ok(Self {
            basic,
            bearer_token: text(data, "bearerToken")?,
            ssh_identity,
            known_hosts,
            ca_pem: text(data, "ca.crt")?,
            client_cert,
        })
    }

    /// A name for the configured method, for logs (never the secret itself).
    pub fn kind(&self) -> &'static str {
        match self {
            Self {
                ssh_identity: Some(_),
                ..
            } => "ssh-key",
            Self {
                bearer_token: Some(_),
                ..
            } => "bearer-token",
            Self { basic: Some(_), .. } => "basic",
            _ => "none",
        }
    }
}

impl ProxyConfig {
    /// Read a proxy Secret's data: `address` is required.
    pub fn from_secret(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, GitError> {
        let address = text(data, "address")?.ok_or_else(|| {
            GitError::InvalidSecret("the proxy Secret has no \"address\" field".into())
        })?;
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err(GitError::InvalidSecret(format!(
                "proxy address {address:?} must start with http:// or https://"
            )));
        }
        Ok(Self {
            address,
            username: text(data, "username")?,
            password: text(data, "password")?,
        })
    }

    /// The proxy URL libgit2 takes, with the credentials in its userinfo part.
    pub fn url(&self) -> String {
        match (&self.username, &self.password) {
            (Some(user), password) => {
                let (scheme, rest) = self
                    .address
                    .split_once("://")
                    .unwrap_or(("http", self.address.as_str()));
                let password = password.as_deref().unwrap_or_default();
                format!(
                    "{scheme}://{}:{}@{rest}",
                    percent_encode(user),
                    percent_encode(password)
                )
            }
            (None, _) => self.address.clone(),
        }
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters (for URL userinfo).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn basic_auth_needs_both_fields() {
        let url = "https://example.com/repo.git";
        let ok = Credentials::from_secret(url, &data(&[("username", "u"), ("password", "p")]))
            .expect("valid");
        assert_eq!(ok.basic, Some(("u".into(), "p".into())));
        let err = Credentials::from_secret(url, &data(&[("username", "u")]))
            .err()
            .expect("missing password");
        assert!(err.to_string().contains("\"password\" is missing"), "{err}");
        assert!(Credentials::from_secret(url, &data(&[("password", "p")])).is_err());
    }

    #[test]
    fn ssh_needs_identity_and_known_hosts() {
        let url = "ssh://git@example.com/repo.git";
        let known = "example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
        let err = Credentials::from_secret(url, &data(&[("known_hosts", known)]))
            .err()
            .expect("no identity");
        assert!(err.to_string().contains("identity"), "{err}");
        let err = Credentials::from_secret(url, &data(&[("identity", "KEY")]))
            .err()
            .expect("no known_hosts");
        assert!(err.to_string().contains("known_hosts"), "{err}");
    }

    #[test]
    fn client_cert_needs_key() {
        let err = Credentials::from_secret("https://h/r", &data(&[("tls.crt", "C")]))
            .err()
            .expect("incomplete");
        assert!(err.to_string().contains("tls.key"), "{err}");
    }

    #[test]
    fn non_utf8_field_is_an_error_not_a_panic() {
        let mut d = BTreeMap::new();
        d.insert("username".to_owned(), vec![0xff, 0xfe]);
        assert!(Credentials::from_secret("https://h/r", &d).is_err());
    }

    #[test]
    fn proxy_url_carries_encoded_credentials() {
        let p = ProxyConfig::from_secret(&data(&[
            ("address", "http://proxy:3128"),
            ("username", "me"),
            ("password", "p@ss:word"),
        ]))
        .expect("valid");
        assert_eq!(p.url(), "http://me:p%40ss%3Aword@proxy:3128");
        assert!(ProxyConfig::from_secret(&data(&[])).is_err());
        assert!(ProxyConfig::from_secret(&data(&[("address", "proxy:3128")])).is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let creds = Credentials::from_secret(
            "https://h/r",
            &data(&[("username", "u"), ("password", "hunter2")]),
        )
        .expect("valid");
        assert_eq!(creds.kind(), "basic");
    }
}
