//! notification.toolkit.fluxcd.io serves Alert and Provider as v1 (stored) and v1beta3
//! (deprecated), like Flux v2.10, without a conversion webhook: what users see when objects
//! written by Flux v2.9 meet the v2.10 CRDs, checked against the real API server.

use std::time::Duration;

use anyhow::Context;
use driftless_api::notification::{self, v1beta3};
use driftless_e2e::{TestEnv, install_crds, wait};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, ValidationDirective,
};
use kube::{Api, Resource};

const TIMEOUT: Duration = Duration::from_secs(60);

fn alert_v1beta3(name: &str) -> anyhow::Result<v1beta3::Alert> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Alert",
        "metadata": { "name": name },
        "spec": {
            "summary": "Cluster addons impacted",
            "providerRef": { "name": "slack" },
            "eventSeverity": "error",
            "eventSources": [{ "kind": "Kustomization", "name": "*" }],
            "eventMetadata": { "cluster": "staging" }
        }
    }))?)
}

/// Since the upgrade, an object written through v1beta3 is stored as v1 (the storage version):
/// it is read through v1 with every v1 field, and `summary`, which only v1beta3 declares, is
/// dropped on the way into storage, so v1beta3 reads it back without it. v1 objects read back
/// through v1beta3.
#[tokio::test]
async fn alerts_written_as_v1beta3_are_served_as_v1() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("crd-versions").await?;
    let old: Api<v1beta3::Alert> = Api::namespaced(env.client(), ns.name());
    let new: Api<notification::Alert> = Api::namespaced(env.client(), ns.name());

    old.create(&PostParams::default(), &alert_v1beta3("on-call")?)
        .await
        .context("creating a v1beta3 Alert")?;

    let as_v1 = new.get("on-call").await.context("reading it as v1")?;
    assert_eq!(as_v1.spec.provider_ref.name, "slack");
    assert_eq!(
        as_v1.spec.event_severity,
        Some(notification::EventSeverity::Error)
    );
    assert_eq!(as_v1.spec.event_sources[0].name, "*");
    let raw_v1 = raw(&env, ns.name(), "v1", "alerts", "on-call").await?;
    assert_eq!(raw_v1["apiVersion"], "notification.toolkit.fluxcd.io/v1");
    assert!(
        raw_v1["spec"].get("summary").is_none(),
        "v1 has no summary: {raw_v1}"
    );
    let as_v1beta3 = old.get("on-call").await?;
    assert_eq!(
        as_v1beta3.spec.summary, None,
        "stored as v1: {as_v1beta3:?}"
    );
    assert_eq!(
        as_v1beta3.spec.event_metadata, as_v1.spec.event_metadata,
        "the fields both versions have are the same object"
    );

    // Updated through v1, read through v1beta3.
    let mut updated = as_v1.clone();
    updated.spec.event_severity = Some(notification::EventSeverity::Info);
    new.replace("on-call", &PostParams::default(), &updated)
        .await
        .context("updating it through v1")?;
    let after = old.get("on-call").await?;
    assert_eq!(
        after.spec.event_severity,
        Some(notification::EventSeverity::Info)
    );

    // A v1 object is served through v1beta3 too.
    let provider: notification::Provider = serde_json::from_value(serde_json::json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1",
        "kind": "Provider",
        "metadata": { "name": "slack" },
        "spec": { "type": "slack", "channel": "general", "secretRef": { "name": "slack-url" } }
    }))?;
    Api::<notification::Provider>::namespaced(env.client(), ns.name())
        .create(&PostParams::default(), &provider)
        .await?;
    let old_provider = Api::<v1beta3::Provider>::namespaced(env.client(), ns.name())
        .get("slack")
        .await
        .context("reading a v1 Provider as v1beta3")?;
    assert_eq!(old_provider.spec.channel.as_deref(), Some("general"));
    Ok(())
}

