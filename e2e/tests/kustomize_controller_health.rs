//! kustomize-controller end to end, `healthCheckExprs`: a custom resource whose kind kstatus
//! alone would call Current at once (it has no conditions) is held InProgress by CEL
//! expressions until the test writes the status they ask for; a `failed` expression fails the
//! health check at once, with a message; with no status the wait times out naming the
//! expressions; an expression that does not compile stalls the
//! Kustomization before anything is applied. Real control plane, git server, source-controller.

use std::time::Duration;

use driftless_api::kustomize::Kustomization;
use driftless_e2e::flux::{FluxControllers, condition, create_git_source, create_kustomization};
use driftless_e2e::git_server::GitServer;
use driftless_e2e::{TestEnv, TestNamespace, wait};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, ResourceExt};

const TIMEOUT: Duration = Duration::from_secs(90);
const GROUP: &str = "health.e2e.driftless.dev";

/// A namespaced kind with a status subresource and no conditions: kstatus's generic rule
/// would call its objects Current as soon as they exist.
async fn ensure_widget_crd(env: &TestEnv) -> anyhow::Result<ApiResource> {
    let crds: Api<CustomResourceDefinition> = Api::all(env.client());
    let crd: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{GROUP}")},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget",
                      "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                }}},
            }],
        },
    }))?;
    crds.patch(
        &crd.name_any(),
        &PatchParams::apply("driftless-e2e").force(),
        &Patch::Apply(&crd),
    )
    .await?;
    wait::wait_for(&crds, &crd.name_any(), TIMEOUT, "be Established", |c| {
        c.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            })
    })
    .await?;
    Ok(ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(GROUP, "v1", "Widget"),
        "widgets",
    ))
}

fn widget(name: &str) -> Vec<u8> {
    format!("apiVersion: {GROUP}/v1\nkind: Widget\nmetadata:\n  name: {name}\nspec:\n  size: 1\n")
        .into_bytes()
}

/// The Kustomization of `path`, waiting for what it applies, with `exprs` for Widgets.
async fn create(
    api: &Api<Kustomization>,
    ns: &TestNamespace,
    name: &str,
    exprs: serde_json::Value,
) -> anyhow::Result<()> {
    create_kustomization(
        api,
        ns,
        name,
        serde_json::json!({
            "interval": "10m",
            "prune": true,
            "wait": true,
            // Long: the health checks below must end by the expressions, never by the timeout.
            "timeout": "5m",
            "targetNamespace": ns.name(),
            "sourceRef": {"kind": "GitRepository", "name": "repo"},
        }),
        serde_json::json!({"path": format!("./{name}"), "healthCheckExprs": exprs}),
    )
    .await
}

fn is(k: &Kustomization, type_: &str, status: &str, reason: &str) -> bool {
    condition(k, type_).is_some_and(|(s, r, _)| s == status && r == reason)
}

async fn applied(widgets: &Api<DynamicObject>, name: &str) -> anyhow::Result<()> {
    wait::until(TIMEOUT, &format!("Widget {name} to be applied"), || async {
        Ok(match widgets.get_opt(name).await? {
            Some(_) => Ok(()),
            None => Err("absent".to_owned()),
        })
    })
    .await
}

