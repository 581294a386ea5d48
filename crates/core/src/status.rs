//! Writing status, and on-demand reconciles through `reconcile.fluxcd.io/requestedAt`.
//!
//! Status is written by server-side apply on the `status` subresource under the controller's
//! field manager: the controller sends the whole status it computed, the API server keeps
//! what other managers own, and a write that changes nothing does not bump the
//! `resourceVersion` (so it wakes no watcher). Because SSA removes fields this manager set
//! before and omits now, always apply the complete status.
//!
//! `flux reconcile` sets the annotation
//! `reconcile.fluxcd.io/requestedAt: <token>`; a new token asks for a reconcile now, and the
//! controller echoes the token it handled into `status.lastHandledReconcileAt`.
//! [`reconcile_trigger`] is the watch predicate that lets through exactly such changes
//! (new generation, new token, deletion) and drops status-only updates.
//!
//! Objects also reconcile when something they reference changes (a source's new artifact →
//! the Kustomizations that use it): [`referencing`] is the mapper for
//! `Controller::watches`, wired by `reconcile::watch_referencing`.

use futures::StreamExt;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        Controller, WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use std::{
    collections::{HashMap, hash_map::DefaultHasher},
    fmt::Debug,
    hash::{Hash, Hasher},
    sync::Arc,
};

/// The annotation whose new value requests a reconcile (Flux's `meta.ReconcileRequestAnnotation`);
/// part of the API contract, so it lives in the API crate.
pub use driftless_api::common::RECONCILE_REQUEST_ANNOTATION;

/// The token of the last reconcile request on `obj`, if any.
pub fn reconcile_request<K: Resource>(obj: &K) -> Option<&str> {
    obj.meta()
        .annotations
        .as_ref()?
        .get(RECONCILE_REQUEST_ANNOTATION)
        .map(String::as_str)
}

/// Whether `obj` carries a request token that differs from `last_handled`
/// (`status.lastHandledReconcileAt`).
pub fn reconcile_request_pending<K: Resource>(obj: &K, last_handled: Option<&str>) -> bool {
    reconcile_request(obj).is_some_and(|token| Some(token) != last_handled)
}

/// Watch predicate: changes when the generation, the request token or the deletion state
/// changes, not on status or label updates. Use with `WatchStreamExt::predicate_filter`, or
/// take [`controller_for`] which wires it.
pub fn reconcile_trigger<K: Resource>(obj: &K) -> Option<u64> {
    let mut h = DefaultHasher::new();
    obj.meta().generation.hash(&mut h);
    reconcile_request(obj).hash(&mut h);
    obj.meta().deletion_timestamp.is_some().hash(&mut h);
    Some(h.finish())
}

/// A `Controller` for `K` whose main watch only fires on [`reconcile_trigger`] changes.
///
/// The reflector store still sees every update, so `Controller::store` stays current.
pub fn controller_for<K>(api: Api<K>, config: watcher::Config) -> Controller<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    controller_waking(api, config, |_, _| Vec::new())
}

/// A `Controller` for `K` like [`controller_for`] that also reconciles, on every update of
/// any object (status updates included), the objects `woken_by(updated, store)` returns.
///
/// This is how an object waiting on another of its kind (a Kustomization's `dependsOn`)
/// runs as soon as that one becomes Ready instead of sleeping out its requeue delay. Keep
/// `woken_by` narrow (e.g. only objects not Ready yet): whatever it returns is reconciled,
/// and their status writes are updates too.
pub fn controller_waking<K>(
    api: Api<K>,
    config: watcher::Config,
    woken_by: impl Fn(&K, &Store<K>) -> Vec<Arc<K>> + Send + 'static,
) -> Controller<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let store = reader.clone();
    // The last reconcile_trigger seen per object: its own updates pass only when that
    // changes (what kube's `predicate_filter` does, which cannot also let the woken through).
    let mut seen: HashMap<ObjectRef<K>, u64> = HashMap::new();
    let stream = watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .flat_map(move |item| {
            let mut out = Vec::new();
            match item {
                Ok(obj) => {
                    out.extend(woken_by(&obj, &store).into_iter().map(|o| Ok((*o).clone())));
                    let key = ObjectRef::from_obj(&obj);
                    let trigger = reconcile_trigger(&obj);
                    if seen.get(&key) != trigger.as_ref() {
                        if let Some(t) = trigger {
                            seen.insert(key, t);
                        }
                        out.push(Ok(obj));
                    }
                    // Deleted objects leave the store; forget their triggers now and then.
                    if seen.len() > 2 * store.len() + 64 {
                        seen.retain(|key, _| store.get(key).is_some());
                    }
                }
                Err(e) => out.push(Err(e)),
            }
            futures::stream::iter(out)
        });
    Controller::for_stream(stream, reader)
}

/// A reference from one object to another, e.g. a Kustomization's `spec.sourceRef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The referenced kind, e.g. `GitRepository`.
    pub kind: String,
    /// Its namespace; `None` means the referring object's own namespace (Flux's rule).
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

