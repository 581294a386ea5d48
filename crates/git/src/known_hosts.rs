//! `known_hosts` parsing and matching, so an SSH server's host key is checked against the
//! Secret's `known_hosts` and nothing else (no trust on first use).
//!
//! Supports plain host patterns (`host`, `[host]:port`, comma lists, `*`/`?` wildcards,
//! `!negation`) and hashed entries (`|1|salt|hash`, HMAC-SHA1 as written by `ssh-keyscan -H`).
//! `@cert-authority` and `@revoked` markers are not supported and such lines are skipped.

use base64::Engine as _;
use hmac::{Hmac, Mac as _};

use super::GitError;

/// The parsed `known_hosts` of a Secret.
#[derive(Clone, Debug, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
struct Entry {
    hosts: HostPattern,
    /// The key blob in SSH wire format (what libssh2 reports as the raw host key).
    key: Vec<u8>,
}

#[derive(Clone, Debug)]
enum HostPattern {
    Plain(Vec<String>),
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
}

impl KnownHosts {
    /// Parse `known_hosts` text; a malformed line is an error naming its number.
    pub fn parse(text: &str) -> Result<Self, GitError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
                continue;
            }
            let bad =
                |what: &str| GitError::InvalidSecret(format!("known_hosts line {}: {what}", n + 1));
            let mut fields = line.split_whitespace();
            let (Some(hosts), Some(_kind), Some(key)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(bad("expected \"<hosts> <key type> <base64 key>\""));
            };
            let key = b64.decode(key).map_err(|_| bad("the key is not base64"))?;
            let hosts = if let Some(rest) = hosts.strip_prefix("|1|") {
                let (salt, hash) = rest.split_once('|').ok_or_else(|| bad("malformed hash"))?;
                HostPattern::Hashed {
                    salt: b64.decode(salt).map_err(|_| bad("malformed hash salt"))?,
                    hash: b64.decode(hash).map_err(|_| bad("malformed hash"))?,
                }
            } else {
                HostPattern::Plain(hosts.split(',').map(str::to_owned).collect())
            };
            entries.push(Entry { hosts, key });
        }
        if entries.is_empty() {
            return Err(GitError::InvalidSecret(
                "known_hosts holds no host key".to_owned(),
            ));
        }
        Ok(Self { entries })
    }

    /// Whether `key` (SSH wire format) is a known key of `host` on `port`.
    ///
    /// Err explains the refusal: no entry for the host at all ("unknown host"), or entries that
    /// hold other keys ("host key mismatch", a possible man in the middle).
    pub fn check(&self, host: &str, port: u16, key: &[u8]) -> Result<(), String> {
        let name = if port == 22 {
            host.to_owned()
        } else {
            format!("[{host}]:{port}")
        };
        let mut known_host = false;
        for entry in &self.entries {
            if entry.hosts.matches(&name) {
                known_host = true;
                if entry.key == key {
                    return Ok(());
                }
            }
        }
        if known_host {
            Err(format!(
                "the host key of {name} does not match any key in known_hosts"
            ))
        } else {
            Err(format!("{name} is not in known_hosts"))
        }
    }
}

impl HostPattern {
    fn matches(&self, name: &str) -> bool {
        match self {
            Self::Hashed { salt, hash } => {
                let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(salt) else {
                    return false;
                };
                mac.update(name.as_bytes());
                mac.verify_slice(hash).is_ok()
            }
            Self::Plain(patterns) => {
                let mut matched = false;
                for p in patterns {
                    if let Some(negated) = p.strip_prefix('!') {
                        if wildcard(negated, name) {
                            return false;
                        }
                    } else if wildcard(p, name) {
                        matched = true;
                    }
                }
                matched
            }
        }
    }
}

/// OpenSSH pattern matching: `*` any run, `?` one character.
fn wildcard(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIHuJ0Ztn0mW5nHrpR7CZYgrQ6Zi1nvlyiJmxlWqtc6lq";

    fn blob(k: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(k)
            .expect("base64")
    }

    #[test]
    fn plain_host_with_port() {
        let kh =
            KnownHosts::parse(&format!("[127.0.0.1]:2222 ssh-ed25519 {KEY_A}\n")).expect("parses");
        assert!(kh.check("127.0.0.1", 2222, &blob(KEY_A)).is_ok());
        let mismatch = kh
            .check("127.0.0.1", 2222, &blob(KEY_B))
            .expect_err("other key");
        assert!(mismatch.contains("does not match"), "{mismatch}");
        let unknown = kh
            .check("127.0.0.1", 22, &blob(KEY_A))
            .expect_err("other port");
        assert!(unknown.contains("not in known_hosts"), "{unknown}");
    }

    #[test]
    fn lists_wildcards_and_negation() {
        let kh = KnownHosts::parse(&format!(
            "github.com,*.example.org,!bad.example.org ssh-ed25519 {KEY_A}"
        ))
        .expect("parses");
        assert!(kh.check("github.com", 22, &blob(KEY_A)).is_ok());
        assert!(kh.check("git.example.org", 22, &blob(KEY_A)).is_ok());
        assert!(kh.check("bad.example.org", 22, &blob(KEY_A)).is_err());
    }

    #[test]
    fn hashed_entries() {
        // HMAC-SHA1 of "[127.0.0.1]:2222" under the salt below.
        let salt = b"0123456789abcdefghij";
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(salt).expect("key");
        mac.update(b"[127.0.0.1]:2222");
        let hash = mac.finalize().into_bytes();
        let b64 = base64::engine::general_purpose::STANDARD;
        let line = format!(
            "|1|{}|{} ssh-ed25519 {KEY_A}",
            b64.encode(salt),
            b64.encode(hash)
        );
        let kh = KnownHosts::parse(&line).expect("parses");
        assert!(kh.check("127.0.0.1", 2222, &blob(KEY_A)).is_ok());
        assert!(kh.check("127.0.0.2", 2222, &blob(KEY_A)).is_err());
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(KnownHosts::parse("host ssh-ed25519").is_err());
        assert!(KnownHosts::parse("host ssh-ed25519 !!!notbase64").is_err());
        assert!(KnownHosts::parse("# only a comment\n").is_err());
    }
}
