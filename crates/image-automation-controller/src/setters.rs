//! The `Setters` update strategy: values marked with a line comment
//! `# {"$imagepolicy": "<namespace>:<name>[:tag|:name|:digest]"}` get the image an
//! ImagePolicy chose; nothing else in the file changes.
//!
//! Flux rewrites files through kyaml, which re-serialises every document it touches. We edit
//! the text instead: only the bytes of a marked scalar change, so comments, key order, quoting,
//! indentation, line endings and blank lines stay exactly as the author wrote them (tested byte
//! for byte). Each document (split at `---` lines) is parsed, so a file that is not YAML is
//! reported and left alone, and each change is attributed to its object (`apiVersion`, `kind`,
//! `metadata.name`/`namespace`) for the commit message's `.Changed.Objects`.
//!
//! Which files: as Flux, `*.yaml`, `*.yml` and `Kustomization` files containing the text
//! `"$imagepolicy"`; symbolic links are not followed and `.git` is skipped.
//!
//! Marker values:
//! - `ns:name` → `<latestRef.name>:<latestRef.tag>[@<digest>]`
//! - `ns:name:tag` → the tag; `ns:name:name` → the image name; `ns:name:digest` → the digest.
//!
//! Differences from Flux, all reported instead of silently skipped: a marker naming an unknown
//! policy or an unknown suffix, a `:digest` marker of a policy without a digest (Flux would
//! write an empty value), a marker on a value that is not a one-line scalar.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use driftless_api::image::ImageRef;

/// The token a file must contain to be looked at (Flux's screening token).
const TOKEN: &str = "\"$imagepolicy\"";

/// Largest file considered; image manifests are small, and this bounds the memory one file
/// can take.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// An object a change was made in (Flux's `ObjectIdentifier`); fields are empty when the
/// document does not set them (a `kustomization.yaml` has no name).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
}

/// One value rewritten (Flux's `Change`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    /// The value before.
    pub old_value: String,
    /// The value written.
    pub new_value: String,
    /// The marker, e.g. `flux-system:podinfo:tag`.
    pub setter: String,
}

/// Changes by file (path relative to the scanned root, `/`-separated), then by object, in the
/// order they appear (Flux's `Result.FileChanges`).
pub type FileChanges = BTreeMap<String, BTreeMap<ObjectId, Vec<Change>>>;

/// A marker that was not applied, and why; the reconciler surfaces these to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// File relative to the scanned root.
    pub file: String,
    /// 1-based line of the marker (0 when the whole file was skipped).
    pub line: usize,
    /// What is wrong and what to do.
    pub reason: String,
}

/// The outcome of updating one file's text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileUpdate {
    /// The new text (identical to the input when nothing changed).
    pub text: String,
    /// Changes by object.
    pub objects: BTreeMap<ObjectId, Vec<Change>>,
    /// Markers not applied: (line, reason).
    pub skipped: Vec<(usize, String)>,
}

/// The outcome of updating a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeUpdate {
    /// What changed (only files with at least one change).
    pub changes: FileChanges,
    /// Markers and files not applied.
    pub skipped: Vec<Skipped>,
}

