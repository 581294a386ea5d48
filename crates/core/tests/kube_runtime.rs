//! The parts of the runtime that talk to Kubernetes, against a real API server (the control
//! plane of `cargo xtask cluster`, found or started by `driftless_e2e::TestEnv`).
//!
//! A small CRD (`widgets.test.driftless.dev`, with a status subresource) stands in for the
//! Flux kinds, so these tests do not depend on the API crate. Every test works in its own
//! namespace; nothing asserts on timings (timeouts only bound how long a failure takes).

use driftless_core::{
    conditions::{self, reasons, types},
    events::Events,
    flags::{self, ControllerDefaults},
    leader::{Attempt, LeaderElectionConfig, LeaderElector, LeadershipLost},
    metrics::Metrics,
    runtime::{self, RunError, RunOptions, Shutdown, install_crypto_provider},
    status::{self, RECONCILE_REQUEST_ANNOTATION},
};
use driftless_e2e::{TestEnv, wait};
use futures::StreamExt;
use k8s_openapi::{
    api::{
        coordination::v1::{Lease, LeaseSpec},
        events::v1::Event as K8sEvent,
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    apimachinery::pkg::apis::meta::v1::Condition,
};
use kube::{
    Api, Client, CustomResource, CustomResourceExt, ResourceExt,
    api::{ListParams, Patch, PatchParams, PostParams},
    runtime::{controller::Action, watcher},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

const TIMEOUT: Duration = Duration::from_secs(60);
const MANAGER: &str = "core-test-controller";

/// The test kind: a spec with an interval, a Flux-shaped status.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
#[kube(
    group = "test.driftless.dev",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct WidgetSpec {
    interval: String,
    /// A ConfigMap in the same namespace this widget depends on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config_ref: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WidgetStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "any_list")]
    conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_handled_reconcile_at: Option<String>,
}

fn any_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}

async fn install_widget_crd(client: &Client) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = Widget::crd();
    let name = crd.name_any();
    crds.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await?;
    wait::wait_for(&crds, &name, TIMEOUT, "be established", |c| {
        c.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            })
    })
    .await?;
    // Discovery may lag the Established condition; wait until the resource answers.
    let probe: Api<Widget> = Api::all(client.clone());
    wait::until(TIMEOUT, "widgets to be served", || async {
        Ok(match probe.list(&ListParams::default().limit(1)).await {
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        })
    })
    .await
}

/// The test cluster, with the process-wide rustls provider chosen first (see
/// `runtime::install_crypto_provider`).
async fn test_env() -> anyhow::Result<TestEnv> {
    install_crypto_provider();
    TestEnv::get().await
}

async fn setup(
    prefix: &str,
) -> anyhow::Result<(TestEnv, driftless_e2e::TestNamespace, Api<Widget>)> {
    let env = test_env().await?;
    install_widget_crd(&env.client()).await?;
    let ns = env.namespace(prefix).await?;
    let api = Api::namespaced(env.client(), ns.name());
    Ok((env, ns, api))
}

async fn create_widget(
    api: &Api<Widget>,
    name: &str,
    token: Option<&str>,
) -> anyhow::Result<Widget> {
    let mut w = Widget::new(
        name,
        WidgetSpec {
            interval: "5m0s".into(),
            config_ref: None,
        },
    );
    if let Some(t) = token {
        w.metadata.annotations = Some(BTreeMap::from([(
            RECONCILE_REQUEST_ANNOTATION.into(),
            t.into(),
        )]));
    }
    Ok(api.create(&PostParams::default(), &w).await?)
}

