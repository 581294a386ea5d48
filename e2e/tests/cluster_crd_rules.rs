//! The Flux v2.10 validation rules of the generated CRDs, enforced by the real API server:
//! OCIRepository's root rules, HelmRelease `spec.chart.kind`, ArtifactGenerator names and the
//! ImageUpdateAutomation refspec pattern.

use driftless_e2e::TestEnv;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, PostParams};
use serde_json::{Value, json};

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn object(r: &ApiResource, name: &str, spec: Value) -> anyhow::Result<DynamicObject> {
    Ok(serde_json::from_value(json!({
        "apiVersion": r.api_version, "kind": r.kind,
        "metadata": {"name": name}, "spec": spec,
    }))?)
}

async fn accepted(api: &Api<DynamicObject>, obj: &DynamicObject) -> anyhow::Result<()> {
    api.create(&PostParams::default(), obj).await?;
    Ok(())
}

/// Expects a 422 whose message carries `message` (the rule's message, as the user sees it).
async fn refused(api: &Api<DynamicObject>, obj: &DynamicObject, message: &str) {
    match api.create(&PostParams::default(), obj).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(status.message.contains(message), "{}", status.message);
        }
        other => panic!("expected the API server to refuse it ({message}), got {other:?}"),
    }
}

#[tokio::test]
async fn flux_v2_10_rules_are_enforced() -> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("crd-rules").await?;
    let api = |r: &ApiResource| Api::<DynamicObject>::namespaced_with(env.client(), ns.name(), r);

    let oci = resource(
        "source.toolkit.fluxcd.io",
        "v1",
        "OCIRepository",
        "ocirepositories",
    );
    let repos = api(&oci);
    let url = "oci://ghcr.io/stefanprodan/manifests/podinfo";
    accepted(
        &repos,
        &object(&oci, "ok", json!({"url": url, "interval": "5m"}))?,
    )
    .await?;
    refused(
        &repos,
        &object(&oci, "no-url", json!({"interval": "5m"}))?,
        "spec.url is required",
    )
    .await;
    refused(
        &repos,
        &object(&oci, "no-interval", json!({"url": url}))?,
        "spec.interval is required",
    )
    .await;
    let stored = repos.get("ok").await?;
    assert!(
        stored.data["spec"].get("provider").is_none()
            && stored.data["spec"].get("timeout").is_none(),
        "v2.10 has no schema defaults for provider and timeout: {:?}",
        stored.data
    );

    let hr = resource(
        "helm.toolkit.fluxcd.io",
        "v2",
        "HelmRelease",
        "helmreleases",
    );
    let releases = api(&hr);
    let oci_chart = json!({"kind": "OCIRepository", "spec": {"url": "oci://ghcr.io/stefanprodan/charts/podinfo", "ref": {"tag": "6.7.0"}}});
    accepted(
        &releases,
        &object(&hr, "oci", json!({"interval": "10m", "chart": oci_chart}))?,
    )
    .await?;
    let helm_chart = json!({"spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}});
    accepted(
        &releases,
        &object(
            &hr,
            "chart",
            json!({"interval": "10m", "chart": helm_chart}),
        )?,
    )
    .await?;
    let mut both = oci_chart.clone();
    both["spec"]["chart"] = "podinfo".into();
    refused(
        &releases,
        &object(&hr, "both", json!({"interval": "10m", "chart": both}))?,
        "chart.spec.chart cannot be set when chart.kind is 'OCIRepository'",
    )
    .await;
    let url_without_kind = json!({"spec": {"url": "oci://ghcr.io/stefanprodan/charts/podinfo"}});
    refused(
        &releases,
        &object(
            &hr,
            "no-kind",
            json!({"interval": "10m", "chart": url_without_kind}),
        )?,
        "chart.spec.url requires chart.kind: 'OCIRepository'",
    )
    .await;
    let stored = releases.get("chart").await?;
    assert!(
        stored.data["spec"]["chart"]["spec"]
            .get("version")
            .is_none(),
        "v2.10 dropped the version default: {:?}",
        stored.data
    );

    let ag = resource(
        "source.extensions.fluxcd.io",
        "v1beta1",
        "ArtifactGenerator",
        "artifactgenerators",
    );
    let generators = api(&ag);
    let spec = |name: &str, pattern: Option<&str>| {
        let mut spec = json!({
            "sources": [{"alias": "repo", "kind": "GitRepository", "name": "repo"}],
            "artifacts": [{"name": name, "copy": [{"from": "@repo/**", "to": "@artifact/"}]}],
        });
        if let Some(p) = pattern {
            spec["pathPattern"] = p.into();
        }
        spec
    };
    accepted(&generators, &object(&ag, "plain", spec("app", None))?).await?;
    accepted(
        &generators,
        &object(&ag, "pattern", spec("{app}", Some("@repo/apps/{app}")))?,
    )
    .await?;
    refused(
        &generators,
        &object(&ag, "bad-name", spec("{app}", None))?,
        "artifact names must be valid Kubernetes object names when pathPattern is not set",
    )
    .await;

    let iua = resource(
        "image.toolkit.fluxcd.io",
        "v1",
        "ImageUpdateAutomation",
        "imageupdateautomations",
    );
    let automations = api(&iua);
    let automation = |refspec: &str| {
        json!({
            "interval": "30m", "policyChangeDelay": "2m",
            "sourceRef": {"kind": "GitRepository", "name": "repo"},
            "git": {"commit": {"author": {"name": "bot", "email": "bot@example.com"}},
                    "push": {"refspec": refspec}},
        })
    };
    accepted(
        &automations,
        &object(&iua, "ok", automation("refs/heads/main:refs/heads/auto"))?,
    )
    .await?;
    refused(
        &automations,
        &object(
            &iua,
            "forced",
            automation("+refs/heads/main:refs/heads/auto"),
        )?,
        "spec.git.push.refspec",
    )
    .await;
    Ok(())
}
