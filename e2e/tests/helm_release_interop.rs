//! Helm release records are shared with the real `helm` CLI (the pinned release, built from its
//! Go module into the cache) on the real control plane, both ways:
//! - a release Secret written by `driftless_helm::release` is listed by `helm list` and shown
//!   by `helm get values` / `helm get manifest` / `helm status`;
//! - a release made by `helm install` (objects applied on the API server, a Deployment made
//!   Available by kwok) is decoded by `driftless_helm::release` with the values helm was given
//!   and exactly the manifest our engine renders for the same chart and values.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use driftless_e2e::{TestEnv, helm_binary, wait};
use driftless_helm::release::{self, Info, Release};
use driftless_helm::{TemplateOptions, UserValues};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(120);

/// The pinned helm, built at most once per test process (`go install` into the cache when
/// missing, like the control plane).
async fn helm() -> anyhow::Result<PathBuf> {
    static HELM: tokio::sync::OnceCell<Result<PathBuf, String>> =
        tokio::sync::OnceCell::const_new();
    HELM.get_or_init(|| async {
        tokio::task::spawn_blocking(|| helm_binary().map_err(|e| format!("{e:#}")))
            .await
            .unwrap_or_else(|e| Err(format!("building helm: {e}")))
    })
    .await
    .clone()
    .map_err(|e| anyhow::anyhow!("the pinned helm binary: {e}"))
}

/// Runs `helm <args>` against the test cluster and returns its stdout; fails on a non-zero
/// exit with helm's stderr.
async fn run_helm(env: &TestEnv, args: &[&str]) -> anyhow::Result<String> {
    let bin = helm().await?;
    let home = tempfile::tempdir()?;
    let out = tokio::process::Command::from({
        let mut c = Command::new(&bin);
        c.args(args)
            .env("KUBECONFIG", env.kubeconfig())
            // Keep helm's config, cache and data out of the user's home.
            .env("HELM_CONFIG_HOME", home.path().join("config"))
            .env("HELM_CACHE_HOME", home.path().join("cache"))
            .env("HELM_DATA_HOME", home.path().join("data"))
            .env("HELM_DRIVER", "secret");
        c
    })
    .output()
    .await
    .with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "helm {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// A small chart: a ConfigMap from values and a Deployment kwok can make Available.
fn write_chart(dir: &Path) -> anyhow::Result<PathBuf> {
    let chart = dir.join("interop");
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: interop\nversion: 0.4.2\nappVersion: \"1.2.3\"\ndescription: release interop\n",
    )?;
    std::fs::write(
        chart.join("values.yaml"),
        "greeting: hello\nreplicas: 1\nimage: example.com/web:1.0\n",
    )?;
    std::fs::write(
        chart.join("templates/configmap.yaml"),
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  labels:
    app.kubernetes.io/instance: {{ .Release.Name }}
    helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
data:
  greeting: {{ .Values.greeting | quote }}
  namespace: {{ .Release.Namespace | quote }}
  revision: {{ .Release.Revision | quote }}
"#,
    )?;
    std::fs::write(
        chart.join("templates/deployment.yaml"),
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: {{ .Release.Name }}-web
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}-web
    spec:
      containers:
        - name: web
          image: {{ .Values.image | quote }}
"#,
    )?;
    std::fs::write(
        chart.join("templates/NOTES.txt"),
        "{{ .Release.Name }} says {{ .Values.greeting }}\n",
    )?;
    Ok(chart)
}

fn user_values(sets: &[&str]) -> anyhow::Result<UserValues> {
    let mut values = UserValues::default();
    for s in sets {
        values.set(s)?;
    }
    Ok(values)
}