async fn set_phase(widgets: &Api<DynamicObject>, name: &str, phase: &str) -> anyhow::Result<()> {
    widgets
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"phase": phase}})),
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn health_check_exprs_gate_ready_fail_fast_and_stall_on_bad_expressions() -> anyhow::Result<()>
{
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = GitServer::start()?;
    let repo = server.create_repo("app")?;
    let names = ["good", "bad", "pending", "typo"];
    let files: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|n| (format!("{n}/widget.yaml"), widget(n)))
        .collect();
    repo.commit(
        &files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_slice()))
            .collect::<Vec<_>>(),
        "widgets",
    )?;
    repo.push()?;

    let env = TestEnv::get().await?;
    let resource = ensure_widget_crd(&env).await?;
    let ns = env.namespace("kc-health").await?;
    let mut controllers = FluxControllers::start(&env, &ns, &[])?;
    create_git_source(&env, &ns, &server.http_url("app")).await?;
    let api: Api<Kustomization> = Api::namespaced(env.client(), ns.name());
    let widgets: Api<DynamicObject> = Api::namespaced_with(env.client(), ns.name(), &resource);
    let exprs = serde_json::json!([{
        "apiVersion": format!("{GROUP}/v1"),
        "kind": "Widget",
        "current": "has(status.phase) && status.phase == 'Ready'",
        "inProgress": "has(status.phase) && status.phase == 'Provisioning'",
        "failed": "has(status.phase) && status.phase == 'Broken'",
    }]);

    // Current only once the status says so.
    create(&api, &ns, "good", exprs.clone()).await?;
    applied(&widgets, "good").await?;
    set_phase(&widgets, "good", "Provisioning").await?;
    // The health check is still waiting (its timeout is minutes away): not Ready.
    let k = api.get("good").await?;
    assert!(
        !is(&k, "Ready", "True", "ReconciliationSucceeded"),
        "Ready before the Widget's status said so: {:?}",
        condition(&k, "Ready")
    );
    set_phase(&widgets, "good", "Ready").await?;
    let k = wait::wait_for(&api, "good", TIMEOUT, "become Ready", |k| {
        is(k, "Ready", "True", "ReconciliationSucceeded")
    })
    .await?;
    assert!(
        is(&k, "Healthy", "True", "Succeeded"),
        "{:?}",
        condition(&k, "Healthy")
    );

    // `failed` ends the wait at once, with a message naming the object and the expression.
    create(&api, &ns, "bad", exprs.clone()).await?;
    applied(&widgets, "bad").await?;
    set_phase(&widgets, "bad", "Broken").await?;
    let k = wait::wait_for(&api, "bad", TIMEOUT, "fail its health check", |k| {
        is(k, "Ready", "False", "HealthCheckFailed")
    })
    .await?;
    let message = condition(&k, "Ready").map(|c| c.2).unwrap_or_default();
    assert!(
        message.contains("Widget") && message.contains("bad") && message.contains("Failed"),
        "{message}"
    );
    assert!(message.contains("status.phase == 'Broken'"), "{message}");
    assert!(!message.contains("timeout"), "{message}");
    assert!(is(&k, "Healthy", "False", "HealthCheckFailed"));

    // No status at all: kstatus alone would call the Widget Current (it has no conditions);
    // the expressions keep it InProgress until a short timeout, and the message says why.
    create_kustomization(
        &api,
        &ns,
        "pending",
        serde_json::json!({
            "interval": "10m", "prune": true, "wait": true, "timeout": "3s",
            "targetNamespace": ns.name(), "path": "./pending",
            "sourceRef": {"kind": "GitRepository", "name": "repo"},
        }),
        serde_json::json!({"healthCheckExprs": exprs.clone()}),
    )
    .await?;
    let k = wait::wait_for(&api, "pending", TIMEOUT, "time out", |k| {
        is(k, "Ready", "False", "HealthCheckFailed")
    })
    .await?;
    let message = condition(&k, "Ready").map(|c| c.2).unwrap_or_default();
    assert!(
        message.contains("timeout") && message.contains("pending"),
        "{message}"
    );
    assert!(
        message.contains("no healthCheckExprs expression is true yet"),
        "{message}"
    );

    // An expression that does not compile: Stalled before anything is applied.
    let typo_exprs = serde_json::json!([{
        "apiVersion": format!("{GROUP}/v1"),
        "kind": "Widget",
        "current": "stauts.phase == 'Ready'",
    }]);
    create(&api, &ns, "typo", typo_exprs).await?;
    let k = wait::wait_for(&api, "typo", TIMEOUT, "stall", |k| {
        is(k, "Stalled", "True", "InvalidCELExpression")
    })
    .await?;
    assert!(is(&k, "Ready", "False", "InvalidCELExpression"));
    let message = condition(&k, "Ready").map(|c| c.2).unwrap_or_default();
    assert!(
        message.contains("healthCheckExprs[0]") && message.contains("'stauts'"),
        "{message}"
    );
    assert!(
        widgets.get_opt("typo").await?.is_none(),
        "nothing is applied when an expression does not compile"
    );

    controllers.kustomize.ensure_running()?;
    Ok(())
}
