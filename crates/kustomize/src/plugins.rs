//! Built-in plugin configs in `generators:` and `transformers:`.
//!
//! kustomize lets a kustomization list plugin configs — objects with `apiVersion: builtin`
//! and a kind such as `LabelTransformer` — and runs each after the transformers its own
//! fields configure. The built-in ones are the same transformers the fields use, with
//! explicit field specs, so they run here through the functions the fields use. Exec,
//! container, starlark and Go plugins run code from the source: they stay refused.

use crate::error::{Error, Result};
use crate::fieldspec::{FieldSpec, visit};
use crate::generators;
use crate::loader::Loader;
use crate::openapi::Schema;
use crate::patch::{self, PatchBody};
use crate::replacements;
use crate::resource::Resource;
use crate::select::Selector;
use crate::transform::{self, ImageRule};
use crate::value::{Map, Value};

/// Built-in generator kinds this engine runs.
const GENERATORS: &[&str] = &["ConfigMapGenerator", "SecretGenerator"];

/// Built-in transformer kinds this engine runs.
const TRANSFORMERS: &[&str] = &[
    "AnnotationsTransformer",
    "ImageTagTransformer",
    "LabelTransformer",
    "NamespaceTransformer",
    "PatchJson6902Transformer",
    "PatchStrategicMergeTransformer",
    "PatchTransformer",
    "PrefixSuffixTransformer",
    "PrefixTransformer",
    "SuffixTransformer",
    "ReplacementTransformer",
    "ReplicaCountTransformer",
];

/// The kind of a plugin config, refusing anything that is not a built-in of `field`'s sort.
fn builtin_kind<'a>(ctx: &str, field: &str, config: &'a Value) -> Result<&'a str> {
    let kind = config.get_str(&["kind"]).unwrap_or_default();
    let api = config.get_str(&["apiVersion"]).unwrap_or_default();
    let known = if field == "generators" {
        GENERATORS
    } else {
        TRANSFORMERS
    };
    if api != "builtin" {
        return Err(Error::invalid(
            ctx,
            format!(
                "'{field}' entry {kind} (apiVersion {api:?}) is an external plugin; exec, \
                 container and Go plugins are not supported, only 'apiVersion: builtin' configs \
                 of {}",
                known.join(", ")
            ),
        ));
    }
    if !known.contains(&kind) {
        return Err(Error::invalid(
            ctx,
            format!(
                "'{field}' entry: built-in {kind:?} is not supported here; supported kinds: {}",
                known.join(", ")
            ),
        ));
    }
    Ok(kind)
}

/// Runs one built-in generator config: the ConfigMap or Secret it describes.
pub(crate) fn generate(ctx: &str, loader: &Loader, config: &Value) -> Result<Resource> {
    let kind = builtin_kind(ctx, "generators", config)?;
    // The generator's arguments sit beside `metadata`, whose name and namespace fill in
    // for missing `name`/`namespace` arguments.
    let mut args = config.clone();
    if let Value::Map(m) = &mut args {
        for field in ["name", "namespace"] {
            if !m.contains_key(field)
                && let Some(v) = config.get_path(&["metadata", field]).cloned()
            {
                m.insert(field, v);
            }
        }
    }
    let gkind = kind.trim_end_matches("Generator");
    let mut r = generators::generate(loader, gkind, &args, None, std::path::Path::new(ctx))?;
    r.origin = None;
    Ok(r)
}

fn field_specs(config: &Value) -> Vec<FieldSpec> {
    config
        .get("fieldSpecs")
        .and_then(Value::as_seq)
        .map(|s| s.iter().filter_map(FieldSpec::from_value).collect())
        .unwrap_or_default()
}

fn string_pairs(config: &Value, field: &str) -> Map {
    let mut out = Map::new();
    if let Some(Value::Map(m)) = config.get(field) {
        for (k, v) in m.iter() {
            out.insert(
                k.clone(),
                Value::String(v.scalar_text().unwrap_or_default()),
            );
        }
    }
    out
}

