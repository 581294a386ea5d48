//! Rendering every template of a chart tree with `driftless-gotmpl`, as Helm's engine does.
//!
//! All templates of the chart and its subcharts go into one template set, parsed deepest path
//! first (so a parent's `define` replaces a subchart's of the same name) and executed in that
//! order; each sees its own chart's `.Values`, `.Chart`, `.Files` and `.Subcharts`, plus the
//! shared `.Release` and `.Capabilities`, and a `.Template` set just before it runs. Library
//! charts contribute only their partials. The Go objects templates reach into (`.Files`,
//! `.Capabilities`, `.Chart`) are [`Object`]s with Go's field and method names.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use driftless_gotmpl::{Function, Map as GMap, MapRef, Object, Templates, Value as G};
use serde_json::Value as J;

use crate::chart::{Chart, File};
use crate::error::Error;

/// `.Release`.
#[derive(Debug, Clone)]
pub struct ReleaseInfo {
    pub name: String,
    pub namespace: String,
    pub revision: i64,
    pub is_install: bool,
    pub is_upgrade: bool,
}

/// `.Capabilities`: what the target cluster offers.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// `v1.20.0`-style version string.
    pub kube_version: String,
    pub kube_major: String,
    pub kube_minor: String,
    /// `group/version` (and optionally `group/version/Kind`) entries `APIVersions.Has` knows.
    pub api_versions: Vec<String>,
}

/// The group/versions `helm template` assumes (Helm v3.19 built with client-go v0.34).
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1alpha1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

