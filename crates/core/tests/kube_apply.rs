//! The apply engine and health wait against the real API server (`cargo xtask cluster`).
//!
//! Each test works in its own namespace (CRDs and namespaces it creates carry its unique
//! name). Timeouts only bound how long a failure takes.

use driftless_api::common::{ResourceInventory, ResourceRef};
use driftless_core::{
    apply::{Action, Applier, ApplyError, ApplyOptions, DeleteOptions, ObjectRef, Resolver},
    health::{self, WaitError},
    runtime::install_crypto_provider,
};
use driftless_e2e::TestEnv;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::{
    Api,
    api::{DeleteParams, DynamicObject, Patch, PatchParams},
};
use serde_json::{Value, json};
use std::{collections::BTreeMap, time::Duration};

const MANAGER: &str = "kustomize-controller";

fn obj(v: Value) -> DynamicObject {
    serde_json::from_value(v).expect("test objects are valid")
}

fn cm(ns: &str, name: &str, data: Value) -> DynamicObject {
    obj(json!({"apiVersion":"v1","kind":"ConfigMap",
        "metadata":{"name":name,"namespace":ns},"data":data}))
}

async fn setup(prefix: &str) -> anyhow::Result<(TestEnv, driftless_e2e::TestNamespace, Applier)> {
    install_crypto_provider();
    let env = TestEnv::get().await?;
    let ns = env.namespace(prefix).await?;
    let applier = Applier::new(env.client(), Resolver::new(), MANAGER);
    Ok((env, ns, applier))
}

fn actions(set: &driftless_core::apply::ChangeSet) -> Vec<(String, Action)> {
    set.changes
        .iter()
        .map(|c| (c.object.name.clone(), c.action))
        .collect()
}

async fn resource_version(api: &Api<ConfigMap>, name: &str) -> anyhow::Result<String> {
    Ok(api
        .get(name)
        .await?
        .metadata
        .resource_version
        .unwrap_or_default())
}

#[tokio::test]
async fn apply_creates_then_an_unchanged_set_writes_nothing_and_drift_is_reverted()
-> anyhow::Result<()> {
    let (env, ns, applier) = setup("apply-basic").await?;
    let ns = ns.name().to_owned();
    let set = || {
        vec![
            cm(&ns, "a", json!({"k":"1"})),
            cm(&ns, "b", json!({"k":"2"})),
        ]
    };
    let opts = ApplyOptions::default();

    let first = applier.apply_all(set(), &opts).await?;
    assert_eq!(
        actions(&first),
        [("a".into(), Action::Created), ("b".into(), Action::Created)]
    );
    let api: Api<ConfigMap> = Api::namespaced(env.client(), &ns);
    let rv = resource_version(&api, "a").await?;

    let again = applier.apply_all(set(), &opts).await?;
    assert_eq!(
        actions(&again),
        [
            ("a".into(), Action::Unchanged),
            ("b".into(), Action::Unchanged)
        ]
    );
    assert!(!again.has_writes());
    assert_eq!(
        resource_version(&api, "a").await?,
        rv,
        "an unchanged apply must not write"
    );

    // Drift: another manager changes a field we own, and deletes an object.
    api.patch(
        "a",
        &PatchParams::apply("kubectl").force(),
        &Patch::Apply(
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},
            "data":{"k":"hand-edited"}}),
        ),
    )
    .await?;
    api.delete("b", &DeleteParams::default()).await?;
    let fixed = applier.apply_all(set(), &opts).await?;
    assert_eq!(
        actions(&fixed),
        [
            ("a".into(), Action::Configured),
            ("b".into(), Action::Created)
        ]
    );
    let a = api.get("a").await?;
    assert_eq!(
        a.data.unwrap_or_default().get("k").map(String::as_str),
        Some("1")
    );

    // The inventory names both, with Flux's ids.
    let ids: Vec<String> = fixed
        .inventory()
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        ids,
        [format!("{ns}_a__ConfigMap"), format!("{ns}_b__ConfigMap")]
    );
    Ok(())
}

