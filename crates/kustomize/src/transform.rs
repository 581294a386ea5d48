//! The built-in transformers a kustomization's fields configure.

use crate::fieldspec::{self, FieldSpec, visit};
use crate::resource::{Resource, ns_equal};
use crate::value::{Map, Value};

/// `namespace:` sets the namespace of every namespaced object, renames Namespace objects,
/// and moves `default` ServiceAccount subjects of role bindings along.
pub fn namespace(resources: &mut [Resource], ns: &str) {
    for r in resources.iter_mut() {
        let kind = r.kind().to_string();
        if kind == "Namespace" {
            r.set_name(ns.to_string());
        } else if !r.is_cluster_scoped() {
            r.set_namespace(ns);
        }
        if kind == "RoleBinding" || kind == "ClusterRoleBinding" {
            let subjects = r.obj.get_mut("subjects").and_then(Value::as_seq_mut);
            for s in subjects.into_iter().flatten() {
                if let Value::Map(m) = s
                    && m.get("name").and_then(Value::as_str) == Some("default")
                {
                    m.insert("namespace", ns.into());
                }
            }
        }
    }
}

/// Kinds whose names `namePrefix`/`nameSuffix` leave alone.
pub(crate) fn keeps_name(r: &Resource) -> bool {
    matches!(r.kind(), "CustomResourceDefinition" | "Namespace")
        || (r.kind() == "APIService" && r.group() == "apiregistration.k8s.io")
}

pub fn prefix_suffix(resources: &mut [Resource], prefix: &str, suffix: &str) {
    for r in resources.iter_mut() {
        if keeps_name(r) {
            continue;
        }
        let name = format!("{prefix}{}{suffix}", r.name());
        r.set_name(name);
    }
}

/// Writes `pairs` into every map at the given field specs (labels or annotations).
pub fn set_map_fields(resources: &mut [Resource], pairs: &Map, specs: &[FieldSpec]) {
    for r in resources.iter_mut() {
        let applicable: Vec<&FieldSpec> = specs.iter().filter(|s| s.applies_to(r)).collect();
        for spec in applicable {
            visit(&mut r.obj, &spec.path, spec.create, &mut |node| {
                if node.is_null() {
                    *node = Value::new_map();
                }
                if let Value::Map(m) = node {
                    for (k, v) in pairs.iter() {
                        m.insert(k.clone(), v.clone());
                    }
                }
            });
        }
    }
}

/// Label transformer for `commonLabels` (selectors included) or one `labels` entry.
pub fn labels(
    resources: &mut [Resource],
    pairs: &Map,
    include_selectors: bool,
    include_templates: bool,
    extra: Vec<FieldSpec>,
) {
    let mut specs = if include_selectors {
        fieldspec::common_labels()
    } else {
        let mut s = vec![FieldSpec::new(None, "metadata/labels", true)];
        if include_templates {
            s.extend(fieldspec::template_labels());
        }
        s
    };
    specs.extend(extra);
    set_map_fields(resources, pairs, &specs);
}

pub fn annotations(resources: &mut [Resource], pairs: &Map, extra: &[FieldSpec]) {
    let mut specs = fieldspec::common_annotations();
    specs.extend(extra.iter().cloned());
    set_map_fields(resources, pairs, &specs);
}

/// One `images:` entry.
#[derive(Debug, Clone)]
pub struct ImageRule {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
}

/// Splits `repo/name:tag@digest` into (name, tag, digest).
fn split_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..]), digest),
        None => (rest, None, digest),
    }
}

impl ImageRule {
    fn rewrite(&self, image: &str) -> Option<String> {
        let (name, tag, digest) = split_image(image);
        if name != self.name {
            return None;
        }
        let name = self.new_name.as_deref().unwrap_or(name);
        let (tag, digest) = match (&self.new_tag, &self.digest) {
            (None, None) => (tag.map(str::to_string), digest.map(str::to_string)),
            (Some(t), None) => (Some(t.clone()), None),
            (None, Some(d)) => (None, Some(d.clone())),
            (Some(t), Some(d)) => (Some(t.clone()), Some(d.clone())),
        };
        let mut out = name.to_string();
        if let Some(t) = tag {
            out.push(':');
            out.push_str(&t);
        }
        if let Some(d) = digest {
            out.push('@');
            out.push_str(&d);
        }
        Some(out)
    }
}

/// Rewrites `image` of every container and init container, wherever in the object they are.
pub fn images(resources: &mut [Resource], rules: &[ImageRule], extra: &[FieldSpec]) {
    for r in resources.iter_mut() {
        let applicable: Vec<&FieldSpec> = extra.iter().filter(|s| s.applies_to(r)).collect();
        for spec in applicable {
            visit(&mut r.obj, &spec.path, false, &mut |node| {
                if let Value::String(img) = node {
                    for rule in rules {
                        if let Some(new) = rule.rewrite(img) {
                            *img = new;
                        }
                    }
                }
            });
        }
    }
    fn walk(v: &mut Value, rules: &[ImageRule]) {
        match v {
            Value::Map(m) => {
                for (k, child) in m.0.iter_mut() {
                    if (k == "containers" || k == "initContainers")
                        && let Value::Seq(items) = child
                    {
                        for c in items.iter_mut() {
                            if let Some(Value::String(img)) = c.get_mut("image") {
                                // Rules apply in order, each to the result of the previous
                                // one, as kustomize runs one image transformer per entry.
                                for rule in rules {
                                    if let Some(new) = rule.rewrite(img) {
                                        *img = new;
                                    }
                                }
                            }
                        }
                    }
                    walk(child, rules);
                }
            }
            Value::Seq(items) => items.iter_mut().for_each(|i| walk(i, rules)),
            _ => {}
        }
    }
    for r in resources.iter_mut() {
        walk(&mut r.obj, rules);
    }
}