impl Default for Capabilities {
    /// `helm template`'s defaults: Kubernetes v1.20.0 and the built-in API versions.
    fn default() -> Capabilities {
        Capabilities {
            kube_version: "v1.20.0".into(),
            kube_major: "1".into(),
            kube_minor: "20".into(),
            api_versions: DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Capabilities {
    /// Sets the Kubernetes version from `--kube-version` text (`1.29`, `v1.29.3`), parsed as
    /// Kubernetes' generic version parser does.
    pub fn set_kube_version(&mut self, text: &str) -> Result<(), Error> {
        let bad = || Error::KubeVersionFlag(text.to_string());
        let t = text.trim_start();
        let t = t.strip_prefix('v').unwrap_or(t);
        let end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let numbers = &t[..end];
        let parts: Vec<&str> = numbers.split('.').collect();
        if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        if parts[0].len() > 1 && parts[0].starts_with('0') {
            return Err(bad());
        }
        let nums: Vec<u64> = parts
            .iter()
            .map(|p| p.parse::<u64>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        self.kube_version = format!(
            "v{}",
            nums.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(".")
        );
        self.kube_major = nums[0].to_string();
        self.kube_minor = nums[1].to_string();
        Ok(())
    }
}

/// A function the controller can supply for `lookup` (apiVersion, kind, namespace, name).
pub type LookupFn = Arc<dyn Fn(&str, &str, &str, &str) -> Result<J, String> + Send + Sync>;

/// Converts values (numbers from YAML and JSON are float64, from `--set` int64) into template
/// values.
pub fn to_template_value(v: &J) -> G {
    match v {
        J::Null => G::Nil,
        J::Bool(b) => G::Bool(*b),
        J::Number(n) => {
            if n.is_f64() {
                G::Float(n.as_f64().unwrap_or(0.0))
            } else if let Some(i) = n.as_i64() {
                G::Int64(i)
            } else {
                G::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        J::String(s) => G::str(s),
        J::Array(a) => G::list(a.iter().map(to_template_value).collect()),
        J::Object(o) => G::map(
            o.iter()
                .map(|(k, v)| (k.clone(), to_template_value(v)))
                .collect(),
        ),
    }
}

/// Renders all templates. `values` are the fully coalesced values of the root chart.
/// Returns template path (`chart/templates/x.yaml`) to rendered text; partials are absent.
pub fn render(
    chart: &Chart,
    values: &serde_json::Map<String, J>,
    release: &ReleaseInfo,
    caps: &Capabilities,
    lookup: Option<LookupFn>,
) -> Result<BTreeMap<String, String>, Error> {
    let mut set = Templates::helm();
    if let Some(lookup) = lookup {
        set.add_func(
            "lookup",
            Function::new(
                vec![
                    driftless_gotmpl::Param::String,
                    driftless_gotmpl::Param::String,
                    driftless_gotmpl::Param::String,
                    driftless_gotmpl::Param::String,
                ],
                None,
                move |_, a| {
                    let s = |i: usize| a[i].as_str().unwrap_or("").to_string();
                    let v = lookup(&s(0), &s(1), &s(2), &s(3))?;
                    Ok(to_template_value(&v))
                },
            ),
        );
    }
    let mut release_map = GMap::new();
    release_map.insert("Name".into(), G::str(&release.name));
    release_map.insert("Namespace".into(), G::str(&release.namespace));
    release_map.insert("IsUpgrade".into(), G::Bool(release.is_upgrade));
    release_map.insert("IsInstall".into(), G::Bool(release.is_install));
    release_map.insert("Revision".into(), G::Int(release.revision));
    release_map.insert("Service".into(), G::str("Helm"));
    let shared = Shared {
        release: G::map(release_map),
        caps: G::Object(Arc::new(CapabilitiesObj(caps.clone()))),
    };
    let root_values = to_template_value(&J::Object(values.clone()));
    let mut templates: Vec<Renderable> = Vec::new();
    collect(
        chart,
        chart.name(),
        true,
        root_values,
        &shared,
        &mut templates,
    );

    // Helm parses (and runs) deeper paths first; equal depth in reverse name order.
    templates.sort_by(|a, b| {
        let (ca, cb) = (a.name.matches('/').count(), b.name.matches('/').count());
        cb.cmp(&ca).then_with(|| b.name.cmp(&a.name))
    });
    for t in &templates {
        let src = String::from_utf8_lossy(&t.data);
        set.parse(&t.name, &src)
            .map_err(|e| Error::Render(e.helm_message()))?;
    }
    let mut rendered = BTreeMap::new();
    for t in &templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if base.starts_with('_') {
            continue;
        }
        let mut tmpl = GMap::new();
        tmpl.insert("Name".into(), G::str(&t.name));
        tmpl.insert("BasePath".into(), G::str(&t.base_path));
        t.scope.insert("Template", G::map(tmpl));
        let out = set
            .execute(&t.name, &G::Map(t.scope.clone()))
            .map_err(|e| Error::Render(e.helm_message()))?;
        rendered.insert(t.name.clone(), out);
    }
    Ok(rendered)
}

struct Shared {
    release: G,
    caps: G,
}

struct Renderable {
    name: String,
    base_path: String,
    data: Arc<[u8]>,
    scope: MapRef,
}

/// Helm's `recAllTpls`: builds each chart's scope and lists its templates. Returns the scope
/// (for the parent's `.Subcharts`).
fn collect(
    c: &Chart,
    full_path: &str,
    is_root: bool,
    values: G,
    shared: &Shared,
    out: &mut Vec<Renderable>,
) -> MapRef {
    let subcharts = MapRef::new(GMap::new());
    let mut next = GMap::new();
    next.insert(
        "Chart".into(),
        G::Object(Arc::new(ChartObj {
            md: c.metadata.clone(),
            is_root,
        })),
    );
    next.insert("Files".into(), G::Object(Arc::new(FilesObj::new(&c.files))));
    next.insert("Release".into(), shared.release.clone());
    next.insert("Capabilities".into(), shared.caps.clone());
    next.insert("Values".into(), values.clone());
    next.insert("Subcharts".into(), G::Map(subcharts.clone()));
    let scope = MapRef::new(next);
    for child in &c.dependencies {
        let child_values = match values.as_map().and_then(|m| m.get(child.name())) {
            Some(v @ G::Map(_)) => v,
            _ => G::empty_map(),
        };
        let child_path = format!("{full_path}/charts/{}", child.name());
        let child_scope = collect(child, &child_path, false, child_values, shared, out);
        subcharts.insert(child.name(), G::Map(child_scope));
    }
    for t in &c.templates {
        if c.is_library() {
            let base = t.name.rsplit('/').next().unwrap_or(&t.name);
            if !base.starts_with('_') {
                continue;
            }
        }
        out.push(Renderable {
            name: format!("{full_path}/{}", t.name),
            base_path: format!("{full_path}/templates"),
            data: Arc::from(t.data.as_slice()),
            scope: scope.clone(),
        });
    }
    scope
}

// ---------------------------------------------------------------------------------------------
// The Go objects templates reach into.

/// `.Chart`: Helm's `chart.Metadata` plus `IsRoot`.
#[derive(Debug)]
struct ChartObj {
    md: crate::chart::Metadata,
    is_root: bool,
}

fn str_list(v: &[String]) -> G {
    G::list(v.iter().map(G::str).collect())
}

impl Object for ChartObj {
    fn type_name(&self) -> &str {
        "struct { chart.Metadata; IsRoot bool }"
    }

    fn field(&self, name: &str) -> Option<G> {
        let md = &self.md;
        Some(match name {
            "Name" => G::str(&md.name),
            "Home" => G::str(&md.home),
            "Sources" => str_list(&md.sources),
            "Version" => G::str(&md.version),
            "Description" => G::str(&md.description),
            "Keywords" => str_list(&md.keywords),
            "Maintainers" => G::list(
                md.maintainers
                    .iter()
                    .map(|m| {
                        let mut x = GMap::new();
                        x.insert("Name".into(), G::str(&m.name));
                        x.insert("Email".into(), G::str(&m.email));
                        x.insert("URL".into(), G::str(&m.url));
                        G::map(x)
                    })
                    .collect(),
            ),
            "Icon" => G::str(&md.icon),
            "APIVersion" => G::str(&md.api_version),
            "Condition" => G::str(&md.condition),
            "Tags" => G::str(&md.tags),
            "AppVersion" => G::str(&md.app_version),
            "Deprecated" => G::Bool(md.deprecated),
            "Annotations" => G::map(
                md.annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), G::str(v)))
                    .collect(),
            ),
            "KubeVersion" => G::str(&md.kube_version),
            "Dependencies" => G::list(
                md.dependencies
                    .iter()
                    .map(|d| {
                        let mut x = GMap::new();
                        x.insert("Name".into(), G::str(&d.name));
                        x.insert("Version".into(), G::str(&d.version));
                        x.insert("Repository".into(), G::str(&d.repository));
                        x.insert("Condition".into(), G::str(&d.condition));
                        x.insert("Tags".into(), str_list(&d.tags));
                        x.insert("Enabled".into(), G::Bool(d.enabled));
                        x.insert(
                            "ImportValues".into(),
                            G::list(d.import_values.iter().map(to_template_value).collect()),
                        );
                        x.insert("Alias".into(), G::str(&d.alias));
                        G::map(x)
                    })
                    .collect(),
            ),
            "Type" => G::str(&md.chart_type),
            "IsRoot" => G::Bool(self.is_root),
            _ => return None,
        })
    }

    fn to_value(&self) -> G {
        plain_struct(self.fields())
    }

    fn json_fields(&self) -> Option<Vec<(String, G)>> {
        Some(self.fields())
    }
}

impl ChartObj {
    /// `chart.Metadata`'s fields, then the embedding struct's `IsRoot`.
    fn fields(&self) -> Vec<(String, G)> {
        let mut f = metadata_fields(&self.md);
        f.push(("IsRoot".into(), G::Bool(self.is_root)));
        f
    }
}

/// `chart.Metadata` as Helm's JSON encodes it (release records store it so).
pub(crate) fn metadata_json(md: &crate::chart::Metadata) -> J {
    plain_struct(metadata_fields(md)).to_json()
}

/// `chart.Metadata`'s JSON fields in declaration order (empty ones omitted, as its
/// `omitempty` tags say).
fn metadata_fields(md: &crate::chart::Metadata) -> Vec<(String, G)> {
    let mut f = GoFields::default();
    f.str("name", &md.name);
    f.str("home", &md.home);
    f.list("sources", &md.sources);
    f.str("version", &md.version);
    f.str("description", &md.description);
    f.list("keywords", &md.keywords);
    if !md.maintainers.is_empty() {
        let list = md
            .maintainers
            .iter()
            .map(|x| {
                let mut o = GoFields::default();
                o.str("name", &x.name);
                o.str("email", &x.email);
                o.str("url", &x.url);
                o.into_struct()
            })
            .collect();
        f.0.push(("maintainers".into(), G::list(list)));
    }
    f.str("icon", &md.icon);
    f.str("apiVersion", &md.api_version);
    f.str("condition", &md.condition);
    f.str("tags", &md.tags);
    f.str("appVersion", &md.app_version);
    if md.deprecated {
        f.0.push(("deprecated".into(), G::Bool(true)));
    }
    if !md.annotations.is_empty() {
        let m = md
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), G::str(v)))
            .collect();
        f.0.push(("annotations".into(), G::map(m)));
    }
    f.str("kubeVersion", &md.kube_version);
    if !md.dependencies.is_empty() {
        let list = md
            .dependencies
            .iter()
            .map(|d| {
                let mut o = GoFields::default();
                o.0.push(("name".into(), G::str(&d.name)));
                o.str("version", &d.version);
                o.0.push(("repository".into(), G::str(&d.repository)));
                o.str("condition", &d.condition);
                o.list("tags", &d.tags);
                if d.enabled {
                    o.0.push(("enabled".into(), G::Bool(true)));
                }
                if !d.import_values.is_empty() {
                    let iv = d.import_values.iter().map(to_template_value).collect();
                    o.0.push(("import-values".into(), G::list(iv)));
                }
                o.str("alias", &d.alias);
                o.into_struct()
            })
            .collect();
        f.0.push(("dependencies".into(), G::list(list)));
    }
    f.str("type", &md.chart_type);
    f.0
}

