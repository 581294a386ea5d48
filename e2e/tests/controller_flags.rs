//! The flags every controller shares, end to end: Flux's own Deployment arguments start our
//! binaries unchanged, `--watch-all-namespaces=false` restricts a controller to its namespace,
//! and `--feature-gates` refuses what is not implemented. Real control plane and git server.

use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_api::source::GitRepository;
use driftless_e2e::flux::{create_git_source, create_kustomization};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::source::{
    SourceController, create_http_credentials, git_repositories, main_branch, ready_revision,
};
use driftless_e2e::{ControllerProcess, TestEnv, wait};
use kube::Api;
use kube::api::PostParams;

const TIMEOUT: Duration = Duration::from_secs(90);

/// The `args:` of Flux v2.10's kustomize-controller Deployment (flux2 manifests: the
/// controller's own `config/manager` plus the distribution's `--events-addr`); every Flux
/// controller starts with these.
fn flux_kustomize_args() -> Vec<String> {
    vec![
        "--events-addr=http://notification-controller.flux-system.svc.cluster.local./".into(),
        "--watch-all-namespaces=true".into(),
        "--log-level=info".into(),
        "--log-encoding=json".into(),
        "--enable-leader-election".into(),
    ]
}

/// The `args:` of Flux v2.10's source-controller Deployment: the common ones and its storage,
/// `$(RUNTIME_NAMESPACE)` expanded as Kubernetes does.
fn flux_source_args(ns: &str) -> Vec<String> {
    let mut args = flux_kustomize_args();
    args.extend([
        "--storage-path=/data".into(),
        format!("--storage-adv-addr=source-controller.{ns}.svc.cluster.local."),
    ]);
    args
}

