//! Strategic merge patch, client side.
//!
//! Lists of objects in built-in kinds merge by the Kubernetes OpenAPI merge key (the table
//! below); other lists are replaced. Custom kinds have no schema here, so — as in kustomize —
//! their lists are replaced wholesale, verbatim, while map directives still apply. A build with
//! an `openapi:` schema takes merge keys from that schema alone (see `openapi.rs`). Directives:
//! `$patch: delete|replace|merge` on maps and list elements. kustomize v5.5 does not act on
//! `$retainKeys` or `$setElementOrder/…`: it copies them into the output as ordinary fields,
//! and so do we (the conformance suite pins this).
//!
//! | field | merge key |
//! |---|---|
//! | containers, initContainers, ephemeralContainers, volumes, env, imagePullSecrets, resourceClaims, schedulingGates, webhooks | name |
//! | ports (containers) | containerPort |
//! | ports (Service spec) | port |
//! | volumeMounts | mountPath |
//! | volumeDevices | devicePath |
//! | hostAliases | ip |
//! | topologySpreadConstraints | topologyKey |
//! | conditions | type |
//! | ownerReferences | uid |

use crate::openapi::Schema;
use crate::value::{Map, Value};

fn merge_key(field: &str, parent_path: &[String], kind: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates"
        | "webhooks" => Some("name"),
        "ports" => {
            if kind == "Service" && parent_path.len() == 1 && parent_path[0] == "spec" {
                Some("port")
            } else {
                Some("containerPort")
            }
        }
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        _ => None,
    }
}

/// Patch context: the kind being patched decides whether the built-in schema applies, or,
/// when the build has one, whether the custom schema (`openapi:`) describes it.
pub struct Patcher<'s> {
    kind: String,
    group: String,
    known_kind: bool,
    schema: Option<&'s Schema>,
}

/// Outcome of merging a map: keep it or delete it (`$patch: delete`).
enum Outcome {
    Keep,
    Delete,
}

impl<'s> Patcher<'s> {
    pub fn new(kind: &str, known_kind: bool) -> Self {
        Patcher {
            kind: kind.to_string(),
            group: String::new(),
            known_kind,
            schema: None,
        }
    }

    /// A patcher whose merge keys come from `schema` alone, as kustomize's custom schemas
    /// replace the built-in one.
    pub fn with_schema(group: &str, kind: &str, schema: &'s Schema) -> Self {
        Patcher {
            kind: kind.to_string(),
            group: group.to_string(),
            known_kind: schema.knows(group, kind),
            schema: Some(schema),
        }
    }

    /// Applies `patch` to `target`. Returns false when the patch deletes the whole object.
    pub fn apply(&self, target: &mut Value, patch: &Value) -> bool {
        let mut path = Vec::new();
        match (target, patch) {
            (Value::Map(t), Value::Map(p)) => {
                matches!(self.merge_map(t, p, &mut path), Outcome::Keep)
            }
            (t, p) => {
                *t = strip(p);
                true
            }
        }
    }