#[tokio::test]
async fn kube_status_is_server_side_applied_on_the_status_subresource() -> anyhow::Result<()> {
    let (_env, _ns, api) = setup("core-status").await?;
    let w = create_widget(&api, "w1", Some("token-1")).await?;

    let mut conds = Vec::new();
    conditions::mark_reconciling(
        &mut conds,
        reasons::PROGRESSING,
        "working",
        w.metadata.generation,
    );
    conditions::mark_failed(
        &mut conds,
        reasons::BUILD_FAILED,
        "bad kustomization",
        w.metadata.generation,
    );
    let mut st = WidgetStatus {
        observed_generation: Some(-1),
        conditions: conds.clone(),
        last_handled_reconcile_at: status::reconcile_request(&w).map(str::to_owned),
    };
    let stored = status::apply_status(&api, &w, MANAGER, &st).await?;
    let got = stored.status.clone().unwrap_or_default();
    assert_eq!(got.last_handled_reconcile_at.as_deref(), Some("token-1"));
    assert!(conditions::is_false(&got.conditions, types::READY));
    assert_eq!(
        conditions::get(&got.conditions, types::RECONCILING).map(|c| c.reason.as_str()),
        Some(reasons::PROGRESSING_WITH_RETRY)
    );
    // The spec is untouched and the status belongs to our manager, on the status subresource.
    assert_eq!(stored.spec.interval, "5m0s");
    let managed = stored.metadata.managed_fields.clone().unwrap_or_default();
    assert!(
        managed.iter().any(|m| m.manager.as_deref() == Some(MANAGER)
            && m.operation.as_deref() == Some("Apply")
            && m.subresource.as_deref() == Some("status")),
        "{managed:?}"
    );

    // Applying the same status again changes nothing, not even the resourceVersion.
    let again = status::apply_status(&api, &stored, MANAGER, &st).await?;
    assert_eq!(again.resource_version(), stored.resource_version());

    // A new message with the same status keeps lastTransitionTime through the round trip.
    let before = conditions::get(&got.conditions, types::READY)
        .cloned()
        .expect("ready");
    conditions::mark_failed(
        &mut st.conditions,
        reasons::BUILD_FAILED,
        "still bad",
        w.metadata.generation,
    );
    let third = status::apply_status(&api, &again, MANAGER, &st).await?;
    let after = conditions::get(
        &third.status.clone().unwrap_or_default().conditions,
        types::READY,
    )
    .cloned()
    .expect("ready");
    assert_eq!(after.message, "still bad");
    assert_eq!(after.last_transition_time, before.last_transition_time);

    // Success removes Reconciling; SSA drops the condition this manager no longer sets.
    conditions::mark_ready(
        &mut st.conditions,
        reasons::SUCCEEDED,
        "ok",
        w.metadata.generation,
    );
    st.observed_generation = w.metadata.generation;
    let fourth = status::apply_status(&api, &third, MANAGER, &st).await?;
    let final_status = fourth.status.unwrap_or_default();
    assert!(conditions::is_ready(&final_status.conditions));
    assert!(conditions::get(&final_status.conditions, types::RECONCILING).is_none());
    assert_eq!(final_status.observed_generation, w.metadata.generation);
    Ok(())
}