/// A Go struct's JSON fields in declaration order, built field by field.
#[derive(Default)]
struct GoFields(Vec<(String, G)>);

impl GoFields {
    /// A string field with `omitempty`.
    fn str(&mut self, key: &str, v: &str) {
        if !v.is_empty() {
            self.0.push((key.to_string(), G::str(v)));
        }
    }

    /// A `[]string` field with `omitempty`.
    fn list(&mut self, key: &str, v: &[String]) {
        if !v.is_empty() {
            self.0.push((key.to_string(), str_list(v)));
        }
    }

    fn into_struct(self) -> G {
        G::Object(Arc::new(GoStruct(self.0)))
    }
}

/// A nested struct of `.Chart` (a maintainer, a dependency) as `toJson` sees it: its fields
/// in declaration order. Templates reach these through [`ChartObj::field`] as maps instead.
#[derive(Debug)]
struct GoStruct(Vec<(String, G)>);

impl Object for GoStruct {
    fn type_name(&self) -> &str {
        "struct"
    }

    fn field(&self, _name: &str) -> Option<G> {
        None
    }

    fn to_value(&self) -> G {
        plain_struct(self.0.clone())
    }

    fn json_fields(&self) -> Option<Vec<(String, G)>> {
        Some(self.0.clone())
    }
}

