//! Taking over the fields of imperative field managers before applying (Flux's apply
//! "cleanup" of `metadata.managedFields`).
//!
//! Why: server-side apply only removes a field when its applier stops applying it and no one
//! else manages it. A field someone added with `kubectl apply`, `kubectl edit` or `kubectl
//! patch` is managed by `kubectl-*` and would survive forever, so the cluster would keep
//! drifting from Git. Flux moves those managers' fields into its own apply entry first; the
//! next apply then owns them and removes what Git no longer has. Objects annotated
//! `kustomize.toolkit.fluxcd.io/ssa: Merge` opt out (the caller checks): there, other
//! managers' fields are meant to stay.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
use serde_json::Value;

/// The managedFields operation of server-side apply.
pub const OPERATION_APPLY: &str = "Apply";
/// The managedFields operation of create, update and patch.
pub const OPERATION_UPDATE: &str = "Update";

/// Entries whose manager name starts with `prefix` and whose operation is `operation`
/// (never entries of a subresource such as `status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldManager {
    pub prefix: String,
    pub operation: String,
}

impl FieldManager {
    pub fn new(prefix: &str, operation: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            operation: operation.to_owned(),
        }
    }

    /// Flux kustomize-controller's list: `kubectl` server-side apply, every `kubectl-*`
    /// update (client-side apply, edit, patch, …), `before-first-apply`, and `own` updates
    /// (what the controller wrote before it used server-side apply).
    pub fn flux_defaults(own: &str) -> Vec<FieldManager> {
        vec![
            Self::new("kubectl", OPERATION_APPLY),
            Self::new("kubectl", OPERATION_UPDATE),
            Self::new("before-first-apply", OPERATION_UPDATE),
            Self::new(own, OPERATION_UPDATE),
        ]
    }

    /// A manager named on Flux's `--override-manager*` flags: its apply and its update
    /// entries.
    pub fn named(name: &str) -> [FieldManager; 2] {
        [
            Self::new(name, OPERATION_APPLY),
            Self::new(name, OPERATION_UPDATE),
        ]
    }

    fn matches(&self, e: &ManagedFieldsEntry) -> bool {
        e.subresource.as_deref().unwrap_or("").is_empty()
            && e.operation.as_deref() == Some(self.operation.as_str())
            && e.manager
                .as_deref()
                .is_some_and(|m| m.starts_with(&self.prefix))
    }
}

/// The managedFields after `owner`'s apply entry took over the fields of every entry that
/// one of `managers` matches; `None` when no entry matches (nothing to write).
pub fn take_over(
    entries: &[ManagedFieldsEntry],
    managers: &[FieldManager],
    owner: &str,
) -> Option<Vec<ManagedFieldsEntry>> {
    let is_owner_apply = |e: &ManagedFieldsEntry| {
        e.manager.as_deref() == Some(owner)
            && e.operation.as_deref() == Some(OPERATION_APPLY)
            && e.subresource.as_deref().unwrap_or("").is_empty()
    };
    let mut owned: Option<ManagedFieldsEntry> = entries.iter().find(|e| is_owner_apply(e)).cloned();
    let mut kept = Vec::with_capacity(entries.len());
    let mut edited = false;
    for e in entries {
        if is_owner_apply(e) {
            continue;
        }
        if !managers.iter().any(|m| m.matches(e)) {
            kept.push(e.clone());
            continue;
        }
        edited = true;
        owned = Some(match owned.take() {
            None => ManagedFieldsEntry {
                manager: Some(owner.to_owned()),
                operation: Some(OPERATION_APPLY.to_owned()),
                ..e.clone()
            },
            Some(mut o) => {
                o.fields_v1 = merge_fields(o.fields_v1.take(), e.fields_v1.clone());
                o
            }
        });
    }
    if !edited {
        return None;
    }
    kept.extend(owned);
    Some(kept)
}

/// The union of two field sets. `FieldsV1` is a trie of JSON objects (`{"f:data":
/// {"f:k": {}}}`), so the union is a deep merge of the objects.
fn merge_fields(a: Option<FieldsV1>, b: Option<FieldsV1>) -> Option<FieldsV1> {
    fn merge(a: &mut Value, b: Value) {
        // Anything but two objects is not a trie node: keep what the owner had.
        if let (Value::Object(a), Value::Object(b)) = (a, b) {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
    }
    match (a, b) {
        (Some(FieldsV1(mut a)), Some(FieldsV1(b))) => {
            merge(&mut a, b);
            Some(FieldsV1(a))
        }
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(manager: &str, operation: &str, fields: Value) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some(operation.into()),
            api_version: Some("v1".into()),
            fields_type: Some("FieldsV1".into()),
            fields_v1: Some(FieldsV1(fields)),
            ..Default::default()
        }
    }

    const OWNER: &str = "kustomize-controller";

    #[test]
    fn kubectl_fields_merge_into_the_owner_apply_entry() {
        let entries = vec![
            entry(OWNER, "Apply", json!({"f:data": {"f:a": {}}})),
            entry("kubectl-edit", "Update", json!({"f:data": {"f:b": {}}})),
            entry(
                "kubectl-client-side-apply",
                "Update",
                json!({"f:metadata": {"f:labels": {"f:x": {}}}}),
            ),
            entry("kube-controller-manager", "Update", json!({"f:spec": {}})),
        ];
        let out = take_over(&entries, &FieldManager::flux_defaults(OWNER), OWNER).expect("edited");
        let managers: Vec<_> = out.iter().filter_map(|e| e.manager.as_deref()).collect();
        assert_eq!(managers, ["kube-controller-manager", OWNER]);
        assert_eq!(
            out[1].fields_v1,
            Some(FieldsV1(json!({"f:data": {"f:a": {}, "f:b": {}},
                "f:metadata": {"f:labels": {"f:x": {}}}})))
        );
    }

    #[test]
    fn without_an_owner_entry_the_first_match_becomes_it() {
        let entries = vec![
            entry(
                "before-first-apply",
                "Update",
                json!({"f:data": {"f:a": {}}}),
            ),
            entry("kubectl", "Apply", json!({"f:data": {"f:b": {}}})),
        ];
        let out = take_over(&entries, &FieldManager::flux_defaults(OWNER), OWNER).expect("edited");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].manager.as_deref(), Some(OWNER));
        assert_eq!(out[0].operation.as_deref(), Some("Apply"));
        assert_eq!(
            out[0].fields_v1,
            Some(FieldsV1(json!({"f:data": {"f:a": {}, "f:b": {}}})))
        );
    }

    #[test]
    fn other_managers_subresources_and_own_applies_are_left_alone() {
        let mut status = entry("kubectl-edit", "Update", json!({"f:status": {}}));
        status.subresource = Some("status".into());
        let entries = vec![
            entry(OWNER, "Apply", json!({"f:data": {}})),
            entry("helm", "Update", json!({"f:data": {}})),
            entry("kubectl", "Update-not", json!({})),
            status,
        ];
        assert_eq!(
            take_over(&entries, &FieldManager::flux_defaults(OWNER), OWNER),
            None
        );
        assert_eq!(take_over(&entries, &[], OWNER), None);
    }
}