#[tokio::test]
async fn kube_status_apply_of_a_missing_object_is_an_error() -> anyhow::Result<()> {
    let (_env, _ns, api) = setup("core-status-missing").await?;
    let ghost = Widget::new("ghost", WidgetSpec::default());
    let err = status::apply_status(&api, &ghost, MANAGER, &WidgetStatus::default())
        .await
        .expect_err("no such object");
    assert!(
        matches!(&err, kube::Error::Api(e) if e.code == 404),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn kube_events_are_published_on_changes_only() -> anyhow::Result<()> {
    let (env, ns, api) = setup("core-events").await?;
    let w = create_widget(&api, "w1", None).await?;
    let events = Events::new(env.client(), MANAGER);
    let failed = conditions::new(
        types::READY,
        conditions::Status::False,
        reasons::ARTIFACT_FAILED,
        "download failed: 404",
        Some(1),
    );
    assert!(events.publish_ready_change(&w, None, Some(&failed)).await?);
    // Same condition again: a no-op, nothing published.
    assert!(
        !events
            .publish_ready_change(&w, Some(&failed), Some(&failed))
            .await?
    );

    let list: Api<K8sEvent> = Api::namespaced(env.client(), ns.name());
    let found = wait::until(TIMEOUT, "the Warning event", || async {
        let evs = list.list(&ListParams::default()).await?;
        let ours: Vec<K8sEvent> = evs
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("w1"))
            .collect();
        Ok(if ours.is_empty() {
            Err("no event yet".to_owned())
        } else {
            Ok(ours)
        })
    })
    .await?;
    assert_eq!(found.len(), 1, "{found:?}");
    let e = &found[0];
    assert_eq!(e.type_.as_deref(), Some("Warning"));
    assert_eq!(e.reason.as_deref(), Some(reasons::ARTIFACT_FAILED));
    assert_eq!(e.note.as_deref(), Some("download failed: 404"));
    assert_eq!(e.reporting_controller.as_deref(), Some(MANAGER));
    assert_eq!(
        e.regarding.as_ref().and_then(|r| r.kind.as_deref()),
        Some("Widget")
    );

    // Recovery is a Normal event.
    let ok = conditions::new(
        types::READY,
        conditions::Status::True,
        reasons::SUCCEEDED,
        "stored artifact",
        Some(1),
    );
    assert!(
        events
            .publish_ready_change(&w, Some(&failed), Some(&ok))
            .await?
    );
    wait::until(TIMEOUT, "the Normal event", || async {
        let evs = list.list(&ListParams::default()).await?;
        Ok(
            if evs.items.iter().any(|e| {
                e.type_.as_deref() == Some("Normal")
                    && e.reason.as_deref() == Some(reasons::SUCCEEDED)
            }) {
                Ok(())
            } else {
                Err(format!("{} events, no Normal one", evs.items.len()))
            },
        )
    })
    .await?;
    Ok(())
}

/// Election settings for tests: quick retries, and a renew deadline long enough that a loaded
/// machine does not lose a lease by accident.
fn election(ns: &str, lease: &str, identity: &str) -> LeaderElectionConfig {
    LeaderElectionConfig {
        lease_name: lease.to_owned(),
        namespace: ns.to_owned(),
        identity: identity.to_owned(),
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_millis(300),
    }
}

/// A lease that expires quickly, for the takeover of a crashed leader.
fn short_election(ns: &str, lease: &str, identity: &str) -> LeaderElectionConfig {
    LeaderElectionConfig {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        ..election(ns, lease, identity)
    }
}

#[tokio::test]
async fn kube_lease_is_acquired_held_released_and_taken_over() -> anyhow::Result<()> {
    let env = test_env().await?;
    let ns = env.namespace("core-lease").await?;
    let mut a = LeaderElector::new(
        env.client(),
        election(ns.name(), "ctl-leader-election", "a"),
    );
    let mut b = LeaderElector::new(
        env.client(),
        election(ns.name(), "ctl-leader-election", "b"),
    );

    assert_eq!(a.try_acquire_or_renew().await?, Attempt::Leader);
    assert_eq!(
        b.try_acquire_or_renew().await?,
        Attempt::Follower { holder: "a".into() }
    );
    // Renewing keeps it.
    assert_eq!(a.try_acquire_or_renew().await?, Attempt::Leader);
    let spec = lease_spec(&env, ns.name(), "ctl-leader-election").await?;
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    assert_eq!(spec.lease_duration_seconds, Some(15));
    assert_eq!(spec.lease_transitions, Some(0));

    // Release: the other candidate takes over at its next attempt, without waiting.
    a.release().await?;
    let released = lease_spec(&env, ns.name(), "ctl-leader-election").await?;
    assert_eq!(released.holder_identity, None);
    assert_eq!(b.try_acquire_or_renew().await?, Attempt::Leader);
    assert_eq!(
        a.try_acquire_or_renew().await?,
        Attempt::Follower { holder: "b".into() }
    );
    let spec = lease_spec(&env, ns.name(), "ctl-leader-election").await?;
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
    // Releasing a lease one does not hold changes nothing.
    a.release().await?;
    assert_eq!(
        lease_spec(&env, ns.name(), "ctl-leader-election")
            .await?
            .holder_identity
            .as_deref(),
        Some("b")
    );
    Ok(())
}

#[tokio::test]
async fn kube_expired_lease_is_taken_over_by_a_waiting_candidate() -> anyhow::Result<()> {
    let env = test_env().await?;
    let ns = env.namespace("core-lease-expiry").await?;
    let mut dead = LeaderElector::new(
        env.client(),
        short_election(ns.name(), "ctl-leader-election", "dead"),
    );
    assert_eq!(dead.try_acquire_or_renew().await?, Attempt::Leader);
    drop(dead); // crashes without releasing
    let mut next = LeaderElector::new(
        env.client(),
        short_election(ns.name(), "ctl-leader-election", "next"),
    );
    tokio::time::timeout(TIMEOUT, next.acquire()).await?;
    let spec = lease_spec(&env, ns.name(), "ctl-leader-election").await?;
    assert_eq!(spec.holder_identity.as_deref(), Some("next"));
    assert_eq!(spec.lease_transitions, Some(1));
    Ok(())
}

async fn steal_lease(leases: &Api<Lease>, name: &str, thief: &str) -> anyhow::Result<()> {
    let mut lease = leases.get(name).await?;
    if let Some(spec) = lease.spec.as_mut() {
        spec.holder_identity = Some(thief.to_owned());
        spec.lease_duration_seconds = Some(3600);
    }
    leases.replace(name, &PostParams::default(), &lease).await?;
    Ok(())
}

#[tokio::test]
async fn kube_leader_steps_down_when_its_lease_is_taken() -> anyhow::Result<()> {
    let env = test_env().await?;
    let ns = env.namespace("core-stepdown").await?;
    let mut a = LeaderElector::new(
        env.client(),
        election(ns.name(), "ctl-leader-election", "a"),
    );
    tokio::time::timeout(TIMEOUT, a.acquire()).await?;
    let renewing = tokio::spawn(async move { a.keep_renewing().await });
    let leases: Api<Lease> = Api::namespaced(env.client(), ns.name());
    steal_lease(&leases, "ctl-leader-election", "intruder").await?;
    let lost = tokio::time::timeout(TIMEOUT, renewing).await??;
    assert_eq!(
        lost,
        LeadershipLost::TakenOver {
            lease: "ctl-leader-election".into(),
            holder: "intruder".into()
        }
    );
    Ok(())
}

fn test_args(extra: &[&str]) -> flags::Args {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        common: flags::Args,
    }
    let argv = ["test-controller", "--metrics-addr=0", "--health-addr=0"]
        .into_iter()
        .chain(extra.iter().copied());
    let cli: Cli = flags::try_parse_from(&ControllerDefaults::default(), argv).expect("test flags");
    cli.common
}

