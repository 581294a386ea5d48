//! The commit message: `spec.git.commit.messageTemplate`, a Go template, executed with Flux's
//! v1 template data:
//!
//! ```text
//! .AutomationObject            namespace/name of the ImageUpdateAutomation (.Namespace, .Name)
//! .Changed.FileChanges         map file -> ObjectChanges
//! .Changed.Objects             ObjectChanges of all files: map ObjectIdentifier -> []Change
//! .Changed.Changes             []Change, each once: .OldValue .NewValue .Setter
//! .Values                      spec.git.commit.messageTemplateValues
//! ObjectIdentifier             .APIVersion .Kind .Name .Namespace
//! ```
//!
//! Functions are Sprig's hermetic subset, as in Flux: nothing that reads the clock, the
//! environment, the network or a random source, so a message depends only on the change.
//! Go orders `range` over a struct-keyed map by the struct's fields; so do we, and where Go's
//! order is random (`.Changed.Changes`) ours is files, then objects, then lines.

use std::collections::BTreeMap;
use std::sync::Arc;

use driftless_gotmpl::{Library, Map, Object, Templates, Value};

use crate::setters::{Change, FileChanges, ObjectId};

/// Flux's message when `messageTemplate` is empty.
pub const DEFAULT_MESSAGE: &str = "Update from image update automation";

/// Sprig functions whose result depends on when or where they run.
const NON_HERMETIC: &[&str] = &[
    "date",
    "date_in_zone",
    "date_modify",
    "now",
    "htmlDate",
    "htmlDateInZone",
    "dateInZone",
    "dateModify",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "randBytes",
    "uuidv4",
    "env",
    "expandenv",
    "getHostByName",
];

/// A template that cannot be parsed or executed; the message says what to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct MessageError(String);

/// Renders the commit message of an automation `namespace/name` for `changes`.
pub fn render(
    template: Option<&str>,
    namespace: &str,
    name: &str,
    changes: &FileChanges,
    values: Option<&BTreeMap<String, String>>,
) -> Result<String, MessageError> {
    let source = template
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_MESSAGE);
    let mut set = Templates::new(Library::Sprig);
    for f in NON_HERMETIC {
        set.remove_func(f);
    }
    set.parse("commit message", source).map_err(|e| {
        MessageError(format!(
            "unable to create commit message template from spec: {e}"
        ))
    })?;
    let data = Value::Object(Arc::new(TemplateData {
        namespace: namespace.into(),
        name: name.into(),
        changes: changes.clone(),
        values: values.cloned().unwrap_or_default(),
    }));
    set.execute("commit message", &data).map_err(|e| {
        let text = e.to_string();
        let removed = [
            ("can't evaluate field Updated in type", ".Updated", ".Changed"),
            (
                "can't evaluate field ImageResult in type",
                ".Changed.ImageResult",
                ".Changed.FileChanges' or '.Changed.Objects",
            ),
        ];
        for (pattern, field, instead) in removed {
            if text.contains(pattern) {
                return MessageError(format!(
                    "template uses removed '{field}' field. Please use '{instead}' instead. See: \
                     https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template"
                ));
            }
        }
        MessageError(format!("failed to run template from spec: {text}"))
    })
}

#[derive(Debug)]
struct TemplateData {
    namespace: String,
    name: String,
    changes: FileChanges,
    values: BTreeMap<String, String>,
}

impl Object for TemplateData {
    fn type_name(&self) -> &str {
        "source.TemplateData"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "AutomationObject" => Some(Value::Object(Arc::new(NamespacedName {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
            }))),
            "Changed" => Some(Value::Object(Arc::new(Changed(self.changes.clone())))),
            "Values" => Some(Value::map(
                self.values
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::str(v)))
                    .collect(),
            )),
            _ => None,
        }
    }
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        for f in ["AutomationObject", "Changed", "Values"] {
            if let Some(v) = self.field(f) {
                m.insert(f.into(), plain(v));
            }
        }
        Value::map(m)
    }
}

/// The plain data of an object (for `toJson`, `%v`).
fn plain(v: Value) -> Value {
    match v {
        Value::Object(o) => o.to_value(),
        v => v,
    }
}

#[derive(Debug)]
struct NamespacedName {
    namespace: String,
    name: String,
}

