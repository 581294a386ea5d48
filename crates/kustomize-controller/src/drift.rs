//! What drift correction leaves alone: the `spec.ignore` rules (JSON pointers, optionally only
//! for the objects a target selector picks), resolved per object for the apply engine.

use crate::{StepError, build::from_json};
use driftless_api::{common::IgnoreRule, kustomize::Kustomization};
use driftless_core::{apply::ObjectRef, conditions::reasons};
use driftless_kustomize::Selector;
use kube::api::DynamicObject;
use std::collections::BTreeMap;

/// The ignored JSON pointers of each object of the set, by object id; objects no rule selects
/// are absent. A rule whose selector does not parse stalls the Kustomization: retrying the
/// same spec cannot help.
pub fn ignore_paths(
    k: &Kustomization,
    objects: &[DynamicObject],
) -> Result<BTreeMap<String, Vec<String>>, StepError> {
    let rules = k.spec.ignore.as_deref().unwrap_or_default();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if rules.is_empty() {
        return Ok(out);
    }
    let selectors = rules
        .iter()
        .enumerate()
        .map(|(i, r)| selector(i, r))
        .collect::<Result<Vec<_>, _>>()?;
    for obj in objects {
        // Objects without a kind or name fail in the apply engine with a better message.
        let Ok(id) = ObjectRef::of(obj).map(|r| r.id()) else {
            continue;
        };
        let value = from_json(&serde_json::to_value(obj).unwrap_or_default());
        for (rule, sel) in rules.iter().zip(&selectors) {
            if sel.as_ref().is_none_or(|s| s.matches_object(&value)) {
                out.entry(id.clone())
                    .or_default()
                    .extend(rule.paths.iter().cloned());
            }
        }
    }
    Ok(out)
}

/// The target selector of rule `i` (`None`: every object).
fn selector(i: usize, rule: &IgnoreRule) -> Result<Option<Selector>, StepError> {
    let stalled = |m: String| StepError::new(reasons::RECONCILIATION_FAILED, m).stalled();
    if let Some(bad) = rule.paths.iter().find(|p| !p.starts_with('/')) {
        return Err(stalled(format!(
            "spec.ignore[{i}].paths: {bad:?} is not a JSON pointer (it must start with '/')"
        )));
    }
    let Some(target) = &rule.target else {
        return Ok(None);
    };
    let value = from_json(&serde_json::to_value(target).unwrap_or_default());
    Selector::from_value(&format!("spec.ignore[{i}].target"), &value)
        .map(Some)
        .map_err(|e| stalled(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kustomization(ignore: serde_json::Value) -> Kustomization {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "k", "namespace": "ns"},
            "spec": {"interval": "1m", "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "s"}, "ignore": ignore},
        }))
        .expect("valid Kustomization")
    }

    fn object(kind: &str, name: &str, labels: serde_json::Value) -> DynamicObject {
        let api_version = if kind == "Deployment" {
            "apps/v1"
        } else {
            "v1"
        };
        serde_json::from_value(serde_json::json!({"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": "ns", "labels": labels}}))
        .expect("valid object")
    }

    #[test]
    fn rules_apply_to_every_object_or_to_the_selected_ones() {
        let k = kustomization(serde_json::json!([
            {"paths": ["/data/all"]},
            {"paths": ["/spec/replicas"], "target": {"kind": "Deployment", "name": "web-.*"}},
            {"paths": ["/data/labelled"], "target": {"labelSelector": "tier=front"}},
        ]));
        let objects = [
            object("Deployment", "web-1", serde_json::json!({})),
            object("Deployment", "api", serde_json::json!({})),
            object("ConfigMap", "c", serde_json::json!({"tier": "front"})),
        ];
        let paths = ignore_paths(&k, &objects).expect("valid rules");
        assert_eq!(
            paths.get("ns_web-1_apps_Deployment").map(Vec::as_slice),
            Some(&["/data/all".to_owned(), "/spec/replicas".to_owned()][..])
        );
        assert_eq!(
            paths.get("ns_api_apps_Deployment").map(Vec::as_slice),
            Some(&["/data/all".to_owned()][..])
        );
        assert_eq!(
            paths.get("ns_c__ConfigMap").map(Vec::as_slice),
            Some(&["/data/all".to_owned(), "/data/labelled".to_owned()][..])
        );
    }

    #[test]
    fn no_rules_no_paths_and_bad_rules_stall() {
        let objects = [object("ConfigMap", "c", serde_json::json!({}))];
        assert!(
            ignore_paths(&kustomization(serde_json::json!([])), &objects)
                .expect("no rules")
                .is_empty()
        );
        let not_pointer = ignore_paths(
            &kustomization(serde_json::json!([{"paths": ["data.x"]}])),
            &objects,
        )
        .expect_err("not a pointer");
        assert!(not_pointer.stalled && not_pointer.message.contains("data.x"));
        let bad_regex = ignore_paths(
            &kustomization(serde_json::json!([{"paths": ["/x"], "target": {"name": "("}}])),
            &objects,
        )
        .expect_err("bad regex");
        assert!(bad_regex.stalled, "{bad_regex}");
    }
}
