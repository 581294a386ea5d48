//! The kustomization's `openapi: {path: …}`: a custom OpenAPI (swagger 2) document that, as in
//! kustomize, replaces the built-in schema for strategic-merge patches. Its definitions say,
//! through `x-kubernetes-group-version-kind`, which kinds it describes and, through
//! `x-kubernetes-patch-merge-key`/`x-kubernetes-patch-strategy`, which lists merge by key.
//! Kinds it does not describe — built-in ones included — then have their lists replaced.

use crate::value::{Map, Value};

/// A custom schema: definitions by name and the kinds they describe.
#[derive(Debug)]
pub struct Schema {
    definitions: Map,
    /// (group, kind, definition name).
    kinds: Vec<(String, String, String)>,
}

/// Deeper `$ref`/property chains than this are a cycle or abuse, not a schema.
const MAX_DEPTH: usize = 64;

impl Schema {
    /// Reads a schema document (JSON or YAML).
    pub fn parse(text: &str) -> Result<Schema, String> {
        let doc = crate::yaml::parse_one(text)?;
        let Some(Value::Map(definitions)) = doc.get("definitions").cloned() else {
            return Err("expected an OpenAPI document with 'definitions'".into());
        };
        let mut kinds = Vec::new();
        for (name, def) in definitions.iter() {
            for gvk in def
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_seq)
                .into_iter()
                .flatten()
            {
                let group = gvk.get_str(&["group"]).unwrap_or_default().to_string();
                if let Some(kind) = gvk.get_str(&["kind"]) {
                    kinds.push((group, kind.to_string(), name.clone()));
                }
            }
        }
        Ok(Schema { definitions, kinds })
    }

    /// Whether the schema describes objects of this group and kind.
    pub fn knows(&self, group: &str, kind: &str) -> bool {
        self.definition_of(group, kind).is_some()
    }

    fn definition_of(&self, group: &str, kind: &str) -> Option<&Value> {
        let (_, _, name) = self
            .kinds
            .iter()
            .find(|(g, k, _)| g == group && k == kind)?;
        self.definitions.get(name)
    }

    /// Follows `$ref: "#/definitions/<name>"` (a few hops at most).
    fn resolve<'a>(&'a self, mut node: &'a Value) -> Option<&'a Value> {
        for _ in 0..MAX_DEPTH {
            match node.get_str(&["$ref"]) {
                Some(r) => {
                    let name = r.strip_prefix("#/definitions/").unwrap_or(r);
                    node = self.definitions.get(name)?;
                }
                None => return Some(node),
            }
        }
        None
    }

    /// The merge key of list `field` under `path` (map keys, list fields included) in an
    /// object of `group`/`kind`, when the schema says the list merges by key.
    pub fn merge_key(
        &self,
        group: &str,
        kind: &str,
        path: &[String],
        field: &str,
    ) -> Option<String> {
        let mut node = self.resolve(self.definition_of(group, kind)?)?;
        for seg in path.iter().take(MAX_DEPTH) {
            node = self.resolve(node.get("properties")?.get(seg)?)?;
            if let Some(items) = node.get("items") {
                node = self.resolve(items)?;
            }
        }
        let list = self.resolve(node.get("properties")?.get(field)?)?;
        let strategy = list
            .get_str(&["x-kubernetes-patch-strategy"])
            .unwrap_or_default();
        if !strategy.split(',').any(|s| s.trim() == "merge") {
            return None;
        }
        list.get_str(&["x-kubernetes-patch-merge-key"])
            .map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r##"{"definitions": {
      "Pool": {"x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Pool", "version": "v1"}],
               "properties": {"spec": {"$ref": "#/definitions/PoolSpec"}}},
      "PoolSpec": {"properties": {
        "members": {"type": "array", "items": {"$ref": "#/definitions/Member"},
                    "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
        "tags": {"type": "array", "items": {"type": "string"}}}},
      "Member": {"properties": {"ports": {"type": "array", "x-kubernetes-patch-merge-key": "port",
                 "x-kubernetes-patch-strategy": "merge,retainKeys"}}}
    }}"##;

    #[test]
    fn merge_keys_follow_refs_and_list_items() {
        let s = Schema::parse(SCHEMA).expect("parses");
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(s.knows("example.com", "Pool"));
        assert!(!s.knows("apps", "Deployment"));
        assert_eq!(
            s.merge_key("example.com", "Pool", &path(&["spec"]), "members")
                .as_deref(),
            Some("name")
        );
        assert_eq!(
            s.merge_key("example.com", "Pool", &path(&["spec"]), "tags"),
            None
        );
        assert_eq!(
            s.merge_key("example.com", "Pool", &path(&["spec", "members"]), "ports")
                .as_deref(),
            Some("port")
        );
        assert!(Schema::parse("[1, 2]").is_err());
    }
}