/// Each version validates with its own schema: `mastodon` only through v1, `summary` and
/// `interval` only through v1beta3 (refused under strict field validation, the default of
/// `kubectl apply`).
#[tokio::test]
async fn each_version_refuses_what_it_does_not_have() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("crd-versions-refuse").await?;

    let mastodon = |version: &str| {
        serde_json::json!({
            "apiVersion": format!("notification.toolkit.fluxcd.io/{version}"),
            "kind": "Provider",
            "metadata": { "name": format!("mastodon-{version}") },
            "spec": { "type": "mastodon", "address": "https://mastodon.social",
                      "secretRef": { "name": "token" } }
        })
    };
    let v1 = dynamic_api(&env, ns.name(), "v1", "Provider", "providers");
    let v1beta3 = dynamic_api(&env, ns.name(), "v1beta3", "Provider", "providers");
    v1.create(
        &PostParams::default(),
        &serde_json::from_value(mastodon("v1"))?,
    )
    .await
    .context("a v1 mastodon Provider")?;
    let err = v1beta3
        .create(
            &PostParams::default(),
            &serde_json::from_value(mastodon("v1beta3"))?,
        )
        .await
        .expect_err("v1beta3 has no mastodon type");
    assert_invalid(&err, "spec.type");

    let strict = PatchParams {
        field_validation: Some(ValidationDirective::Strict),
        ..PatchParams::apply("crd-versions-test")
    };
    let alert = serde_json::json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1",
        "kind": "Alert",
        "metadata": { "name": "with-summary" },
        "spec": { "summary": "dropped in v1", "providerRef": { "name": "slack" },
                  "eventSources": [{ "kind": "GitRepository", "name": "*" }] }
    });
    let alerts = dynamic_api(&env, ns.name(), "v1", "Alert", "alerts");
    let err = alerts
        .patch("with-summary", &strict, &Patch::Apply(&alert))
        .await
        .expect_err("v1 has no summary");
    assert_message(&err, "summary");
    let v1beta3_alerts = dynamic_api(&env, ns.name(), "v1beta3", "Alert", "alerts");
    let mut old = alert.clone();
    old["apiVersion"] = "notification.toolkit.fluxcd.io/v1beta3".into();
    v1beta3_alerts
        .patch("with-summary", &strict, &Patch::Apply(&old))
        .await
        .context("v1beta3 keeps summary")?;

    let interval = serde_json::json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1",
        "kind": "Provider",
        "metadata": { "name": "with-interval" },
        "spec": { "type": "generic", "interval": "5m" }
    });
    let err = v1
        .patch("with-interval", &strict, &Patch::Apply(&interval))
        .await
        .expect_err("v1 has no interval");
    assert_message(&err, "interval");
    Ok(())
}