/// Starts `runtime::run_with` for a controller named `core-test` whose body runs until told to
/// stop; returns once the body started (leadership acquired), with the task running it.
async fn start_run(
    env: &TestEnv,
    ns: &str,
    flags: &[&str],
    shutdown: Shutdown,
) -> anyhow::Result<tokio::task::JoinHandle<Result<(), RunError>>> {
    let args = test_args(flags);
    let options = RunOptions {
        name: "core-test".into(),
        lease_namespace: Some(ns.to_owned()),
        identity: Some("me".into()),
    };
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let client = env.client();
    let run = tokio::spawn(async move {
        runtime::run_with(
            options,
            &args,
            client,
            Metrics::new(),
            shutdown,
            |rt| async move {
                let _ = started_tx.send(());
                rt.shutdown.wait_owned().await;
                Ok::<_, std::io::Error>(())
            },
        )
        .await
    });
    tokio::time::timeout(TIMEOUT, started_rx).await??;
    Ok(run)
}

async fn lease_spec(env: &TestEnv, ns: &str, name: &str) -> anyhow::Result<LeaseSpec> {
    let leases: Api<Lease> = Api::namespaced(env.client(), ns);
    Ok(leases.get(name).await?.spec.unwrap_or_default())
}

#[tokio::test]
async fn kube_run_stops_the_controller_and_fails_when_leadership_is_lost() -> anyhow::Result<()> {
    let env = test_env().await?;
    let ns = env.namespace("core-run-lost").await?;
    let flags = [
        "--enable-leader-election",
        "--leader-election-lease-duration=15s",
        "--leader-election-renew-deadline=10s",
        "--leader-election-retry-period=300ms",
    ];
    let run = start_run(&env, ns.name(), &flags, Shutdown::new()).await?;
    let lease = "core-test-leader-election";
    let spec = lease_spec(&env, ns.name(), lease).await?;
    assert_eq!(spec.holder_identity.as_deref(), Some("me"));
    let leases: Api<Lease> = Api::namespaced(env.client(), ns.name());
    steal_lease(&leases, lease, "intruder").await?;
    let result = tokio::time::timeout(TIMEOUT, run).await??;
    assert!(
        matches!(result, Err(RunError::LeadershipLost(LeadershipLost::TakenOver { ref holder, .. })) if holder == "intruder"),
        "{result:?}"
    );
    Ok(())
}

#[tokio::test]
async fn kube_run_releases_the_lease_on_shutdown() -> anyhow::Result<()> {
    let env = test_env().await?;
    let ns = env.namespace("core-run-release").await?;
    let shutdown = Shutdown::new();
    let run = start_run(
        &env,
        ns.name(),
        &["--enable-leader-election"],
        shutdown.clone(),
    )
    .await?;
    shutdown.trigger(); // what SIGTERM does
    tokio::time::timeout(TIMEOUT, run).await???;
    let spec = lease_spec(&env, ns.name(), "core-test-leader-election").await?;
    assert_eq!(spec.holder_identity, None, "released on shutdown");
    assert_eq!(spec.lease_duration_seconds, Some(1));
    Ok(())
}

