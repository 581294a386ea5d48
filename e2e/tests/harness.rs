//! The harness's own promises: a test namespace is unique and goes away, a controller process
//! runs a workspace binary against the cluster with its log kept, a wait times out with the
//! object's status in the message.

use std::time::Duration;

use driftless_e2e::{ControllerProcess, TestEnv, wait};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::PostParams;

#[tokio::test]
async fn a_test_namespace_is_deleted_when_dropped() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let namespaces: Api<Namespace> = Api::all(env.client());
    let name = {
        let ns = env.namespace("harness-drop").await?;
        let other = env.namespace("harness-drop").await?;
        assert_ne!(ns.name(), other.name());
        assert!(namespaces.get_opt(ns.name()).await?.is_some());
        ns.name().to_owned()
    };
    wait::wait_for(
        &namespaces,
        &name,
        Duration::from_secs(30),
        "be terminating",
        |ns| ns.metadata.deletion_timestamp.is_some(),
    )
    .await
    .map(|_| ())
    .or_else(|e| {
        // Already gone entirely is fine too.
        if e.to_string().contains("does not exist") {
            Ok(())
        } else {
            Err(e)
        }
    })
}

#[tokio::test]
async fn a_wait_timeout_names_the_object_and_prints_its_status() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("harness-wait").await?;
    let namespaces: Api<Namespace> = Api::all(env.client());
    let err = wait::wait_for(
        &namespaces,
        ns.name(),
        Duration::from_millis(500),
        "never match",
        |_| false,
    )
    .await
    .expect_err("the condition never holds");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("Namespace {} to never match", ns.name())),
        "{msg}"
    );
    assert!(msg.contains(r#""phase":"Active""#), "{msg}");

    let configmaps: Api<ConfigMap> = Api::namespaced(env.client(), ns.name());
    let err = wait::wait_for(
        &configmaps,
        "absent",
        Duration::from_millis(300),
        "exist",
        |_| true,
    )
    .await
    .expect_err("nothing creates it");
    assert!(err.to_string().contains("does not exist"), "{err}");
    let cm: ConfigMap =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "late" } }))?;
    configmaps.create(&PostParams::default(), &cm).await?;
    wait::wait_for(
        &configmaps,
        "late",
        Duration::from_secs(10),
        "exist",
        |_| true,
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_controller_process_logs_to_the_target_dir_and_reports_its_exit() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("harness-process").await?;
    // The CLI stands in for a controller: it is a workspace binary that exits at once.
    let mut process = ControllerProcess::start(&env, "driftless", &["--help"], ns.name())?;
    assert!(
        process.log_path().starts_with(
            process
                .log_path()
                .ancestors()
                .find(|p| p.ends_with("e2e-logs"))
                .expect("the log is under <target>/e2e-logs")
        )
    );
    let err = wait::until(Duration::from_secs(30), "the CLI to exit", || {
        let result = process.ensure_running();
        async move {
            Ok(match result {
                Ok(()) => Err("still running".to_owned()),
                Err(e) => Ok(e),
            })
        }
    })
    .await?;
    let msg = format!("{err:#}");
    assert!(msg.contains("exited"), "{msg}");
    assert!(
        process.log().contains("Usage"),
        "the help went to the log: {}",
        process.log()
    );
    Ok(())
}
