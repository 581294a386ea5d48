//! ImagePolicy's result: `status.latestRef` and `status.observedPreviousRef` from the chosen
//! tag, with the digest looked up as `digestReflectionPolicy` says (Flux's semantics):
//! - `Never` (default): no digest;
//! - `IfNotPresent`: looked up when the image or tag changed or no digest is recorded yet,
//!   otherwise the recorded one is kept;
//! - `Always`: looked up at every evaluation (the policy's `interval`), so a moved tag shows.
//!
//! `observedPreviousRef` takes the old `latestRef` only when the result differs, so it always
//! names the image the automation last moved away from.

use driftless_api::image::{ImageRef, ReflectionPolicy};

/// Whether the digest of `name:tag` must be looked up, given the recorded `latest`.
pub fn needs_digest(
    policy: ReflectionPolicy,
    latest: Option<&ImageRef>,
    name: &str,
    tag: &str,
) -> bool {
    match policy {
        ReflectionPolicy::Never => false,
        ReflectionPolicy::Always => true,
        ReflectionPolicy::IfNotPresent => !latest.is_some_and(|l| {
            l.name == name && l.tag == tag && l.digest.as_deref().is_some_and(|d| !d.is_empty())
        }),
    }
}

/// The new (`latestRef`, `observedPreviousRef`) after choosing `name:tag` with `digest` (the
/// looked-up one, or `None` to keep what `IfNotPresent` allows).
pub fn next_refs(
    policy: ReflectionPolicy,
    latest: Option<&ImageRef>,
    previous: Option<&ImageRef>,
    name: &str,
    tag: &str,
    digest: Option<String>,
) -> (ImageRef, Option<ImageRef>) {
    let digest = match policy {
        ReflectionPolicy::Never => None,
        ReflectionPolicy::Always => digest,
        ReflectionPolicy::IfNotPresent => digest.or_else(|| latest.and_then(|l| l.digest.clone())),
    };
    let new = ImageRef {
        name: name.to_string(),
        tag: tag.to_string(),
        digest,
    };
    match latest {
        Some(old) if *old == new => (new, previous.cloned()),
        old => (new, old.cloned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(tag: &str, digest: Option<&str>) -> ImageRef {
        ImageRef {
            name: "reg/app".into(),
            tag: tag.into(),
            digest: digest.map(str::to_string),
        }
    }

    #[test]
    fn digest_lookups_follow_the_reflection_policy() {
        use ReflectionPolicy::*;
        let with = r("1.0", Some("sha256:a"));
        let without = r("1.0", None);
        assert!(!needs_digest(Never, None, "reg/app", "1.0"));
        assert!(needs_digest(Always, Some(&with), "reg/app", "1.0"));
        assert!(needs_digest(IfNotPresent, None, "reg/app", "1.0"));
        assert!(needs_digest(IfNotPresent, Some(&without), "reg/app", "1.0"));
        assert!(needs_digest(IfNotPresent, Some(&with), "reg/app", "1.1"));
        assert!(needs_digest(IfNotPresent, Some(&with), "reg/other", "1.0"));
        assert!(!needs_digest(IfNotPresent, Some(&with), "reg/app", "1.0"));
    }

    #[test]
    fn previous_ref_moves_only_when_the_result_changes() {
        use ReflectionPolicy::*;
        let v1 = r("1.0", None);
        let v0 = r("0.9", None);
        // First result: no previous.
        assert_eq!(
            next_refs(Never, None, None, "reg/app", "1.0", None),
            (v1.clone(), None)
        );
        // Same result again: the previous stays what it was.
        assert_eq!(
            next_refs(Never, Some(&v1), Some(&v0), "reg/app", "1.0", None),
            (v1.clone(), Some(v0.clone()))
        );
        // A new tag: the old latest becomes the previous.
        assert_eq!(
            next_refs(Never, Some(&v1), Some(&v0), "reg/app", "1.1", None),
            (r("1.1", None), Some(v1.clone()))
        );
        // IfNotPresent keeps the recorded digest when no lookup was needed.
        let d1 = r("1.0", Some("sha256:a"));
        assert_eq!(
            next_refs(IfNotPresent, Some(&d1), None, "reg/app", "1.0", None),
            (d1.clone(), None)
        );
        // Always: a moved tag (new digest, same tag) is a new result.
        assert_eq!(
            next_refs(
                Always,
                Some(&d1),
                None,
                "reg/app",
                "1.0",
                Some("sha256:b".into())
            ),
            (r("1.0", Some("sha256:b")), Some(d1.clone()))
        );
        // Never drops a digest recorded under another policy.
        assert_eq!(
            next_refs(Never, Some(&d1), None, "reg/app", "1.0", None).0,
            v1
        );
    }
}
