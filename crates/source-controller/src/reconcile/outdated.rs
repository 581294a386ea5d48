//! Is the stored artifact still what the spec and the remote ask for? A pure comparison of the
//! current artifact and the observed fields in status with the remote revision, the included
//! artifacts and the spec: `None` is the no-op path (nothing fetched, nothing written but
//! status), `Some` says why a new artifact is built, in the words of Flux's conditions.

use driftless_api::common::Artifact;
use driftless_api::source::gitrepository::GitRepository;

use super::source::verify_mode;

/// Why the artifact must be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outdated {
    /// No artifact yet (or it disappeared from storage).
    NoArtifact,
    /// The remote ref points at another commit (the new revision).
    NewRevision(String),
    /// The revision cannot be known without fetching (a short commit SHA).
    UnknownRevision,
    /// An included repository has a new artifact, or one was added or removed.
    IncludeChange,
    /// A field that shapes the artifact changed (ignore, include, submodules, sparse checkout,
    /// verification mode).
    ConfigChange,
    /// The verification keys are not those that verified the artifact (a rotation): the same
    /// revision is fetched and verified again.
    VerificationChange,
}

impl Outdated {
    /// The `ArtifactOutdated=True` reason and message, when Flux sets it: only when an
    /// artifact exists and the remote or an include moved on.
    pub fn artifact_outdated(&self) -> Option<(&'static str, String)> {
        match self {
            Self::NewRevision(revision) => {
                Some((NEW_REVISION, format!("new upstream revision '{revision}'")))
            }
            Self::IncludeChange => Some((INCLUDE_CHANGE, INCLUDES_DIFFER.to_owned())),
            Self::NoArtifact
            | Self::UnknownRevision
            | Self::ConfigChange
            | Self::VerificationChange => None,
        }
    }

    /// The `Reconciling` / `Ready=Unknown` message while the artifact is built.
    pub fn progress_message(&self) -> String {
        let what = match self {
            Self::NoArtifact => return "building artifact".to_owned(),
            Self::NewRevision(revision) => format!("new upstream revision '{revision}'"),
            Self::UnknownRevision => "fetching to find the revision".to_owned(),
            Self::IncludeChange => INCLUDES_DIFFER.to_owned(),
            Self::ConfigChange => "the artifact configuration changed".to_owned(),
            Self::VerificationChange => "the verification keys changed".to_owned(),
        };
        format!("building artifact: {what}")
    }
}

/// Flux's `ArtifactOutdated` reason for a new remote revision.
pub const NEW_REVISION: &str = "NewRevision";
/// Flux's `ArtifactOutdated` reason for changed includes.
pub const INCLUDE_CHANGE: &str = "IncludeChange";
const INCLUDES_DIFFER: &str = "included artifacts differ from last observed includes";