/// The objects in `store` one of whose references (read by `references_of`) points at `target`.
///
/// Use it as the mapper of `Controller::watches` on the referenced kind, with the
/// controller's own store:
///
/// ```ignore
/// let store = controller.store();
/// controller.watches(sources, wc, move |repo: GitRepository| {
///     status::referencing(&store, &repo, |k: &Kustomization| vec![k.source_reference()])
/// })
/// ```
pub fn referencing<K, T>(
    store: &Store<K>,
    target: &T,
    references_of: impl Fn(&K) -> Vec<Reference>,
) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone,
    T: Resource<DynamicType = ()>,
{
    let kind = T::kind(&());
    let target_ns = target.namespace();
    let target_name = target.name_any();
    store
        .state()
        .iter()
        .filter(|obj| {
            references_of(obj).into_iter().any(|r| {
                let ns = r.namespace.or_else(|| obj.namespace());
                r.kind == kind && r.name == target_name && ns == target_ns
            })
        })
        .map(|obj| ObjectRef::from_obj(&**obj))
        .collect()
}

/// Applies `status` to the status subresource of `obj` by server-side apply as
/// `field_manager`, forcing ownership of the fields it sets (the controller is the only
/// writer of status). Returns the object as stored.
pub async fn apply_status<K, S>(
    api: &Api<K>,
    obj: &K,
    field_manager: &str,
    status: &S,
) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize,
{
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": { "name": obj.name_any() },
        "status": status,
    });
    let params = PatchParams::apply(field_manager).force();
    api.patch_status(&obj.name_any(), &params, &Patch::Apply(&body))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use std::collections::BTreeMap;

    fn obj(generation: i64, token: Option<&str>) -> ConfigMap {
        let annotations = token
            .map(|t| BTreeMap::from([(RECONCILE_REQUEST_ANNOTATION.to_owned(), t.to_owned())]));
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("x".into()),
                generation: Some(generation),
                annotations,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// A ConfigMap "referencing" a Secret through its data: `kind`, `name`, optional `namespace`.
    fn referrer(ns: &str, name: &str, data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                ..Default::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn secret(ns: &str, name: &str) -> k8s_openapi::api::core::v1::Secret {
        k8s_openapi::api::core::v1::Secret {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn referencing_finds_the_objects_that_point_at_a_target() {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        for cm in [
            referrer("apps", "same-ns", &[("kind", "Secret"), ("name", "creds")]),
            referrer(
                "apps",
                "explicit-ns",
                &[("kind", "Secret"), ("name", "creds"), ("namespace", "apps")],
            ),
            referrer(
                "other",
                "cross-ns",
                &[("kind", "Secret"), ("name", "creds"), ("namespace", "apps")],
            ),
            referrer(
                "other",
                "implicit-other-ns",
                &[("kind", "Secret"), ("name", "creds")],
            ),
            referrer(
                "apps",
                "other-name",
                &[("kind", "Secret"), ("name", "token")],
            ),
            referrer(
                "apps",
                "other-kind",
                &[("kind", "ConfigMap"), ("name", "creds")],
            ),
            referrer("apps", "no-ref", &[]),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(cm));
        }
        let read = |cm: &ConfigMap| {
            let Some(data) = cm.data.as_ref() else {
                return Vec::new();
            };
            let (Some(kind), Some(name)) = (data.get("kind"), data.get("name")) else {
                return Vec::new();
            };
            vec![Reference {
                kind: kind.clone(),
                namespace: data.get("namespace").cloned(),
                name: name.clone(),
            }]
        };
        let mut found: Vec<String> = referencing(&store, &secret("apps", "creds"), read)
            .into_iter()
            .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
            .collect();
        found.sort();
        assert_eq!(
            found,
            ["apps/explicit-ns", "apps/same-ns", "other/cross-ns"]
        );
        assert!(referencing(&store, &secret("nowhere", "creds"), read).is_empty());
    }

    #[test]
    fn request_token_is_read_and_compared_with_the_handled_one() {
        assert_eq!(reconcile_request(&obj(1, None)), None);
        let o = obj(1, Some("2024-01-01T00:00:00Z"));
        assert_eq!(reconcile_request(&o), Some("2024-01-01T00:00:00Z"));
        assert!(reconcile_request_pending(&o, None));
        assert!(reconcile_request_pending(&o, Some("older")));
        assert!(!reconcile_request_pending(&o, Some("2024-01-01T00:00:00Z")));
        assert!(!reconcile_request_pending(&obj(1, None), Some("older")));
    }

    #[test]
    fn trigger_changes_on_generation_token_and_deletion_only() {
        let base = reconcile_trigger(&obj(1, Some("a")));
        assert_eq!(base, reconcile_trigger(&obj(1, Some("a"))));
        assert_ne!(base, reconcile_trigger(&obj(2, Some("a"))));
        assert_ne!(base, reconcile_trigger(&obj(1, Some("b"))));
        assert_ne!(base, reconcile_trigger(&obj(1, None)));
        // A label or status change does not matter.
        let mut labelled = obj(1, Some("a"));
        labelled.metadata.labels = Some(BTreeMap::from([("k".into(), "v".into())]));
        labelled.metadata.resource_version = Some("999".into());
        assert_eq!(base, reconcile_trigger(&labelled));
        let mut deleting = obj(1, Some("a"));
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        assert_ne!(base, reconcile_trigger(&deleting));
    }
}
