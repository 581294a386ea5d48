//! The sample GitOps repository: what `cargo xtask up` serves, what the scenario tests
//! (`e2e/tests/scenario_*.rs`) and `cargo xtask bench loop` drive. One home for its layout, so
//! the tests walk exactly the world `up` creates.
//!
//! ```text
//!  apps/podinfo/base/                  Deployment + Service `podinfo`
//!  apps/podinfo/overlays/staging/      namespace, image tag, replicas ◀── Kustomization `apps`
//!  apps/podinfo/overlays/production/                                         │ dependsOn
//!  infrastructure/                     Namespace + ConfigMap          ◀── Kustomization `infrastructure`
//!  clusters/{staging,production}/      GitRepository `sample` + the two Kustomizations
//! ```
//!
//! `up` lays it out for `flux-system` and `podinfo` ([`Sample::for_up`]). A test or a
//! benchmark shares the cluster with others, so it names its own namespaces, labels the Flux
//! objects for its own controllers' `--watch-label-selector`, and points the GitRepository at
//! the harness's git server, which asks for credentials. Everything else is the same text.

mod world;

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use driftless_api::kustomize::Kustomization;
use driftless_api::source::gitrepository::GitRepository;
use kube::Api;
use kube::api::{Patch, PatchParams};

pub use world::{FIRST_COMMIT_MESSAGE, REQUESTED_AT, World, image, is_ready, request_reconcile};

/// The GitRepository every Kustomization of the sample reads.
pub const SOURCE: &str = "sample";
/// The Kustomization applying `apps/podinfo/overlays/<env>`.
pub const APPS: &str = "apps";
/// The Kustomization applying `infrastructure/`.
pub const INFRASTRUCTURE: &str = "infrastructure";
/// The Deployment and Service of the sample app.
pub const APP: &str = "podinfo";
/// The ConfigMap `infrastructure/` holds: the object the walk-through deletes from Git.
pub const CLUSTER_SETTINGS: &str = "cluster-settings";
/// The app's image, without tag.
pub const IMAGE: &str = "ghcr.io/stefanprodan/podinfo";
/// The tag of the first commit (both overlays).
pub const FIRST_TAG: &str = "6.7.0";
/// Replicas of the staging overlay.
pub const STAGING_REPLICAS: i32 = 1;
/// The file a user edits to roll out a new image on staging.
pub const STAGING_OVERLAY: &str = "apps/podinfo/overlays/staging/kustomization.yaml";
/// The file listing what `infrastructure/` holds.
pub const INFRASTRUCTURE_KUSTOMIZATION: &str = "infrastructure/kustomization.yaml";
/// The file of [`CLUSTER_SETTINGS`].
pub const CLUSTER_SETTINGS_FILE: &str = "infrastructure/cluster-settings.yaml";
/// kustomize-controller's flags in `up` (and in every [`World`]): `apps` depends on
/// `infrastructure`, so retry it soon after, not at Flux's default 30 s.
pub const KUSTOMIZE_CONTROLLER_ARGS: &[&str] = &["--requeue-dependency=5s"];
/// Field manager of [`Sample::apply_cluster`] (what `kubectl apply` is for `up`).
const FIELD_MANAGER: &str = "driftless-sample";

/// One instance of the sample world.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Clone URL of the repository, as the GitRepository names it.
    pub url: String,
    /// Namespace of the GitRepository and the Kustomizations (`flux-system` for `up`).
    pub flux_namespace: String,
    /// Namespace `infrastructure/` creates and the app runs in (`podinfo` for `up`).
    pub app_namespace: String,
    /// `spec.interval` of the GitRepository and the Kustomizations (`1m` for `up`).
    pub interval: String,
    /// Labels on every Flux object and on the app's Namespace (none for `up`; a test's
    /// controller selector label otherwise, so leftovers can be found too).
    pub labels: BTreeMap<String, String>,
    /// Secret holding the git credentials, when the server asks for them (none for `up`).
    pub secret_ref: Option<String>,
}

