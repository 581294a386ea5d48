//! The build: load a kustomization, accumulate its resources (recursing into bases and
//! components), run its generators and transformers in kustomize's order, and at the top level
//! add content hashes, fix name references, resolve vars and sort.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fieldspec::{CustomConfig, FieldSpec};
use crate::generators;
use crate::loader::{Loader, looks_remote};
use crate::openapi::Schema;
use crate::patch::{self, PatchBody};
use crate::plugins;
use crate::remote::{self, RemoteFetcher, RemoteTarget};
use crate::replacements;
use crate::resource::{Origin, Resource};
use crate::select::Selector;
use crate::sort;
use crate::transform::{self, ImageRule};
use crate::value::{Map, Value};
use crate::vars;

/// Caller's choices for a build.
#[derive(Debug, Default, Clone)]
pub struct BuildOptions {
    /// Allow `resources` entries that name remote (git/HTTP) bases. Refused when false.
    pub allow_remote_bases: bool,
    /// Fetches git remote bases when they are allowed; without one they fail the build
    /// as unsupported. Each remote base is confined to its own checkout.
    pub remote: Option<Arc<dyn RemoteFetcher>>,
    /// When set, no base, component or file may resolve outside this directory (a
    /// controller passes the unpacked artifact's root here). kustomize's own rule — files
    /// stay inside their kustomization's directory — applies in any case.
    pub confine_to: Option<PathBuf>,
    /// The text of the top kustomization, read instead of the kustomization file of the
    /// built directory (which then need not have one). A controller that rewrites it per
    /// object (Flux's `namePrefix`, `patches`, a generated file, …) passes it here and builds
    /// on a shared, read-only tree instead of a copy of it.
    pub root_kustomization: Option<String>,
}

/// The file names kustomize recognises, in the order it looks for them.
pub const KUSTOMIZATION_FILE_NAMES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Every field a kustomization may hold; anything else is an error, as in kustomize.
const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "imageTags",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "replacements",
    "vars",
    "sortOptions",
    "buildMetadata",
    "crds",
    "openapi",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "helmCharts",
    "helmGlobals",
    "helmChartInflationGenerator",
];

/// Builds the kustomization in `dir`.
pub fn build(dir: &Path, options: &BuildOptions) -> Result<Vec<Resource>> {
    let root = dir.canonicalize().map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let confine = match &options.confine_to {
        Some(limit) => Some(limit.canonicalize().map_err(|source| Error::Io {
            path: limit.clone(),
            source,
        })?),
        None => None,
    };
    let mut b = Builder {
        options,
        confine,
        root: root.clone(),
        stack: Vec::new(),
        config: CustomConfig::default(),
        schema: None,
    };
    let mut acc = Acc::default();
    let kust = b.accumulate(&root, &mut acc, false)?;
    transform::add_hashes(&mut acc.resources);
    transform::fix_name_references(&mut acc.resources, &b.config.name_refs);
    vars::resolve(&mut acc.resources, &acc.vars, &b.config.var_refs)?;
    for option in seq(&kust, "buildMetadata")? {
        match option.as_str() {
            Some("managedByLabel" | "originAnnotations") => {}
            Some("transformerAnnotations") => {
                return Err(Error::Kustomization {
                    path: kust.file.clone(),
                    message: "buildMetadata 'transformerAnnotations' is not supported; \
                              'originAnnotations' and 'managedByLabel' are"
                        .into(),
                });
            }
            other => {
                return Err(Error::Kustomization {
                    path: kust.file.clone(),
                    message: format!(
                        "unknown buildMetadata option {other:?}; kustomize knows \
                         'originAnnotations', 'transformerAnnotations' and 'managedByLabel'"
                    ),
                });
            }
        }
    }
    if let Some(Value::Seq(meta)) = kust.doc.get("buildMetadata")
        && meta.iter().any(|m| m.as_str() == Some("managedByLabel"))
    {
        let mut pairs = Map::new();
        // kubectl's embedded kustomize reports its version as "(devel)"; we match the oracle.
        pairs.insert("app.kubernetes.io/managed-by", "kustomize-(devel)".into());
        transform::set_map_fields(
            &mut acc.resources,
            &pairs,
            &[FieldSpec::new(None, "metadata/labels", true)],
        );
    }
    if let Some(Value::Seq(meta)) = kust.doc.get("buildMetadata")
        && meta.iter().any(|m| m.as_str() == Some("originAnnotations"))
    {
        for r in &mut acc.resources {
            add_origin_annotation(r, &root);
        }
    }
    for r in &mut acc.resources {
        r.drop_empty_annotations();
    }
    sort::sort(&mut acc.resources, kust.doc.get("sortOptions"), &kust.file)?;
    Ok(acc.resources)
}