/// A free loopback port (bound then released; the server binds it right after).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The status code of `GET http://127.0.0.1:<port><path>` (HTTP/1.0, no client dependency).
async fn status_code(port: u16, path: &str) -> anyhow::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    conn.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await?;
    let mut resp = String::new();
    conn.read_to_string(&mut resp).await?;
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("not an HTTP response: {resp}"))
}

#[tokio::test]
async fn kube_run_is_ready_only_while_it_leads_and_serves_metrics() -> anyhow::Result<()> {
    let env = test_env().await?;
    let ns = env.namespace("core-run-probes").await?;
    // Someone else leads: our replica must wait, alive but not ready.
    let mut other = LeaderElector::new(
        env.client(),
        election(ns.name(), "core-test-leader-election", "other"),
    );
    assert_eq!(other.try_acquire_or_renew().await?, Attempt::Leader);

    let (health, metrics) = (free_port()?, free_port()?);
    let args = test_args(&[
        "--enable-leader-election",
        "--leader-election-retry-period=300ms",
        "--leader-election-renew-deadline=10s",
        "--leader-election-lease-duration=15s",
        &format!("--health-addr=127.0.0.1:{health}"),
        &format!("--metrics-addr=127.0.0.1:{metrics}"),
    ]);
    let options = RunOptions {
        name: "core-test".into(),
        lease_namespace: Some(ns.name().to_owned()),
        identity: Some("me".into()),
    };
    let shutdown = Shutdown::new();
    let client = env.client();
    let stop = shutdown.clone();
    let run = tokio::spawn(async move {
        runtime::run_with(
            options,
            &args,
            client,
            Metrics::new(),
            shutdown,
            |rt| async move {
                rt.shutdown.wait_owned().await;
                Ok::<_, std::io::Error>(())
            },
        )
        .await
    });
    wait::until(TIMEOUT, "/healthz to answer", || async {
        Ok(match status_code(health, "/healthz").await {
            Ok(200) => Ok(()),
            other => Err(format!("{other:?}")),
        })
    })
    .await?;
    assert_eq!(
        status_code(health, "/readyz").await?,
        503,
        "a follower is not ready"
    );
    assert_eq!(status_code(metrics, "/metrics").await?, 200);

    other.release().await?;
    wait::until(TIMEOUT, "/readyz once leading", || async {
        Ok(match status_code(health, "/readyz").await? {
            200 => Ok(()),
            code => Err(format!("HTTP {code}")),
        })
    })
    .await?;
    stop.trigger();
    tokio::time::timeout(TIMEOUT, run).await???;
    Ok(())
}

