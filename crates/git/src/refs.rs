//! Which commit a GitRepository's `spec.ref` names, with Flux's precedence and revision strings.

use driftless_core::artifact::Revision;

use super::GitError;

/// Flux's default when `spec.ref` names nothing: the `master` branch.
pub const DEFAULT_BRANCH: &str = "master";

/// What to check out. Built by [`GitRef::from_spec`], which applies Flux's precedence:
/// commit > name > semver > tag > branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitRef {
    /// A commit SHA; `branch` (when set) is fetched to find it and names the revision.
    Commit { sha: String, branch: Option<String> },
    /// A full reference name such as `refs/pull/1/head`.
    Name(String),
    /// The highest tag matching a Masterminds constraint.
    Semver(String),
    /// A tag name.
    Tag(String),
    /// A branch name.
    Branch(String),
}

impl GitRef {
    /// Apply Flux's precedence to the fields of `spec.ref` (all optional, empty = unset).
    pub fn from_spec(
        branch: Option<&str>,
        tag: Option<&str>,
        semver: Option<&str>,
        name: Option<&str>,
        commit: Option<&str>,
    ) -> Result<Self, GitError> {
        let set = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        if let Some(sha) = set(commit) {
            if sha.len() < 4 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(GitError::InvalidRef(format!(
                    "commit {sha:?} is not a hexadecimal SHA-1"
                )));
            }
            return Ok(Self::Commit {
                sha: sha.to_ascii_lowercase(),
                branch: set(branch),
            });
        }
        if let Some(name) = set(name) {
            if !name.starts_with("refs/") || !git2::Reference::is_valid_name(&name) {
                return Err(GitError::InvalidRef(format!(
                    "ref name {name:?} is not a valid full reference such as refs/heads/main"
                )));
            }
            return Ok(Self::Name(name));
        }
        if let Some(range) = set(semver) {
            return Ok(Self::Semver(range));
        }
        if let Some(tag) = set(tag) {
            return Ok(Self::Tag(tag));
        }
        Ok(Self::Branch(
            set(branch).unwrap_or_else(|| DEFAULT_BRANCH.to_owned()),
        ))
    }
}

/// Flux's revision of a checkout: `<short ref>@sha1:<hex>` for branches and tags,
/// `<full ref>@sha1:<hex>` for `name`, and `sha1:<hex>` for a bare commit.
pub fn revision(label: Option<&str>, commit: git2::Oid) -> Revision {
    // An Oid always renders as 40 lowercase hex digits, which Revision accepts.
    Revision::new(label, "sha1", &commit.to_string()).unwrap_or_else(|_| unreachable_revision())
}

fn unreachable_revision() -> Revision {
    #[allow(clippy::unwrap_used)] // A constant that parses; exercised by the tests below.
    Revision::parse("sha1:0000000000000000000000000000000000000000").unwrap()
}

/// The tag among `tags` with the highest version satisfying `constraint` (Masterminds dialect),
/// chosen by the one shared implementation of Flux's rule (`driftless_core::semver`): tags that
/// are not complete versions are skipped.
pub fn select_semver_tag<'a>(
    constraint: &str,
    tags: impl IntoIterator<Item = &'a str>,
) -> Result<Option<&'a str>, GitError> {
    let parsed = driftless_core::semver::Constraint::parse(constraint).map_err(|e| {
        GitError::InvalidRef(format!("semver constraint {constraint:?} is invalid: {e}"))
    })?;
    Ok(driftless_core::semver::latest_matching(&parsed, tags).map(|(tag, _)| tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_commit_name_semver_tag_branch() {
        let all = |c| GitRef::from_spec(Some("b"), Some("t"), Some(">=1"), Some("refs/x/y"), c);
        assert_eq!(
            all(Some("abc123")).expect("valid"),
            GitRef::Commit {
                sha: "abc123".into(),
                branch: Some("b".into())
            }
        );
        assert_eq!(all(None).expect("valid"), GitRef::Name("refs/x/y".into()));
        assert_eq!(
            GitRef::from_spec(Some("b"), Some("t"), Some(">=1"), None, None).expect("valid"),
            GitRef::Semver(">=1".into())
        );
        assert_eq!(
            GitRef::from_spec(Some("b"), Some("t"), None, None, None).expect("valid"),
            GitRef::Tag("t".into())
        );
        assert_eq!(
            GitRef::from_spec(Some("b"), None, None, None, None).expect("valid"),
            GitRef::Branch("b".into())
        );
    }

    #[test]
    fn no_ref_means_master_like_flux() {
        assert_eq!(
            GitRef::from_spec(None, Some(""), None, None, None).expect("valid"),
            GitRef::Branch("master".into())
        );
    }

    #[test]
    fn bad_commit_and_name_are_refused() {
        assert!(GitRef::from_spec(None, None, None, None, Some("not-hex!")).is_err());
        assert!(GitRef::from_spec(None, None, None, Some("main"), None).is_err());
        assert!(GitRef::from_spec(None, None, None, Some("refs/heads/a..b"), None).is_err());
    }

    #[test]
    fn revisions_have_flux_format() {
        let oid = git2::Oid::from_str("0123456789abcdef0123456789abcdef01234567").expect("oid");
        let hex = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            revision(Some("main"), oid).to_string(),
            format!("main@sha1:{hex}")
        );
        assert_eq!(
            revision(Some("refs/pull/1/head"), oid).to_string(),
            format!("refs/pull/1/head@sha1:{hex}")
        );
        assert_eq!(revision(None, oid).to_string(), format!("sha1:{hex}"));
        assert_eq!(unreachable_revision().hex().len(), 40);
    }

    #[test]
    fn semver_picks_highest_match_and_skips_non_versions() {
        let tags = [
            "v1.0.0",
            "v1.2.0",
            "v2.0.0",
            "latest",
            "v1.3.0-rc.1",
            "v1.4",
        ];
        assert_eq!(
            select_semver_tag("~1", tags).expect("valid"),
            Some("v1.2.0")
        );
        assert_eq!(
            select_semver_tag(">=2", tags).expect("valid"),
            Some("v2.0.0")
        );
        assert_eq!(select_semver_tag(">=3", tags).expect("valid"), None);
        assert!(select_semver_tag("not a range", tags).is_err());
    }
}