impl Sample {
    /// The world of `cargo xtask up`: Flux objects in `flux-system`, the app in `podinfo`,
    /// a 1 minute interval, an anonymous git server at `url`.
    pub fn for_up(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            flux_namespace: "flux-system".to_owned(),
            app_namespace: "podinfo".to_owned(),
            interval: "1m".to_owned(),
            labels: BTreeMap::new(),
            secret_ref: None,
        }
    }

    /// Every file of the first commit, `(path, content)`.
    pub fn files(&self) -> Vec<(&'static str, String)> {
        let [s_src, s_infra, s_apps] = self.cluster("staging");
        let [p_src, p_infra, p_apps] = self.cluster("production");
        vec![
            (
                "README.md",
                "# Sample GitOps repository\n\n\
                 `clusters/<env>/` holds what Flux applies to that cluster; it points at\n\
                 `infrastructure/` and `apps/<app>/overlays/<env>/`. Change a file, commit, push:\n\
                 the cluster follows within a minute.\n"
                    .into(),
            ),
            (
                "apps/podinfo/base/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  \
                 - deployment.yaml\n  - service.yaml\n"
                    .into(),
            ),
            (
                "apps/podinfo/base/deployment.yaml",
                format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {APP}\nspec:\n  \
                     replicas: 1\n  selector:\n    matchLabels:\n      app: {APP}\n  template:\n    \
                     metadata:\n      labels:\n        app: {APP}\n    spec:\n      containers:\n        \
                     - name: {APP}\n          image: {IMAGE}:{FIRST_TAG}\n          \
                     ports:\n            - name: http\n              containerPort: 9898\n"
                ),
            ),
            (
                "apps/podinfo/base/service.yaml",
                format!(
                    "apiVersion: v1\nkind: Service\nmetadata:\n  name: {APP}\nspec:\n  selector:\n    \
                     app: {APP}\n  ports:\n    - name: http\n      port: 9898\n      targetPort: http\n"
                ),
            ),
            (
                STAGING_OVERLAY,
                self.overlay("staging", FIRST_TAG, STAGING_REPLICAS),
            ),
            (
                "apps/podinfo/overlays/production/kustomization.yaml",
                self.overlay("production", FIRST_TAG, 3),
            ),
            (
                INFRASTRUCTURE_KUSTOMIZATION,
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  \
                 - namespace.yaml\n  - cluster-settings.yaml\n"
                    .into(),
            ),
            (
                "infrastructure/namespace.yaml",
                format!(
                    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n{}",
                    self.app_namespace,
                    self.labels_yaml()
                ),
            ),
            (
                CLUSTER_SETTINGS_FILE,
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {CLUSTER_SETTINGS}\n  \
                     namespace: {}\ndata:\n  owner: platform-team\n",
                    self.app_namespace
                ),
            ),
            ("clusters/staging/source.yaml", s_src),
            ("clusters/staging/infrastructure.yaml", s_infra),
            ("clusters/staging/apps.yaml", s_apps),
            ("clusters/production/source.yaml", p_src),
            ("clusters/production/infrastructure.yaml", p_infra),
            ("clusters/production/apps.yaml", p_apps),
        ]
    }

    /// `clusters/<env>/`: the GitRepository and the two Kustomizations pointing `env` at the
    /// rest of the repository.
    fn cluster(&self, env: &str) -> [String; 3] {
        let Self {
            url,
            flux_namespace: ns,
            interval,
            ..
        } = self;
        let labels = self.labels_yaml();
        let secret = match &self.secret_ref {
            Some(name) => format!("  secretRef:\n    name: {name}\n"),
            None => String::new(),
        };
        [
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  \
                 name: {SOURCE}\n  namespace: {ns}\n{labels}spec:\n  interval: {interval}\n  \
                 url: {url}\n{secret}  ref:\n    branch: main\n"
            ),
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  \
                 name: {INFRASTRUCTURE}\n  namespace: {ns}\n{labels}spec:\n  \
                 interval: {interval}\n  path: ./infrastructure\n  prune: true\n  sourceRef:\n    \
                 kind: GitRepository\n    name: {SOURCE}\n"
            ),
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  \
                 name: {APPS}\n  namespace: {ns}\n{labels}spec:\n  interval: {interval}\n  \
                 dependsOn:\n    - name: {INFRASTRUCTURE}\n  \
                 path: ./apps/podinfo/overlays/{env}\n  prune: true\n  sourceRef:\n    \
                 kind: GitRepository\n    name: {SOURCE}\n"
            ),
        ]
    }

    fn overlay(&self, env: &str, tag: &str, replicas: i32) -> String {
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
             namespace: {}\nresources:\n  - ../../base\nimages:\n  \
             - name: {IMAGE}\n    newTag: {tag}\n\
             replicas:\n  - name: {APP}\n    count: {replicas}\n\
             commonLabels:\n  environment: {env}\n",
            self.app_namespace
        )
    }

    /// `  labels:\n    k: v\n` under `metadata:`, or nothing.
    fn labels_yaml(&self) -> String {
        if self.labels.is_empty() {
            return String::new();
        }
        let mut out = "  labels:\n".to_owned();
        for (k, v) in &self.labels {
            out.push_str(&format!("    {k}: \"{v}\"\n"));
        }
        out
    }

    /// Server-side applies the GitRepository and Kustomizations of `clusters/<env>/` as they
    /// are in [`Self::files`]: what `kubectl apply -f clusters/<env>` does for `up` (and what
    /// `flux bootstrap` would commit).
    pub async fn apply_cluster(&self, client: &kube::Client, env: &str) -> anyhow::Result<()> {
        let prefix = format!("clusters/{env}/");
        let files: Vec<_> = self
            .files()
            .into_iter()
            .filter(|(path, _)| path.starts_with(&prefix))
            .collect();
        if files.is_empty() {
            bail!("the sample has no cluster {env:?}");
        }
        let sources: Api<GitRepository> = Api::namespaced(client.clone(), &self.flux_namespace);
        let kustomizations: Api<Kustomization> =
            Api::namespaced(client.clone(), &self.flux_namespace);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        for (path, text) in files {
            let doc: serde_json::Value =
                serde_saphyr::from_str(&text).with_context(|| format!("parsing {path}"))?;
            let name = doc
                .pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .with_context(|| format!("{path}: no metadata.name"))?
                .to_owned();
            let applied = match doc.get("kind").and_then(|k| k.as_str()) {
                Some("GitRepository") => sources
                    .patch(&name, &params, &Patch::Apply(&doc))
                    .await
                    .map(drop),
                Some("Kustomization") => kustomizations
                    .patch(&name, &params, &Patch::Apply(&doc))
                    .await
                    .map(drop),
                other => bail!("{path}: unexpected kind {other:?}"),
            };
            applied.with_context(|| format!("applying {path}"))?;
        }
        Ok(())
    }
}