#[derive(Default)]
struct Acc {
    resources: Vec<Resource>,
    vars: Vec<vars::Var>,
}

struct Kust {
    dir: PathBuf,
    file: PathBuf,
    doc: Map,
}

struct Builder<'o> {
    options: &'o BuildOptions,
    /// Where the directories being built must stay (canonical): `confine_to`, or the
    /// checkout of the remote base being built.
    confine: Option<PathBuf>,
    /// The built directory (canonical), whose kustomization may come from the options.
    root: PathBuf,
    /// Kustomization directories being built, outermost first (cycle detection).
    stack: Vec<PathBuf>,
    /// Field specs added by `configurations:` anywhere in the build.
    config: CustomConfig,
    /// The custom schema of an `openapi:` field, from the moment its kustomization is loaded
    /// on (kustomize's is process-wide, set at load time).
    schema: Option<Arc<Schema>>,
}

/// Relative path from directory `from` to `to` (both canonical), `/`-separated.
fn relative(from: &Path, to: &Path) -> String {
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    parts.extend(
        b[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

fn add_origin_annotation(r: &mut Resource, root: &Path) {
    let Some(text) = r.origin.as_ref().map(|o| origin_text(o, root, "")) else {
        return;
    };
    let meta = r.metadata_mut();
    if let Value::Map(ann) = meta.entry_or("annotations", Value::new_map) {
        ann.insert("config.kubernetes.io/origin", Value::String(text));
    }
}

/// kustomize's origin annotation, fields in its order: path, repo, ref, configuredIn,
/// configuredBy (`repo_lines` are the repo and ref of a remote base).
fn origin_text(origin: &Origin, root: &Path, repo_lines: &str) -> String {
    match origin {
        Origin::File(path) => format!("path: {}\n{repo_lines}", relative(root, path)),
        Origin::Generator {
            kustomization,
            kind,
        } => format!(
            "{repo_lines}configuredIn: {}\nconfiguredBy:\n  apiVersion: builtin\n  kind: {kind}\n",
            relative(root, kustomization)
        ),
        Origin::Remote {
            repo,
            reference,
            checkout,
            inner,
        } => {
            let mut lines = format!("repo: {repo}\n");
            if let Some(reference) = reference {
                lines.push_str(&format!("ref: {reference}\n"));
            }
            origin_text(inner, checkout, &lines)
        }
    }
}

fn find_kustomization_file(dir: &Path) -> Option<PathBuf> {
    KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// The kustomization of `dir`: `text` when given (its file name is the first of
/// [`KUSTOMIZATION_FILE_NAMES`], for messages), else the file found there.
fn load_kustomization(dir: &Path, text: Option<&str>) -> Result<Kust> {
    if let Some(text) = text {
        return parse_kustomization(dir, dir.join(KUSTOMIZATION_FILE_NAMES[0]), text);
    }
    let found: Vec<PathBuf> = KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    let file = match found.as_slice() {
        [] => {
            return Err(Error::NoKustomization {
                dir: dir.to_path_buf(),
            });
        }
        [one] => one.clone(),
        _ => {
            return Err(Error::Kustomization {
                path: dir.to_path_buf(),
                message: "Found multiple kustomization files".into(),
            });
        }
    };
    let text = std::fs::read_to_string(&file).map_err(|source| Error::Io {
        path: file.clone(),
        source,
    })?;
    parse_kustomization(dir, file, &text)
}

fn parse_kustomization(dir: &Path, file: PathBuf, text: &str) -> Result<Kust> {
    let doc = crate::yaml::parse_one(text).map_err(|message| Error::Yaml {
        path: file.clone(),
        message,
    })?;
    let doc = match doc {
        Value::Map(m) => m,
        Value::Null => Map::new(),
        _ => {
            return Err(Error::Kustomization {
                path: file,
                message: "expected a YAML map".into(),
            });
        }
    };
    for key in doc.keys() {
        if !KNOWN_FIELDS.contains(&key.as_str()) {
            return Err(Error::Kustomization {
                path: file,
                message: format!("json: unknown field \"{key}\""),
            });
        }
    }
    Ok(Kust {
        dir: dir.to_path_buf(),
        file,
        doc,
    })
}

fn str_list(k: &Kust, field: &str) -> Result<Vec<String>> {
    match k.doc.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Seq(items)) => items
            .iter()
            .map(|v| {
                v.scalar_text().ok_or_else(|| Error::Kustomization {
                    path: k.file.clone(),
                    message: format!("'{field}' must be a list of strings"),
                })
            })
            .collect(),
        Some(_) => Err(Error::Kustomization {
            path: k.file.clone(),
            message: format!("'{field}' must be a list"),
        }),
    }
}

fn seq<'a>(k: &'a Kust, field: &str) -> Result<&'a [Value]> {
    match k.doc.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Seq(items)) => Ok(items),
        Some(_) => Err(Error::Kustomization {
            path: k.file.clone(),
            message: format!("'{field}' must be a list"),
        }),
    }
}

