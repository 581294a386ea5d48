//! A chart in memory: metadata, default values, templates, other files and subcharts.
//!
//! ```text
//! Chart ── metadata (Chart.yaml [+ requirements.yaml for apiVersion v1])
//!   ├── values        values.yaml, parsed as Helm parses it (numbers are float64)
//!   ├── schema        values.schema.json, raw
//!   ├── templates     templates/**  (partials `_*.tpl` included, rendered only via include)
//!   ├── files         everything else: crds/, NOTES-free data for .Files, README, ...
//!   └── dependencies  charts/<dir> and charts/<name>.tgz, each a Chart
//! ```

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::Error;
use driftless_gotmpl::yaml::go_format_float;

/// A file of a chart, named by its path relative to the chart root (`templates/cm.yaml`).
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub name: String,
    pub data: Vec<u8>,
}

/// A maintainer listed in `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Maintainer {
    pub name: String,
    pub email: String,
    pub url: String,
}

/// A dependency listed in `Chart.yaml` (or `requirements.yaml` for apiVersion v1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dependency {
    pub name: String,
    pub version: String,
    pub repository: String,
    pub condition: String,
    pub tags: Vec<String>,
    pub enabled: bool,
    /// Either strings (`exports.<name>` of the child) or `{child, parent}` maps.
    pub import_values: Vec<Value>,
    pub alias: String,
}

/// `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    pub name: String,
    pub home: String,
    pub sources: Vec<String>,
    pub version: String,
    pub description: String,
    pub keywords: Vec<String>,
    pub maintainers: Vec<Maintainer>,
    pub icon: String,
    pub api_version: String,
    pub condition: String,
    pub tags: String,
    pub app_version: String,
    pub deprecated: bool,
    pub annotations: BTreeMap<String, String>,
    pub kube_version: String,
    pub dependencies: Vec<Dependency>,
    /// `application` (or empty) or `library`.
    pub chart_type: String,
}

/// A loaded chart and its subcharts.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub metadata: Metadata,
    pub values: Map<String, Value>,
    pub schema: Option<Vec<u8>>,
    pub templates: Vec<File>,
    pub files: Vec<File>,
    pub dependencies: Vec<Chart>,
}

impl Chart {
    /// The chart's name (its alias once dependencies are processed).
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Whether this is a library chart (templates are only definitions).
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type.eq_ignore_ascii_case("library")
    }

    /// The files under `crds/` with a manifest extension, this chart's first, then its
    /// dependencies' (depth first), each with its path from the root chart
    /// (`parent/charts/child/crds/x.yaml`), as `helm template --include-crds` prints them.
    pub fn crd_files(&self, full_path: &str) -> Vec<(String, &File)> {
        let mut out = Vec::new();
        for f in &self.files {
            if f.name.starts_with("crds/")
                && (f.name.ends_with(".yaml")
                    || f.name.ends_with(".yml")
                    || f.name.ends_with(".json"))
            {
                out.push((format!("{full_path}/{}", f.name), f));
            }
        }
        for d in &self.dependencies {
            out.extend(d.crd_files(&format!("{full_path}/charts/{}", d.name())));
        }
        out
    }
}

/// Reads `Chart.yaml` text into metadata as `sigs.k8s.io/yaml` fills Helm's struct:
/// scalars are turned into strings where the field is a string, unknown keys are ignored.
pub(crate) fn parse_metadata(text: &str, into: &mut Metadata, file: &str) -> Result<(), String> {
    let v = driftless_gotmpl::yaml::from_yaml(text).map_err(|e| e.to_string())?;
    let m = match v {
        Value::Object(m) => m,
        Value::Null => return Ok(()),
        other => return Err(format!("cannot unmarshal {other} into chart metadata")),
    };
    for (k, v) in &m {
        let field = |name: &str| format!("{file}: field {name}");
        match k.as_str() {
            "name" => into.name = scalar_string(v, &field(k))?,
            "home" => into.home = scalar_string(v, &field(k))?,
            "sources" => into.sources = string_list(v, &field(k))?,
            "version" => into.version = scalar_string(v, &field(k))?,
            "description" => into.description = scalar_string(v, &field(k))?,
            "keywords" => into.keywords = string_list(v, &field(k))?,
            "maintainers" => {
                into.maintainers = list(v, &field(k))?
                    .iter()
                    .map(|m| {
                        let mm = object(m, "maintainer")?;
                        Ok(Maintainer {
                            name: get_string(mm, "name")?,
                            email: get_string(mm, "email")?,
                            url: get_string(mm, "url")?,
                        })
                    })
                    .collect::<Result<_, String>>()?
            }
            "icon" => into.icon = scalar_string(v, &field(k))?,
            "apiVersion" => into.api_version = scalar_string(v, &field(k))?,
            "condition" => into.condition = scalar_string(v, &field(k))?,
            "tags" => into.tags = scalar_string(v, &field(k))?,
            "appVersion" => into.app_version = scalar_string(v, &field(k))?,
            "deprecated" => {
                into.deprecated = match v {
                    Value::Bool(b) => *b,
                    Value::Null => false,
                    _ => return Err(format!("{}: expected a bool", field(k))),
                }
            }
            "annotations" => {
                into.annotations = match v {
                    Value::Null => BTreeMap::new(),
                    Value::Object(a) => a
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), scalar_string(v, "annotation")?)))
                        .collect::<Result<_, String>>()?,
                    _ => return Err(format!("{}: expected a map", field(k))),
                }
            }
            "kubeVersion" => into.kube_version = scalar_string(v, &field(k))?,
            "type" => into.chart_type = scalar_string(v, &field(k))?,
            "dependencies" => {
                into.dependencies = list(v, &field(k))?
                    .iter()
                    .map(parse_dependency)
                    .collect::<Result<_, String>>()?
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_dependency(v: &Value) -> Result<Dependency, String> {
    let m = object(v, "dependency")?;
    Ok(Dependency {
        name: get_string(m, "name")?,
        version: get_string(m, "version")?,
        repository: get_string(m, "repository")?,
        condition: get_string(m, "condition")?,
        tags: match m.get("tags") {
            Some(t) => string_list(t, "dependency tags")?,
            None => Vec::new(),
        },
        enabled: matches!(m.get("enabled"), Some(Value::Bool(true))),
        import_values: match m.get("import-values") {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err("dependency import-values: expected a list".into()),
        },
        alias: get_string(m, "alias")?,
    })
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Err(format!("{what}s must not contain empty or null nodes")),
        _ => Err(format!("{what}: expected a map")),
    }
}