    fn merge_map(&self, target: &mut Map, patch: &Map, path: &mut Vec<String>) -> Outcome {
        match patch.get("$patch").and_then(Value::as_str) {
            Some("delete") => return Outcome::Delete,
            Some("replace") => {
                if let Value::Map(m) = strip(&Value::Map(patch.clone())) {
                    *target = m;
                }
                return Outcome::Keep;
            }
            _ => {}
        }
        for (key, pval) in patch.iter() {
            if key == "$patch" {
                continue;
            }
            match pval {
                Value::Null => {
                    target.remove(key);
                }
                Value::Map(pm) => {
                    let is_map = matches!(target.get(key), Some(Value::Map(_)));
                    if !is_map {
                        if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                            target.remove(key);
                            continue;
                        }
                        target.insert(key.clone(), strip(pval));
                        continue;
                    }
                    let Some(Value::Map(tm)) = target.get_mut(key) else {
                        continue;
                    };
                    path.push(key.clone());
                    let outcome = self.merge_map(tm, pm, path);
                    path.pop();
                    if matches!(outcome, Outcome::Delete) {
                        target.remove(key);
                    }
                }
                Value::Seq(pl) => {
                    let merged = match target.get_mut(key) {
                        Some(Value::Seq(tl)) => {
                            self.merge_list(key, tl, pl, path);
                            true
                        }
                        _ => false,
                    };
                    if !merged {
                        let fresh = strip_list(pl);
                        target.insert(key.clone(), Value::Seq(fresh));
                    }
                }
                scalar => target.insert(key.clone(), scalar.clone()),
            }
        }
        Outcome::Keep
    }

    fn merge_list(
        &self,
        field: &str,
        target: &mut Vec<Value>,
        patch: &[Value],
        path: &mut Vec<String>,
    ) {
        // `- $patch: replace` replaces the list with the other patch elements.
        if patch
            .iter()
            .any(|e| e.get("$patch").and_then(Value::as_str) == Some("replace"))
        {
            *target = patch
                .iter()
                .filter(|e| e.get("$patch").is_none())
                .map(strip)
                .collect();
            return;
        }
        // Without a schema (custom kinds) kustomize replaces lists wholesale, verbatim.
        if !self.known_kind {
            *target = patch.to_vec();
            return;
        }
        let all_maps = patch
            .iter()
            .chain(target.iter())
            .all(|v| matches!(v, Value::Map(_)));
        if !all_maps || patch.is_empty() {
            *target = strip_list(patch);
            return;
        }
        let key = match self.schema {
            Some(schema) => schema.merge_key(&self.group, &self.kind, path, field),
            None => merge_key(field, path, &self.kind).map(str::to_string),
        };
        let Some(key) = key.as_deref() else {
            *target = strip_list(patch);
            return;
        };
        // Result order (as kustomize produces it): the patch's elements in patch order, merged
        // with their counterparts, then the target's remaining elements in their order.
        let mut rest: Vec<Option<Value>> = std::mem::take(target).into_iter().map(Some).collect();
        let mut out = Vec::with_capacity(rest.len() + patch.len());
        for pe in patch {
            let Value::Map(pm) = pe else { continue };
            let Some(kv) = pm.get(key) else {
                continue;
            };
            let pos = rest
                .iter()
                .position(|t| t.as_ref().and_then(|t| t.get(key)) == Some(kv));
            let directive = pm.get("$patch").and_then(Value::as_str);
            match (pos, directive) {
                (Some(i), Some("delete")) => rest[i] = None,
                (None, Some("delete")) => {}
                (Some(i), _) => {
                    if let Some(Value::Map(mut tm)) = rest[i].take() {
                        path.push(field.to_string());
                        let outcome = self.merge_map(&mut tm, pm, path);
                        path.pop();
                        if matches!(outcome, Outcome::Keep) {
                            out.push(Value::Map(tm));
                        }
                    }
                }
                (None, _) => out.push(strip(pe)),
            }
        }
        out.extend(rest.into_iter().flatten());
        *target = out;
    }
}

/// Removes patch directives from a value that is being inserted as-is.
fn strip(v: &Value) -> Value {
    match v {
        Value::Map(m) => {
            let mut out = Map::new();
            for (k, val) in m.iter() {
                if k == "$patch" {
                    continue;
                }
                out.insert(k.clone(), strip(val));
            }
            Value::Map(out)
        }
        Value::Seq(items) => Value::Seq(strip_list(items)),
        other => other.clone(),
    }
}

fn strip_list(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter(|e| e.get("$patch").and_then(Value::as_str) != Some("delete"))
        .filter(|e| !matches!(e, Value::Map(m) if m.len() == 1 && m.contains_key("$patch")))
        .map(strip)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_one;

    fn run(kind: &str, target: &str, patch: &str) -> Value {
        let mut t = parse_one(target).unwrap_or_default();
        let p = parse_one(patch).unwrap_or_default();
        Patcher::new(kind, true).apply(&mut t, &p);
        t
    }

    #[test]
    fn containers_merge_by_name_and_null_deletes() {
        let out = run(
            "Deployment",
            "spec: {template: {spec: {containers: [{name: a, image: x, args: [1]}, {name: b, image: y}]}}}",
            "spec: {template: {spec: {containers: [{name: b, image: z, args: null}, {name: c, image: w}]}}}",
        );
        let want = parse_one(
            // Patch elements first (in patch order), then the untouched ones, as kustomize does.
            "spec: {template: {spec: {containers: [{name: b, image: z}, {name: c, image: w}, {name: a, image: x, args: [1]}]}}}",
        )
        .unwrap_or_default();
        assert_eq!(out, want);
    }

    #[test]
    fn element_delete_and_list_replace() {
        let out = run(
            "Pod",
            "spec: {containers: [{name: a}, {name: b}], tolerations: [{key: k}]}",
            "spec: {containers: [{name: a, $patch: delete}], tolerations: [{key: z}]}",
        );
        assert_eq!(
            out,
            parse_one("spec: {containers: [{name: b}], tolerations: [{key: z}]}")
                .unwrap_or_default()
        );
    }
}
