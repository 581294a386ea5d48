//! kustomize-controller end to end, what it reports about itself: `status.history` as Flux
//! writes it, and Flux's `gotk_*` metrics on the running binary's `/metrics`.
//! Real control plane, git server and source-controller.

use std::io::{Read, Write};
use std::time::Duration;

use driftless_api::kustomize::{Kustomization, ReconcileSnapshot};
use driftless_e2e::flux::{FluxControllers, create_git_source, create_kustomization};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::{TestEnv, wait};
use kube::Api;
use kube::api::{Patch, PatchParams};

const TIMEOUT: Duration = Duration::from_secs(90);

fn history(k: &Kustomization) -> Vec<ReconcileSnapshot> {
    k.status
        .as_ref()
        .and_then(|s| s.history.clone())
        .unwrap_or_default()
}

fn revision_of(s: &ReconcileSnapshot) -> &str {
    s.metadata
        .as_ref()
        .and_then(|m| m.get("revision"))
        .map_or("", String::as_str)
}

fn handled(k: &Kustomization, token: &str) -> bool {
    k.status
        .as_ref()
        .and_then(|s| s.last_handled_reconcile_at.as_deref())
        == Some(token)
}

fn requested_at(token: &str) -> Patch<serde_json::Value> {
    Patch::Merge(
        serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
    )
}

/// The body of `GET /metrics` from the controller's metrics server.
fn scrape(port: u16) -> anyhow::Result<String> {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    conn.read_to_string(&mut text)?;
    Ok(text)
}

#[tokio::test]
async fn history_records_each_outcome_and_metrics_follow_the_reconciles() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    let first = repo.commit(
        &[(
            "deploy/a.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: one\n" as &[u8],
        )],
        "first",
    )?;
    repo.push()?;

    let env = TestEnv::get().await?;
    let ns = env.namespace("kc-status").await?;
    let port = driftless_e2e::free_port()?;
    let metrics_flag = format!("--metrics-addr=127.0.0.1:{port}");
    let mut controllers = FluxControllers::start(&env, &ns, &[&metrics_flag])?;
    let sources = create_git_source(&env, &ns, &server.http_url("app")).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    create_kustomization(
        &api,
        &ns,
        "app",
        serde_json::json!({"interval": "10m", "prune": true, "targetNamespace": ns.name(),
                           "sourceRef": {"kind": "GitRepository", "name": "repo"}}),
        serde_json::json!({"path": "./deploy"}),
    )
    .await?;

    // The first apply leaves one snapshot: digest of the set, Flux's status, the revision.
    let k = wait::wait_for(&api, "app", TIMEOUT, "apply the first commit", |k| {
        history(k)
            .first()
            .is_some_and(|s| revision_of(s).ends_with(&first))
    })
    .await?;
    let h = history(&k);
    assert_eq!(h.len(), 1, "{h:?}");
    let one = &h[0];
    assert!(
        one.digest.starts_with("sha256:") && one.digest.len() == 71,
        "{one:?}"
    );
    assert_eq!(one.last_reconciled_status, "ReconciliationSucceeded");
    assert_eq!(one.total_reconciliations, 1);
    assert!(one.last_reconciled_duration.ends_with('s'), "{one:?}");
    assert_eq!(one.first_reconciled, one.last_reconciled);

    // The same set again: the snapshot counts it, no new entry.
    api.patch("app", &PatchParams::default(), &requested_at("again"))
        .await?;
    let k = wait::wait_for(&api, "app", TIMEOUT, "reconcile again", |k| {
        handled(k, "again")
    })
    .await?;
    let h = history(&k);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].digest, one.digest);
    assert_eq!(h[0].total_reconciliations, 2);

    // A new commit that changes the set: a new snapshot, first.
    let second = repo.commit(
        &[(
            "deploy/a.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: two\n" as &[u8],
        )],
        "second",
    )?;
    repo.push()?;
    sources
        .patch("repo", &PatchParams::default(), &requested_at("second"))
        .await?;
    let k = wait::wait_for(&api, "app", TIMEOUT, "apply the second commit", |k| {
        history(k)
            .first()
            .is_some_and(|s| revision_of(s).ends_with(&second))
    })
    .await?;
    let h = history(&k);
    assert_eq!(h.len(), 2, "{h:?}");
    assert_ne!(h[0].digest, h[1].digest);
    assert_eq!(h[0].total_reconciliations, 1);
    assert!(revision_of(&h[1]).ends_with(&first));

    // Metrics: the reconciles above were recorded under Flux's names and labels.
    let labels = format!(
        r#"kind="Kustomization",name="app",namespace="{}""#,
        ns.name()
    );
    let text = scrape(port)?;
    let count = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!(
                "gotk_reconcile_duration_seconds_count{{{labels}}} "
            ))
        })
        .and_then(|n| n.trim().parse::<u64>().ok());
    assert!(count.is_some_and(|n| n >= 3), "{text}");
    assert!(
        text.contains(&format!(
            r#"gotk_reconcile_condition{{{labels},type="Ready",status="True"}} 1"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"gotk_reconcile_condition{{{labels},type="Ready",status="False"}} 0"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("gotk_suspend_status{{{labels}}} 0")),
        "{text}"
    );

    // Suspending is a reconcile too: the suspend gauge follows.
    api.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"suspend": true}})),
    )
    .await?;
    let suspended = format!("gotk_suspend_status{{{labels}}} 1");
    wait::until(TIMEOUT, "the suspend gauge", || async {
        let text = scrape(port)?;
        Ok(if text.contains(&suspended) {
            Ok(())
        } else {
            Err(text)
        })
    })
    .await?;
    controllers.kustomize.ensure_running()?;
    Ok(())
}
