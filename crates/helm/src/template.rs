//! `helm template` / install rendering: the whole pipeline from a loaded chart and user
//! values to sorted manifests, hooks, CRDs and NOTES, and the text `helm template` prints.

use serde_json::{Map, Value};

use crate::chart::Chart;
use crate::error::Error;
use crate::manifest::{Hook, Manifest, sort_manifests};
use crate::render::{Capabilities, LookupFn, ReleaseInfo, render};
use crate::strvals;
use crate::values::{coalesce_values, merge_maps};

/// User-supplied values, built as Helm's CLI merges `-f`, `--set` and `--set-string`.
#[derive(Debug, Clone, Default)]
pub struct UserValues(pub Map<String, Value>);

impl UserValues {
    /// Merges a values file's text (a later file wins, maps merge). `name` is for errors.
    pub fn add_file(&mut self, name: &str, text: &str) -> Result<(), Error> {
        let m = driftless_gotmpl::yaml::from_yaml_map(text).map_err(|source| Error::Values {
            source_name: format!("failed to parse {name}"),
            source,
        })?;
        merge_maps(&mut self.0, m);
        Ok(())
    }

    // Helm applies the flags by kind, whatever their order on the command line: values
    // files, then every `--set-json`, `--set`, `--set-string`, `--set-file`, `--set-literal`.

    /// Applies one `--set` expression (typed values).
    pub fn set(&mut self, expr: &str) -> Result<(), Error> {
        self.apply("--set", expr, strvals::Kind::Typed)
    }

    /// Applies one `--set-string` expression (values stay strings).
    pub fn set_string(&mut self, expr: &str) -> Result<(), Error> {
        self.apply("--set-string", expr, strvals::Kind::String)
    }

    /// Applies one `--set-json` expression (`a={"b":1}`: each value a JSON document).
    pub fn set_json(&mut self, expr: &str) -> Result<(), Error> {
        self.apply("--set-json", expr, strvals::Kind::Json)
    }

    /// Applies one `--set-file` expression (`a=path`: the file's content). `read` reads a
    /// path (the caller decides where paths are relative to; Helm reads `-` as stdin).
    pub fn set_file(
        &mut self,
        expr: &str,
        read: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<(), Error> {
        self.apply("--set-file", expr, strvals::Kind::File(read))
    }

    /// Applies one `--set-literal` expression (`a.b=` and the rest verbatim).
    pub fn set_literal(&mut self, expr: &str) -> Result<(), Error> {
        self.apply("--set-literal", expr, strvals::Kind::Literal)
    }

    fn apply(
        &mut self,
        flag: &'static str,
        expr: &str,
        kind: strvals::Kind<'_>,
    ) -> Result<(), Error> {
        strvals::parse_into(expr, &mut self.0, kind).map_err(|message| Error::SetValue {
            flag,
            expr: expr.to_string(),
            message,
        })
    }
}

/// How to render: the release and the cluster it is rendered for.
#[derive(Clone, Default)]
pub struct TemplateOptions {
    pub release_name: String,
    /// Empty means `default`.
    pub namespace: String,
    /// `--kube-version` text.
    pub kube_version: Option<String>,
    /// `--api-versions`, added to the defaults.
    pub api_versions: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--is-upgrade`.
    pub is_upgrade: bool,
    /// `--skip-schema-validation`.
    pub skip_schema_validation: bool,
    /// The cluster behind `lookup`; offline (empty results) when unset.
    pub lookup: Option<LookupFn>,
}

impl std::fmt::Debug for TemplateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateOptions")
            .field("release_name", &self.release_name)
            .field("namespace", &self.namespace)
            .field("kube_version", &self.kube_version)
            .field("api_versions", &self.api_versions)
            .field("include_crds", &self.include_crds)
            .field("is_upgrade", &self.is_upgrade)
            .finish()
    }
}

/// A rendered release.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// `(path, content)` of each CRD file, when CRDs were asked for.
    pub crds: Vec<(String, String)>,
    /// Non-hook documents in install order.
    pub manifests: Vec<Manifest>,
    /// Hook documents in kind order.
    pub hooks: Vec<Hook>,
    /// The rendered `NOTES.txt` of the root chart.
    pub notes: String,
    /// The coalesced values the templates saw.
    pub values: Map<String, Value>,
}

impl Rendered {
    /// The release manifest as Helm stores it: CRDs (if included) then manifests, each as
    /// `---\n# Source: path\ncontent\n`.
    pub fn manifest(&self) -> String {
        let mut b = String::new();
        for (path, content) in &self.crds {
            b.push_str(&format!("---\n# Source: {path}\n{content}\n"));
        }
        for m in &self.manifests {
            b.push_str(&format!("---\n# Source: {}\n{}\n", m.path, m.content));
        }
        b
    }

