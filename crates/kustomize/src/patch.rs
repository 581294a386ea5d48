//! `patches`, `patchesStrategicMerge` and `patchesJson6902`.

use crate::error::{Error, Result};
use crate::jsonpatch;
use crate::openapi::Schema;
use crate::resource::Resource;
use crate::select::Selector;
use crate::smp::Patcher;
use crate::value::Value;

/// Kinds whose list merge keys come from the built-in Kubernetes schema.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "policy",
    "rbac.authorization.k8s.io",
    "networking.k8s.io",
    "autoscaling",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
    "certificates.k8s.io",
    "apiregistration.k8s.io",
    "extensions",
];

fn known_kind(r: &Resource) -> bool {
    BUILTIN_GROUPS.contains(&r.group()) && !r.api_version().is_empty()
}

/// A patch body: strategic merge documents or a JSON 6902 operation list.
pub enum PatchBody {
    Strategic(Vec<Value>),
    Json(Value),
}

/// Parses patch text; a YAML/JSON list is a JSON 6902 patch, maps are strategic merge patches.
pub fn parse_body(context: &str, text: &str) -> Result<PatchBody> {
    let docs = crate::yaml::parse_documents(text)
        .map_err(|m| Error::invalid(context, format!("invalid patch YAML: {m}")))?;
    if docs.len() == 1 && matches!(docs[0], Value::Seq(_)) {
        return Ok(PatchBody::Json(docs.into_iter().next().unwrap_or_default()));
    }
    if docs.iter().any(|d| !matches!(d, Value::Map(_))) {
        return Err(Error::invalid(
            context,
            "a patch must be a map or a list of JSON patch operations",
        ));
    }
    Ok(PatchBody::Strategic(docs))
}

fn patch_id(p: &Value) -> String {
    format!(
        "{}/{}.{}",
        p.get_str(&["kind"]).unwrap_or(""),
        p.get_str(&["metadata", "name"]).unwrap_or(""),
        p.get_str(&["metadata", "namespace"]).unwrap_or("[noNs]")
    )
}

/// Applies one strategic merge patch to one resource, keeping its name and kind unless
/// the patch options allow changing them.
fn apply_smp(
    r: &mut Resource,
    patch: &Value,
    allow_name: bool,
    allow_kind: bool,
    schema: Option<&Schema>,
) -> bool {
    let name = r.name().to_string();
    let kind = r.kind().to_string();
    let api = r.api_version().to_string();
    let patcher = match schema {
        Some(schema) => Patcher::with_schema(r.group(), &kind, schema),
        None => Patcher::new(&kind, known_kind(r)),
    };
    let mut patch = patch.clone();
    if !allow_kind && let Value::Map(m) = &mut patch {
        m.remove("kind");
        m.remove("apiVersion");
    }
    let mut obj = std::mem::take(&mut r.obj);
    let keep = patcher.apply(&mut obj, &patch);
    r.obj = obj;
    if !allow_kind && let Value::Map(m) = &mut r.obj {
        m.insert("kind", kind.into());
        m.insert("apiVersion", api.into());
    }
    let new_name = r.name().to_string();
    if new_name != name {
        r.metadata_mut().insert("name", name.clone().into());
        if allow_name {
            r.set_name(new_name);
        }
    }
    keep
}

/// Strategic merge patch that targets by its own kind/name/namespace.
pub fn apply_self_targeted(
    context: &str,
    resources: &mut Vec<Resource>,
    patch: &Value,
    schema: Option<&Schema>,
) -> Result<()> {
    let kind = patch.get_str(&["kind"]).unwrap_or("");
    let name = patch.get_str(&["metadata", "name"]).unwrap_or("");
    let ns = patch.get_str(&["metadata", "namespace"]);
    let group = patch
        .get_str(&["apiVersion"])
        .and_then(|a| a.rsplit_once('/'))
        .map(|(g, _)| g);
    let matches: Vec<usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind() == kind && r.had_name(name))
        .filter(|(_, r)| group.is_none_or(|g| g == r.group()))
        .filter(|(_, r)| {
            ns.is_none_or(|ns| {
                crate::resource::ns_equal(ns, r.namespace())
                    || r.history
                        .iter()
                        .any(|(_, h)| crate::resource::ns_equal(ns, h))
            })
        })
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [] => Err(Error::invalid(
            context,
            format!(
                "no resource matches strategic merge patch \"{}\"",
                patch_id(patch)
            ),
        )),
        [i] => {
            if !apply_smp(&mut resources[*i], patch, false, false, schema) {
                resources.remove(*i);
            }
            Ok(())
        }
        _ => Err(Error::invalid(
            context,
            format!(
                "multiple resources match strategic merge patch \"{}\"",
                patch_id(patch)
            ),
        )),
    }
}

/// A `patches` entry: a body with an optional selector.
pub fn apply_patch(
    context: &str,
    resources: &mut Vec<Resource>,
    body: &PatchBody,
    target: Option<&Selector>,
    options: Option<&Value>,
    schema: Option<&Schema>,
) -> Result<()> {
    let opt = |k: &str| matches!(options.and_then(|o| o.get(k)), Some(Value::Bool(true)));
    match (body, target) {
        (PatchBody::Strategic(docs), None) => {
            for doc in docs {
                apply_self_targeted(context, resources, doc, schema)?;
            }
            Ok(())
        }
        (PatchBody::Strategic(docs), Some(sel)) => {
            let mut i = 0;
            while i < resources.len() {
                if sel.matches(&resources[i]) {
                    let mut keep = true;
                    for doc in docs {
                        keep &= apply_smp(
                            &mut resources[i],
                            doc,
                            opt("allowNameChange"),
                            opt("allowKindChange"),
                            schema,
                        );
                    }
                    if !keep {
                        resources.remove(i);
                        continue;
                    }
                }
                i += 1;
            }
            Ok(())
        }
        (PatchBody::Json(ops), Some(sel)) => {
            for r in resources.iter_mut().filter(|r| sel.matches(r)) {
                let before_name = r.name().to_string();
                let before_ns = r.namespace().to_string();
                let mut obj = r.obj.clone();
                jsonpatch::apply(&mut obj, ops).map_err(|m| {
                    Error::invalid(
                        context,
                        format!("applying JSON patch to {}: {m}", r.id_string()),
                    )
                })?;
                r.obj = obj;
                // Renames through a JSON patch are renames: keep the history for name references.
                if r.name() != before_name || r.namespace() != before_ns {
                    r.history.push((before_name, before_ns));
                }
            }
            Ok(())
        }
        (PatchBody::Json(_), None) => Err(Error::invalid(
            context,
            "a JSON 6902 patch requires a target",
        )),
    }
}