/// Struct fields as a plain map (what `toYaml` and `%v` see), nested structs included.
fn plain_struct(fields: Vec<(String, G)>) -> G {
    fn plain(v: G) -> G {
        match v {
            G::Object(o) => o.to_value(),
            G::List(l) => G::list(l.iter().cloned().map(plain).collect()),
            v => v,
        }
    }
    G::map(fields.into_iter().map(|(k, v)| (k, plain(v))).collect())
}

/// `.Capabilities`.
#[derive(Debug)]
struct CapabilitiesObj(Capabilities);

impl Object for CapabilitiesObj {
    fn type_name(&self) -> &str {
        "*chartutil.Capabilities"
    }

    fn field(&self, name: &str) -> Option<G> {
        match name {
            "KubeVersion" => Some(G::Object(Arc::new(KubeVersionObj {
                version: self.0.kube_version.clone(),
                major: self.0.kube_major.clone(),
                minor: self.0.kube_minor.clone(),
            }))),
            "APIVersions" => Some(G::Object(Arc::new(VersionSetObj(
                self.0.api_versions.clone(),
            )))),
            "HelmVersion" => {
                let mut m = GMap::new();
                m.insert("Version".into(), G::str("v3.19"));
                m.insert("GitCommit".into(), G::str(""));
                m.insert("GitTreeState".into(), G::str(""));
                m.insert("GoVersion".into(), G::str(""));
                Some(G::map(m))
            }
            _ => None,
        }
    }