    /// Exactly what `helm template` prints: the manifest, then the hooks.
    pub fn helm_template_output(&self) -> String {
        let mut out = self.manifest().trim().to_string();
        out.push('\n');
        for h in &self.hooks {
            out.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.content));
        }
        out
    }

    /// What `helm template` prints with its output flags: hooks left out (`--no-hooks`) or
    /// test hooks left out (`--skip-tests`), then only the documents whose template matches
    /// a `--show-only` pattern (Go's `filepath.Match` on the path below the chart name, in
    /// pattern order). A pattern that matches nothing is an error, as in Helm.
    pub fn helm_template_output_with(&self, opts: &OutputOptions) -> Result<String, Error> {
        let mut out = self.manifest().trim().to_string();
        out.push('\n');
        if !opts.no_hooks {
            for h in &self.hooks {
                if opts.skip_tests && h.events.iter().any(|e| e == "test") {
                    continue;
                }
                out.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.content));
            }
        }
        if opts.show_only.is_empty() {
            return Ok(out);
        }
        let docs = crate::manifest::split_manifests(&out);
        let mut shown = String::new();
        for pattern in &opts.show_only {
            let mut found = false;
            for doc in &docs {
                let Some(path) = source_below_chart(doc) else {
                    continue;
                };
                // Helm ignores a malformed pattern's error: it matches nothing.
                if crate::ignore::glob_match(pattern, path).unwrap_or(false) {
                    shown.push_str("---\n");
                    shown.push_str(doc);
                    shown.push('\n');
                    found = true;
                }
            }
            if !found {
                return Err(Error::ShowOnly(pattern.clone()));
            }
        }
        Ok(shown)
    }
}

/// `helm template`'s output flags (what it prints, not how it renders).
#[derive(Debug, Clone, Default)]
pub struct OutputOptions {
    /// `--no-hooks`: no hook documents.
    pub no_hooks: bool,
    /// `--skip-tests`: no hooks with the `test` event.
    pub skip_tests: bool,
    /// `--show-only` patterns, e.g. `templates/deployment.yaml` or `charts/db/templates/*`.
    pub show_only: Vec<String>,
}

/// The template path of a document below the chart name (Helm's `# Source: [^/]+/(.+)`).
fn source_below_chart(doc: &str) -> Option<&str> {
    static SOURCE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        // A fixed, valid pattern.
        regex::Regex::new(r"# Source: [^/]+/(.+)").unwrap_or_else(|_| unreachable!())
    });
    SOURCE
        .captures(doc)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

/// Helm's `--name-template`: the text executed as a Go template with Sprig's functions and no
/// data, e.g. `{{ randAlpha 6 | lower }}-web`.
pub fn release_name_from_template(text: &str) -> Result<String, Error> {
    let mut set = driftless_gotmpl::Templates::new(driftless_gotmpl::Library::Sprig);
    set.parse("name-template", text)
        .map_err(|e| Error::Render(e.to_string()))?;
    set.execute("name-template", &driftless_gotmpl::Value::Nil)
        .map_err(|e| Error::Render(e.to_string()))
}

fn valid_release_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 53 {
        return false;
    }
    name.split('.').all(|label| {
        let b = label.as_bytes();
        !b.is_empty()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    })
}