const REPLICA_KINDS: &[&str] = &[
    "Deployment",
    "ReplicationController",
    "ReplicaSet",
    "StatefulSet",
];

/// `specs` empty: kustomize's default (`spec/replicas` of the workload kinds); otherwise only
/// where a ReplicaCountTransformer's `fieldSpecs` say.
pub fn replicas(resources: &mut [Resource], name: &str, count: Value, specs: &[FieldSpec]) {
    for r in resources.iter_mut() {
        if !r.had_name(name) {
            continue;
        }
        if specs.is_empty() {
            if REPLICA_KINDS.contains(&r.kind()) {
                visit(&mut r.obj, "spec/replicas", true, &mut |n| {
                    *n = count.clone()
                });
            }
            continue;
        }
        let applicable: Vec<&FieldSpec> = specs.iter().filter(|s| s.applies_to(r)).collect();
        for spec in applicable {
            visit(&mut r.obj, &spec.path, spec.create, &mut |n| {
                *n = count.clone()
            });
        }
    }
}

/// Appends each generated object's content hash to its name.
pub fn add_hashes(resources: &mut [Resource]) {
    for r in resources.iter_mut() {
        if r.needs_hash {
            let hash = crate::generators::content_hash(r);
            let name = format!("{}-{hash}", r.name());
            r.set_name(name);
            r.needs_hash = false;
        }
    }
}

/// Rewrites every name reference to an object that was renamed (prefix, suffix, hash).
pub fn fix_name_references(resources: &mut [Resource], extra: &[fieldspec::NameRef]) {
    let mut refs = fieldspec::name_references();
    refs.extend(extra.iter().cloned());
    // Snapshot of who is who, so references resolve against a stable view.
    let snapshot: Vec<Resource> = resources.to_vec();
    for r in resources.iter_mut() {
        let referrer_kind = r.kind().to_string();
        let referrer_ns = r.namespace().to_string();
        let referrer_orig_ns = r.original_namespace().to_string();
        let referrer_cluster = r.is_cluster_scoped();
        for nr in refs
            .iter()
            .filter(|nr| nr.kind.as_ref().is_none_or(|k| *k == referrer_kind))
        {
            let (parent, field) = match nr.path.rsplit_once('/') {
                Some((p, f)) => (p, f),
                None => ("", nr.path.as_str()),
            };
            let mut fix_one = |holder: &mut Value| {
                let Value::Map(m) = holder else { return };
                if let Some(k) = m.get("kind").and_then(Value::as_str)
                    && (parent.ends_with("roleRef")
                        || parent.ends_with("subjects")
                        || parent.ends_with("scaleTargetRef"))
                    && k != nr.ref_kind
                {
                    return;
                }
                let Some(Value::String(old)) = m.get(field) else {
                    return;
                };
                let old = old.clone();
                let subject_ns = if parent.ends_with("subjects") {
                    m.get("namespace")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                } else {
                    None
                };
                let candidates: Vec<&Resource> = snapshot
                    .iter()
                    .filter(|c| c.kind() == nr.ref_kind && c.had_name(&old))
                    .filter(|c| {
                        nr.ref_group.is_empty() || c.group() == nr.ref_group || c.group().is_empty()
                    })
                    .filter(|c| {
                        if c.is_cluster_scoped() {
                            return true;
                        }
                        if let Some(sns) = &subject_ns {
                            return ns_equal(c.namespace(), sns)
                                || c.history.iter().any(|(_, ns)| ns_equal(ns, sns));
                        }
                        referrer_cluster
                            || ns_equal(c.namespace(), &referrer_ns)
                            || ns_equal(c.original_namespace(), &referrer_orig_ns)
                    })
                    .collect();
                let chosen = candidates
                    .iter()
                    .find(|c| ns_equal(c.namespace(), &referrer_ns))
                    .or_else(|| candidates.first());
                if let Some(c) = chosen {
                    let new_name = c.name().to_string();
                    let new_ns = c.namespace().to_string();
                    m.insert(field, Value::String(new_name));
                    if parent.ends_with("subjects") && !new_ns.is_empty() {
                        m.insert("namespace", Value::String(new_ns));
                    }
                }
            };
            let mut fix = |holder: &mut Value| match holder {
                Value::Seq(items) => items.iter_mut().for_each(&mut fix_one),
                other => fix_one(other),
            };
            if parent.is_empty() {
                fix(&mut r.obj);
            } else {
                visit(&mut r.obj, parent, false, &mut fix);
            }
        }
    }
}