fn list<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], String> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Null => Ok(&[]),
        _ => Err(format!("{what}: expected a list")),
    }
}

fn string_list(v: &Value, what: &str) -> Result<Vec<String>, String> {
    list(v, what)?
        .iter()
        .map(|x| scalar_string(x, what))
        .collect()
}

fn get_string(m: &Map<String, Value>, key: &str) -> Result<String, String> {
    match m.get(key) {
        None => Ok(String::new()),
        Some(v) => scalar_string(v, key),
    }
}

/// A scalar read into a Go string field: numbers are spelled by `FormatFloat(f, 'g', -1, 32)`
/// (so `appVersion: 1.10` becomes "1.1", as in Helm).
fn scalar_string(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            Ok(go_format_float(f, 'g', 32))
        }
        _ => Err(format!("{what}: expected a string")),
    }
}

/// Helm's `sanitizeString`: whitespace becomes a space, unprintable characters are dropped.
fn sanitize(s: &mut String) {
    if s.chars()
        .all(|c| c == ' ' || (!c.is_whitespace() && !c.is_control()))
    {
        return;
    }
    *s = s
        .chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() {
                None
            } else {
                Some(c)
            }
        })
        .collect();
}

/// Helm's `Metadata.Validate`.
pub(crate) fn validate(md: &mut Metadata) -> Result<(), String> {
    for s in [
        &mut md.name,
        &mut md.description,
        &mut md.home,
        &mut md.icon,
        &mut md.condition,
        &mut md.tags,
        &mut md.app_version,
        &mut md.kube_version,
    ] {
        sanitize(s);
    }
    md.sources.iter_mut().for_each(sanitize);
    md.keywords.iter_mut().for_each(sanitize);
    if md.api_version.is_empty() {
        return Err("chart.metadata.apiVersion is required".into());
    }
    if md.name.is_empty() {
        return Err("chart.metadata.name is required".into());
    }
    if md.name.contains('/') || md.name == ".." || md.name == "." {
        return Err(format!("chart.metadata.name {:?} is invalid", md.name));
    }
    if md.version.is_empty() {
        return Err("chart.metadata.version is required".into());
    }
    if driftless_semver::Version::parse(&md.version).is_err() {
        return Err(format!(
            "chart.metadata.version {:?} is invalid",
            md.version
        ));
    }
    if !matches!(md.chart_type.as_str(), "" | "application" | "library") {
        return Err("chart.metadata.type must be application or library".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for d in &mut md.dependencies {
        sanitize(&mut d.name);
        sanitize(&mut d.version);
        sanitize(&mut d.repository);
        sanitize(&mut d.condition);
        d.tags.iter_mut().for_each(sanitize);
        if !d.alias.is_empty()
            && !d
                .alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "dependency {:?} has disallowed characters in the alias",
                d.name
            ));
        }
        let key = if d.alias.is_empty() {
            d.name.clone()
        } else {
            d.alias.clone()
        };
        if !seen.insert(key.clone()) {
            return Err(format!(
                "more than one dependency with name or alias {key:?}"
            ));
        }
    }
    Ok(())
}

/// `chart.Validate` reports errors naming the chart directory; this is the entry point the
/// loader uses.
pub(crate) fn validate_chart(chart: &mut Chart, origin: &str) -> Result<(), Error> {
    validate(&mut chart.metadata).map_err(|message| Error::Invalid {
        chart: origin.to_string(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_strings_as_helm_reads_them() {
        let mut md = Metadata::default();
        parse_metadata(
            "apiVersion: v2\nname: demo\nversion: 1.0.0\nappVersion: 1.10\nannotations:\n  a: 1\ndependencies:\n- name: sub\n  version: ~1.0\n  import-values: [data]\n  tags: [front]\nunknown: x\n",
            &mut md,
            "Chart.yaml",
        )
        .unwrap();
        assert_eq!(md.app_version, "1.1");
        assert_eq!(md.annotations["a"], "1");
        assert_eq!(md.dependencies[0].tags, vec!["front"]);
        assert!(validate(&mut md).is_ok());
    }

    #[test]
    fn validation_names_the_problem() {
        let mut md = Metadata {
            api_version: "v2".into(),
            name: "x".into(),
            version: "not-a-version".into(),
            ..Default::default()
        };
        assert!(validate(&mut md).unwrap_err().contains("version"));
        md.version = "1.0.0".into();
        md.chart_type = "plugin".into();
        assert!(validate(&mut md).unwrap_err().contains("type"));
    }
}