/// Renders `chart` with `values` as `helm template NAME CHART` does.
pub fn template(
    mut chart: Chart,
    values: &UserValues,
    opts: &TemplateOptions,
) -> Result<Rendered, Error> {
    if !matches!(chart.metadata.chart_type.as_str(), "" | "application") {
        return Err(Error::NotInstallable {
            chart: chart.name().to_string(),
        });
    }
    if !chart.metadata.dependencies.is_empty() {
        crate::dependencies::check_dependencies(&chart)?;
    }
    if !valid_release_name(&opts.release_name) {
        return Err(Error::ReleaseName(opts.release_name.clone()));
    }
    crate::dependencies::process(&mut chart, &values.0)?;

    let mut caps = Capabilities::default();
    if let Some(kv) = &opts.kube_version {
        caps.set_kube_version(kv)?;
    }
    caps.api_versions.extend(opts.api_versions.iter().cloned());

    let vals = coalesce_values(&chart, &values.0)?;
    if !opts.skip_schema_validation {
        let mut report = String::new();
        validate_schemas(&chart, &vals, &mut report)?;
        if !report.is_empty() {
            return Err(Error::Schema(report));
        }
    }
    if !chart.metadata.kube_version.is_empty()
        && !driftless_semver::is_compatible_range(&chart.metadata.kube_version, &caps.kube_version)
    {
        return Err(Error::KubeVersion {
            constraint: chart.metadata.kube_version.clone(),
            kube: caps.kube_version.clone(),
        });
    }
    let release = ReleaseInfo {
        name: opts.release_name.clone(),
        namespace: if opts.namespace.is_empty() {
            "default".into()
        } else {
            opts.namespace.clone()
        },
        revision: 1,
        is_install: !opts.is_upgrade,
        is_upgrade: opts.is_upgrade,
    };
    let mut files = render(&chart, &vals, &release, &caps, opts.lookup.clone())?;

    let top_notes = format!("{}/templates/NOTES.txt", chart.name());
    let notes = files.remove(&top_notes).unwrap_or_default();
    files.retain(|k, _| !k.ends_with("NOTES.txt"));

    let (hooks, manifests) = sort_manifests(files.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let crds = if opts.include_crds {
        chart
            .crd_files(chart.name())
            .into_iter()
            .map(|(p, f)| (p, String::from_utf8_lossy(&f.data).into_owned()))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Rendered {
        crds,
        manifests,
        hooks,
        notes,
        values: vals,
    })
}

/// Helm's `ValidateAgainstSchema`: the chart's schema against its values, then each
/// subchart's against its section.
fn validate_schemas(
    chart: &Chart,
    values: &Map<String, Value>,
    report: &mut String,
) -> Result<(), Error> {
    if let Some(schema) = &chart.schema {
        let schema: Value = serde_json::from_slice(schema).map_err(|e| {
            Error::Schema(format!(
                "{}: values.schema.json is not valid JSON: {e}",
                chart.name()
            ))
        })?;
        let validator = jsonschema::validator_for(&schema).map_err(|e| {
            Error::Schema(format!(
                "{}: values.schema.json is not a valid schema: {e}",
                chart.name()
            ))
        })?;
        let instance = Value::Object(values.clone());
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| {
                let path = e.instance_path().to_string();
                format!("- at '{}': {e}", if path.is_empty() { "" } else { &path })
            })
            .collect();
        if !errors.is_empty() {
            report.push_str(&format!("{}:\n{}\n", chart.name(), errors.join("\n")));
        }
    }
    for sub in &chart.dependencies {
        let empty = Map::new();
        let sub_values = match values.get(sub.name()) {
            Some(Value::Object(m)) => m,
            _ => &empty,
        };
        validate_schemas(sub, sub_values, report)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names() {
        assert!(valid_release_name("my-release"));
        assert!(valid_release_name("a.b"));
        assert!(!valid_release_name("My"));
        assert!(!valid_release_name("-a"));
        assert!(!valid_release_name(&"a".repeat(54)));
    }
}