/// The upgrade itself: a v1beta3 Alert stored under the v2.9 CRD (v1beta3 only) is served as
/// v1 once the v2.10 CRD replaces it. Run on a copy of the CRD under a test group so that the
/// shared CRD stays as installed.
#[tokio::test]
async fn an_alert_stored_before_the_upgrade_is_served_as_v1_after_it() -> anyhow::Result<()> {
    const GROUP: &str = "upgrade.e2e.driftless.dev";
    let env = TestEnv::get().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(env.client());
    let name = format!("alerts.{GROUP}");
    if crds.get_opt(&name).await?.is_some() {
        crds.delete(&name, &DeleteParams::default()).await?;
        wait::wait_deleted(&crds, &name, TIMEOUT).await?;
    }
    let mut after = driftless_api::crds()?
        .into_iter()
        .find(|c| c.spec.names.kind == "Alert")
        .context("the Alert CRD is generated")?;
    after.spec.group = GROUP.into();
    after.metadata.name = Some(name.clone());
    // Flux v2.9's CRD: v1beta3 alone, stored, not deprecated.
    let mut before = after.clone();
    before.spec.versions.retain(|v| v.name == "v1beta3");
    for version in &mut before.spec.versions {
        version.storage = true;
        version.deprecated = None;
        version.deprecation_warning = None;
    }
    install(&env, &before).await?;

    let ns = env.namespace("crd-upgrade").await?;
    let v1beta3_api = dynamic_api_in(&env, ns.name(), GROUP, "v1beta3", "Alert", "alerts");
    let mut alert = serde_json::to_value(alert_v1beta3("before-upgrade")?)?;
    alert["apiVersion"] = format!("{GROUP}/v1beta3").into();
    wait::until(TIMEOUT, "the v2.9 CRD to serve v1beta3", || async {
        Ok(
            match v1beta3_api
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(alert.clone())?,
                )
                .await
            {
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
        )
    })
    .await?;

    install(&env, &after).await?;
    let v1_api = dynamic_api_in(&env, ns.name(), GROUP, "v1", "Alert", "alerts");
    let served = wait::until(TIMEOUT, "the v2.10 CRD to serve v1", || async {
        Ok(match v1_api.get("before-upgrade").await {
            Ok(obj) => Ok(obj),
            Err(e) => Err(e.to_string()),
        })
    })
    .await?;
    let served = serde_json::to_value(&served)?;
    assert_eq!(served["apiVersion"], format!("{GROUP}/v1"));
    assert_eq!(served["spec"]["providerRef"]["name"], "slack");
    assert_eq!(served["spec"]["eventMetadata"]["cluster"], "staging");
    assert!(served["spec"].get("summary").is_none(), "{served}");
    // Stored as v1beta3 before the upgrade, it keeps `summary` for v1beta3 readers until it
    // is written again.
    let old = serde_json::to_value(v1beta3_api.get("before-upgrade").await?)?;
    assert_eq!(old["spec"]["summary"], "Cluster addons impacted", "{old}");
    let stored = crds.get(&name).await?;
    let stored_versions = stored.status.and_then(|s| s.stored_versions);
    assert_eq!(
        stored_versions.as_deref(),
        Some(&["v1beta3".to_owned(), "v1".to_owned()][..]),
        "objects written before the upgrade stay stored as v1beta3 until rewritten"
    );
    drop(ns);
    crds.delete(&name, &DeleteParams::default()).await?;
    Ok(())
}

/// Applies `crd` the way the harness installs the generated CRDs (server-side apply, then
/// waiting for Established), from a file of its own.
async fn install(env: &TestEnv, crd: &CustomResourceDefinition) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let yaml = serde_saphyr::to_string(crd)?;
    std::fs::write(dir.path().join("crd.yaml"), yaml)?;
    install_crds(&env.client(), dir.path()).await?;
    Ok(())
}

async fn raw(
    env: &TestEnv,
    ns: &str,
    version: &str,
    plural: &str,
    name: &str,
) -> anyhow::Result<serde_json::Value> {
    let kind = if plural == "alerts" {
        "Alert"
    } else {
        "Provider"
    };
    let obj = dynamic_api(env, ns, version, kind, plural)
        .get(name)
        .await?;
    Ok(serde_json::to_value(obj)?)
}

fn dynamic_api(
    env: &TestEnv,
    ns: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let group = notification::Alert::group(&()).into_owned();
    dynamic_api_in(env, ns, &group, version, kind, plural)
}

fn dynamic_api_in(
    env: &TestEnv,
    ns: &str,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    };
    Api::namespaced_with(env.client(), ns, &resource)
}

/// A 422 whose message names `field`.
fn assert_invalid(err: &kube::Error, field: &str) {
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 422, "expected Invalid: {status:?}");
            assert!(status.message.contains(field), "{}", status.message);
        }
        other => panic!("expected a refusal from the API server, got {other}"),
    }
}

/// A refusal whose message names `field`. Server-side apply of a field the schema does not
/// declare fails while building the typed patch (the API server answers 500 "field not
/// declared in schema"), whatever the field validation.
fn assert_message(err: &kube::Error, field: &str) {
    match err {
        kube::Error::Api(status) => {
            assert!(status.message.contains(field), "{}", status.message);
            assert!(
                status.message.contains("not declared in schema"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a refusal from the API server, got {other}"),
    }
}