fn string_map(k: &Kust, v: Option<&Value>, field: &str) -> Result<Map> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Map(m)) => Ok(Map(m
            .iter()
            .map(|(key, v)| {
                (
                    key.clone(),
                    Value::String(v.scalar_text().unwrap_or_default()),
                )
            })
            .collect())),
        Some(_) => Err(Error::Kustomization {
            path: k.file.clone(),
            message: format!("'{field}' must be a map"),
        }),
    }
}

impl<'o> Builder<'o> {
    fn check_confined(&self, real: &Path) -> Result<()> {
        match &self.confine {
            Some(limit) if !real.starts_with(limit) => Err(Error::OutsideRoot {
                path: real.to_path_buf(),
                root: limit.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Fetches the remote `entry` through the caller's fetcher and builds its directory,
    /// confined to its checkout, into `acc` (a component) or a fresh accumulator (a base).
    fn accumulate_remote(
        &mut self,
        k: &Kust,
        entry: &str,
        acc: &mut Acc,
        is_component: bool,
    ) -> Result<()> {
        let url = || remote::redact(entry);
        if !self.options.allow_remote_bases {
            return Err(Error::RemoteRefused { url: url() });
        }
        let base = match remote::parse(entry) {
            Ok(RemoteTarget::Git(base)) => base,
            Ok(RemoteTarget::File(_)) => return Err(Error::RemoteFileUnsupported { url: url() }),
            Err(message) => {
                return Err(Error::RemoteInvalid {
                    url: url(),
                    message,
                });
            }
        };
        let fetcher = self
            .options
            .remote
            .clone()
            .ok_or_else(|| Error::RemoteUnsupported { url: url() })?;
        let checkout = fetcher
            .fetch_git(&base)
            .map_err(|message| Error::RemoteFetch {
                url: url(),
                message,
            })?;
        let checkout = checkout.canonicalize().map_err(|source| Error::Io {
            path: checkout.clone(),
            source,
        })?;
        let not_found = |what: &str| Error::RemoteFetch {
            url: url(),
            message: format!("the repository has no {what} at {:?}", base.path),
        };
        let dir = checkout
            .join(&base.path)
            .canonicalize()
            .map_err(|_| not_found("directory"))?;
        if !dir.starts_with(&checkout) {
            return Err(Error::OutsideRoot {
                path: dir,
                root: checkout,
            });
        }
        if !dir.is_dir() || find_kustomization_file(&dir).is_none() {
            return Err(not_found("kustomization"));
        }
        let outer = self.confine.replace(checkout.clone());
        // Origins inside the checkout (a temporary directory) are told as repo + ref + path,
        // as kustomize tells them; only the first remote base an object came through counts.
        let mark = |r: &mut Resource| {
            if let Some(inner) = r.origin.take_if(|o| !matches!(o, Origin::Remote { .. })) {
                r.origin = Some(Origin::Remote {
                    repo: base.display_url(),
                    reference: base.reference.clone(),
                    checkout: checkout.clone(),
                    inner: Box::new(inner),
                });
            }
        };
        let result = if is_component {
            let before = acc.resources.len();
            self.accumulate(&dir, acc, true).map(|_| {
                acc.resources[before..].iter_mut().for_each(mark);
            })
        } else {
            let mut sub = Acc::default();
            self.accumulate(&dir, &mut sub, false).and_then(|_| {
                for mut r in sub.resources {
                    mark(&mut r);
                    append(&k.file, acc, r)?;
                }
                acc.vars.extend(sub.vars);
                Ok(())
            })
        };
        self.confine = outer;
        result
    }

    /// The options' top kustomization when `dir` is the built directory.
    fn given_kustomization(&self, dir: &Path) -> Option<&'o str> {
        let options: &'o BuildOptions = self.options;
        options
            .root_kustomization
            .as_deref()
            .filter(|_| dir == self.root)
    }

    /// Builds the kustomization at `dir` into `acc`. A component works on its parent's `acc`;
    /// a base gets a fresh one that is appended to the parent's.
    fn accumulate(&mut self, dir: &Path, acc: &mut Acc, is_component: bool) -> Result<Kust> {
        if self.stack.iter().any(|d| d == dir) {
            return Err(Error::Cycle {
                dir: dir.to_path_buf(),
            });
        }
        self.stack.push(dir.to_path_buf());
        let result = self.accumulate_inner(dir, acc, is_component);
        self.stack.pop();
        result
    }

    fn accumulate_inner(&mut self, dir: &Path, acc: &mut Acc, is_component: bool) -> Result<Kust> {
        let k = load_kustomization(dir, self.given_kustomization(dir))?;
        let kind = k
            .doc
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("Kustomization");
        match (kind, is_component) {
            ("Component", false) => {
                return Err(Error::Kustomization {
                    path: k.file.clone(),
                    message: "a Component can only be used in 'components', not 'resources'".into(),
                });
            }
            ("Kustomization", true) => {
                return Err(Error::Kustomization {
                    path: k.file.clone(),
                    message: "'components' must name directories whose kind is Component".into(),
                });
            }
            ("Kustomization" | "Component", _) => {}
            (other, _) => {
                return Err(Error::Kustomization {
                    path: k.file.clone(),
                    message: format!("unknown kind '{other}'"),
                });
            }
        }
        let loader = Loader::new(dir.to_path_buf());
        let ctx = k.file.display().to_string();
        if let Some(Value::Map(m)) = k.doc.get("openapi")
            && let Some(v) = m.get("version").and_then(Value::scalar_text)
            && !v.is_empty()
            && v != "v1.21.2"
        {
            // kustomize v5.5 has one built-in schema version besides its default.
            return Err(Error::Kustomization {
                path: k.file.clone(),
                message: format!(
                    "openapi.version {v:?}: the specified OpenAPI version is not built in \
                     (v1.21.2 is)"
                ),
            });
        }
        if let Some(Value::Map(m)) = k.doc.get("openapi")
            && let Some(p) = m.get("path").and_then(Value::as_str)
        {
            let text = loader.read_string(p)?;
            let schema = Schema::parse(&text).map_err(|message| Error::Kustomization {
                path: loader.root().join(p),
                message: format!("openapi: {message}"),
            })?;
            self.schema = Some(Arc::new(schema));
        }

        let mut entries = str_list(&k, "resources")?;
        entries.extend(str_list(&k, "bases")?);
        for entry in entries {
            self.accumulate_entry(&loader, &k, &entry, acc)?;
        }
        for comp in str_list(&k, "components")? {
            let path = dir.join(&comp);
            if !path.exists() && looks_remote(&comp) {
                self.accumulate_remote(&k, &comp, acc, true)?;
                continue;
            }
            let real = path.canonicalize().map_err(|_| Error::MissingResource {
                path: path.clone(),
                reason: "component directory not found".into(),
            })?;
            self.check_confined(&real)?;
            self.accumulate(&real, acc, true)?;
        }
        for f in str_list(&k, "crds")? {
            let text = loader.read_string(&f)?;
            let path = loader.root().join(&f);
            let doc =
                crate::crds::to_configuration(&text).map_err(|message| Error::Kustomization {
                    path: path.clone(),
                    message: format!("crds: {message}"),
                })?;
            self.config
                .add(&doc)
                .map_err(|message| Error::Kustomization { path, message })?;
        }
        for f in str_list(&k, "configurations")? {
            let text = loader.read_string(&f)?;
            let path = loader.root().join(&f);
            for doc in crate::yaml::parse_documents(&text).map_err(|message| Error::Yaml {
                path: path.clone(),
                message,
            })? {
                self.config
                    .add(&doc)
                    .map_err(|message| Error::Kustomization {
                        path: path.clone(),
                        message,
                    })?;
            }
        }
        for field in ["validators", "helmCharts"] {
            if !seq(&k, field)?.is_empty() {
                return Err(Error::Kustomization {
                    path: k.file.clone(),
                    message: format!("'{field}' (plugins and Helm inflation) is not supported"),
                });
            }
        }

        // Generators.
        let global_opts = k.doc.get("generatorOptions");
        for (field, gkind) in [
            ("configMapGenerator", "ConfigMap"),
            ("secretGenerator", "Secret"),
        ] {
            for entry in seq(&k, field)? {
                let mut r = generators::generate(&loader, gkind, entry, global_opts, &k.file)?;
                r.origin = Some(Origin::Generator {
                    kustomization: k.file.clone(),
                    kind: if gkind == "Secret" {
                        "SecretGenerator"
                    } else {
                        "ConfigMapGenerator"
                    },
                });
                self.absorb_generated(&ctx, acc, &mut r)?;
            }
        }
        for config in self.plugin_configs(&loader, &k, "generators")? {
            let mut r = plugins::generate(&ctx, &loader, &config)?;
            self.absorb_generated(&ctx, acc, &mut r)?;
        }

        // Transformers, in kustomize's order.
        for p in seq(&k, "patchesStrategicMerge")? {
            let text = match p.as_str() {
                Some(s) if s.contains('\n') || s.trim_start().starts_with('{') => s.to_string(),
                Some(path) => loader.read_string(path)?,
                None => crate::yaml::to_string(p),
            };
            match patch::parse_body(&ctx, &text)? {
                PatchBody::Strategic(docs) => {
                    for doc in docs {
                        patch::apply_self_targeted(
                            &ctx,
                            &mut acc.resources,
                            &doc,
                            self.schema.as_deref(),
                        )?;
                    }
                }
                PatchBody::Json(_) => {
                    return Err(Error::invalid(
                        &ctx,
                        "patchesStrategicMerge entry is a JSON patch",
                    ));
                }
            }
        }
        for p in seq(&k, "patches")? {
            let text = match (p.get_str(&["path"]), p.get_str(&["patch"])) {
                (Some(path), _) => loader.read_string(path)?,
                (None, Some(inline)) => inline.to_string(),
                (None, None) => {
                    return Err(Error::invalid(&ctx, "a patch needs 'path' or 'patch'"));
                }
            };
            let body = patch::parse_body(&ctx, &text)?;
            let target = p
                .get("target")
                .map(|t| Selector::from_value(&ctx, t))
                .transpose()?;
            patch::apply_patch(
                &ctx,
                &mut acc.resources,
                &body,
                target.as_ref(),
                p.get("options"),
                self.schema.as_deref(),
            )?;
        }
        if let Some(ns) = k.doc.get("namespace").and_then(Value::scalar_text)
            && !ns.is_empty()
        {
            transform::namespace(&mut acc.resources, &ns);
        }
        let prefix = k
            .doc
            .get("namePrefix")
            .and_then(Value::scalar_text)
            .unwrap_or_default();
        let suffix = k
            .doc
            .get("nameSuffix")
            .and_then(Value::scalar_text)
            .unwrap_or_default();
        if !prefix.is_empty() || !suffix.is_empty() {
            transform::prefix_suffix(&mut acc.resources, &prefix, &suffix);
        }
        let common = string_map(&k, k.doc.get("commonLabels"), "commonLabels")?;
        if !common.is_empty() {
            let extra = self.config.common_labels.clone();
            transform::labels(&mut acc.resources, &common, true, true, extra);
        }
        for l in seq(&k, "labels")? {
            let pairs = string_map(&k, l.get("pairs"), "labels.pairs")?;
            let flag = |f: &str| matches!(l.get(f), Some(Value::Bool(true)));
            let mut extra: Vec<FieldSpec> = l
                .get("fields")
                .and_then(Value::as_seq)
                .map(|s| s.iter().filter_map(FieldSpec::from_value).collect())
                .unwrap_or_default();
            if flag("includeSelectors") {
                extra.extend(self.config.common_labels.iter().cloned());
            }
            transform::labels(
                &mut acc.resources,
                &pairs,
                flag("includeSelectors"),
                flag("includeTemplates"),
                extra,
            );
        }
        let annotations = string_map(&k, k.doc.get("commonAnnotations"), "commonAnnotations")?;
        if !annotations.is_empty() {
            transform::annotations(
                &mut acc.resources,
                &annotations,
                &self.config.common_annotations,
            );
        }
        for p in seq(&k, "patchesJson6902")? {
            let text = match (p.get_str(&["path"]), p.get_str(&["patch"])) {
                (Some(path), _) => loader.read_string(path)?,
                (None, Some(inline)) => inline.to_string(),
                (None, None) => {
                    return Err(Error::invalid(
                        &ctx,
                        "patchesJson6902 entry needs 'path' or 'patch'",
                    ));
                }
            };
            let body = match patch::parse_body(&ctx, &text)? {
                PatchBody::Json(ops) => PatchBody::Json(ops),
                PatchBody::Strategic(_) => {
                    return Err(Error::invalid(
                        &ctx,
                        "patchesJson6902 entry is not a list of operations",
                    ));
                }
            };
            let target = p
                .get("target")
                .ok_or_else(|| Error::invalid(&ctx, "patchesJson6902 entry needs a target"))?;
            let sel = Selector::from_value(&ctx, target)?;
            patch::apply_patch(
                &ctx,
                &mut acc.resources,
                &body,
                Some(&sel),
                None,
                self.schema.as_deref(),
            )?;
        }
        for r in seq(&k, "replicas")? {
            let name = r
                .get_str(&["name"])
                .ok_or_else(|| Error::invalid(&ctx, "replicas entry needs a name"))?;
            let count = r.get("count").cloned().unwrap_or(Value::Int(0));
            transform::replicas(&mut acc.resources, name, count, &[]);
        }
        let mut rules = Vec::new();
        for field in ["images", "imageTags"] {
            for i in seq(&k, field)? {
                let s = |f: &str| {
                    i.get(f)
                        .and_then(Value::scalar_text)
                        .filter(|s| !s.is_empty())
                };
                rules.push(ImageRule {
                    name: s("name")
                        .ok_or_else(|| Error::invalid(&ctx, "images entry needs a name"))?,
                    new_name: s("newName"),
                    new_tag: s("newTag"),
                    digest: s("digest"),
                });
            }
        }
        if !rules.is_empty() {
            transform::images(&mut acc.resources, &rules, &self.config.images);
        }
        for r in seq(&k, "replacements")? {
            for s in &plugins::replacement_specs(&loader, r)? {
                replacements::apply(&ctx, &mut acc.resources, s)?;
            }
        }
        // kustomize runs the listed transformer configs after those its fields configure.
        for config in self.plugin_configs(&loader, &k, "transformers")? {
            plugins::transform(
                &ctx,
                &loader,
                &mut acc.resources,
                &config,
                self.schema.as_deref(),
            )?;
        }
        for v in seq(&k, "vars")? {
            acc.vars.push(vars::Var::from_value(&ctx, v)?);
        }
        Ok(k)
    }

    /// The real path of a local entry, which must exist and stay within the confinement.
    fn resolve_local(&self, path: &Path) -> Result<PathBuf> {
        let real = path.canonicalize().map_err(|e| Error::MissingResource {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        self.check_confined(&real)?;
        Ok(real)
    }

    /// The plugin configs a `generators`/`transformers` list names: inline YAML, files, or
    /// kustomization directories whose build output is the configs (as kustomize allows).
    fn plugin_configs(&mut self, loader: &Loader, k: &Kust, field: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for entry in str_list(k, field)? {
            let (text, path) = if entry.contains('\n') {
                (entry.clone(), k.file.clone())
            } else {
                let real = self.resolve_local(&k.dir.join(&entry))?;
                if real.is_dir() {
                    let mut sub = Acc::default();
                    self.accumulate(&real, &mut sub, false)?;
                    out.extend(sub.resources.into_iter().map(Resource::into_object));
                    continue;
                }
                (loader.read_string(&entry)?, real)
            };
            let docs = crate::yaml::parse_documents(&text).map_err(|message| Error::Yaml {
                path: path.clone(),
                message,
            })?;
            out.extend(docs.into_iter().filter(|d| !d.is_null()));
        }
        Ok(out)
    }

    fn accumulate_entry(
        &mut self,
        loader: &Loader,
        k: &Kust,
        entry: &str,
        acc: &mut Acc,
    ) -> Result<()> {
        let path = k.dir.join(entry);
        if !path.exists() && looks_remote(entry) {
            return self.accumulate_remote(k, entry, acc, false);
        }
        let real = self.resolve_local(&path)?;
        if real.is_dir() {
            if find_kustomization_file(&real).is_none() && self.given_kustomization(&real).is_none()
            {
                return Err(Error::NoKustomization { dir: real });
            }
            let mut sub = Acc::default();
            self.accumulate(&real, &mut sub, false)?;
            for r in sub.resources {
                append(&k.file, acc, r)?;
            }
            acc.vars.extend(sub.vars);
            return Ok(());
        }
        let text = loader.read_string(entry)?;
        let docs = crate::yaml::parse_documents(&text).map_err(|message| Error::Yaml {
            path: real.clone(),
            message,
        })?;
        for doc in docs {
            for obj in expand_list(&real, doc)? {
                let mut r = Resource::new(obj);
                r.origin = Some(Origin::File(real.clone()));
                append(&k.file, acc, r)?;
            }
        }
        Ok(())
    }

    fn absorb_generated(&mut self, ctx: &str, acc: &mut Acc, r: &mut Resource) -> Result<()> {
        let behavior = r.behavior.take().unwrap_or_else(|| "create".into());
        let existing = acc.resources.iter().position(|e| {
            e.kind() == r.kind()
                && e.had_name(r.name())
                && (r.namespace().is_empty()
                    || crate::resource::ns_equal(e.namespace(), r.namespace())
                    || crate::resource::ns_equal(e.original_namespace(), r.namespace()))
        });
        match (behavior.as_str(), existing) {
            ("create", _) => append(Path::new(ctx), acc, r.clone()),
            ("merge", Some(i)) => {
                let e = &mut acc.resources[i];
                for field in ["data", "binaryData"] {
                    if let Some(Value::Map(new)) = r.obj.get(field) {
                        let Value::Map(obj) = &mut e.obj else {
                            continue;
                        };
                        let target = obj.entry_or(field, Value::new_map);
                        if let Value::Map(t) = target {
                            for (k, v) in new.iter() {
                                t.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
                for field in ["labels", "annotations"] {
                    if let Some(Value::Map(new)) = r.obj.get_path(&["metadata", field]) {
                        let meta = e.metadata_mut();
                        if let Value::Map(t) = meta.entry_or(field, Value::new_map) {
                            for (k, v) in new.iter() {
                                t.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
                if let Some(v) = r.obj.get("immutable")
                    && let Value::Map(obj) = &mut e.obj
                {
                    obj.insert("immutable", v.clone());
                }
                e.needs_hash = e.needs_hash && r.needs_hash;
                Ok(())
            }
            ("replace", Some(i)) => {
                // The content is replaced; the existing object's metadata (name, namespace,
                // labels, annotations) stays, with the generator's labels/annotations on top.
                let e = &mut acc.resources[i];
                let old_meta = e
                    .obj
                    .get("metadata")
                    .cloned()
                    .unwrap_or_else(Value::new_map);
                let mut obj = r.obj.clone();
                if let Value::Map(m) = &mut obj {
                    let mut meta = old_meta;
                    if let (Value::Map(meta_map), Some(Value::Map(new_meta))) =
                        (&mut meta, r.obj.get("metadata"))
                    {
                        for field in ["labels", "annotations"] {
                            if let Some(Value::Map(new)) = new_meta.get(field)
                                && let Value::Map(t) = meta_map.entry_or(field, Value::new_map)
                            {
                                for (k, v) in new.iter() {
                                    t.insert(k.clone(), v.clone());
                                }
                            }
                        }
                    }
                    m.insert("metadata", meta);
                }
                e.obj = obj;
                e.needs_hash = r.needs_hash;
                Ok(())
            }
            ("merge" | "replace", None) => Err(Error::invalid(
                ctx,
                format!(
                    "id {} does not exist; cannot merge or replace",
                    r.id_string()
                ),
            )),
            (other, _) => Err(Error::invalid(
                ctx,
                format!("unknown generator behavior '{other}'"),
            )),
        }
    }
}

fn append(file: &Path, acc: &mut Acc, r: Resource) -> Result<()> {
    if acc.resources.iter().any(|e| e.same_id(&r)) {
        return Err(Error::DuplicateId {
            context: file.display().to_string(),
            id: r.id_string(),
        });
    }
    acc.resources.push(r);
    Ok(())
}

/// Checks a loaded document is an object and expands `kind: List` into its items.
fn expand_list(path: &Path, doc: Value) -> Result<Vec<Value>> {
    let Value::Map(m) = &doc else {
        return Err(Error::Yaml {
            path: path.to_path_buf(),
            message: "a resource must be a YAML map".into(),
        });
    };
    let kind = m.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() {
        return Err(Error::Yaml {
            path: path.to_path_buf(),
            message: "missing kind in resource".into(),
        });
    }
    if kind.ends_with("List") && m.get("items").is_some() {
        let items = match m.get("items") {
            Some(Value::Seq(items)) => items.clone(),
            _ => Vec::new(),
        };
        let mut out = Vec::new();
        for item in items {
            out.extend(expand_list(path, item)?);
        }
        return Ok(out);
    }
    if m.get_path_name().is_none() {
        return Err(Error::Yaml {
            path: path.to_path_buf(),
            message: format!("missing metadata.name in {kind}"),
        });
    }
    Ok(vec![doc])
}

trait NameOf {
    fn get_path_name(&self) -> Option<&str>;
}
impl NameOf for Map {
    fn get_path_name(&self) -> Option<&str> {
        self.get("metadata")?.get("name")?.as_str()
    }
}