    fn to_value(&self) -> G {
        let mut m = GMap::new();
        for k in ["KubeVersion", "APIVersions"] {
            if let Some(G::Object(o)) = self.field(k) {
                m.insert(k.into(), o.to_value());
            }
        }
        let mut hv = GMap::new();
        hv.insert("version".into(), G::str("v3.19"));
        m.insert("HelmVersion".into(), G::map(hv));
        G::map(m)
    }
}

/// `.Capabilities.KubeVersion`: prints as its version, `GitVersion` is a method.
#[derive(Debug)]
struct KubeVersionObj {
    version: String,
    major: String,
    minor: String,
}

impl Object for KubeVersionObj {
    fn type_name(&self) -> &str {
        "chartutil.KubeVersion"
    }

    fn field(&self, name: &str) -> Option<G> {
        match name {
            "Version" | "GitVersion" => Some(G::str(&self.version)),
            "Major" => Some(G::str(&self.major)),
            "Minor" => Some(G::str(&self.minor)),
            _ => None,
        }
    }

    fn call_method(&self, name: &str, args: &[G]) -> Option<Result<G, String>> {
        match name {
            "String" | "GitVersion" if args.is_empty() => Some(Ok(G::str(&self.version))),
            _ => None,
        }
    }

    /// As a function argument (`quote`, `printf "%v"`, `toString`) Go prints the struct
    /// value: `{v1.20.0 1 20}`.
    fn display(&self) -> Option<String> {
        Some(format!(
            "{{{} {} {}}}",
            self.version, self.major, self.minor
        ))
    }

    /// `{{ .Capabilities.KubeVersion }}` prints through `(*KubeVersion).String()`.
    fn action_display(&self) -> Option<String> {
        Some(self.version.clone())
    }

    fn to_value(&self) -> G {
        plain_struct(self.fields())
    }

    fn json_fields(&self) -> Option<Vec<(String, G)>> {
        Some(self.fields())
    }
}

impl KubeVersionObj {
    /// `chartutil.KubeVersion`'s fields in declaration order (no JSON tags).
    fn fields(&self) -> Vec<(String, G)> {
        vec![
            ("Version".into(), G::str(&self.version)),
            ("Major".into(), G::str(&self.major)),
            ("Minor".into(), G::str(&self.minor)),
        ]
    }
}

/// `.Capabilities.APIVersions`: a list with a `Has` method.
#[derive(Debug)]
struct VersionSetObj(Vec<String>);

impl Object for VersionSetObj {
    fn type_name(&self) -> &str {
        "chartutil.VersionSet"
    }

    fn field(&self, _name: &str) -> Option<G> {
        None
    }

    fn call_method(&self, name: &str, args: &[G]) -> Option<Result<G, String>> {
        match name {
            "Has" => Some(match args {
                [G::String(s)] => Ok(G::Bool(self.0.iter().any(|v| v.as_str() == &**s))),
                [other] => Err(format!(
                    "wrong type for value; expected string; got {}",
                    other.type_name()
                )),
                _ => Err(format!(
                    "wrong number of args for Has: want 1 got {}",
                    args.len()
                )),
            }),
            _ => None,
        }
    }

    fn to_value(&self) -> G {
        str_list(&self.0)
    }

    /// A `[]string`: `range` and `len` see the list.
    fn collection(&self) -> Option<G> {
        Some(self.to_value())
    }
}

/// `.Files`: the chart's non-template files by path.
#[derive(Debug, Clone)]
struct FilesObj {
    files: BTreeMap<String, Arc<[u8]>>,
}

impl FilesObj {
    fn new(files: &[File]) -> FilesObj {
        FilesObj {
            files: files
                .iter()
                .map(|f| (f.name.clone(), Arc::from(f.data.as_slice())))
                .collect(),
        }
    }

    fn string_arg(name: &str, args: &[G]) -> Result<String, String> {
        match args {
            [G::String(s)] => Ok(s.to_string()),
            [other] => Err(format!(
                "wrong type for value; expected string; got {}",
                other.type_name()
            )),
            _ => Err(format!(
                "wrong number of args for {name}: want 1 got {}",
                args.len()
            )),
        }
    }

    fn as_yaml(&self, encode: impl Fn(&[u8]) -> String) -> G {
        let mut m = serde_json::Map::new();
        for (k, v) in &self.files {
            let base = k.rsplit('/').next().unwrap_or(k);
            m.insert(base.to_string(), J::String(encode(v)));
        }
        let text = driftless_gotmpl::yaml::to_yaml(&J::Object(m));
        G::str(text.strip_suffix('\n').unwrap_or(&text))
    }
}

