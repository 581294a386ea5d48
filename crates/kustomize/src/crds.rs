//! The kustomization's `crds:` files: OpenAPI definitions of custom kinds whose `x-kubernetes-*`
//! extensions tell the transformers which fields hold names of other objects, label
//! selectors and annotations — the same knowledge a `configurations:` file gives, in the
//! format kustomize reads (a map from Go type name to `{Schema: {properties, $ref}}`).

use crate::value::{Map, Value};

/// Reads one `crds:` file into a transformer configuration document (the `configurations:`
/// format), so both land in the same [`crate::fieldspec::CustomConfig`].
pub(crate) fn to_configuration(text: &str) -> Result<Value, String> {
    let defs = match crate::yaml::parse_one(text)? {
        Value::Map(m) => m,
        Value::Null => Map::new(),
        _ => return Err("expected a map of OpenAPI definitions by type name".into()),
    };
    let mut out = Config::default();
    for (name, def) in defs.iter() {
        let props = properties(def);
        let looks_like_kind = ["kind", "apiVersion", "metadata"]
            .iter()
            .all(|p| props.is_some_and(|m| m.contains_key(p)));
        if !looks_like_kind {
            continue;
        }
        // kustomize takes the kind from the type name; the group is not known.
        let kind = name.rsplit('.').next().unwrap_or(name);
        out.walk(&defs, kind, name, &mut Vec::new(), 0)?;
    }
    Ok(out.into_value())
}

/// The `properties` of a definition; Go's JSON decoding matches `Schema` in any case.
fn properties(def: &Value) -> Option<&Map> {
    let Value::Map(m) = def else { return None };
    let schema = m.iter().find(|(k, _)| k.eq_ignore_ascii_case("schema"))?.1;
    schema.get("properties")?.as_map()
}

/// An extension, matched without regard to case as go-openapi stores them; only string values
/// count, as kustomize reads them.
fn extension<'a>(prop: &'a Value, key: &str) -> Option<&'a str> {
    let Value::Map(m) = prop else { return None };
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
}

/// `$ref` chains deeper than this are a cycle or abuse, not a schema.
const MAX_DEPTH: usize = 32;

#[derive(Default)]
struct Config {
    name_refs: Vec<Value>,
    labels: Vec<Value>,
    annotations: Vec<Value>,
}

fn field_spec(kind: &str, path: &[String]) -> Value {
    let mut m = Map::new();
    m.insert("kind", kind.into());
    m.insert("path", Value::String(path.join("/")));
    Value::Map(m)
}

impl Config {
    fn walk(
        &mut self,
        defs: &Map,
        kind: &str,
        type_name: &str,
        path: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "'$ref' chain deeper than {MAX_DEPTH} at {type_name}"
            ));
        }
        let Some(props) = defs.get(type_name).and_then(properties) else {
            return Ok(());
        };
        for (prop_name, prop) in props.iter() {
            path.push(prop_name.clone());
            if extension(prop, "x-kubernetes-annotation").is_some() {
                self.annotations.push(field_spec(kind, path));
            }
            if extension(prop, "x-kubernetes-label-selector").is_some() {
                self.labels.push(field_spec(kind, path));
            }
            if extension(prop, "x-kubernetes-identity").is_some() {
                return Err(format!(
                    "{kind} property {}: x-kubernetes-identity (name prefix fields) is not \
                     supported; use namePrefix on metadata/name only",
                    path.join("/")
                ));
            }
            if let (Some(version), Some(ref_kind)) = (
                extension(prop, "x-kubernetes-object-ref-api-version"),
                extension(prop, "x-kubernetes-object-ref-kind"),
            ) {
                let key = extension(prop, "x-kubernetes-object-ref-name-key").unwrap_or("name");
                let mut full = path.clone();
                full.push(key.to_string());
                let mut entry = Map::new();
                entry.insert("kind", ref_kind.into());
                if let Some((group, _)) = version.split_once('/') {
                    entry.insert("group", group.into());
                }
                entry.insert("fieldSpecs", Value::Seq(vec![field_spec(kind, &full)]));
                self.name_refs.push(Value::Map(entry));
            }
            if let Some(target) = prop.get_str(&["$ref"]) {
                self.walk(defs, kind, target, path, depth + 1)?;
            }
            path.pop();
        }
        Ok(())
    }

    fn into_value(self) -> Value {
        let mut m = Map::new();
        m.insert("nameReference", Value::Seq(self.name_refs));
        m.insert("commonLabels", Value::Seq(self.labels));
        m.insert("commonAnnotations", Value::Seq(self.annotations));
        Value::Map(m)
    }
}