/// What our engine renders for `chart` as release `name` in `namespace`.
fn render(
    chart: &Path,
    name: &str,
    namespace: &str,
    values: &UserValues,
) -> anyhow::Result<driftless_helm::Rendered> {
    let loaded = driftless_helm::load(chart)?;
    let opts = TemplateOptions {
        release_name: name.into(),
        namespace: namespace.into(),
        ..Default::default()
    };
    Ok(driftless_helm::template(loaded, values, &opts)?)
}

#[tokio::test]
async fn helm_lists_and_shows_a_release_written_by_our_codec() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("helm-ours").await?;
    let dir = tempfile::tempdir()?;
    let chart_dir = write_chart(dir.path())?;
    let values = user_values(&["greeting=from-driftless", "replicas=2"])?;
    let rendered = render(&chart_dir, "ours", ns.name(), &values)?;
    let chart = driftless_helm::load(&chart_dir)?;

    let deployed_at = "2026-11-26T10:00:00Z";
    let rel = Release {
        name: "ours".into(),
        namespace: ns.name().into(),
        version: 1,
        info: Some(Info {
            first_deployed: deployed_at.into(),
            last_deployed: deployed_at.into(),
            status: "deployed".into(),
            description: "Install complete".into(),
            notes: rendered.notes.clone(),
            ..Default::default()
        }),
        chart: Some(release::chart_record(&chart)),
        config: values.0.clone(),
        manifest: rendered.manifest(),
        ..Default::default()
    };
    let secret: Secret = serde_json::from_value(release::to_secret(&rel, ns.name())?)?;
    Api::<Secret>::namespaced(env.client(), ns.name())
        .create(&PostParams::default(), &secret)
        .await
        .context("creating the release Secret")?;

    let listed: Value = serde_json::from_str(
        &run_helm(
            &env,
            &["list", "--namespace", ns.name(), "--output", "json"],
        )
        .await?,
    )?;
    let expected = json!([{
        "name": "ours",
        "namespace": ns.name(),
        "revision": "1",
        "status": "deployed",
        "chart": "interop-0.4.2",
        "app_version": "1.2.3",
    }]);
    let without_time: Value = listed
        .as_array()
        .context("helm list -o json prints an array")?
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(o) = r.as_object_mut() {
                o.remove("updated");
            }
            r
        })
        .collect();
    ensure!(
        without_time == expected,
        "helm list: {listed:#}\nexpected {expected:#}"
    );

    let got_values: Value = serde_json::from_str(
        &run_helm(
            &env,
            &["get", "values", "ours", "-n", ns.name(), "-o", "json"],
        )
        .await?,
    )?;
    ensure!(
        got_values == json!({"greeting": "from-driftless", "replicas": 2}),
        "helm get values: {got_values}"
    );
    let all_values: Value = serde_json::from_str(
        &run_helm(
            &env,
            &[
                "get",
                "values",
                "ours",
                "-n",
                ns.name(),
                "--all",
                "-o",
                "json",
            ],
        )
        .await?,
    )?;
    ensure!(
        all_values
            == json!({"greeting": "from-driftless", "replicas": 2, "image": "example.com/web:1.0"}),
        "helm get values --all (chart defaults from our chart record): {all_values}"
    );

    let manifest = run_helm(&env, &["get", "manifest", "ours", "-n", ns.name()]).await?;
    ensure!(
        manifest.trim_end() == rel.manifest.trim_end(),
        "helm get manifest:\n{manifest}\nexpected:\n{}",
        rel.manifest
    );
    ensure!(
        manifest.contains("greeting: \"from-driftless\"") && manifest.contains("replicas: 2"),
        "the manifest carries the values: {manifest}"
    );

    let notes = run_helm(&env, &["get", "notes", "ours", "-n", ns.name()]).await?;
    ensure!(
        notes.contains("ours says from-driftless"),
        "helm get notes: {notes}"
    );
    Ok(())
}

