//! Is the stored artifact still what the spec and the registry ask for? `None` is the no-op
//! path: the digest was asked with HEAD and nothing more is downloaded.

use driftless_api::common::Artifact;
use driftless_api::source::ocirepository::OCIRepository;

use crate::reconcile::outdated::Outdated;

/// Compare the intact `current` artifact and the observed fields with `revision`
/// (`<tag>@sha256:<hex>` or `sha256:<hex>`, as the registry answers now) and the spec.
pub(super) fn check(
    obj: &OCIRepository,
    current: Option<&Artifact>,
    revision: &str,
) -> Option<Outdated> {
    let Some(current) = current else {
        return Some(Outdated::NoArtifact);
    };
    if current.revision != revision {
        return Some(Outdated::NewRevision(revision.to_owned()));
    }
    let status = obj.status.clone().unwrap_or_default();
    let same_config = status.observed_ignore == obj.spec.ignore
        && status.observed_layer_selector == obj.spec.layer_selector;
    (!same_config).then_some(Outdated::ConfigChange)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REV: &str = "v1@sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn repo(status: serde_json::Value, spec: serde_json::Value) -> OCIRepository {
        let mut full = serde_json::json!({"url": "oci://r.io/app", "interval": "1m"});
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            full.extend(extra.clone());
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "app", "namespace": "ns"},
            "spec": full, "status": status,
        }))
        .expect("repo")
    }

    fn artifact(revision: &str) -> Artifact {
        serde_json::from_value(serde_json::json!({
            "path": "p", "url": "u", "revision": revision, "digest": "sha256:a",
            "lastUpdateTime": "2026-01-01T00:00:00Z",
        }))
        .expect("artifact")
    }

    #[test]
    fn same_digest_and_config_is_the_no_op_else_why() {
        let selector = serde_json::json!({"mediaType": "m", "operation": "copy"});
        let observed = repo(
            serde_json::json!({"observedIgnore": "*.md", "observedLayerSelector": selector}),
            serde_json::json!({"ignore": "*.md", "layerSelector": selector}),
        );
        let current = artifact(REV);
        assert_eq!(check(&observed, Some(&current), REV), None);
        assert_eq!(check(&observed, None, REV), Some(Outdated::NoArtifact));
        let other = "v2@sha256:2222222222222222222222222222222222222222222222222222222222222222";
        assert_eq!(
            check(&observed, Some(&current), other),
            Some(Outdated::NewRevision(other.to_owned()))
        );
        for spec in [
            serde_json::json!({"ignore": "*.txt", "layerSelector": selector}),
            serde_json::json!({"ignore": "*.md"}),
            serde_json::json!({"ignore": "*.md", "layerSelector": {"mediaType": "m"}}),
        ] {
            let changed = repo(
                serde_json::json!({"observedIgnore": "*.md", "observedLayerSelector": selector}),
                spec.clone(),
            );
            assert_eq!(
                check(&changed, Some(&current), REV),
                Some(Outdated::ConfigChange),
                "{spec}"
            );
        }
    }
}
