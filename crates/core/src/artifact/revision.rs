//! Flux revision strings: `main@sha1:<hex>`, `v1.2.3@sha1:<hex>`, `latest@sha256:<hex>` or a
//! bare `sha1:<hex>`, as written in `status.artifact.revision` and shown by Flux tooling.

use std::fmt;
use std::str::FromStr;

/// Why a revision string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid revision {input:?}: {reason}")]
pub struct RevisionError {
    /// The text that was parsed.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A revision: an optional named reference (branch, tag, OCI tag) and a content checksum.
///
/// Flux's format is `<reference>@<algorithm>:<hex>`, or `<algorithm>:<hex>` when there is no
/// name (a pinned commit, a bucket). The split is at the last `@`, so a reference may itself
/// contain `@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Revision {
    reference: Option<String>,
    algorithm: String,
    hex: String,
}

impl Revision {
    /// A revision from its parts, e.g. `("main", "sha1", "<commit>")`. The hex is lowercased.
    pub fn new(
        reference: Option<&str>,
        algorithm: &str,
        hex: &str,
    ) -> Result<Revision, RevisionError> {
        let text = match reference {
            Some(r) => format!("{r}@{algorithm}:{hex}"),
            None => format!("{algorithm}:{hex}"),
        };
        Revision::parse(&text)
    }

    /// Parses `<reference>@<algorithm>:<hex>` or `<algorithm>:<hex>`.
    pub fn parse(input: &str) -> Result<Revision, RevisionError> {
        let bad = |reason| RevisionError {
            input: input.to_string(),
            reason,
        };
        let (reference, checksum) = match input.rsplit_once('@') {
            Some((r, c)) => {
                if r.is_empty() {
                    return Err(bad("empty reference before \"@\""));
                }
                (Some(r), c)
            }
            None => (None, input),
        };
        let (algorithm, hex) = checksum
            .split_once(':')
            .ok_or_else(|| bad("expected \"<algorithm>:<hex>\" after the reference"))?;
        if algorithm.is_empty()
            || !algorithm
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(bad(
                "the algorithm must be lowercase letters and digits, e.g. sha1",
            ));
        }
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the checksum must be hex digits"));
        }
        Ok(Revision {
            reference: reference.map(str::to_string),
            algorithm: algorithm.to_string(),
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// The branch, tag or other name, if the revision has one (`main`, `v1.2.3`,
    /// `refs/heads/main`).
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }

    /// The checksum algorithm, e.g. `sha1` for a Git commit.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The checksum in lowercase hex, e.g. the commit id.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The checksum part as written: `<algorithm>:<hex>`.
    pub fn checksum(&self) -> String {
        format!("{}:{}", self.algorithm, self.hex)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.reference {
            write!(f, "{r}@")?;
        }
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl FromStr for Revision {
    type Err = RevisionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Revision::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738";

    #[test]
    fn parses_the_flux_forms() {
        let r = Revision::parse(&format!("main@sha1:{SHA}")).unwrap();
        assert_eq!(
            (r.reference(), r.algorithm(), r.hex()),
            (Some("main"), "sha1", SHA)
        );
        let r = Revision::parse(&format!("v1.2.3@sha1:{SHA}")).unwrap();
        assert_eq!(r.reference(), Some("v1.2.3"));
        let r = Revision::parse(&format!("sha1:{SHA}")).unwrap();
        assert_eq!((r.reference(), r.checksum()), (None, format!("sha1:{SHA}")));
        let r = Revision::parse(&format!("refs/heads/feat@x@sha256:{SHA}")).unwrap();
        assert_eq!(r.reference(), Some("refs/heads/feat@x"));
        assert_eq!(r.algorithm(), "sha256");
    }

    #[test]
    fn display_round_trips() {
        for text in [format!("main@sha1:{SHA}"), format!("sha1:{SHA}")] {
            assert_eq!(Revision::parse(&text).unwrap().to_string(), text);
        }
        let r = Revision::new(Some("main"), "sha1", &SHA.to_uppercase()).unwrap();
        assert_eq!(r.to_string(), format!("main@sha1:{SHA}"));
    }

    #[test]
    fn rejects_malformed_revisions_naming_them() {
        for bad in [
            "",
            "main",
            "main@",
            "@sha1:abc",
            "main@sha1:",
            "main@SHA1:abc",
            "sha1:xyz",
        ] {
            let err = Revision::parse(bad).unwrap_err();
            assert_eq!(err.input, bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }
}