#[tokio::test]
async fn a_set_failing_its_dry_run_applies_nothing() -> anyhow::Result<()> {
    let (env, ns, applier) = setup("apply-broken").await?;
    let ns = ns.name().to_owned();
    let good = cm(&ns, "good", json!({"k":"1"}));
    // A Service without ports is refused by validation.
    let bad = obj(json!({"apiVersion":"v1","kind":"Service",
        "metadata":{"name":"bad","namespace":ns},"spec":{"type":"ClusterIP"}}));
    let err = applier
        .apply_all(vec![good.clone(), bad], &ApplyOptions::default())
        .await
        .expect_err("the broken Service must fail the set");
    assert!(matches!(err, ApplyError::DryRun { .. }), "{err}");
    assert!(err.to_string().contains("Service/"), "{err}");
    let api: Api<ConfigMap> = Api::namespaced(env.client(), &ns);
    assert!(
        api.get_opt("good").await?.is_none(),
        "nothing of a failed set is written"
    );

    // An unknown kind fails the same way.
    let unknown = obj(json!({"apiVersion":"nope.example.com/v1","kind":"Nope",
        "metadata":{"name":"x","namespace":ns}}));
    let err = applier
        .apply_all(vec![good, unknown], &ApplyOptions::default())
        .await
        .expect_err("an unknown kind must fail the set");
    assert!(
        err.to_string().contains("no matches for kind \"Nope\""),
        "{err}"
    );
    assert!(api.get_opt("good").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn crds_and_namespaces_are_applied_first_and_their_objects_after() -> anyhow::Result<()> {
    let (env, ns, applier) = setup("apply-staged").await?;
    let suffix = ns.name().replace('-', "");
    let group = format!("{suffix}.example.com");
    let crd = obj(
        json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
        "metadata":{"name":format!("gadgets.{group}")},
        "spec":{"group":group,"scope":"Namespaced",
            "names":{"plural":"gadgets","singular":"gadget","kind":"Gadget","listKind":"GadgetList"},
            "versions":[{"name":"v1","served":true,"storage":true,
                "schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object",
                    "properties":{"size":{"type":"integer"}}}}}}}]}}),
    );
    let new_ns = format!("{}-extra", ns.name());
    let namespace = obj(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":new_ns}}));
    let gadget = obj(json!({"apiVersion":format!("{group}/v1"),"kind":"Gadget",
        "metadata":{"name":"g","namespace":new_ns},"spec":{"size":3}}));
    let in_new_ns = cm(&new_ns, "c", json!({"k":"v"}));
    // Listed in the "wrong" order on purpose: the engine stages them.
    let set = vec![gadget, in_new_ns, crd.clone(), namespace];
    let result = applier
        .apply_all(set.clone(), &ApplyOptions::default())
        .await;
    // Clean up the cluster-scoped objects whatever happened.
    let cleanup = async {
        let crds: Api<DynamicObject> = Api::all_with(
            env.client(),
            &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            )),
        );
        let _ = crds
            .delete(&format!("gadgets.{group}"), &DeleteParams::default())
            .await;
        let _ = Api::<Namespace>::all(env.client())
            .delete(&new_ns, &DeleteParams::default())
            .await;
    };
    let changes = match result {
        Ok(c) => c,
        Err(e) => {
            cleanup.await;
            return Err(e.into());
        }
    };
    let order: Vec<(String, Action)> = changes
        .changes
        .iter()
        .map(|c| (c.object.kind.clone(), c.action))
        .collect();
    let again = applier.apply_all(set, &ApplyOptions::default()).await;
    cleanup.await;
    assert_eq!(
        order,
        [
            ("CustomResourceDefinition".into(), Action::Created),
            ("Namespace".into(), Action::Created),
            ("Gadget".into(), Action::Created),
            ("ConfigMap".into(), Action::Created),
        ]
    );
    assert!(
        !again?.has_writes(),
        "the staged set is unchanged the second time"
    );
    Ok(())
}