impl Object for FilesObj {
    fn type_name(&self) -> &str {
        "engine.files"
    }

    fn field(&self, _name: &str) -> Option<G> {
        None
    }

    fn call_method(&self, name: &str, args: &[G]) -> Option<Result<G, String>> {
        Some(match name {
            "Get" => Self::string_arg(name, args).map(|p| match self.files.get(&p) {
                Some(d) => G::str(String::from_utf8_lossy(d)),
                None => G::str(""),
            }),
            "GetBytes" => Self::string_arg(name, args).map(|p| match self.files.get(&p) {
                Some(d) => G::Bytes(d.clone()),
                None => G::Bytes(Arc::from(&[][..])),
            }),
            "Glob" => Self::string_arg(name, args).map(|p| {
                let re = glob_regex(&p)
                    .unwrap_or_else(|| glob_regex("**").unwrap_or_else(|| unreachable!()));
                G::Object(Arc::new(FilesObj {
                    files: self
                        .files
                        .iter()
                        .filter(|(k, _)| re.is_match(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                }))
            }),
            "Lines" => Self::string_arg(name, args).map(|p| match self.files.get(&p) {
                None => G::list(Vec::new()),
                Some(d) => {
                    let s = String::from_utf8_lossy(d);
                    let s = s.strip_suffix('\n').unwrap_or(&s);
                    G::list(s.split('\n').map(G::str).collect())
                }
            }),
            "AsConfig" if args.is_empty() => {
                Ok(self.as_yaml(|d| String::from_utf8_lossy(d).into_owned()))
            }
            "AsSecrets" if args.is_empty() => {
                Ok(self.as_yaml(|d| base64::engine::general_purpose::STANDARD.encode(d)))
            }
            _ => return None,
        })
    }

    fn to_value(&self) -> G {
        G::map(
            self.files
                .iter()
                .map(|(k, v)| (k.clone(), G::Bytes(v.clone())))
                .collect(),
        )
    }

    /// A `map[string][]byte`: `range`, `len`, `index` and `if` see path -> bytes.
    fn collection(&self) -> Option<G> {
        Some(self.to_value())
    }
}

/// A `gobwas/glob` pattern with `/` as separator, as a regex: `*` and `?` stay within a path
/// segment, `**` crosses them, `[...]`/`[!...]` classes, `{a,b}` alternatives.
fn glob_regex(pattern: &str) -> Option<regex::Regex> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("^");
    let mut i = 0;
    let mut depth = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                re.push_str(".*");
                i += 1;
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let end = chars[i..].iter().position(|&x| x == ']')? + i;
                let mut class: String = chars[i + 1..end].iter().collect();
                if let Some(rest) = class.strip_prefix('!') {
                    class = format!("^{rest}");
                }
                re.push('[');
                re.push_str(&class.replace('\\', "\\\\"));
                re.push(']');
                i = end;
            }
            '{' => {
                depth += 1;
                re.push_str("(?:");
            }
            '}' if depth > 0 => {
                depth -= 1;
                re.push(')');
            }
            ',' if depth > 0 => re.push('|'),
            '\\' => {
                i += 1;
                re.push_str(&regex::escape(&chars.get(i)?.to_string()));
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    if depth != 0 {
        return None;
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = glob_regex("files/*.txt").unwrap();
        assert!(g.is_match("files/a.txt"));
        assert!(!g.is_match("files/d/a.txt"));
        assert!(glob_regex("files/**").unwrap().is_match("files/d/a.txt"));
        assert!(glob_regex("{a,b}.yaml").unwrap().is_match("b.yaml"));
    }

    #[test]
    fn kube_version_flag() {
        let mut c = Capabilities::default();
        c.set_kube_version("1.29").unwrap();
        assert_eq!(c.kube_version, "v1.29");
        c.set_kube_version("v1.28.3").unwrap();
        assert_eq!(
            (c.kube_version.as_str(), c.kube_minor.as_str()),
            ("v1.28.3", "28")
        );
        assert!(c.set_kube_version("x").is_err());
    }
}