/// Compare. `current` is the intact artifact in storage, `revision` what the remote ref
/// resolves to (None when only a fetch can tell), `included` the included repositories'
/// artifacts now, in `spec.include` order, `fingerprint` that of the verification keys now.
pub fn check(
    obj: &GitRepository,
    current: Option<&Artifact>,
    revision: Option<&str>,
    included: &[Artifact],
    fingerprint: Option<&str>,
) -> Option<Outdated> {
    let Some(current) = current else {
        return Some(Outdated::NoArtifact);
    };
    let Some(revision) = revision else {
        return Some(Outdated::UnknownRevision);
    };
    if current.revision != revision {
        return Some(Outdated::NewRevision(revision.to_owned()));
    }
    let status = obj.status.clone().unwrap_or_default();
    let observed = status.included_artifacts.unwrap_or_default();
    // By revision and digest: an included repository whose ignore rules changed has a new
    // digest at the same revision, and its files changed.
    let same_includes = observed.len() == included.len()
        && observed
            .iter()
            .zip(included)
            .all(|(a, b)| a.revision == b.revision && a.digest == b.digest);
    if !same_includes {
        return Some(Outdated::IncludeChange);
    }
    let spec = &obj.spec;
    let verified_by = status.source_verification_fingerprint.clone();
    let same_config = status.observed_ignore == spec.ignore
        && status.observed_recurse_submodules.unwrap_or(false)
            == spec.recurse_submodules.unwrap_or(false)
        && status.observed_sparse_checkout.unwrap_or_default()
            == spec.sparse_checkout.clone().unwrap_or_default()
        && status.observed_include.unwrap_or_default() == spec.include.clone().unwrap_or_default()
        && status.source_verification_mode.as_deref() == verify_mode(obj).map(|(_, m)| m);
    if !same_config {
        return Some(Outdated::ConfigChange);
    }
    (verified_by.as_deref() != fingerprint).then_some(Outdated::VerificationChange)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(revision: &str, digest: &str) -> Artifact {
        serde_json::from_value(serde_json::json!({
            "path": "p", "url": "u", "revision": revision, "digest": digest,
            "lastUpdateTime": "2026-01-01T00:00:00Z",
        }))
        .expect("artifact")
    }

    fn repo(status: serde_json::Value, spec: serde_json::Value) -> GitRepository {
        let mut full = serde_json::json!({"url": "https://h/r", "interval": "1m"});
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            full.extend(extra.clone());
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "app", "namespace": "ns"},
            "spec": full, "status": status,
        }))
        .expect("repo")
    }

    const REV: &str = "main@sha1:1111111111111111111111111111111111111111";
    const NEW: &str = "main@sha1:2222222222222222222222222222222222222222";

    #[test]
    fn same_revision_and_config_is_the_no_op() {
        let current = artifact(REV, "sha256:a");
        let obj = repo(serde_json::json!({}), serde_json::json!({}));
        assert_eq!(check(&obj, Some(&current), Some(REV), &[], None), None);
    }

    #[test]
    fn missing_artifact_unknown_and_new_revisions() {
        let current = artifact(REV, "sha256:a");
        let obj = repo(serde_json::json!({}), serde_json::json!({}));
        assert_eq!(
            check(&obj, None, Some(REV), &[], None),
            Some(Outdated::NoArtifact)
        );
        assert_eq!(
            check(&obj, Some(&current), None, &[], None),
            Some(Outdated::UnknownRevision)
        );
        let outdated = check(&obj, Some(&current), Some(NEW), &[], None).expect("outdated");
        assert_eq!(outdated, Outdated::NewRevision(NEW.to_owned()));
        assert_eq!(
            outdated.artifact_outdated(),
            Some((NEW_REVISION, format!("new upstream revision '{NEW}'")))
        );
        assert_eq!(
            outdated.progress_message(),
            format!("building artifact: new upstream revision '{NEW}'")
        );
        assert_eq!(Outdated::NoArtifact.artifact_outdated(), None);
    }

    #[test]
    fn includes_compare_by_revision_and_digest() {
        let current = artifact(REV, "sha256:a");
        let lib = artifact(REV, "sha256:lib");
        let include = serde_json::json!({"include": [{"repository": {"name": "lib"}}]});
        let obj = repo(
            serde_json::json!({
                "includedArtifacts": [lib.clone()],
                "observedInclude": [{"repository": {"name": "lib"}}],
            }),
            include.clone(),
        );
        assert_eq!(
            check(
                &obj,
                Some(&current),
                Some(REV),
                std::slice::from_ref(&lib),
                None
            ),
            None
        );
        let moved = artifact(NEW, "sha256:lib2");
        assert_eq!(
            check(&obj, Some(&current), Some(REV), &[moved], None),
            Some(Outdated::IncludeChange)
        );
        let refiltered = artifact(REV, "sha256:other");
        assert_eq!(
            check(&obj, Some(&current), Some(REV), &[refiltered], None),
            Some(Outdated::IncludeChange)
        );
        assert_eq!(
            check(&obj, Some(&current), Some(REV), &[], None),
            Some(Outdated::IncludeChange)
        );
        let never_observed = repo(serde_json::json!({}), include);
        assert_eq!(
            check(&never_observed, Some(&current), Some(REV), &[lib], None),
            Some(Outdated::IncludeChange)
        );
    }

    #[test]
    fn changed_shaping_fields_rebuild() {
        let current = artifact(REV, "sha256:a");
        for (status, spec) in [
            (
                serde_json::json!({"observedIgnore": "*.png"}),
                serde_json::json!({"ignore": "*.jpg"}),
            ),
            (
                serde_json::json!({}),
                serde_json::json!({"recurseSubmodules": true}),
            ),
            (
                serde_json::json!({"observedSparseCheckout": ["a"]}),
                serde_json::json!({"sparseCheckout": ["b"]}),
            ),
            (
                serde_json::json!({"sourceVerificationFingerprint": "sha256:k"}),
                serde_json::json!({"verify": {"mode": "HEAD", "secretRef": {"name": "k"}}}),
            ),
            (
                serde_json::json!({"observedInclude": [{"repository": {"name": "lib"}, "toPath": "a"}]}),
                serde_json::json!({"include": [{"repository": {"name": "lib"}, "toPath": "b"}]}),
            ),
        ] {
            let obj = repo(status.clone(), spec.clone());
            let lib = artifact(REV, "sha256:lib");
            let included = if obj.spec.include.is_some() {
                vec![lib.clone()]
            } else {
                vec![]
            };
            let obj = if obj.spec.include.is_some() {
                let mut s = status.clone();
                s["includedArtifacts"] = serde_json::json!([lib]);
                repo(s, spec.clone())
            } else {
                obj
            };
            let fingerprint = obj.spec.verify.as_ref().map(|_| "sha256:k");
            assert_eq!(
                check(&obj, Some(&current), Some(REV), &included, fingerprint),
                Some(Outdated::ConfigChange),
                "{status} vs {spec}"
            );
        }
    }
}