#[tokio::test]
async fn ssa_annotations_and_forced_recreation() -> anyhow::Result<()> {
    let (env, ns, applier) = setup("apply-policy").await?;
    let ns = ns.name().to_owned();
    let api: Api<ConfigMap> = Api::namespaced(env.client(), &ns);
    let opts = ApplyOptions::default();
    applier
        .apply_all(
            vec![
                cm(&ns, "keep", json!({"k":"1"})),
                cm(&ns, "ignored", json!({"k":"1"})),
            ],
            &opts,
        )
        .await?;

    let mut if_not_present = cm(&ns, "keep", json!({"k":"2"}));
    if_not_present.metadata.annotations = Some(BTreeMap::from([(
        "kustomize.toolkit.fluxcd.io/ssa".into(),
        "IfNotPresent".into(),
    )]));
    let mut ignored = cm(&ns, "ignored", json!({"k":"2"}));
    ignored.metadata.annotations = Some(BTreeMap::from([(
        "kustomize.toolkit.fluxcd.io/ssa".into(),
        "Ignore".into(),
    )]));
    let mut fresh = cm(&ns, "fresh", json!({"k":"1"}));
    fresh.metadata.annotations = if_not_present.metadata.annotations.clone();
    let set = applier
        .apply_all(vec![if_not_present, ignored, fresh], &opts)
        .await?;
    assert_eq!(
        actions(&set),
        [
            ("keep".into(), Action::Skipped),
            ("ignored".into(), Action::Skipped),
            ("fresh".into(), Action::Created),
        ]
    );
    for name in ["keep", "ignored"] {
        let data = api.get(name).await?.data.unwrap_or_default();
        assert_eq!(
            data.get("k").map(String::as_str),
            Some("1"),
            "{name} must be left alone"
        );
    }

    // An immutable ConfigMap cannot change its data: refused without force, recreated with it.
    let immutable = |v: &str| {
        obj(
            json!({"apiVersion":"v1","kind":"ConfigMap","immutable":true,
            "metadata":{"name":"frozen","namespace":ns},"data":{"k":v}}),
        )
    };
    applier.apply_all(vec![immutable("1")], &opts).await?;
    let err = applier
        .apply_all(vec![immutable("2"), cm(&ns, "other", json!({}))], &opts)
        .await
        .expect_err("immutable change without force");
    assert!(matches!(err, ApplyError::Immutable { .. }), "{err}");
    assert!(
        api.get_opt("other").await?.is_none(),
        "nothing applied after the refusal"
    );
    let forced = ApplyOptions {
        force: true,
        ..ApplyOptions::default()
    };
    let set = applier.apply_all(vec![immutable("2")], &forced).await?;
    assert_eq!(actions(&set), [("frozen".into(), Action::Created)]);
    let data = api.get("frozen").await?.data.unwrap_or_default();
    assert_eq!(data.get("k").map(String::as_str), Some("2"));

    // The annotation forces one object without the option.
    let mut annotated = immutable("3");
    annotated.metadata.annotations = Some(BTreeMap::from([(
        "kustomize.toolkit.fluxcd.io/force".into(),
        "Enabled".into(),
    )]));
    let set = applier.apply_all(vec![annotated], &opts).await?;
    assert_eq!(actions(&set), [("frozen".into(), Action::Created)]);
    Ok(())
}