/// Errors reading or writing the tree (not the user's YAML, which is [`Skipped`]).
#[derive(Debug, thiserror::Error)]
pub enum SettersError {
    /// The directory to update does not exist in the checkout.
    #[error("update path {0} does not exist in the repository")]
    NoPath(String),
    /// A filesystem error.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Which file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Rewrites the markers of every eligible file under `root/path` in place, given the images
/// of the in-scope policies keyed `namespace:name`.
pub fn update_tree(
    root: &Path,
    path: &str,
    policies: &BTreeMap<String, ImageRef>,
) -> Result<TreeUpdate, SettersError> {
    let start = root.join(path.trim_start_matches('/'));
    let meta = std::fs::symlink_metadata(&start).map_err(|_| SettersError::NoPath(path.into()))?;
    let mut files = Vec::new();
    if meta.is_dir() {
        collect_files(&start, &mut files)?;
    } else if meta.is_file() {
        files.push(start);
    } else {
        return Err(SettersError::NoPath(path.into()));
    }
    files.sort();
    let mut out = TreeUpdate::default();
    for file in files {
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .to_string_lossy()
            .replace('\\', "/");
        let size = std::fs::metadata(&file)
            .map_err(|source| io("reading", &file, source))?
            .len();
        if size > MAX_FILE_BYTES {
            out.skipped.push(Skipped {
                file: rel,
                line: 0,
                reason: format!("larger than {MAX_FILE_BYTES} bytes"),
            });
            continue;
        }
        let bytes = std::fs::read(&file).map_err(|source| io("reading", &file, source))?;
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        if !text.contains(TOKEN) {
            continue;
        }
        let update = match update_text(&text, policies) {
            Ok(u) => u,
            Err(reason) => {
                out.skipped.push(Skipped {
                    file: rel,
                    line: 0,
                    reason,
                });
                continue;
            }
        };
        out.skipped
            .extend(update.skipped.into_iter().map(|(line, reason)| Skipped {
                file: rel.clone(),
                line,
                reason,
            }));
        if !update.objects.is_empty() {
            std::fs::write(&file, update.text.as_bytes())
                .map_err(|source| io("writing", &file, source))?;
            out.changes.insert(rel, update.objects);
        }
    }
    Ok(out)
}

fn io(op: &'static str, path: &Path, source: std::io::Error) -> SettersError {
    SettersError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SettersError> {
    let entries = std::fs::read_dir(dir).map_err(|source| io("listing", dir, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| io("listing", dir, source))?;
        let kind = entry
            .file_type()
            .map_err(|source| io("listing", &entry.path(), source))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if kind.is_dir() {
            if name != ".git" {
                collect_files(&entry.path(), out)?;
            }
        } else if kind.is_file()
            && (name.ends_with(".yaml") || name.ends_with(".yml") || name == "Kustomization")
        {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// Rewrites the markers of one file's text. `Err` when the text is not YAML (the file is then
/// left alone, as Flux does with its "problem files").
pub fn update_text(
    text: &str,
    policies: &BTreeMap<String, ImageRef>,
) -> Result<FileUpdate, String> {
    let mut update = FileUpdate::default();
    let mut out = String::with_capacity(text.len());
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut start = 0;
    while start < lines.len() {
        let end = (start + 1..lines.len())
            .find(|i| is_document_marker(lines[*i]))
            .unwrap_or(lines.len());
        let doc = &lines[start..end];
        let object = document_object(&doc.concat())
            .map_err(|e| format!("not valid YAML (document at line {}): {e}", start + 1))?;
        for (offset, line) in doc.iter().enumerate() {
            let number = start + offset + 1;
            match rewrite_line(line, policies) {
                Rewrite::None => out.push_str(line),
                Rewrite::Skipped(reason) => {
                    update.skipped.push((number, reason));
                    out.push_str(line);
                }
                Rewrite::Changed { text, change } => {
                    out.push_str(&text);
                    if change.old_value != change.new_value {
                        update
                            .objects
                            .entry(object.clone())
                            .or_default()
                            .push(change);
                    }
                }
            }
        }
        start = end;
    }
    update.text = out;
    Ok(update)
}

fn is_document_marker(line: &str) -> bool {
    let line = line.trim_end_matches(['\n', '\r']);
    line == "---" || line.starts_with("--- ") || line.starts_with("---\t")
}

/// Parses one document and reads its identity.
fn document_object(doc: &str) -> Result<ObjectId, String> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_aliases: 10_000,
            max_depth: 256,
        },
        with_snippet: false,
    };
    let value: serde_json::Value =
        serde_saphyr::from_str_with_options(doc, options).map_err(|e| e.to_string())?;
    let text = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let meta = value.get("metadata");
    Ok(ObjectId {
        api_version: text(value.get("apiVersion")),
        kind: text(value.get("kind")),
        name: text(meta.and_then(|m| m.get("name"))),
        namespace: text(meta.and_then(|m| m.get("namespace"))),
    })
}

enum Rewrite {
    None,
    Skipped(String),
    Changed { text: String, change: Change },
}

/// Finds a marker comment on `line` and replaces the scalar before it.
fn rewrite_line(line: &str, policies: &BTreeMap<String, ImageRef>) -> Rewrite {
    if !line.contains(TOKEN) {
        return Rewrite::None;
    }
    let Some((hash, setter)) = find_marker(line) else {
        return Rewrite::None;
    };
    let new_value = match setter_value(&setter, policies) {
        Ok(v) => v,
        Err(reason) => return Rewrite::Skipped(reason),
    };
    let Some((start, end)) = value_span(&line[..hash]) else {
        return Rewrite::Skipped(format!(
            "marker {setter:?} is not on a `key: value` or `- value` line"
        ));
    };
    let raw = &line[start..end];
    let (old_value, encoded) = match raw.chars().next() {
        Some('"') => (
            serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_string()),
            serde_json::Value::String(new_value.clone()).to_string(),
        ),
        Some('\'') => (
            raw.trim_matches('\'').replace("''", "'"),
            format!("'{}'", new_value.replace('\'', "''")),
        ),
        Some('|' | '>' | '{' | '[' | '*' | '&' | '!') => {
            return Rewrite::Skipped(format!(
                "marker {setter:?} is on a value that is not a plain or quoted one-line scalar"
            ));
        }
        _ => (raw.to_string(), plain_or_quoted(&new_value)),
    };
    // An empty value (`image: # marker`) gets a space before the new one.
    let encoded = if raw.is_empty() {
        format!(" {encoded}")
    } else {
        encoded
    };
    let text = format!("{}{}{}", &line[..start], encoded, &line[end..]);
    Rewrite::Changed {
        text,
        change: Change {
            old_value,
            new_value,
            setter,
        },
    }
}

/// The byte offset of the marker's `#` and the setter it names.
fn find_marker(line: &str) -> Option<(usize, String)> {
    let body = line.trim_end_matches(['\n', '\r']);
    for (i, _) in body.match_indices('#').rev() {
        if i > 0 && !body[..i].ends_with([' ', '\t']) {
            continue;
        }
        let comment = body[i + 1..].trim();
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str(comment) else {
            continue;
        };
        if let Some(serde_json::Value::String(setter)) = map.get("$imagepolicy") {
            return Some((i, setter.clone()));
        }
    }
    None
}

/// The value a setter names, or why it cannot be set.
fn setter_value(setter: &str, policies: &BTreeMap<String, ImageRef>) -> Result<String, String> {
    let parts: Vec<&str> = setter.split(':').collect();
    let (policy, field) = match parts.as_slice() {
        [ns, name] => (format!("{ns}:{name}"), None),
        [ns, name, field] => (format!("{ns}:{name}"), Some(*field)),
        _ => {
            return Err(format!(
                "marker {setter:?} is not <namespace>:<name>[:tag|:name|:digest]"
            ));
        }
    };
    let Some(image) = policies.get(&policy) else {
        return Err(format!(
            "marker {setter:?} names ImagePolicy {policy:?}, which is not among the automation's \
             policies (wrong namespace or name, not selected by spec.policySelector, or no latest \
             image yet)"
        ));
    };
    match field {
        None => Ok(match &image.digest {
            Some(d) if !d.is_empty() => format!("{}:{}@{d}", image.name, image.tag),
            _ => format!("{}:{}", image.name, image.tag),
        }),
        Some("tag") => Ok(image.tag.clone()),
        Some("name") => Ok(image.name.clone()),
        Some("digest") => match &image.digest {
            Some(d) if !d.is_empty() => Ok(d.clone()),
            _ => Err(format!(
                "marker {setter:?} asks for a digest, but ImagePolicy {policy:?} has none \
                 (set its spec.digestReflectionPolicy)"
            )),
        },
        Some(other) => Err(format!(
            "marker {setter:?} has unknown field {other:?}: use tag, name or digest"
        )),
    }
}

/// The span of the scalar in `before` (the line up to the marker's `#`): after the sequence
/// dashes and the `key:` if any, up to the trailing whitespace.
fn value_span(before: &str) -> Option<(usize, usize)> {
    let end = before.trim_end().len();
    let mut pos = before.len() - before.trim_start().len();
    // Sequence entries: `- `, possibly nested (`- - x`).
    while before[pos..end].starts_with("- ") || &before[pos..end] == "-" {
        pos += 1;
        pos += before[pos..].len() - before[pos..].trim_start().len();
    }
    let rest = &before[pos..end];
    if let Some(key_end) = key_length(rest) {
        pos += key_end;
        pos += before[pos..].len() - before[pos..].trim_start().len();
    }
    if pos > end {
        // `key:` with nothing after it.
        return Some((before.trim_end().len(), before.trim_end().len()));
    }
    Some((pos, end))
}

/// The length of a leading `key:` (with the colon), if `rest` starts with one.
fn key_length(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    let after_key = match bytes.first()? {
        q @ (b'"' | b'\'') => {
            let close = rest[1..].find(*q as char)? + 1;
            close + 1
        }
        _ => {
            // A plain key ends at the first `: ` (or a `:` ending the text); a plain value
            // never contains `: `.
            let i = rest
                .find(": ")
                .or_else(|| rest.ends_with(':').then(|| rest.len() - 1))?;
            return Some(i + 1);
        }
    };
    let tail = &rest[after_key..];
    let colon = tail.len() - tail.trim_start().len();
    tail[colon..]
        .starts_with(':')
        .then_some(after_key + colon + 1)
}

/// A plain scalar when it reads back as the same string, double-quoted otherwise (a tag such
/// as `1.10` or `true` must stay a string).
fn plain_or_quoted(value: &str) -> String {
    let special_start = value
        .chars()
        .next()
        .is_none_or(|c| "-?:,[]{}#&*!|>'\"%@` \t".contains(c));
    let reads_as_other = {
        let lower = value.to_ascii_lowercase();
        matches!(
            lower.as_str(),
            "true" | "false" | "null" | "~" | "yes" | "no" | "on" | "off" | "y" | "n"
        ) || value.parse::<f64>().is_ok()
            || value.starts_with("0x")
            || value.starts_with("0o")
            || lower == ".inf"
            || lower == "-.inf"
            || lower == ".nan"
    };
    if special_start
        || reads_as_other
        || value.contains(": ")
        || value.contains(" #")
        || value.ends_with([' ', ':'])
        || value.contains(['\n', '\r', '\t'])
    {
        serde_json::Value::String(value.to_string()).to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies() -> BTreeMap<String, ImageRef> {
        let mut p = BTreeMap::new();
        p.insert(
            "flux-system:podinfo".into(),
            ImageRef {
                name: "ghcr.io/stefanprodan/podinfo".into(),
                tag: "6.7.1".into(),
                digest: None,
            },
        );
        p.insert(
            "apps:web".into(),
            ImageRef {
                name: "registry.local:5000/web".into(),
                tag: "1.10".into(),
                digest: Some("sha256:abcd".into()),
            },
        );
        p
    }

    const DEPLOYMENT: &str = "\
# A comment at the top, kept.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo   # trailing comment
  namespace: apps
spec:
  template:
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/stefanprodan/podinfo:6.7.0 # {\"$imagepolicy\": \"flux-system:podinfo\"}
          args: [\"--level\",   'debug']
        - name: web
          image: 'registry.local:5000/web:1.9'  # {\"$imagepolicy\": \"apps:web\"}
---
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
- name: podinfo
  newName: old/name # {\"$imagepolicy\": \"flux-system:podinfo:name\"}
  newTag: \"6.7.0\" # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}
  digest: sha256:0000 # {\"$imagepolicy\": \"apps:web:digest\"}
";

    #[test]
    fn rewrites_only_the_marked_values_byte_for_byte() {
        let update = update_text(DEPLOYMENT, &policies()).unwrap();
        let expected = DEPLOYMENT
            .replace("podinfo:6.7.0 # {", "podinfo:6.7.1 # {")
            .replace(
                "'registry.local:5000/web:1.9'",
                "'registry.local:5000/web:1.10@sha256:abcd'",
            )
            .replace("newName: old/name", "newName: ghcr.io/stefanprodan/podinfo")
            .replace("newTag: \"6.7.0\"", "newTag: \"6.7.1\"")
            .replace("digest: sha256:0000", "digest: sha256:abcd");
        assert_eq!(update.text, expected);
        assert!(update.skipped.is_empty(), "{:?}", update.skipped);

        let deployment = ObjectId {
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
        assert_eq!(
            update.objects.keys().cloned().collect::<Vec<_>>(),
            vec![deployment.clone(), kustomization.clone()]
        );
        assert_eq!(
            update.objects[&deployment],
            vec![
                Change {
                    old_value: "ghcr.io/stefanprodan/podinfo:6.7.0".into(),
                    new_value: "ghcr.io/stefanprodan/podinfo:6.7.1".into(),
                    setter: "flux-system:podinfo".into(),
                },
                Change {
                    old_value: "registry.local:5000/web:1.9".into(),
                    new_value: "registry.local:5000/web:1.10@sha256:abcd".into(),
                    setter: "apps:web".into(),
                },
            ]
        );
        assert_eq!(update.objects[&kustomization].len(), 3);
        assert_eq!(update.objects[&kustomization][1].old_value, "6.7.0");
    }

    #[test]
    fn up_to_date_files_are_unchanged_and_report_no_change() {
        let first = update_text(DEPLOYMENT, &policies()).unwrap();
        let second = update_text(&first.text, &policies()).unwrap();
        assert_eq!(second.text, first.text);
        assert!(second.objects.is_empty());
    }

    #[test]
    fn keeps_crlf_and_quotes_values_that_would_not_read_as_strings() {
        let text = "kind: Kustomization\r\nimages:\r\n  - newTag: 1.9 # {\"$imagepolicy\": \"apps:web:tag\"}\r\n";
        let update = update_text(text, &policies()).unwrap();
        assert_eq!(
            update.text,
            "kind: Kustomization\r\nimages:\r\n  - newTag: \"1.10\" # {\"$imagepolicy\": \"apps:web:tag\"}\r\n"
        );
    }

    #[test]
    fn sequence_items_and_empty_values() {
        let text = "list:\n- old # {\"$imagepolicy\": \"apps:web:tag\"}\nimage: # {\"$imagepolicy\": \"apps:web:name\"}\n";
        let update = update_text(text, &policies()).unwrap();
        assert_eq!(
            update.text,
            "list:\n- \"1.10\" # {\"$imagepolicy\": \"apps:web:tag\"}\nimage: registry.local:5000/web # {\"$imagepolicy\": \"apps:web:name\"}\n"
        );
    }

    #[test]
    fn unknown_policies_and_fields_are_reported_and_left_alone() {
        let text = "\
a: x # {\"$imagepolicy\": \"other:missing\"}
b: y # {\"$imagepolicy\": \"apps:web:colour\"}
c: z # {\"$imagepolicy\": \"flux-system:podinfo:digest\"}
d: |  # {\"$imagepolicy\": \"apps:web\"}
  block
e: w # {\"$imagepolicy\": \"justaname\"}
";
        let update = update_text(text, &policies()).unwrap();
        assert_eq!(update.text, text);
        assert!(update.objects.is_empty());
        let lines: Vec<usize> = update.skipped.iter().map(|s| s.0).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 6]);
        assert!(update.skipped[0].1.contains("\"other:missing\""));
        assert!(update.skipped[1].1.contains("colour"));
        assert!(update.skipped[2].1.contains("digestReflectionPolicy"));
        assert!(update.skipped[3].1.contains("scalar"));
    }

    #[test]
    fn a_marker_like_text_inside_a_value_is_not_a_marker() {
        let text = "a: \"x # {\\\"$imagepolicy\\\": \\\"apps:web\\\"}\"\n";
        let update = update_text(text, &policies()).unwrap();
        assert_eq!(update.text, text);
    }

    #[test]
    fn not_yaml_is_an_error_naming_the_document() {
        let text = "a: 1\n---\nb: [unclosed # {\"$imagepolicy\": \"apps:web\"}\n";
        let err = update_text(text, &policies()).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn tree_update_writes_changed_files_only_and_skips_what_is_not_eligible() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |p: &str, s: &str| {
            let f = root.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, s).unwrap();
        };
        let marked = "image: old # {\"$imagepolicy\": \"apps:web\"}\n";
        write("apps/deploy.yaml", marked);
        write("apps/also.yml", marked);
        write("apps/notes.txt", marked);
        write(
            "apps/broken.yaml",
            "a: [ # {\"$imagepolicy\": \"apps:web\"}\n",
        );
        write("apps/plain.yaml", "image: old\n");
        write("other/deploy.yaml", marked);
        write("apps/.git/x.yaml", marked);

        let update = update_tree(root, "apps", &policies()).unwrap();
        assert_eq!(
            update.changes.keys().cloned().collect::<Vec<_>>(),
            vec!["apps/also.yml".to_string(), "apps/deploy.yaml".to_string()]
        );
        let new =
            "image: registry.local:5000/web:1.10@sha256:abcd # {\"$imagepolicy\": \"apps:web\"}\n";
        assert_eq!(
            std::fs::read_to_string(root.join("apps/deploy.yaml")).unwrap(),
            new
        );
        for untouched in ["apps/notes.txt", "other/deploy.yaml", "apps/.git/x.yaml"] {
            assert_eq!(
                std::fs::read_to_string(root.join(untouched)).unwrap(),
                marked
            );
        }
        assert_eq!(update.skipped.len(), 1);
        assert_eq!(update.skipped[0].file, "apps/broken.yaml");
        assert!(matches!(
            update_tree(root, "nope", &policies()),
            Err(SettersError::NoPath(p)) if p == "nope"
        ));
    }
}
