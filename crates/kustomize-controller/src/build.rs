//! Step 3: build — kustomize the artifact's path with the Kustomization's overlay, then
//! substitute variables and stamp labels.

use crate::{
    Context, StepError,
    remote::GitRemoteBases,
    substitute::{SUBSTITUTE_ANNOTATION, substitute},
};
use driftless_api::{
    common::ValuesKind,
    kustomize::{BuildMetadata, Kustomization, SubstituteStrategy},
};
use driftless_core::conditions::reasons;
use driftless_kustomize::{self as kz, KUSTOMIZATION_FILE_NAMES, Map, Value};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, ResourceExt};
use std::{
    collections::BTreeMap,
    path::{Component, Path},
    sync::Arc,
};

/// Labels Flux puts on every applied object (and prunes by).
pub const NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
pub const NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";

fn build_failed(m: impl Into<String>) -> StepError {
    StepError::new(reasons::BUILD_FAILED, m)
}

/// Builds the objects to apply from the unpacked artifact `tree`.
pub async fn objects(
    ctx: &Context,
    k: &Kustomization,
    tree: &Path,
) -> Result<Vec<serde_json::Value>, StepError> {
    // The cached tree is shared by every Kustomization of that digest and never written:
    // the kustomization this one builds (rewritten below) goes to the engine as text.
    let root = tree;
    let rel = k.spec.path.clone().unwrap_or_default();
    let rel = Path::new(rel.trim_start_matches("./").trim_start_matches('/'));
    if rel.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(StepError::new(
            reasons::BUILD_FAILED,
            format!(
                "path {:?} leaves the artifact",
                k.spec.path.as_deref().unwrap_or("")
            ),
        )
        .stalled());
    }
    let dir = root.join(rel);
    if !dir.is_dir() {
        return Err(build_failed(format!(
            "kustomization path not found: {:?}",
            k.spec.path.as_deref().unwrap_or("./")
        )));
    }
    let (file, text) = kustomization_text(&dir).map_err(build_failed)?;
    let text = overlay(&file, &text, k).map_err(build_failed)?;
    let remote: Option<Arc<dyn kz::RemoteFetcher>> = if ctx.no_remote_bases {
        None
    } else {
        Some(Arc::new(GitRemoteBases::new(
            (k.namespace().unwrap_or_default(), k.name_any()),
            ctx.cache_dir(),
            driftless_git::Limits::default(),
        )))
    };
    let options = kz::BuildOptions {
        allow_remote_bases: !ctx.no_remote_bases,
        remote,
        confine_to: Some(root.to_path_buf()),
        root_kustomization: Some(text),
    };
    let built = tokio::task::block_in_place(|| kz::build(&dir, &options))
        .map_err(|e| build_failed(format!("kustomize build failed: {e}")))?;

    let vars = variables(ctx, k).await?;
    let mut out = Vec::with_capacity(built.len());
    for res in built {
        let mut obj = res.into_object();
        if let Some(vars) = &vars {
            let disabled = obj
                .get_path(&["metadata", "annotations", SUBSTITUTE_ANNOTATION])
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case("disabled"));
            if !disabled {
                let text = kz::yaml::to_string(&obj);
                let strict = ctx
                    .features
                    .enabled(crate::features::STRICT_POST_BUILD_SUBSTITUTIONS);
                let replaced = substitute(&text, vars, strict).map_err(|e| {
                    build_failed(format!(
                        "post build substitution failed for {}/{}: {e}",
                        obj.get_str(&["kind"]).unwrap_or("?"),
                        obj.get_str(&["metadata", "name"]).unwrap_or("?")
                    ))
                })?;
                obj = kz::yaml::parse_one(&replaced)
                    .map_err(|e| build_failed(format!("after substitution: {e}")))?;
            }
        }
        let mut json = to_json(&obj);
        stamp(&mut json, k);
        out.push(json);
    }
    Ok(out)
}