#[cfg(test)]
mod verification_tests {
    use super::*;

    fn verified_repo(status: serde_json::Value) -> GitRepository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "app", "namespace": "ns"},
            "spec": {"url": "https://h/r", "interval": "1m",
                     "verify": {"mode": "HEAD", "secretRef": {"name": "keys"}}},
            "status": status,
        }))
        .expect("repo")
    }

    const REV: &str = "main@sha1:1111111111111111111111111111111111111111";

    fn current() -> Artifact {
        serde_json::from_value(serde_json::json!({
            "path": "p", "url": "u", "revision": REV, "digest": "sha256:a",
            "lastUpdateTime": "2026-01-01T00:00:00Z",
        }))
        .expect("artifact")
    }

    #[test]
    fn the_keys_that_verified_the_artifact_are_the_no_op() {
        let obj = verified_repo(serde_json::json!({
            "sourceVerificationMode": "HEAD", "sourceVerificationFingerprint": "sha256:old",
        }));
        assert_eq!(
            check(&obj, Some(&current()), Some(REV), &[], Some("sha256:old")),
            None
        );
    }

    #[test]
    fn rotated_keys_verify_the_same_revision_again() {
        let obj = verified_repo(serde_json::json!({
            "sourceVerificationMode": "HEAD", "sourceVerificationFingerprint": "sha256:old",
        }));
        let why = check(&obj, Some(&current()), Some(REV), &[], Some("sha256:new"));
        assert_eq!(why, Some(Outdated::VerificationChange));
        let why = why.expect("outdated");
        assert_eq!(why.artifact_outdated(), None);
        assert_eq!(
            why.progress_message(),
            "building artifact: the verification keys changed"
        );
        // An artifact verified before fingerprints were recorded is verified once more.
        let unrecorded = verified_repo(serde_json::json!({"sourceVerificationMode": "HEAD"}));
        assert_eq!(
            check(
                &unrecorded,
                Some(&current()),
                Some(REV),
                &[],
                Some("sha256:new")
            ),
            Some(Outdated::VerificationChange)
        );
    }
}