impl Object for NamespacedName {
    fn type_name(&self) -> &str {
        "types.NamespacedName"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Namespace" => Some(Value::str(&self.namespace)),
            "Name" => Some(Value::str(&self.name)),
            _ => None,
        }
    }
    fn display(&self) -> Option<String> {
        Some(format!("{}/{}", self.namespace, self.name))
    }
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("Namespace".into(), Value::str(&self.namespace));
        m.insert("Name".into(), Value::str(&self.name));
        Value::map(m)
    }
}

/// Flux's `update.Result`.
#[derive(Debug)]
struct Changed(FileChanges);

impl Object for Changed {
    fn type_name(&self) -> &str {
        "update.Result"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "FileChanges" => Some(Value::map(
                self.0
                    .iter()
                    .map(|(file, objects)| {
                        (
                            file.clone(),
                            Value::Object(Arc::new(ObjectChanges(objects.clone()))),
                        )
                    })
                    .collect(),
            )),
            "Objects" => {
                let mut all: BTreeMap<ObjectId, Vec<Change>> = BTreeMap::new();
                for objects in self.0.values() {
                    for (id, changes) in objects {
                        all.entry(id.clone()).or_default().extend(changes.clone());
                    }
                }
                Some(Value::Object(Arc::new(ObjectChanges(all))))
            }
            "Changes" => {
                let mut seen: Vec<&Change> = Vec::new();
                for change in self.0.values().flat_map(|o| o.values()).flatten() {
                    if !seen.contains(&change) {
                        seen.push(change);
                    }
                }
                Some(Value::list(seen.into_iter().map(change_value).collect()))
            }
            _ => None,
        }
    }
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(v) = self.field("FileChanges") {
            m.insert("FileChanges".into(), plain_map(v));
        }
        Value::map(m)
    }
}

fn plain_map(v: Value) -> Value {
    match v.as_map() {
        Some(m) => Value::map(
            m.snapshot()
                .into_iter()
                .map(|(k, v)| (k, plain(v)))
                .collect(),
        ),
        None => v,
    }
}

fn change_value(c: &Change) -> Value {
    let mut m = Map::new();
    m.insert("OldValue".into(), Value::str(&c.old_value));
    m.insert("NewValue".into(), Value::str(&c.new_value));
    m.insert("Setter".into(), Value::str(&c.setter));
    Value::map(m)
}

/// Flux's `ObjectChanges`, a map keyed by a struct: `range $id, $changes := …` gives the
/// identifier as an object.
#[derive(Debug)]
struct ObjectChanges(BTreeMap<ObjectId, Vec<Change>>);

impl ObjectChanges {
    fn changes(list: &[Change]) -> Value {
        Value::list(list.iter().map(change_value).collect())
    }
}

impl Object for ObjectChanges {
    fn type_name(&self) -> &str {
        "update.ObjectChanges"
    }
    fn field(&self, _: &str) -> Option<Value> {
        None
    }
    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .map(|(id, list)| {
                    (
                        Value::Object(Arc::new(Identifier(id.clone()))),
                        ObjectChanges::changes(list),
                    )
                })
                .collect(),
        )
    }
    fn collection(&self) -> Option<Value> {
        Some(self.to_value())
    }
    fn to_value(&self) -> Value {
        Value::map(
            self.0
                .iter()
                .map(|(id, list)| {
                    (
                        format!(
                            "{}/{}/{}/{}",
                            id.api_version, id.kind, id.namespace, id.name
                        ),
                        ObjectChanges::changes(list),
                    )
                })
                .collect(),
        )
    }
}

/// Flux's `ObjectIdentifier` (kyaml's `ResourceIdentifier`).
#[derive(Debug)]
struct Identifier(ObjectId);

