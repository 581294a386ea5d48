//! Errors of the Helm engine. Each names the chart (and template or file) at fault.

use std::path::PathBuf;

use driftless_gotmpl::yaml::YamlError;

/// Why a chart could not be loaded, its values coalesced, or its templates rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a chart file or directory failed.
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The chart has no `Chart.yaml` at its root.
    #[error("chart {chart}: Chart.yaml file is missing")]
    MissingChartYaml { chart: String },
    /// `Chart.yaml` (or `requirements.yaml`) is not valid.
    #[error("chart {chart}: cannot load {file}: {message}")]
    ChartYaml {
        chart: String,
        file: String,
        message: String,
    },
    /// Chart metadata fails Helm's validation (name, version, type, dependencies).
    #[error("chart {chart}: validation: {message}")]
    Invalid { chart: String, message: String },
    /// A YAML values document (a chart's `values.yaml` or a user's `-f` file) is not valid.
    #[error("{source_name}: {source}")]
    Values {
        source_name: String,
        #[source]
        source: YamlError,
    },
    /// A chart archive is malformed or unsafe (absolute paths, `..`, too large).
    #[error("chart archive {archive}: {message}")]
    Archive { archive: String, message: String },
    /// A `.helmignore` rule is malformed.
    #[error(".helmignore: {0}")]
    HelmIgnore(String),
    /// A `--set` style expression could not be parsed.
    #[error("failed parsing {flag} data {expr:?}: {message}")]
    SetValue {
        flag: &'static str,
        expr: String,
        message: String,
    },
    /// Values could not be coalesced (e.g. a subchart key holds a non-map).
    #[error("chart {chart}: {message}")]
    Coalesce { chart: String, message: String },
    /// Dependencies declared in Chart.yaml are missing from `charts/`.
    #[error(
        "chart {chart}: An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {missing}"
    )]
    MissingDependencies { chart: String, missing: String },
    /// The chart's `kubeVersion` excludes the target Kubernetes version.
    #[error(
        "chart requires kubeVersion: {constraint} which is incompatible with Kubernetes {kube}"
    )]
    KubeVersion { constraint: String, kube: String },
    /// Values fail a chart's `values.schema.json`.
    #[error(
        "values don't meet the specifications of the schema(s) in the following chart(s):\n{0}"
    )]
    Schema(String),
    /// A library chart was given to `template` / install.
    #[error("chart {chart}: library charts are not installable")]
    NotInstallable { chart: String },
    /// The release name is not a valid DNS-style name of at most 53 characters.
    #[error(
        "release name {0:?}: invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53"
    )]
    ReleaseName(String),
    /// A `--kube-version` that does not parse.
    #[error("invalid kube version {0:?}")]
    KubeVersionFlag(String),
    /// A template failed to parse or execute; the message names template, line and column.
    #[error("{0}")]
    Render(String),
    /// A rendered manifest is not valid YAML.
    #[error("YAML parse error on {path}: {message}")]
    Manifest { path: String, message: String },
    /// A `--show-only` pattern matched no rendered template.
    #[error("could not find template {0} in chart")]
    ShowOnly(String),
    /// A release record could not be encoded or decoded.
    #[error("release record: {0}")]
    Release(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
