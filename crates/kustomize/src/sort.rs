//! Output order: kustomize's legacy order (by kind priority, then group/version/kind, namespace,
//! name) unless `sortOptions.order: fifo` keeps the accumulation order.

use std::path::Path;

use crate::error::{Error, Result};
use crate::resource::Resource;
use crate::value::Value;

const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_seq)
        .map(|s| s.iter().filter_map(Value::scalar_text).collect())
}

pub fn sort(resources: &mut [Resource], options: Option<&Value>, file: &Path) -> Result<()> {
    let order = options
        .and_then(|o| o.get_str(&["order"]))
        .unwrap_or("legacy");
    match order {
        "fifo" => Ok(()),
        "legacy" => {
            let legacy = options.and_then(|o| o.get("legacySortOptions"));
            let first = strings(legacy.and_then(|l| l.get("orderFirst")))
                .unwrap_or_else(|| ORDER_FIRST.iter().map(|s| s.to_string()).collect());
            let last = strings(legacy.and_then(|l| l.get("orderLast")))
                .unwrap_or_else(|| ORDER_LAST.iter().map(|s| s.to_string()).collect());
            let rank = |kind: &str| -> i64 {
                if let Some(i) = first.iter().position(|k| k == kind) {
                    i as i64 - first.len() as i64
                } else if let Some(i) = last.iter().position(|k| k == kind) {
                    i as i64 + 1
                } else {
                    0
                }
            };
            let gvk = |r: &Resource| {
                let or = |s: &str, d: &str| {
                    if s.is_empty() {
                        d.to_string()
                    } else {
                        s.to_string()
                    }
                };
                format!(
                    "{}_{}_{}",
                    or(r.group(), "~G"),
                    or(r.version(), "~V"),
                    or(r.kind(), "~K")
                )
            };
            resources.sort_by(|a, b| {
                rank(a.kind())
                    .cmp(&rank(b.kind()))
                    .then_with(|| gvk(a).cmp(&gvk(b)))
                    .then_with(|| ns_key(a).cmp(ns_key(b)))
                    .then_with(|| a.name().cmp(b.name()))
            });
            Ok(())
        }
        other => Err(Error::Kustomization {
            path: file.to_path_buf(),
            message: format!("sortOptions.order must be 'legacy' or 'fifo', not '{other}'"),
        }),
    }
}

/// An absent namespace sorts after every named one (kustomize spells it `~X`).
fn ns_key(r: &Resource) -> &str {
    if r.namespace().is_empty() {
        "~X"
    } else {
        r.namespace()
    }
}
