//! Rendered files into manifests: split on `---`, hooks set apart, sorted for install.
//!
//! As Helm's `releaseutil.SortManifests`: files are taken in path order (partials and blank
//! files skipped), each split into documents in order; a document with a `helm.sh/hook`
//! annotation is a hook (unknown hook names drop the document, as Helm does), everything else
//! a manifest. Both lists are then stably sorted by kind in Helm's install order, unknown
//! kinds last and alphabetically.

use serde_json::Value;

use crate::error::Error;

/// Helm's install order of kinds (v3.19).
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// The annotation that makes a document a hook.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";
/// The annotation ordering hooks of one event.
pub const HOOK_WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
/// The annotation saying when a hook resource is deleted.
pub const HOOK_DELETE_ANNOTATION: &str = "helm.sh/hook-delete-policy";

const HOOK_EVENTS: &[(&str, &str)] = &[
    ("pre-install", "pre-install"),
    ("post-install", "post-install"),
    ("pre-delete", "pre-delete"),
    ("post-delete", "post-delete"),
    ("pre-upgrade", "pre-upgrade"),
    ("post-upgrade", "post-upgrade"),
    ("pre-rollback", "pre-rollback"),
    ("post-rollback", "post-rollback"),
    ("test", "test"),
    ("test-success", "test"),
];

/// One rendered document that is not a hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The template it came from (`chart/templates/x.yaml`).
    pub path: String,
    /// The document, trimmed.
    pub content: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

/// A document annotated with `helm.sh/hook`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub path: String,
    pub content: String,
    pub kind: String,
    pub name: String,
    /// Event names (`pre-install`, `test`, ...).
    pub events: Vec<String>,
    pub weight: i64,
    pub delete_policies: Vec<String>,
}

/// Helm's `SplitManifests`: documents in order, each trimmed, empty ones dropped.
///
/// Helm splits with the Go regexp `(?:^|\s*\n)---\s*` (RE2's `\s` is ASCII whitespace);
/// this finds the same leftmost-first matches by hand, since compiling a regex costs more
/// than rendering a small chart.
pub fn split_manifests(text: &str) -> Vec<String> {
    let s = text.trim();
    let mut docs = Vec::new();
    let mut begin = 0;
    let mut pos = 0;
    while let Some((start, end)) = next_separator(s, pos) {
        docs.push(&s[begin..start]);
        begin = end;
        pos = end;
    }
    docs.push(&s[begin..]);
    docs.into_iter()
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().to_string())
        .collect()
}

/// RE2's `\s`.
fn is_go_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

/// The next match of `(?:^|\s*\n)---\s*` at or after `pos`, as byte offsets. A match of the
/// second branch is a run of whitespace ending in `\n` right before `---`; leftmost-first
/// means the run starts as early as possible (but not before `pos`).
fn next_separator(s: &str, pos: usize) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let skip_space = |mut i: usize| {
        while i < b.len() && is_go_space(b[i]) {
            i += 1;
        }
        i
    };
    if pos == 0 && s.starts_with("---") {
        return Some((0, skip_space(3)));
    }
    let newline = pos + s.get(pos..)?.find("\n---")?;
    let mut start = newline;
    while start > pos && is_go_space(b[start - 1]) {
        start -= 1;
    }
    Some((start, skip_space(newline + 4)))
}

struct Head {
    api_version: String,
    kind: String,
    name: String,
    annotations: Option<Vec<(String, String)>>,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some(String::new()),
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(driftless_gotmpl::yaml::go_format_float(
            n.as_f64().unwrap_or(0.0),
            'g',
            32,
        )),
        _ => None,
    }
}

/// Reads `apiVersion`, `kind`, `metadata.name` and annotations as Helm's `SimpleHead`.
fn head(doc: &str, path: &str) -> Result<Head, Error> {
    let bad = |message: String| Error::Manifest {
        path: path.to_string(),
        message,
    };
    let v = driftless_gotmpl::yaml::from_yaml(doc).map_err(|e| bad(e.to_string()))?;
    let m = match v {
        Value::Null => {
            return Ok(Head {
                api_version: String::new(),
                kind: String::new(),
                name: String::new(),
                annotations: None,
            });
        }
        Value::Object(m) => m,
        _ => {
            return Err(bad(
                "error unmarshaling JSON: cannot unmarshal into a manifest head".into(),
            ));
        }
    };
    let field = |key: &str, v: Option<&Value>| -> Result<String, Error> {
        match v {
            None => Ok(String::new()),
            Some(v) => scalar(v).ok_or_else(|| {
                bad(format!(
                    "json: cannot unmarshal {key} into Go struct field of type string"
                ))
            }),
        }
    };
    let api_version = field("apiVersion", m.get("apiVersion"))?;
    let kind = field("kind", m.get("kind"))?;
    let (name, annotations) = match m.get("metadata") {
        None | Some(Value::Null) => (String::new(), None),
        Some(Value::Object(md)) => {
            let name = field("metadata.name", md.get("name"))?;
            let annotations = match md.get("annotations") {
                None | Some(Value::Null) => None,
                Some(Value::Object(a)) => Some(
                    a.iter()
                        .map(|(k, v)| Ok((k.clone(), field("annotation", Some(v))?)))
                        .collect::<Result<Vec<_>, Error>>()?,
                ),
                Some(_) => {
                    return Err(bad(
                        "json: cannot unmarshal metadata.annotations into map[string]string".into(),
                    ));
                }
            };
            (name, annotations)
        }
        Some(_) => {
            return Err(bad(
                "json: cannot unmarshal metadata into Go struct field".into()
            ));
        }
    };
    Ok(Head {
        api_version,
        kind,
        name,
        annotations,
    })
}

