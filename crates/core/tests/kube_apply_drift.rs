//! What the apply engine corrects and what it leaves, against the real API server: the
//! take-over of kubectl's fields (and the `ssa: Merge` opt-out) and drift-ignore paths.

use driftless_core::{
    apply::{Action, Applier, ApplyOptions, FieldManager, ObjectRef, Resolver},
    runtime::install_crypto_provider,
};
use driftless_e2e::TestEnv;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api,
    api::{DynamicObject, Patch, PatchParams},
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const MANAGER: &str = "kustomize-controller";

fn cm(ns: &str, name: &str, annotations: Value, data: Value) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations}, "data": data}))
    .expect("test objects are valid")
}

/// A hand edit of ConfigMap `name`'s data as field manager `manager`.
async fn edit(api: &Api<ConfigMap>, name: &str, manager: &str, data: Value) -> anyhow::Result<()> {
    let params = PatchParams {
        field_manager: Some(manager.to_owned()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(json!({"data": data})))
        .await?;
    Ok(())
}

fn value(c: &ConfigMap, key: &str) -> Option<String> {
    c.data.as_ref()?.get(key).cloned()
}

fn action_of(set: &driftless_core::apply::ChangeSet, name: &str) -> Option<Action> {
    set.changes
        .iter()
        .find(|c| c.object.name == name)
        .map(|c| c.action)
}

#[tokio::test]
async fn kubectl_fields_are_taken_over_and_removed_unless_ssa_merge() -> anyhow::Result<()> {
    install_crypto_provider();
    let env = TestEnv::get().await?;
    let ns = env.namespace("apply-takeover").await?;
    let ns = ns.name().to_owned();
    let applier = Applier::new(env.client(), Resolver::new(), MANAGER);
    let merge = json!({"kustomize.toolkit.fluxcd.io/ssa": "Merge"});
    let set = || {
        vec![
            cm(&ns, "o", json!({}), json!({"k": "1"})),
            cm(&ns, "m", merge.clone(), json!({"k": "1"})),
        ]
    };
    let opts = ApplyOptions {
        take_over: FieldManager::flux_defaults(MANAGER),
        ..ApplyOptions::default()
    };
    applier.apply_all(set(), &opts).await?;
    let api: Api<ConfigMap> = Api::namespaced(env.client(), &ns);
    for name in ["o", "m"] {
        edit(&api, name, "kubectl-edit", json!({"extra": "by hand"})).await?;
    }

    let changes = applier.apply_all(set(), &opts).await?;
    assert_eq!(action_of(&changes, "o"), Some(Action::Configured));
    assert_eq!(action_of(&changes, "m"), Some(Action::Unchanged));
    let o = api.get("o").await?;
    assert_eq!(value(&o, "extra"), None, "taken over, then not applied");
    let managers: Vec<String> = o
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|e| e.manager.clone())
        .collect();
    assert_eq!(managers, [MANAGER]);
    assert_eq!(
        value(&api.get("m").await?, "extra").as_deref(),
        Some("by hand")
    );

    // Nothing left to take: no write, and no loop of take-overs.
    let again = applier.apply_all(set(), &opts).await?;
    assert!(!again.has_writes(), "{again}");
    Ok(())
}

#[tokio::test]
async fn ignored_paths_are_neither_compared_nor_written_back() -> anyhow::Result<()> {
    install_crypto_provider();
    let env = TestEnv::get().await?;
    let ns = env.namespace("apply-ignore").await?;
    let ns = ns.name().to_owned();
    let applier = Applier::new(env.client(), Resolver::new(), MANAGER);
    let set = || vec![cm(&ns, "a", json!({}), json!({"k": "1", "t": "base"}))];
    let id = ObjectRef::of(&set()[0])?.id();
    let opts = ApplyOptions {
        ignore_paths: BTreeMap::from([(id, vec!["/data/t".to_owned()])]),
        ..ApplyOptions::default()
    };
    applier.apply_all(set(), &opts).await?;
    let api: Api<ConfigMap> = Api::namespaced(env.client(), &ns);

    edit(&api, "a", "tuner", json!({"t": "tuned"})).await?;
    let changes = applier.apply_all(set(), &opts).await?;
    assert_eq!(action_of(&changes, "a"), Some(Action::Unchanged));
    assert_eq!(value(&api.get("a").await?, "t").as_deref(), Some("tuned"));

    edit(
        &api,
        "a",
        "tuner",
        json!({"t": "tuned again", "k": "drifted"}),
    )
    .await?;
    let changes = applier.apply_all(set(), &opts).await?;
    assert_eq!(action_of(&changes, "a"), Some(Action::Configured));
    let a = api.get("a").await?;
    assert_eq!(value(&a, "k").as_deref(), Some("1"), "corrected");
    assert_eq!(value(&a, "t").as_deref(), Some("tuned again"), "left alone");

    // Without the rule the same drift is corrected.
    edit(&api, "a", "tuner", json!({"t": "tuned"})).await?;
    applier.apply_all(set(), &ApplyOptions::default()).await?;
    assert_eq!(value(&api.get("a").await?, "t").as_deref(), Some("base"));
    Ok(())
}