/// The `postBuild` variables (`substituteFrom` in order, then `substitute` on top), or `None`
/// when substitution does not run (no `postBuild`, or no variable, see [`substitution_runs`]).
async fn variables(
    ctx: &Context,
    k: &Kustomization,
) -> Result<Option<BTreeMap<String, String>>, StepError> {
    let Some(post) = &k.spec.post_build else {
        return Ok(None);
    };
    let ns = k.namespace().unwrap_or_default();
    let mut vars = BTreeMap::new();
    for from in post.substitute_from.iter().flatten() {
        let optional = from.optional.unwrap_or(false);
        let missing = |what: &str| {
            build_failed(format!(
                "substitute from '{what}/{}' failed: not found",
                from.name
            ))
        };
        if from.kind == ValuesKind::Secret {
            let api: Api<Secret> = Api::namespaced(ctx.runtime.client.clone(), &ns);
            match api
                .get_opt(&from.name)
                .await
                .map_err(|e| build_failed(e.to_string()))?
            {
                Some(s) => {
                    for (k, v) in s.data.unwrap_or_default() {
                        vars.insert(k, String::from_utf8_lossy(&v.0).into_owned());
                    }
                }
                None if optional => {}
                None => return Err(missing("Secret")),
            }
        } else {
            let api: Api<ConfigMap> = Api::namespaced(ctx.runtime.client.clone(), &ns);
            match api
                .get_opt(&from.name)
                .await
                .map_err(|e| build_failed(e.to_string()))?
            {
                Some(c) => vars.extend(c.data.unwrap_or_default()),
                None if optional => {}
                None => return Err(missing("ConfigMap")),
            }
        }
    }
    vars.extend(post.substitute.clone().unwrap_or_default());
    let strategy = post.substitute_strategy.unwrap_or_default();
    Ok(substitution_runs(&vars, strategy).then_some(vars))
}

/// Whether substitution runs at all: as Flux, only when some variable is defined, unless
/// `substituteStrategy: Always` (so `${var:=default}` applies with no variables). Without
/// this, a `postBuild` with no variables would blank every `${var}` in the manifests.
fn substitution_runs(vars: &BTreeMap<String, String>, strategy: SubstituteStrategy) -> bool {
    !vars.is_empty() || strategy == SubstituteStrategy::Always
}

/// The kustomization of `dir` (its file and text), generated (as Flux does) when there is
/// none: every Kubernetes manifest below `dir`, and every sub-folder with its own
/// kustomization. Nothing is written.
fn kustomization_text(dir: &Path) -> Result<(std::path::PathBuf, String), String> {
    for name in KUSTOMIZATION_FILE_NAMES {
        let f = dir.join(name);
        if f.is_file() {
            let text =
                std::fs::read_to_string(&f).map_err(|e| format!("reading {}: {e}", f.display()))?;
            return Ok((f, text));
        }
    }
    let mut resources = Vec::new();
    collect(dir, dir, &mut resources).map_err(|e| format!("scanning {}: {e}", dir.display()))?;
    resources.sort();
    let mut text = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
    );
    for r in &resources {
        text.push_str(&format!("- {r:?}\n"));
    }
    if resources.is_empty() {
        text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"
            .into();
    }
    Ok((dir.join("kustomization.yaml"), text))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        if rel.starts_with('.') || e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = e.file_type()?;
        if ft.is_dir() {
            if KUSTOMIZATION_FILE_NAMES
                .iter()
                .any(|n| path.join(n).is_file())
            {
                out.push(rel);
            } else {
                collect(root, &path, out)?;
            }
        } else if ft.is_file() {
            let name = e.file_name().to_string_lossy().to_lowercase();
            if name.ends_with(".yaml") || name.ends_with(".yml") {
                // Not UTF-8 (or unreadable): not a manifest; a manifest that fails to read
                // here would fail the build when kustomize reads it, naming the file.
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                if text.contains("apiVersion") && text.contains("kind") {
                    out.push(rel);
                }
            }
        }
    }
    Ok(())
}