impl Object for Identifier {
    fn type_name(&self) -> &str {
        "update.ObjectIdentifier"
    }
    fn field(&self, name: &str) -> Option<Value> {
        let id = &self.0;
        match name {
            "APIVersion" => Some(Value::str(&id.api_version)),
            "Kind" => Some(Value::str(&id.kind)),
            "Name" => Some(Value::str(&id.name)),
            "Namespace" => Some(Value::str(&id.namespace)),
            _ => None,
        }
    }
    fn display(&self) -> Option<String> {
        let id = &self.0;
        Some(format!(
            "{{{{{} {}}} {{{} {}}}}}",
            id.api_version, id.kind, id.name, id.namespace
        ))
    }
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        for f in ["APIVersion", "Kind", "Name", "Namespace"] {
            if let Some(v) = self.field(f) {
                m.insert(f.into(), v);
            }
        }
        Value::map(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes() -> FileChanges {
        let deploy = ObjectId {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "podinfo".into(),
            namespace: "apps".into(),
        };
        let kustomization = ObjectId {
            api_version: "kustomize.config.k8s.io/v1beta1".into(),
            kind: "Kustomization".into(),
            ..Default::default()
        };
        let tag = Change {
            old_value: "6.7.0".into(),
            new_value: "6.7.1".into(),
            setter: "flux-system:podinfo:tag".into(),
        };
        let image = Change {
            old_value: "podinfo:6.7.0".into(),
            new_value: "podinfo:6.7.1".into(),
            setter: "flux-system:podinfo".into(),
        };
        let mut fc = FileChanges::new();
        fc.entry("apps/deploy.yaml".into())
            .or_default()
            .insert(deploy, vec![image.clone()]);
        fc.entry("apps/kustomization.yaml".into())
            .or_default()
            .insert(kustomization, vec![tag]);
        fc.entry("staging/deploy.yaml".into()).or_default().insert(
            ObjectId {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: "podinfo".into(),
                namespace: "staging".into(),
            },
            vec![image],
        );
        fc
    }

    fn run(template: &str) -> Result<String, MessageError> {
        let mut values = BTreeMap::new();
        values.insert("env".to_string(), "prod".to_string());
        render(
            Some(template),
            "flux-system",
            "auto",
            &changes(),
            Some(&values),
        )
    }

    #[test]
    fn default_message() {
        assert_eq!(
            render(None, "a", "b", &changes(), None).unwrap(),
            DEFAULT_MESSAGE
        );
        assert_eq!(
            render(Some(""), "a", "b", &changes(), None).unwrap(),
            DEFAULT_MESSAGE
        );
    }

    #[test]
    fn flux_documented_template() {
        // The example of Flux's ImageUpdateAutomation documentation, in its shape.
        let template = "Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind }} {{ $resource.Name }}
  Changes:
{{- range $_, $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
Env: {{ .Values.env }}";
        assert_eq!(
            run(template).unwrap(),
            "Automated image update

Automation name: flux-system/auto

Files:
- apps/deploy.yaml
- apps/kustomization.yaml
- staging/deploy.yaml
Objects:
- Deployment podinfo
  Changes:
    - podinfo:6.7.0 -> podinfo:6.7.1
- Deployment podinfo
  Changes:
    - podinfo:6.7.0 -> podinfo:6.7.1
- Kustomization 
  Changes:
    - 6.7.0 -> 6.7.1
Env: prod"
        );
    }

    #[test]
    fn changes_are_listed_once_and_fields_are_reachable() {
        let template = "{{ range .Changed.Changes }}{{ .Setter }}={{ .NewValue }};{{ end }}\
                        {{ len .Changed.Objects }} {{ .AutomationObject.Namespace }} \
                        {{ .AutomationObject.Name }} {{ upper .Values.env }}";
        assert_eq!(
            run(template).unwrap(),
            "flux-system:podinfo=podinfo:6.7.1;flux-system:podinfo:tag=6.7.1;3 flux-system auto PROD"
        );
    }

    #[test]
    fn removed_fields_and_bad_templates_say_what_to_fix() {
        let err = run("{{ .Updated }}").unwrap_err();
        assert!(err.0.contains("removed '.Updated'"), "{err}");
        let err = run("{{ .Changed.ImageResult }}").unwrap_err();
        assert!(err.0.contains("removed '.Changed.ImageResult'"), "{err}");
        let err = run("{{ if }}").unwrap_err();
        assert!(
            err.0
                .starts_with("unable to create commit message template"),
            "{err}"
        );
        let err = run("{{ .Values.env | nosuchfunc }}").unwrap_err();
        assert!(err.0.contains("nosuchfunc"), "{err}");
    }

    #[test]
    fn clock_and_randomness_are_not_available() {
        for f in ["now", "randAlpha 3", "uuidv4", "env \"HOME\""] {
            let err = run(&format!("{{{{ {f} }}}}")).unwrap_err();
            assert!(err.0.contains("not defined"), "{f}: {err}");
        }
    }
}