/// Helm's `SortManifests(files, InstallOrder)`: `files` maps template paths to rendered text.
pub fn sort_manifests<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(Vec<Hook>, Vec<Manifest>), Error> {
    let mut files: Vec<(&str, &str)> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.cmp(b.0));
    let mut hooks = Vec::new();
    let mut manifests = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let h = head(&doc, path)?;
            let hook_types = h
                .annotations
                .as_ref()
                .and_then(|a| a.iter().find(|(k, _)| k == HOOK_ANNOTATION))
                .map(|(_, v)| v.clone());
            let Some(hook_types) = hook_types else {
                manifests.push(Manifest {
                    path: path.to_string(),
                    content: doc,
                    api_version: h.api_version,
                    kind: h.kind,
                    name: h.name,
                });
                continue;
            };
            let ann = |key: &str| {
                h.annotations
                    .as_ref()
                    .and_then(|a| a.iter().find(|(k, _)| k == key))
                    .map(|(_, v)| v.clone())
            };
            let weight = ann(HOOK_WEIGHT_ANNOTATION)
                .and_then(|w| go_atoi(&w))
                .unwrap_or(0);
            let mut events = Vec::new();
            let mut unknown = false;
            for t in hook_types.split(',') {
                let t = t.trim().to_lowercase();
                match HOOK_EVENTS.iter().find(|(n, _)| *n == t) {
                    Some((_, e)) => events.push(e.to_string()),
                    None => {
                        unknown = true;
                        break;
                    }
                }
            }
            if unknown {
                continue; // Helm logs "skipping unknown hook" and drops the document.
            }
            let delete_policies = ann(HOOK_DELETE_ANNOTATION)
                .map(|d| d.split(',').map(|p| p.trim().to_lowercase()).collect())
                .unwrap_or_default();
            hooks.push(Hook {
                path: path.to_string(),
                content: doc,
                kind: h.kind,
                name: h.name,
                events,
                weight,
                delete_policies,
            });
        }
    }
    hooks.sort_by_key(|h| kind_key(&h.kind));
    manifests.sort_by_key(|m| kind_key(&m.kind));
    Ok((hooks, manifests))
}

/// Known kinds by install position, then unknown kinds alphabetically.
fn kind_key(kind: &str) -> (u8, usize, String) {
    match INSTALL_ORDER.iter().position(|k| *k == kind) {
        Some(i) => (0, i, String::new()),
        None => (1, 0, kind.to_string()),
    }
}

/// `strconv.Atoi`.
fn go_atoi(s: &str) -> Option<i64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_helm() {
        let docs = split_manifests("\n---\na: 1\n---\n\n---  \nb: 2\n--- # c\nc: 3\n");
        // As with Go's regexp: the first separator eats the blank line, so the second `---`
        // (not preceded by a newline any more) stays in the document.
        assert_eq!(docs, vec!["a: 1", "---  \nb: 2", "# c\nc: 3"]);
    }

    /// The hand-written splitter finds what Helm's regexp finds (RE2 `\s` is ASCII).
    #[test]
    fn split_matches_the_go_regexp() {
        let go = regex::Regex::new(r"(?:^|[\t\n\x0c\r ]*\n)---[\t\n\x0c\r ]*").unwrap();
        let inputs = [
            "---\na: 1",
            "a: 1\n---\nb: 2",
            "a: 1 \t\n \n---   \n\n  b: 2\n---",
            "a: 1\n----\nb\n---x\n--- \n---\n",
            "a\u{a0}\n---\u{a0}b",
            "a\x0b\n---\x0bb",
            "x\n-- -\n---",
            "---",
            "",
            "k: |\n  text\n  ---\n  more\n---\nnext: 1",
        ];
        for input in inputs {
            let expected: Vec<String> = go
                .split(input.trim())
                .filter(|d| !d.is_empty())
                .map(|d| d.trim().to_string())
                .collect();
            assert_eq!(split_manifests(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn sorts_by_kind_and_sets_hooks_apart() {
        let files = vec![
            (
                "c/templates/b.yaml",
                "kind: Deployment\nmetadata:\n  name: d\n---\nkind: Service\nmetadata:\n  name: s\n",
            ),
            (
                "c/templates/a.yaml",
                "kind: Foo\n---\nkind: Bar\n---\nkind: Namespace\n",
            ),
            ("c/templates/_h.tpl", "kind: Secret\n"),
            (
                "c/templates/hook.yaml",
                "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install,post-upgrade\n    helm.sh/hook-weight: \"-5\"\n---\nkind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: bogus\n",
            ),
        ];
        let (hooks, manifests) = sort_manifests(files).unwrap();
        let kinds: Vec<&str> = manifests.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(
            kinds,
            vec!["Namespace", "Service", "Deployment", "Bar", "Foo"]
        );
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].events, vec!["pre-install", "post-upgrade"]);
        assert_eq!(hooks[0].weight, -5);
    }

    #[test]
    fn bad_yaml_names_the_template() {
        let err = sort_manifests(vec![("c/templates/x.yaml", "a: [b\n")]).unwrap_err();
        assert!(err.to_string().contains("c/templates/x.yaml"), "{err}");
    }
}
