//! Object identity (Flux's inventory id) and the per-object policy annotations.

use driftless_api::common::ResourceRef;
use kube::api::{DynamicObject, GroupVersionKind};
use std::fmt;

/// Annotation `kustomize.toolkit.fluxcd.io/ssa`: `Merge`, `IfNotPresent` or `Ignore`.
pub const SSA_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// Annotation `kustomize.toolkit.fluxcd.io/force: Enabled`: recreate on immutable-field errors.
pub const FORCE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/force";
/// Annotation `kustomize.toolkit.fluxcd.io/prune: disabled`: never delete this object.
pub const PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";

/// The identity of one object: what an inventory entry names.
///
/// `group` is empty for the core group; `namespace` is empty for cluster-scoped objects.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// An object or inventory entry that does not name an object.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ObjectRefError {
    #[error("object has no {0}")]
    Missing(&'static str),
    #[error("inventory id {0:?} is not <namespace>_<name>_<group>_<kind>")]
    BadId(String),
}

impl ObjectRef {
    /// The identity of a manifest (apiVersion, kind, metadata.name/namespace).
    pub fn of(obj: &DynamicObject) -> Result<Self, ObjectRefError> {
        let types = obj
            .types
            .as_ref()
            .ok_or(ObjectRefError::Missing("apiVersion/kind"))?;
        if types.kind.is_empty() {
            return Err(ObjectRefError::Missing("kind"));
        }
        let (group, version) = match types.api_version.rsplit_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), types.api_version.clone()),
        };
        if version.is_empty() {
            return Err(ObjectRefError::Missing("apiVersion"));
        }
        let name = obj.metadata.name.clone().filter(|n| !n.is_empty());
        Ok(Self {
            group,
            version,
            kind: types.kind.clone(),
            namespace: obj.metadata.namespace.clone().unwrap_or_default(),
            name: name.ok_or(ObjectRefError::Missing("metadata.name"))?,
        })
    }

    /// Parses an inventory entry (`<ns>_<name>_<group>_<kind>`, version `v`).
    ///
    /// Names and namespaces never contain `_` (DNS names), groups neither, so splitting on
    /// `_` is unambiguous.
    pub fn from_inventory(entry: &ResourceRef) -> Result<Self, ObjectRefError> {
        let parts: Vec<&str> = entry.id.split('_').collect();
        let [namespace, name, group, kind] = parts[..] else {
            return Err(ObjectRefError::BadId(entry.id.clone()));
        };
        if name.is_empty() || kind.is_empty() {
            return Err(ObjectRefError::BadId(entry.id.clone()));
        }
        Ok(Self {
            group: group.to_owned(),
            version: entry.v.clone(),
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The inventory entry of this object.
    pub fn to_inventory(&self) -> ResourceRef {
        ResourceRef {
            id: self.id(),
            v: self.version.clone(),
        }
    }

    /// Flux's id: `<namespace>_<name>_<group>_<kind>` (version-independent).
    pub fn id(&self) -> String {
        format!(
            "{}_{}_{}_{}",
            self.namespace, self.name, self.group, self.kind
        )
    }

    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind::gvk(&self.group, &self.version, &self.kind)
    }

    /// True for CustomResourceDefinitions (applied first, then waited for).
    pub fn is_crd(&self) -> bool {
        self.group == "apiextensions.k8s.io" && self.kind == "CustomResourceDefinition"
    }

    /// True for Namespaces.
    pub fn is_namespace(&self) -> bool {
        self.group.is_empty() && self.kind == "Namespace"
    }

    /// Kinds applied in the first stage: definitions other objects need to exist (their
    /// kind, their namespace, their class or role), as Flux's `IsClusterDefinition`.
    pub fn is_definition(&self) -> bool {
        self.is_crd()
            || self.is_namespace()
            || matches!(
                (self.group.as_str(), self.kind.as_str()),
                ("rbac.authorization.k8s.io", "ClusterRole")
                    | ("storage.k8s.io", "StorageClass")
                    | ("scheduling.k8s.io", "PriorityClass")
                    | ("networking.k8s.io", "IngressClass")
                    | ("node.k8s.io", "RuntimeClass")
            )
    }
}

/// `Kind/namespace/name` (or `Kind/name`), Flux's change-set subject format.
impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// What `kustomize.toolkit.fluxcd.io/ssa` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SsaPolicy {
    /// Apply, taking ownership of every field in the manifest.
    #[default]
    Override,
    /// Apply, keeping fields other managers set (no removal of their fields).
    Merge,
    /// Create when missing, never update.
    IfNotPresent,
    /// Never apply.
    Ignore,
}