/// The kustomization `text` (of `file`) with the Kustomization's `targetNamespace`,
/// `namePrefix`, `nameSuffix`, `patches`, `images` and `components` written into it, as Flux
/// does; with `ignoreMissingComponents`, components the artifact lacks are left out instead of
/// failing the build.
fn overlay(file: &Path, text: &str, k: &Kustomization) -> Result<String, String> {
    let mut doc = kz::yaml::parse_one(text).map_err(|e| format!("{}: {e}", file.display()))?;
    if doc.is_null() {
        doc = Value::new_map();
    }
    let map = doc
        .as_map_mut()
        .ok_or_else(|| format!("{} is not a mapping", file.display()))?;
    let s = &k.spec;
    if let Some(ns) = &s.target_namespace {
        map.insert("namespace", Value::from(ns.as_str()));
    }
    if let Some(p) = &s.name_prefix {
        map.insert("namePrefix", Value::from(p.as_str()));
    }
    if let Some(p) = &s.name_suffix {
        map.insert("nameSuffix", Value::from(p.as_str()));
    }
    let append = |map: &mut Map, key: &str, items: Vec<Value>| {
        if items.is_empty() {
            return;
        }
        let seq = map.entry_or(key, || Value::Seq(Vec::new()));
        if let Some(seq) = seq.as_seq_mut() {
            seq.extend(items);
        }
    };
    let as_yaml = |what: &str, v: serde_json::Result<serde_json::Value>| {
        v.map(|v| from_json(&v))
            .map_err(|e| format!("spec.{what} cannot be written into the kustomization: {e}"))
    };
    let patches = s
        .patches
        .iter()
        .flatten()
        .map(|p| as_yaml("patches", serde_json::to_value(p)))
        .collect::<Result<_, _>>()?;
    append(map, "patches", patches);
    let images = s
        .images
        .iter()
        .flatten()
        .map(|i| as_yaml("images", serde_json::to_value(i)))
        .collect::<Result<_, _>>()?;
    append(map, "images", images);
    let dir = file.parent().unwrap_or(Path::new("."));
    let ignore_missing = s.ignore_missing_components.unwrap_or(false);
    let components = s
        .components
        .iter()
        .flatten()
        .filter(|c| !ignore_missing || component_exists(dir, c))
        .map(|c| Value::from(c.as_str()))
        .collect();
    append(map, "components", components);
    // As Flux: kustomize's own buildMetadata, so the engine annotates (or refuses) it.
    let metadata = s
        .build_metadata
        .iter()
        .flatten()
        .map(|m| Value::from(build_metadata_name(*m)))
        .collect();
    append(map, "buildMetadata", metadata);
    Ok(kz::yaml::to_string(&doc))
}

fn build_metadata_name(m: BuildMetadata) -> &'static str {
    match m {
        BuildMetadata::OriginAnnotations => "originAnnotations",
        BuildMetadata::TransformerAnnotations => "transformerAnnotations",
    }
}

/// Whether component `path` (relative to the kustomization folder `dir`) is there; a remote
/// one counts as there (kustomize fetches it, or fails saying why).
fn component_exists(dir: &Path, path: &str) -> bool {
    path.contains("://") || dir.join(path).exists()
}

/// `commonMetadata` and the owner labels on every object.
fn stamp(obj: &mut serde_json::Value, k: &Kustomization) {
    let Some(meta) = obj.get_mut("metadata").and_then(|m| m.as_object_mut()) else {
        return;
    };
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    let mut annotations = BTreeMap::new();
    if let Some(cm) = &k.spec.common_metadata {
        labels.extend(cm.labels.clone().unwrap_or_default());
        annotations.extend(cm.annotations.clone().unwrap_or_default());
    }
    labels.insert(NAME_LABEL.into(), k.name_any());
    labels.insert(NAMESPACE_LABEL.into(), k.namespace().unwrap_or_default());
    for (key, add) in [("labels", labels), ("annotations", annotations)] {
        if add.is_empty() {
            continue;
        }
        let entry = meta.entry(key).or_insert_with(|| serde_json::json!({}));
        if let Some(m) = entry.as_object_mut() {
            for (k, v) in add {
                m.insert(k, serde_json::Value::String(v));
            }
        }
    }
}