/// `overlay` (a `kustomization.yaml` of the sample) with its `newTag` set to `tag`: the edit a
/// user makes to roll out a new image. `None` when the file has no `newTag` line.
pub fn with_image_tag(overlay: &str, tag: &str) -> Option<String> {
    let mut found = false;
    let lines: Vec<String> = overlay
        .lines()
        .map(|line| match line.split_once("newTag:") {
            Some((indent, _)) if indent.trim().is_empty() => {
                found = true;
                format!("{indent}newTag: {tag}")
            }
            _ => line.to_owned(),
        })
        .collect();
    found.then(|| lines.join("\n") + "\n")
}

/// `main@sha1:<commit>`: the revision Flux reports for a commit on `main`.
pub fn main_revision(commit: &str) -> String {
    format!("main@sha1:{commit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(files: &'a [(&'static str, String)], path: &str) -> &'a str {
        &files
            .iter()
            .find(|(p, _)| *p == path)
            .unwrap_or_else(|| panic!("no {path}"))
            .1
    }

    #[test]
    fn up_layout_is_the_documented_one() {
        let files = Sample::for_up("http://127.0.0.1:1/sample.git").files();
        let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
        for dir in [
            "apps/podinfo/base/",
            "apps/podinfo/overlays/staging/",
            "apps/podinfo/overlays/production/",
            "infrastructure/",
            "clusters/staging/",
            "clusters/production/",
        ] {
            assert!(paths.iter().any(|p| p.starts_with(dir)), "{dir} missing");
        }
        let source = find(&files, "clusters/staging/source.yaml");
        assert!(source.contains("namespace: flux-system\n"), "{source}");
        assert!(source.contains("url: http://127.0.0.1:1/sample.git\n"));
        assert!(!source.contains("labels:") && !source.contains("secretRef"));
        assert!(find(&files, STAGING_OVERLAY).contains("namespace: podinfo\n"));
    }

    #[test]
    fn every_file_is_yaml_and_test_parameters_reach_every_flux_object() {
        let sample = Sample {
            labels: BTreeMap::from([("driftless-e2e-test".to_owned(), "t-1".to_owned())]),
            secret_ref: Some("creds".to_owned()),
            flux_namespace: "t-1".to_owned(),
            app_namespace: "t-1-podinfo".to_owned(),
            interval: "10s".to_owned(),
            ..Sample::for_up("http://x/sample.git")
        };
        for (path, text) in sample.files() {
            if !path.ends_with(".yaml") {
                continue;
            }
            let doc: serde_json::Value = serde_saphyr::from_str(&text)
                .unwrap_or_else(|e| panic!("{path} is not YAML: {e}\n{text}"));
            if path.starts_with("clusters/") {
                assert_eq!(doc["metadata"]["namespace"], "t-1", "{path}");
                assert_eq!(
                    doc["metadata"]["labels"]["driftless-e2e-test"], "t-1",
                    "{path}"
                );
                assert_eq!(doc["spec"]["interval"], "10s", "{path}");
            }
        }
        let source: serde_json::Value =
            serde_saphyr::from_str(find(&sample.files(), "clusters/staging/source.yaml")).unwrap();
        assert_eq!(source["spec"]["secretRef"]["name"], "creds");
        let ns: serde_json::Value =
            serde_saphyr::from_str(find(&sample.files(), "infrastructure/namespace.yaml")).unwrap();
        assert_eq!(ns["metadata"]["name"], "t-1-podinfo");
    }

    #[test]
    fn image_tag_edit_changes_only_new_tag() {
        let overlay = Sample::for_up("u").overlay("staging", "6.7.0", 1);
        let edited = with_image_tag(&overlay, "6.7.1").unwrap();
        assert_eq!(edited, overlay.replace("newTag: 6.7.0", "newTag: 6.7.1"));
        assert_eq!(with_image_tag("kind: Kustomization\n", "1"), None);
    }
}