impl SsaPolicy {
    /// The policy of an object's annotations (case-insensitive, like Flux).
    pub fn of(annotations: Option<&std::collections::BTreeMap<String, String>>) -> Self {
        match annotations
            .and_then(|a| a.get(SSA_ANNOTATION))
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            Some("merge") => Self::Merge,
            Some("ifnotpresent") => Self::IfNotPresent,
            Some("ignore") => Self::Ignore,
            _ => Self::Override,
        }
    }
}

fn annotation_is(
    annotations: Option<&std::collections::BTreeMap<String, String>>,
    key: &str,
    value: &str,
) -> bool {
    annotations
        .and_then(|a| a.get(key))
        .is_some_and(|v| v.eq_ignore_ascii_case(value))
}

/// `kustomize.toolkit.fluxcd.io/force: Enabled`.
pub fn force_enabled(obj: &DynamicObject) -> bool {
    annotation_is(
        obj.metadata.annotations.as_ref(),
        FORCE_ANNOTATION,
        "enabled",
    )
}

/// `kustomize.toolkit.fluxcd.io/prune: disabled`.
pub fn prune_disabled(obj: &DynamicObject) -> bool {
    annotation_is(
        obj.metadata.annotations.as_ref(),
        PRUNE_ANNOTATION,
        "disabled",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(json: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json).expect("valid object")
    }

    #[test]
    fn ids_follow_flux_and_round_trip() {
        let cm = obj(serde_json::json!({"apiVersion":"v1","kind":"ConfigMap",
            "metadata":{"name":"a","namespace":"ns"}}));
        let r = ObjectRef::of(&cm).expect("ref");
        assert_eq!(r.id(), "ns_a__ConfigMap");
        assert_eq!(r.to_inventory().v, "v1");
        assert_eq!(ObjectRef::from_inventory(&r.to_inventory()), Ok(r));

        let crd = obj(serde_json::json!({"apiVersion":"apiextensions.k8s.io/v1",
            "kind":"CustomResourceDefinition","metadata":{"name":"x.y.z"}}));
        let r = ObjectRef::of(&crd).expect("ref");
        assert_eq!(
            r.id(),
            "_x.y.z_apiextensions.k8s.io_CustomResourceDefinition"
        );
        assert!(r.is_crd() && r.is_definition());
        assert_eq!(r.to_string(), "CustomResourceDefinition/x.y.z");
        assert_eq!(ObjectRef::from_inventory(&r.to_inventory()), Ok(r));
    }

    #[test]
    fn bad_objects_and_ids_are_errors() {
        let nameless = obj(serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{}}));
        assert_eq!(
            ObjectRef::of(&nameless),
            Err(ObjectRefError::Missing("metadata.name"))
        );
        let bad = ResourceRef {
            id: "a_b_c".into(),
            v: "v1".into(),
        };
        assert!(matches!(
            ObjectRef::from_inventory(&bad),
            Err(ObjectRefError::BadId(_))
        ));
    }

    #[test]
    fn annotations_select_policies_case_insensitively() {
        let o = obj(
            serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{
            "name":"a","annotations":{SSA_ANNOTATION:"ifNotPresent",FORCE_ANNOTATION:"enabled",
            PRUNE_ANNOTATION:"Disabled"}}}),
        );
        assert_eq!(
            SsaPolicy::of(o.metadata.annotations.as_ref()),
            SsaPolicy::IfNotPresent
        );
        assert!(force_enabled(&o));
        assert!(prune_disabled(&o));
        assert_eq!(SsaPolicy::of(None), SsaPolicy::Override);
    }
}