#[tokio::test]
async fn prune_deletes_only_what_left_the_inventory_and_is_owned() -> anyhow::Result<()> {
    let (env, ns, applier) = setup("apply-prune").await?;
    let ns = ns.name().to_owned();
    let api: Api<ConfigMap> = Api::namespaced(env.client(), &ns);
    let owner = BTreeMap::from([(
        "kustomize.toolkit.fluxcd.io/name".to_owned(),
        "app".to_owned(),
    )]);
    let owned = |name: &str| {
        let mut o = cm(&ns, name, json!({}));
        o.metadata.labels = Some(owner.clone());
        o
    };
    let mut protected = owned("protected");
    protected.metadata.annotations = Some(BTreeMap::from([(
        "kustomize.toolkit.fluxcd.io/prune".into(),
        "disabled".into(),
    )]));
    let foreign = cm(&ns, "foreign", json!({})); // no owner label
    let outside = owned("outside"); // never in the inventory
    let old = applier
        .apply_all(
            vec![owned("stays"), owned("goes"), protected, foreign],
            &ApplyOptions::default(),
        )
        .await?
        .inventory();
    applier
        .apply_all(vec![outside], &ApplyOptions::default())
        .await?;
    let new = ResourceInventory {
        entries: vec![ResourceRef {
            id: format!("{ns}_stays__ConfigMap"),
            v: "v1".into(),
        }],
    };
    let opts = DeleteOptions {
        owner_labels: owner.clone(),
    };
    let pruned = applier.prune(&old, &new, &opts).await?;
    let mut got = actions(&pruned);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            ("foreign".into(), Action::Skipped),
            ("goes".into(), Action::Deleted),
            ("protected".into(), Action::Skipped),
        ]
    );
    for (name, present) in [
        ("stays", true),
        ("protected", true),
        ("foreign", true),
        ("outside", true),
    ] {
        assert_eq!(api.get_opt(name).await?.is_some(), present, "{name}");
    }
    let goes = api.get_opt("goes").await?;
    assert!(goes.is_none_or(|g| g.metadata.deletion_timestamp.is_some()));

    // Pruning again finds nothing more to delete; a bad id is an error, not a panic.
    let again = applier.prune(&old, &new, &opts).await?;
    assert!(again.changes.iter().all(|c| c.action != Action::Deleted));
    let bad = ResourceInventory {
        entries: vec![ResourceRef {
            id: "garbage".into(),
            v: "v1".into(),
        }],
    };
    assert!(applier.prune(&bad, &new, &opts).await.is_err());
    Ok(())
}

fn deployment(ns: &str, name: &str, node_selector: Value) -> DynamicObject {
    obj(json!({"apiVersion":"apps/v1","kind":"Deployment",
        "metadata":{"name":name,"namespace":ns},
        "spec":{"replicas":1,"selector":{"matchLabels":{"app":name}},
            "template":{"metadata":{"labels":{"app":name}},
                "spec":{"nodeSelector":node_selector,
                    "tolerations":[{"key":"kwok.x-k8s.io/node","operator":"Exists","effect":"NoSchedule"}],
                    "containers":[{"name":"c","image":"example.com/app:1"}]}}}}))
}

#[tokio::test]
async fn health_wait_succeeds_for_an_available_deployment_and_times_out_otherwise()
-> anyhow::Result<()> {
    let (env, ns, applier) = setup("health-wait").await?;
    let ns = ns.name().to_owned();
    let set = applier
        .apply_all(
            vec![
                deployment(&ns, "ready", json!({})),
                deployment(&ns, "stuck", json!({"no-such-label":"anywhere"})),
            ],
            &ApplyOptions::default(),
        )
        .await?;
    let refs: Vec<ObjectRef> = set.changes.iter().map(|c| c.object.clone()).collect();
    health::wait(
        &env.client(),
        applier.resolver(),
        &refs[..1],
        Duration::from_secs(90),
    )
    .await?;

    let err = health::wait(
        &env.client(),
        applier.resolver(),
        &refs,
        Duration::from_secs(5),
    )
    .await
    .expect_err("an unschedulable Deployment never becomes Available");
    match &err {
        WaitError::Timeout { pending } => {
            assert_eq!(pending.len(), 1, "{err}");
            assert_eq!(pending[0].0.name, "stuck");
        }
        other => panic!("expected a timeout, got {other}"),
    }
    assert!(err.to_string().contains("Deployment/"), "{err}");

    // A missing object is waited for and reported as NotFound.
    let mut missing = refs[0].clone();
    missing.name = "absent".into();
    let err = health::wait(
        &env.client(),
        applier.resolver(),
        &[missing],
        Duration::from_secs(1),
    )
    .await
    .expect_err("absent");
    assert!(err.to_string().contains("NotFound"), "{err}");
    Ok(())
}