/// Starts `binary` with Flux's `flux_args`, then what a test must change (pflag: the last of a
/// repeated flag wins, as in a patched Deployment): no metrics or probe ports, `ns`'s label
/// selector; `RUNTIME_NAMESPACE` is `ns`, as a Deployment sets it.
fn start_flux_flagged(
    env: &TestEnv,
    binary: &str,
    ns: &driftless_e2e::TestNamespace,
    flux_args: Vec<String>,
) -> anyhow::Result<ControllerProcess> {
    let mut args = flux_args;
    args.extend([
        "--metrics-addr=0".into(),
        "--health-addr=0".into(),
        driftless_e2e::flux::selector_flag(ns),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ControllerProcess::start_with_env(
        env,
        binary,
        &args,
        &[("RUNTIME_NAMESPACE", ns.name())],
        &format!("{}-{binary}", ns.name()),
    )
}

fn one_commit(server: &GitServer) -> anyhow::Result<String> {
    let repo = server.create_repo("app")?;
    let commit = repo.commit(
        &[(
            "deploy/a.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: one\n" as &[u8],
        )],
        "first",
    )?;
    repo.push()?;
    Ok(commit)
}

#[tokio::test]
async fn flux_deployment_args_start_both_controllers() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let commit = one_commit(&server)?;
    let env = TestEnv::get().await?;
    let want = format!("main@sha1:{commit}");

    // source-controller: Flux's arguments, with a writable storage path and a free port.
    let ns = env.namespace("flags-source").await?;
    let storage = tempfile::tempdir()?;
    let mut args = flux_source_args(ns.name());
    args.extend([
        format!("--storage-path={}", storage.path().display()),
        format!("--storage-addr=127.0.0.1:{}", driftless_e2e::free_port()?),
    ]);
    let mut source = start_flux_flagged(&env, "source-controller", &ns, args)?;
    let repos = create_git_source(&env, &ns, &server.http_url("app")).await?;
    let repo = wait::wait_for(&repos, "repo", TIMEOUT, "be Ready", |r| {
        ready_revision(r).as_deref() == Some(want.as_str())
    })
    .await;
    source.ensure_running()?;
    let url = repo?
        .status
        .and_then(|s| s.artifact)
        .map(|a| a.url)
        .unwrap_or_default();
    assert!(
        url.starts_with(&format!(
            "http://source-controller.{}.svc.cluster.local./gitrepository/",
            ns.name()
        )),
        "--storage-adv-addr names the artifact host: {url}"
    );
    drop(source);

    // kustomize-controller: Flux's arguments, a source-controller of the harness.
    let ns = env.namespace("flags-kustomize").await?;
    let source = SourceController::start(&env, &ns, &[])?;
    let mut kustomize =
        start_flux_flagged(&env, "kustomize-controller", &ns, flux_kustomize_args())?;
    create_git_source(&env, &ns, &server.http_url("app")).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    create_kustomization(
        &api,
        &ns,
        "app",
        serde_json::json!({"interval": "10m", "prune": true, "path": "./deploy",
                           "sourceRef": {"kind": "GitRepository", "name": "repo"}}),
        serde_json::json!({}),
    )
    .await?;
    let applied = wait::wait_for(&api, "app", TIMEOUT, "apply the commit", |k| {
        k.status
            .as_ref()
            .and_then(|s| s.last_applied_revision.as_deref())
            == Some(want.as_str())
    })
    .await;
    kustomize.ensure_running()?;
    applied?;
    drop(source);
    Ok(())
}

#[tokio::test]
async fn watch_all_namespaces_false_ignores_other_namespaces() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    one_commit(&server)?;
    let env = TestEnv::get().await?;
    let own = env.namespace("flags-own-ns").await?;
    let other = env.namespace("flags-other-ns").await?;
    // One label on both namespaces' objects, so only the namespace can tell them apart.
    let shard = format!("sharding.fluxcd.io/key={}", own.name());
    let create = |api: Api<GitRepository>, name: &'static str| {
        let mut spec = main_branch(&server.http_url("app"), "creds");
        spec["interval"] = "10m".into();
        let repo = serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": name, "labels": {"sharding.fluxcd.io/key": own.name()}},
            "spec": spec,
        });
        async move {
            let repo: GitRepository = serde_json::from_value(repo)?;
            api.create(&PostParams::default(), &repo).await?;
            anyhow::Ok(())
        }
    };
    create_http_credentials(&env, &other, "creds").await?;
    create_http_credentials(&env, &own, "creds").await?;
    // The other namespace's object exists first: a controller watching everything would
    // list it (and add its finalizer) before or with the later ones.
    let other_api = git_repositories(&env, &other);
    create(other_api.clone(), "elsewhere").await?;

    let storage = tempfile::tempdir()?;
    let addr = format!("127.0.0.1:{}", driftless_e2e::free_port()?);
    let args = [
        "--metrics-addr=0".to_owned(),
        "--health-addr=0".to_owned(),
        format!("--storage-path={}", storage.path().display()),
        format!("--storage-addr={addr}"),
        format!("--storage-adv-addr={addr}"),
        "--watch-all-namespaces=false".to_owned(),
        format!("--watch-label-selector={shard}"),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut controller = ControllerProcess::start_with_env(
        &env,
        "source-controller",
        &args,
        &[("RUNTIME_NAMESPACE", own.name())],
        &format!("{}-source", own.name()),
    )?;
    let own_api = git_repositories(&env, &own);
    for name in ["first", "second"] {
        create(own_api.clone(), name).await?;
        let ready = wait::wait_for(&own_api, name, TIMEOUT, "be Ready", |r| {
            ready_revision(r).is_some()
        })
        .await;
        controller.ensure_running()?;
        ready?;
    }
    let elsewhere = other_api.get("elsewhere").await?;
    // (The CRD defaults status.observedGeneration to -1: only conditions show a reconcile.)
    assert!(
        elsewhere.status.and_then(|s| s.conditions).is_none()
            && elsewhere.metadata.finalizers.is_none(),
        "the other namespace's GitRepository was reconciled"
    );
    Ok(())
}

#[tokio::test]
async fn unimplemented_feature_gates_stop_the_controller_with_the_reason() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let cases = [
        (
            "kustomize-controller",
            "--feature-gates=StrictPostBuildSubstitutions=false,GroupChangeLog=true",
            "GroupChangeLog=true is not implemented",
        ),
        (
            "source-controller",
            "--feature-gates=NoSuchGate=true",
            "'NoSuchGate' not supported",
        ),
    ];
    for (binary, flag, says) in cases {
        let mut process = ControllerProcess::start(
            &env,
            binary,
            &["--metrics-addr=0", "--health-addr=0", flag],
            &format!("feature-gates-{binary}"),
        )?;
        let status = process.wait_exit(TIMEOUT)?;
        assert!(!status.success(), "{binary} {flag} started");
        let log = process.log();
        assert!(log.contains(says), "{binary}: {log}");
    }
    Ok(())
}