/// kustomize's value as JSON.
pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::String(s) => s.clone().into(),
        Value::Seq(items) => items.iter().map(to_json).collect(),
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// JSON as kustomize's value.
pub(crate) fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)), Value::Int),
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(a) => Value::Seq(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o {
                m.insert(k.clone(), from_json(v));
            }
            Value::Map(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kustomization(spec: serde_json::Value) -> Kustomization {
        let mut full = serde_json::json!({"interval": "1m", "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "s"}});
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            full.extend(extra.clone());
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "k", "namespace": "ns"}, "spec": full,
        }))
        .expect("valid Kustomization")
    }

    /// A folder with a kustomization, one ConfigMap and component `present` (adds a label).
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |rel: &str, text: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write(
            "kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n",
        );
        write(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n",
        );
        write(
            "present/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n- pairs:\n    from: component\n",
        );
        dir
    }

    fn components(text: &str) -> Vec<String> {
        let doc = kz::yaml::parse_one(text).expect("yaml");
        doc.get("components")
            .and_then(Value::as_seq)
            .into_iter()
            .flatten()
            .filter_map(Value::scalar_text)
            .collect()
    }

    #[test]
    fn substitution_needs_a_variable_unless_always() {
        let none = BTreeMap::new();
        let one = BTreeMap::from([("a".to_owned(), String::new())]);
        assert!(!substitution_runs(&none, SubstituteStrategy::WithVariables));
        assert!(substitution_runs(&none, SubstituteStrategy::Always));
        assert!(substitution_runs(&one, SubstituteStrategy::WithVariables));
    }

    #[test]
    fn missing_components_are_left_out_only_when_asked() {
        let dir = tree();
        let (file, text) = kustomization_text(dir.path()).expect("read");
        let spec = |ignore: bool| {
            kustomization(serde_json::json!({"components": ["present", "missing"],
                "ignoreMissingComponents": ignore}))
        };
        let build = |text: String| {
            let options = kz::BuildOptions {
                root_kustomization: Some(text),
                ..kz::BuildOptions::default()
            };
            kz::build(dir.path(), &options)
        };
        let kept = overlay(&file, &text, &spec(true)).expect("overlay");
        assert_eq!(components(&kept), ["present"]);
        let built = build(kept).expect("builds");
        assert_eq!(
            built[0].object().get_str(&["metadata", "labels", "from"]),
            Some("component")
        );

        let all = overlay(&file, &text, &spec(false)).expect("overlay");
        assert_eq!(components(&all), ["present", "missing"]);
        assert!(
            build(all).is_err(),
            "a missing component fails the build without ignoreMissingComponents"
        );
    }

    #[test]
    fn the_shared_tree_is_built_as_it_is_and_never_written() {
        let dir = tree();
        std::fs::create_dir_all(dir.path().join("plain")).expect("mkdir");
        std::fs::write(
            dir.path().join("plain/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\n",
        )
        .expect("write");
        let before = std::fs::read_to_string(dir.path().join("kustomization.yaml")).expect("read");

        // A folder without a kustomization gets a generated one, in memory only.
        let plain = dir.path().join("plain");
        let (file, text) = kustomization_text(&plain).expect("generate");
        let text = overlay(
            &file,
            &text,
            &kustomization(serde_json::json!({"namePrefix": "x-"})),
        )
        .expect("overlay");
        let options = kz::BuildOptions {
            confine_to: Some(dir.path().to_path_buf()),
            root_kustomization: Some(text),
            ..kz::BuildOptions::default()
        };
        let built = kz::build(&plain, &options).expect("builds");
        assert_eq!(
            built[0].object().get_str(&["metadata", "name"]),
            Some("x-p")
        );
        assert!(
            !plain.join("kustomization.yaml").exists(),
            "nothing written"
        );

        // The root's own kustomization is overlaid in memory; its file stays as it was.
        let (file, text) = kustomization_text(dir.path()).expect("read");
        let text = overlay(
            &file,
            &text,
            &kustomization(serde_json::json!({"nameSuffix": "-y"})),
        )
        .expect("overlay");
        let options = kz::BuildOptions {
            root_kustomization: Some(text),
            ..kz::BuildOptions::default()
        };
        let built = kz::build(dir.path(), &options).expect("builds");
        assert_eq!(
            built[0].object().get_str(&["metadata", "name"]),
            Some("c-y")
        );
        let after = std::fs::read_to_string(dir.path().join("kustomization.yaml")).expect("read");
        assert_eq!(after, before);
    }

    #[test]
    fn build_metadata_reaches_the_engine() {
        let dir = tree();
        let (file, text) = kustomization_text(dir.path()).expect("read");
        let build = |spec: serde_json::Value| {
            let text = overlay(&file, &text, &kustomization(spec)).expect("overlay");
            let options = kz::BuildOptions {
                root_kustomization: Some(text),
                ..kz::BuildOptions::default()
            };
            kz::build(dir.path(), &options)
        };
        let built =
            build(serde_json::json!({"buildMetadata": ["originAnnotations"]})).expect("builds");
        let origin =
            built[0]
                .object()
                .get_str(&["metadata", "annotations", "config.kubernetes.io/origin"]);
        assert_eq!(origin, Some("path: cm.yaml\n"));

        let err = build(serde_json::json!({"buildMetadata": ["transformerAnnotations"]}))
            .expect_err("refused, not ignored");
        assert!(err.to_string().contains("transformerAnnotations"), "{err}");
    }
}