#[tokio::test]
async fn a_release_installed_by_helm_is_decoded_by_our_codec() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("helm-theirs").await?;
    let dir = tempfile::tempdir()?;
    let chart_dir = write_chart(dir.path())?;
    let chart_arg = chart_dir.display().to_string();

    run_helm(
        &env,
        &[
            "install",
            "theirs",
            &chart_arg,
            "--namespace",
            ns.name(),
            "--set",
            "greeting=from-helm",
            "--set-string",
            "image=example.com/web:2.0",
            "--wait",
            "--timeout",
            "120s",
        ],
    )
    .await?;

    // helm applied the objects on the API server, and kwok made the Deployment Available.
    let deployments: Api<Deployment> = Api::namespaced(env.client(), ns.name());
    wait::wait_for(
        &deployments,
        "theirs-web",
        TIMEOUT,
        "be Available",
        |d: &Deployment| {
            d.status
                .as_ref()
                .is_some_and(|s| s.available_replicas == Some(1))
        },
    )
    .await?;
    let config = Api::<ConfigMap>::namespaced(env.client(), ns.name())
        .get("theirs-config")
        .await
        .context("the ConfigMap helm installed")?;
    ensure!(
        config
            .data
            .as_ref()
            .and_then(|d| d.get("greeting"))
            .map(String::as_str)
            == Some("from-helm"),
        "ConfigMap data: {:?}",
        config.data
    );

    let secret = Api::<Secret>::namespaced(env.client(), ns.name())
        .get("sh.helm.release.v1.theirs.v1")
        .await
        .context("the release Secret helm wrote")?;
    let rel = release::from_secret(&serde_json::to_value(&secret)?)?;
    ensure!(rel.name == "theirs", "name {:?}", rel.name);
    ensure!(rel.namespace == ns.name(), "namespace {:?}", rel.namespace);
    ensure!(rel.version == 1, "version {}", rel.version);
    ensure!(rel.status() == "deployed", "status {:?}", rel.status());
    ensure!(
        Value::Object(rel.config.clone())
            == json!({"greeting": "from-helm", "image": "example.com/web:2.0"}),
        "config {:?}",
        rel.config
    );
    let chart_name = rel
        .chart
        .as_ref()
        .and_then(|c| c.pointer("/metadata/name"))
        .and_then(Value::as_str);
    ensure!(chart_name == Some("interop"), "chart {chart_name:?}");

    // The stored manifest is exactly what our engine renders for the same chart and values.
    let values = user_values(&["greeting=from-helm"])?;
    let mut values = values;
    values.set_string("image=example.com/web:2.0")?;
    let ours = render(&chart_dir, "theirs", ns.name(), &values)?;
    ensure!(
        rel.manifest == ours.manifest(),
        "helm's stored manifest:\n{}\nours:\n{}",
        rel.manifest,
        ours.manifest()
    );
    ensure!(
        rel.info.as_ref().map(|i| i.notes.as_str()) == Some(ours.notes.as_str()),
        "notes {:?} vs ours {:?}",
        rel.info.as_ref().map(|i| &i.notes),
        ours.notes
    );

    // Written back by us, the record is still one helm reads: helm status sees revision 1.
    let rewritten: Secret = serde_json::from_value(release::to_secret(&rel, ns.name())?)?;
    let secrets: Api<Secret> = Api::namespaced(env.client(), ns.name());
    secrets
        .replace("sh.helm.release.v1.theirs.v1", &PostParams::default(), &{
            let mut s = rewritten;
            s.metadata.resource_version = secret.metadata.resource_version.clone();
            s
        })
        .await
        .context("writing the decoded release back")?;
    let status: Value = serde_json::from_str(
        &run_helm(&env, &["status", "theirs", "-n", ns.name(), "-o", "json"]).await?,
    )?;
    ensure!(
        status["version"] == 1
            && status["info"]["status"] == "deployed"
            && status["config"] == json!({"greeting": "from-helm", "image": "example.com/web:2.0"}),
        "helm status after our rewrite: {status:#}"
    );
    Ok(())
}