/// What the test reconciler saw on each call: (generation, request token).
type Seen = Arc<Mutex<Vec<(Option<i64>, Option<String>)>>>;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TestError(#[from] kube::Error);

#[tokio::test]
async fn kube_controller_reconciles_on_request_token_and_echoes_it() -> anyhow::Result<()> {
    let (env, ns, api) = setup("core-controller").await?;
    create_widget(&api, "w1", None).await?;
    let seen: Seen = Arc::default();
    let shutdown = Shutdown::new();

    let ctl_api = api.clone();
    let ctl_seen = seen.clone();
    let ctl = status::controller_for(
        Api::<Widget>::namespaced(env.client(), ns.name()),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(shutdown.wait_owned())
    .run(
        move |w: Arc<Widget>, _ctx: Arc<()>| {
            let api = ctl_api.clone();
            let seen = ctl_seen.clone();
            async move {
                let token = status::reconcile_request(&*w).map(str::to_owned);
                seen.lock()
                    .expect("lock")
                    .push((w.metadata.generation, token.clone()));
                let mut conds = w.status.clone().unwrap_or_default().conditions;
                conditions::mark_ready(&mut conds, reasons::SUCCEEDED, "ok", w.metadata.generation);
                let st = WidgetStatus {
                    observed_generation: w.metadata.generation,
                    conditions: conds,
                    last_handled_reconcile_at: token,
                };
                status::apply_status(&api, &*w, MANAGER, &st).await?;
                Ok::<_, TestError>(Action::await_change())
            }
        },
        |_, _, _| Action::requeue(Duration::from_secs(1)),
        Arc::new(()),
    )
    .for_each(|_| async {});
    let ctl = tokio::spawn(ctl);

    wait::wait_for(&api, "w1", TIMEOUT, "be Ready", |w| {
        w.status
            .as_ref()
            .is_some_and(|s| conditions::is_ready(&s.conditions))
    })
    .await?;

    for token in ["first", "second"] {
        let patch =
            serde_json::json!({"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: token}}});
        api.patch("w1", &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        wait::wait_for(&api, "w1", TIMEOUT, &format!("echo {token}"), |w| {
            w.status
                .as_ref()
                .and_then(|s| s.last_handled_reconcile_at.as_deref())
                == Some(token)
        })
        .await?;
    }
    shutdown.trigger();
    tokio::time::timeout(TIMEOUT, ctl).await??;

    let seen = seen.lock().expect("lock").clone();
    let tokens: Vec<Option<&str>> = seen.iter().map(|(_, t)| t.as_deref()).collect();
    assert!(
        tokens.contains(&Some("first")) && tokens.contains(&Some("second")),
        "{seen:?}"
    );
    // Our own status writes did not wake the controller: every reconcile saw something new.
    for pair in seen.windows(2) {
        assert_ne!(
            pair[0], pair[1],
            "reconciled twice for the same trigger: {seen:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn kube_a_referenced_object_change_reconciles_its_referrers() -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::ConfigMap;
    let (env, ns, api) = setup("core-watches").await?;
    let config = |value: &str| ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("settings".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("value".to_owned(), value.to_owned())])),
        ..Default::default()
    };
    let configs: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    configs
        .create(&PostParams::default(), &config("one"))
        .await?;
    let mut w = Widget::new(
        "user",
        WidgetSpec {
            interval: "5m0s".into(),
            config_ref: Some("settings".into()),
        },
    );
    w.metadata.namespace = Some(ns.name().to_owned());
    api.create(&PostParams::default(), &w).await?;
    create_widget(&api, "bystander", None).await?;

    // The reconciler copies the referenced ConfigMap's value into the Ready message.
    let shutdown = Shutdown::new();
    let controller = status::controller_for(api.clone(), watcher::Config::default());
    let store = controller.store();
    let (ctl_api, ctl_configs) = (api.clone(), configs.clone());
    let ctl = controller
        .watches(
            configs.clone(),
            watcher::Config::default(),
            move |cm: ConfigMap| {
                status::referencing(&store, &cm, |w: &Widget| {
                    w.spec
                        .config_ref
                        .clone()
                        .map(|name| status::Reference {
                            kind: "ConfigMap".into(),
                            namespace: None,
                            name,
                        })
                        .into_iter()
                        .collect()
                })
            },
        )
        .graceful_shutdown_on(shutdown.wait_owned())
        .run(
            move |w: Arc<Widget>, _ctx: Arc<()>| {
                let (api, configs) = (ctl_api.clone(), ctl_configs.clone());
                async move {
                    let value = match &w.spec.config_ref {
                        Some(name) => configs
                            .get(name)
                            .await?
                            .data
                            .and_then(|d| d.get("value").cloned())
                            .unwrap_or_default(),
                        None => "no config".to_owned(),
                    };
                    let mut conds = w.status.clone().unwrap_or_default().conditions;
                    conditions::mark_ready(
                        &mut conds,
                        reasons::SUCCEEDED,
                        value,
                        w.metadata.generation,
                    );
                    let st = WidgetStatus {
                        observed_generation: w.metadata.generation,
                        conditions: conds,
                        last_handled_reconcile_at: None,
                    };
                    status::apply_status(&api, &*w, MANAGER, &st).await?;
                    Ok::<_, TestError>(Action::await_change())
                }
            },
            |_, _, _| Action::requeue(Duration::from_secs(1)),
            Arc::new(()),
        )
        .for_each(|_| async {});
    let ctl = tokio::spawn(ctl);

    let ready_message = |w: &Widget| {
        w.status
            .as_ref()
            .and_then(|s| conditions::get(&s.conditions, types::READY))
            .map(|c| c.message.clone())
    };
    wait::wait_for(&api, "user", TIMEOUT, "read the config", |w| {
        ready_message(w).as_deref() == Some("one")
    })
    .await?;
    wait::wait_for(&api, "bystander", TIMEOUT, "be Ready", |w| {
        ready_message(w).is_some()
    })
    .await?;
    let patch = serde_json::json!({"data": {"value": "two"}});
    configs
        .patch("settings", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    // Only the ConfigMap changed, not the widget: the watch mapping must bring it back.
    wait::wait_for(&api, "user", TIMEOUT, "see the new config", |w| {
        ready_message(w).as_deref() == Some("two")
    })
    .await?;
    shutdown.trigger();
    tokio::time::timeout(TIMEOUT, ctl).await??;
    Ok(())
}