fn text(config: &Value, field: &str) -> Option<String> {
    config
        .get(field)
        .and_then(Value::scalar_text)
        .filter(|s| !s.is_empty())
}

/// Runs one built-in transformer config on the accumulated resources.
pub(crate) fn transform(
    ctx: &str,
    loader: &Loader,
    resources: &mut Vec<Resource>,
    config: &Value,
    schema: Option<&Schema>,
) -> Result<()> {
    let kind = builtin_kind(ctx, "transformers", config)?;
    let specs = field_specs(config);
    match kind {
        "LabelTransformer" => {
            transform::set_map_fields(resources, &string_pairs(config, "labels"), &specs);
        }
        "AnnotationsTransformer" => {
            transform::set_map_fields(resources, &string_pairs(config, "annotations"), &specs);
        }
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
            if config.get("fieldSpecs").is_none_or(Value::is_null) {
                return Err(Error::invalid(
                    ctx,
                    format!("{kind}: fieldSpecs is required (e.g. '- path: metadata/name')"),
                ));
            }
            let prefix = text(config, "prefix").unwrap_or_default();
            let suffix = text(config, "suffix").unwrap_or_default();
            prefix_suffix(resources, &prefix, &suffix, &specs);
        }
        "NamespaceTransformer" => {
            let ns = config
                .get_str(&["metadata", "namespace"])
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    Error::invalid(ctx, "NamespaceTransformer needs metadata.namespace")
                })?;
            // Only kustomize's default behaviour is built: field specs other than plain
            // `metadata/namespace`, `unsetOnly` and a non-default `setRoleBindingSubjects` are
            // refused rather than silently applied as the default.
            if let Some(spec) = specs
                .iter()
                .find(|s| s.path != "metadata/namespace" || s.kind.is_some() || s.group.is_some())
            {
                return Err(Error::invalid(
                    ctx,
                    format!(
                        "NamespaceTransformer: fieldSpec '{}' is not supported (only 'path: metadata/namespace' for every kind; use the kustomization's 'namespace:' field)",
                        spec.path
                    ),
                ));
            }
            if matches!(config.get("unsetOnly"), Some(Value::Bool(true))) {
                return Err(Error::invalid(
                    ctx,
                    "NamespaceTransformer: unsetOnly is not supported",
                ));
            }
            if let Some(mode) =
                text(config, "setRoleBindingSubjects").filter(|m| m != "defaultOnly")
            {
                return Err(Error::invalid(
                    ctx,
                    format!(
                        "NamespaceTransformer: setRoleBindingSubjects '{mode}' is not supported (only defaultOnly)"
                    ),
                ));
            }
            transform::namespace(resources, ns);
        }
        "ImageTagTransformer" => {
            let image = config
                .get("imageTag")
                .ok_or_else(|| Error::invalid(ctx, "ImageTagTransformer needs imageTag"))?;
            let rule = ImageRule {
                name: text(image, "name").ok_or_else(|| {
                    Error::invalid(ctx, "ImageTagTransformer needs imageTag.name")
                })?,
                new_name: text(image, "newName"),
                new_tag: text(image, "newTag"),
                digest: text(image, "digest"),
            };
            transform::images(resources, &[rule], &specs);
        }
        "ReplicaCountTransformer" => {
            let replica = config
                .get("replica")
                .ok_or_else(|| Error::invalid(ctx, "ReplicaCountTransformer needs replica"))?;
            let name = replica
                .get_str(&["name"])
                .ok_or_else(|| Error::invalid(ctx, "ReplicaCountTransformer needs replica.name"))?;
            let count = replica.get("count").cloned().unwrap_or(Value::Int(0));
            transform::replicas(resources, name, count, &specs);
        }
        "PatchTransformer" => {
            let body = match (text(config, "path"), text(config, "patch")) {
                (Some(path), None) => loader.read_string(&path)?,
                (None, Some(inline)) => inline,
                _ => {
                    return Err(Error::invalid(
                        ctx,
                        "PatchTransformer needs exactly one of 'path' or 'patch'",
                    ));
                }
            };
            let body = patch::parse_body(ctx, &body)?;
            let target = config
                .get("target")
                .map(|t| Selector::from_value(ctx, t))
                .transpose()?;
            patch::apply_patch(
                ctx,
                resources,
                &body,
                target.as_ref(),
                config.get("options"),
                schema,
            )?;
        }
        "PatchStrategicMergeTransformer" => {
            let mut bodies: Vec<String> = Vec::new();
            for p in config
                .get("paths")
                .and_then(Value::as_seq)
                .into_iter()
                .flatten()
            {
                let path = p.scalar_text().unwrap_or_default();
                bodies.push(loader.read_string(&path)?);
            }
            if let Some(inline) = text(config, "patches") {
                bodies.push(inline);
            }
            for body in bodies {
                match patch::parse_body(ctx, &body)? {
                    PatchBody::Strategic(docs) => {
                        for doc in docs {
                            patch::apply_self_targeted(ctx, resources, &doc, schema)?;
                        }
                    }
                    PatchBody::Json(_) => {
                        return Err(Error::invalid(
                            ctx,
                            "PatchStrategicMergeTransformer patch is a JSON patch",
                        ));
                    }
                }
            }
        }
        "PatchJson6902Transformer" => {
            let body = match (text(config, "path"), text(config, "jsonOp")) {
                (Some(path), None) => loader.read_string(&path)?,
                (None, Some(inline)) => inline,
                _ => {
                    return Err(Error::invalid(
                        ctx,
                        "PatchJson6902Transformer needs exactly one of 'path' or 'jsonOp'",
                    ));
                }
            };
            let PatchBody::Json(ops) = patch::parse_body(ctx, &body)? else {
                return Err(Error::invalid(
                    ctx,
                    "PatchJson6902Transformer patch is not a list of operations",
                ));
            };
            let target = config
                .get("target")
                .ok_or_else(|| Error::invalid(ctx, "PatchJson6902Transformer needs a target"))?;
            let sel = Selector::from_value(ctx, target)?;
            patch::apply_patch(
                ctx,
                resources,
                &PatchBody::Json(ops),
                Some(&sel),
                None,
                schema,
            )?;
        }
        "ReplacementTransformer" => {
            let list = config.get("replacements").and_then(Value::as_seq);
            for r in list.into_iter().flatten() {
                for spec in replacement_specs(loader, r)? {
                    replacements::apply(ctx, resources, &spec)?;
                }
            }
        }
        // `builtin_kind` only lets the kinds above through.
        _ => unreachable!("unlisted built-in transformer {kind}"),
    }
    Ok(())
}

/// A `replacements` entry: inline, or `path:` to a file holding one or a list.
pub(crate) fn replacement_specs(loader: &Loader, entry: &Value) -> Result<Vec<Value>> {
    let spec = match entry.get_str(&["path"]) {
        Some(path) => {
            let text = loader.read_string(path)?;
            crate::yaml::parse_one(&text).map_err(|message| Error::Yaml {
                path: loader.root().join(path),
                message,
            })?
        }
        None => entry.clone(),
    };
    Ok(match spec {
        Value::Seq(items) => items,
        other => vec![other],
    })
}

/// The prefix/suffix transformer with explicit field specs: `metadata/name` renames (so name
/// references follow), any other path gets its string values prefixed and suffixed.
fn prefix_suffix(resources: &mut [Resource], prefix: &str, suffix: &str, specs: &[FieldSpec]) {
    for r in resources.iter_mut() {
        if transform::keeps_name(r) {
            continue;
        }
        let applicable: Vec<&FieldSpec> = specs.iter().filter(|s| s.applies_to(r)).collect();
        for spec in applicable {
            if spec.path.trim_matches('/') == "metadata/name" {
                let name = format!("{prefix}{}{suffix}", r.name());
                r.set_name(name);
            } else {
                visit(&mut r.obj, &spec.path, false, &mut |node| {
                    if let Value::String(s) = node {
                        *s = format!("{prefix}{s}{suffix}");
                    }
                });
            }
        }
    }
}
