//! The apply engine: server-side apply of a set of arbitrary objects, as one unit.
//!
//! Written here by hand because no crate does it (it plays the part of Flux's `pkg/ssa`).
//! kustomize-controller uses it with its own field manager.
//!
//! ```text
//!  objects ──plan (GET + dry-run SSA of each)──▶ any error? ──yes──▶ Err, nothing written
//!                                                   │ no
//!     stage 1: CRDs, Namespaces, ClusterRoles, … ◀──┘  (writes only what is not unchanged)
//!        └─ wait until every CRD is Established
//!     plan the deferred objects (their kind or namespace came with stage 1)
//!     stage 2: everything else
//!  ──▶ ChangeSet: created / configured / unchanged / skipped per object, and the inventory
//!
//!  prune(old inventory, new inventory) ──▶ deletes what left, never `prune: disabled`,
//!                                          never what the owner labels do not match
//! ```
//!
//! Why plan first: a set that fails validation anywhere must leave the cluster untouched.
//! Only objects that cannot be validated before stage 1 exists (an instance of a CRD in the
//! same set, an object in a namespace created by the set) are validated after stage 1, as Flux
//! does; an error there stops before any stage-2 write.
//!
//! Why compare the dry-run result with the live object: an unchanged set then costs reads and
//! dry-runs only, no write, so a reconcile that finds no drift changes no `resourceVersion`.
//! Differences on the caller's ignored paths do not count and are not written back
//! ([`ignore`]); fields set with kubectl are taken over before the write, so Git's version
//! wins, unless the object says `ssa: Merge` ([`takeover`]).

mod discovery;
pub mod ignore;
mod object;
pub mod takeover;

pub use discovery::{ResolveError, Resolved, Resolver};
pub use object::{
    FORCE_ANNOTATION, ObjectRef, ObjectRefError, PRUNE_ANNOTATION, SSA_ANNOTATION, SsaPolicy,
    force_enabled, prune_disabled,
};
pub use takeover::FieldManager;

use driftless_api::common::{ResourceInventory, ResourceRef};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::{
    Api, Client,
    api::{DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy},
};
use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    fmt,
    time::Duration,
};

use crate::health;
use futures::{StreamExt as _, TryStreamExt as _};

/// Objects planned at once: enough to hide the API server's latency, few enough not to
/// flood it when many Kustomizations reconcile together.
const PLAN_CONCURRENCY: usize = 8;

/// What happened to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Created,
    Configured,
    Unchanged,
    /// Left alone because of `ssa: Ignore` / `ssa: IfNotPresent`, or `prune: disabled`.
    Skipped,
    Deleted,
}

impl Action {
    /// Flux's word for the action (`created`, `configured`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Skipped => "skipped",
            Action::Deleted => "deleted",
        }
    }
}

/// One object and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub object: ObjectRef,
    pub action: Action,
}

/// What an apply or a prune did, object by object, in the order it was done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    pub changes: Vec<Change>,
}

impl ChangeSet {
    /// True when any object was written or deleted.
    pub fn has_writes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| !matches!(c.action, Action::Unchanged | Action::Skipped))
    }

    /// The action taken on the object with inventory id `id`.
    pub fn action_of(&self, id: &str) -> Option<Action> {
        self.changes
            .iter()
            .find(|c| c.object.id() == id)
            .map(|c| c.action)
    }

    /// The inventory of the applied set (every object but the deleted ones), sorted by id.
    pub fn inventory(&self) -> ResourceInventory {
        let mut entries: Vec<ResourceRef> = self
            .changes
            .iter()
            .filter(|c| c.action != Action::Deleted)
            .map(|c| c.object.to_inventory())
            .collect();
        entries.sort();
        entries.dedup();
        ResourceInventory { entries }
    }

    /// Adds the changes of `other` (a prune after an apply).
    pub fn extend(&mut self, other: ChangeSet) {
        self.changes.extend(other.changes);
    }
}

/// One line per written object: `ConfigMap/ns/a configured` (unchanged ones are left out,
/// as in Flux's events).
impl fmt::Display for ChangeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for c in self
            .changes
            .iter()
            .filter(|c| c.action != Action::Unchanged)
        {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{} {}", c.object, c.action.as_str())?;
        }
        Ok(())
    }
}

/// Why an apply or prune failed. Messages carry the object and the API server's own words.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("object #{index} of the set: {source}")]
    InvalidObject {
        index: usize,
        #[source]
        source: ObjectRefError,
    },
    #[error("{0} appears more than once in the set")]
    Duplicate(ObjectRef),
    #[error("{object}: {source}")]
    Resolve {
        object: ObjectRef,
        #[source]
        source: ResolveError,
    },
    #[error("{object} dry-run failed: {message}")]
    DryRun { object: ObjectRef, message: String },
    #[error(
        "{object} dry-run failed (immutable field; set force or {FORCE_ANNOTATION}: Enabled to recreate it): {message}"
    )]
    Immutable { object: ObjectRef, message: String },
    #[error("{object} apply failed: {message}")]
    Apply { object: ObjectRef, message: String },
    #[error("{object}: reading it failed: {message}")]
    Get { object: ObjectRef, message: String },
    #[error("{object} delete failed: {message}")]
    Delete { object: ObjectRef, message: String },
    #[error("inventory: {0}")]
    Inventory(#[source] ObjectRefError),
    #[error(transparent)]
    Wait(#[from] health::WaitError),
}

/// How to apply a set.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Recreate objects whose update is refused for an immutable field (Flux's `spec.force`).
    /// Objects annotated `kustomize.toolkit.fluxcd.io/force: Enabled` are recreated regardless.
    pub force: bool,
    /// How long to wait for CRDs to be Established and for recreated objects to be gone.
    pub wait_timeout: Duration,
    /// JSON pointers whose drift is not corrected, by object id (`ObjectRef::id`); see
    /// [`ignore`]. The caller resolves its rules' target selectors into this map.
    pub ignore_paths: BTreeMap<String, Vec<String>>,
    /// Managers whose fields this applier takes over before applying, see [`takeover`];
    /// objects annotated `kustomize.toolkit.fluxcd.io/ssa: Merge` keep them.
    pub take_over: Vec<FieldManager>,
    /// Managers whose fields are taken over before the dry-run, written at once (Flux's
    /// `--override-manager-before-dry-run`): a stale manager co-owning part of a field can make
    /// the merged object invalid, and then the dry-run fails on every reconcile before the
    /// take-over after it could repair the ownership.
    pub take_over_before_dry_run: Vec<FieldManager>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            force: false,
            wait_timeout: Duration::from_secs(60),
            ignore_paths: BTreeMap::new(),
            take_over: Vec::new(),
            take_over_before_dry_run: Vec::new(),
        }
    }
}

/// How to prune or delete.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// Only objects carrying all these labels are deleted (the owner's
    /// `kustomize.toolkit.fluxcd.io/name|namespace`), so an object another owner took over
    /// is left alone.
    pub owner_labels: BTreeMap<String, String>,
}

/// Server-side apply under one field manager, with a shared discovery cache.
///
/// For a tenant, build the `Client` with impersonation: every read, dry-run, write and delete
/// then happens with the tenant's rights.
#[derive(Clone)]
pub struct Applier {
    client: Client,
    resolver: Resolver,
    field_manager: String,
}

impl fmt::Debug for Applier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Applier")
            .field("field_manager", &self.field_manager)
            .finish_non_exhaustive()
    }
}

/// The decision for one object after its dry-run.
enum Plan {
    Write { created: bool, recreate: bool },
    Unchanged,
    Skip,
}

struct Planned {
    object: ObjectRef,
    body: DynamicObject,
    api: Api<DynamicObject>,
    plan: Plan,
    /// The live object's managedFields after the take-over, written before the apply.
    managed_fields: Option<Vec<ManagedFieldsEntry>>,
}

enum PlanOutcome {
    Ready(Box<Planned>),
    /// Needs an object of stage 1 to exist before it can be validated.
    Deferred,
}

impl Applier {
    pub fn new(client: Client, resolver: Resolver, field_manager: &str) -> Self {
        Self {
            client,
            resolver,
            field_manager: field_manager.to_owned(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Applies `objects` as one unit (see the module doc). Returns one change per object.
    pub async fn apply_all(
        &self,
        objects: Vec<DynamicObject>,
        opts: &ApplyOptions,
    ) -> Result<ChangeSet, ApplyError> {
        let mut seen = HashSet::new();
        let mut stage1 = Vec::new();
        let mut stage2 = Vec::new();
        for (index, obj) in objects.into_iter().enumerate() {
            let object = ObjectRef::of(&obj)
                .map_err(|source| ApplyError::InvalidObject { index, source })?;
            if !seen.insert(object.id()) {
                return Err(ApplyError::Duplicate(object));
            }
            if object.is_definition() {
                stage1.push((object, obj));
            } else {
                stage2.push((object, obj));
            }
        }
        // What stage 1 brings: kinds served by its CRDs, namespaces it creates.
        let crd_kinds: HashSet<(String, String)> =
            stage1.iter().filter_map(|(r, o)| crd_kind(r, o)).collect();
        let namespaces: HashSet<String> = stage1
            .iter()
            .filter(|(r, _)| r.is_namespace())
            .map(|(r, _)| r.name.clone())
            .collect();

        let mut planned1 = Vec::new();
        for (object, obj) in stage1 {
            // Definitions depend on nothing in the set: they are never deferred.
            planned1.push(self.plan_now(object, obj, opts).await?);
        }
        // Planning only reads (a GET and a dry-run per object), so it runs a few objects at
        // a time; results keep the set's order and the first failure in that order wins.
        let outcomes: Vec<(ObjectRef, DynamicObject, PlanOutcome)> = futures::stream::iter(stage2)
            .map(|(object, obj)| {
                let (crd_kinds, namespaces) = (&crd_kinds, &namespaces);
                async move {
                    let outcome = self
                        .plan(object.clone(), obj.clone(), opts, crd_kinds, namespaces)
                        .await?;
                    Ok::<_, ApplyError>((object, obj, outcome))
                }
            })
            .buffered(PLAN_CONCURRENCY)
            .try_collect()
            .await?;
        let mut planned2 = Vec::new();
        let mut deferred = Vec::new();
        for (object, obj, outcome) in outcomes {
            match outcome {
                PlanOutcome::Ready(p) => planned2.push(*p),
                PlanOutcome::Deferred => deferred.push((object, obj)),
            }
        }

        let mut changes = ChangeSet::default();
        let crds: Vec<ObjectRef> = planned1
            .iter()
            .filter(|p| p.object.is_crd())
            .map(|p| p.object.clone())
            .collect();
        for p in planned1 {
            changes.changes.push(self.execute(p, opts).await?);
        }
        if !crds.is_empty() {
            health::wait(&self.client, &self.resolver, &crds, opts.wait_timeout).await?;
        }
        for (object, obj) in deferred {
            planned2.push(
                self.plan_after_stage1(object, obj, opts, &crd_kinds, &namespaces)
                    .await?,
            );
        }
        for p in planned2 {
            changes.changes.push(self.execute(p, opts).await?);
        }
        Ok(changes)
    }

    /// Plans an object that waited for stage 1.
    ///
    /// A CRD being Established does not mean the API server's discovery already lists its
    /// kind: that catches up a moment later. So while the kind is still unknown (and it is one
    /// stage 1 brought), ask again, bounded by the wait timeout; then plan for real, which
    /// reports whatever is still wrong.
    async fn plan_after_stage1(
        &self,
        object: ObjectRef,
        obj: DynamicObject,
        opts: &ApplyOptions,
        crd_kinds: &HashSet<(String, String)>,
        namespaces: &HashSet<String>,
    ) -> Result<Planned, ApplyError> {
        let deadline = tokio::time::Instant::now() + opts.wait_timeout;
        let mut pause = Duration::from_millis(50);
        while tokio::time::Instant::now() < deadline {
            match self
                .plan(object.clone(), obj.clone(), opts, crd_kinds, namespaces)
                .await?
            {
                PlanOutcome::Ready(p) => return Ok(*p),
                PlanOutcome::Deferred => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
        self.plan_now(object, obj, opts).await
    }

    /// Plans an object that must be valid now (no deferral to after stage 1).
    async fn plan_now(
        &self,
        object: ObjectRef,
        obj: DynamicObject,
        opts: &ApplyOptions,
    ) -> Result<Planned, ApplyError> {
        let (no_kinds, no_namespaces) = (HashSet::new(), HashSet::new());
        match self
            .plan(object.clone(), obj, opts, &no_kinds, &no_namespaces)
            .await?
        {
            PlanOutcome::Ready(p) => Ok(*p),
            // With empty deferral sets `plan` never defers; say so rather than panic.
            PlanOutcome::Deferred => Err(ApplyError::DryRun {
                object,
                message: "cannot be validated: it depends on an object that does not exist".into(),
            }),
        }
    }

    async fn plan(
        &self,
        object: ObjectRef,
        mut body: DynamicObject,
        opts: &ApplyOptions,
        crd_kinds: &HashSet<(String, String)>,
        namespaces: &HashSet<String>,
    ) -> Result<PlanOutcome, ApplyError> {
        let (api, resolved) = match self.resolver.api_for(&self.client, &object).await {
            Ok(found) => found,
            Err(ResolveError::UnknownKind { .. })
                if crd_kinds.contains(&(object.group.clone(), object.kind.clone())) =>
            {
                return Ok(PlanOutcome::Deferred);
            }
            Err(source) => return Err(ApplyError::Resolve { object, source }),
        };
        if !resolved.namespaced {
            // A namespace on a cluster-scoped object is an error for SSA; kustomize may set it.
            body.metadata.namespace = None;
        }
        let live = api
            .get_opt(&object.name)
            .await
            .map_err(|e| ApplyError::Get {
                object: object.clone(),
                message: api_message(&e),
            })?;
        let policy = SsaPolicy::of(body.metadata.annotations.as_ref());
        let live_ignored = live
            .as_ref()
            .is_some_and(|l| SsaPolicy::of(l.metadata.annotations.as_ref()) == SsaPolicy::Ignore);
        if policy == SsaPolicy::Ignore
            || live_ignored
            || (policy == SsaPolicy::IfNotPresent && live.is_some())
        {
            return Ok(PlanOutcome::Ready(Box::new(Planned {
                object,
                body,
                api,
                plan: Plan::Skip,
                managed_fields: None,
            })));
        }
        let live = match live {
            Some(live) => match self.take_over(&body, &live, &opts.take_over_before_dry_run) {
                Some(fields) => Some(self.write_managed_fields(&api, &object, &fields).await?),
                None => Some(live),
            },
            None => None,
        };
        let params = PatchParams::apply(&self.field_manager).force().dry_run();
        let mut managed_fields = None;
        let plan = match api.patch(&object.name, &params, &Patch::Apply(&body)).await {
            Ok(dry) => match &live {
                None => Plan::Write {
                    created: true,
                    recreate: false,
                },
                Some(live) => {
                    let ignored = opts
                        .ignore_paths
                        .get(&object.id())
                        .map_or(&[][..], Vec::as_slice);
                    managed_fields = self.take_over(&body, live, &opts.take_over);
                    if managed_fields.is_none() && same_object(&dry, live, ignored) {
                        Plan::Unchanged
                    } else {
                        body = without_drifted(body, &dry, live, ignored);
                        Plan::Write {
                            created: false,
                            recreate: false,
                        }
                    }
                }
            },
            Err(kube::Error::Api(status))
                if status.code == 404
                    && resolved.namespaced
                    && namespaces.contains(&object.namespace) =>
            {
                return Ok(PlanOutcome::Deferred);
            }
            Err(kube::Error::Api(status)) if is_immutable(&status) && live.is_some() => {
                if opts.force || force_enabled(&body) {
                    Plan::Write {
                        created: true,
                        recreate: true,
                    }
                } else {
                    return Err(ApplyError::Immutable {
                        object,
                        message: status.message,
                    });
                }
            }
            Err(e) => {
                return Err(ApplyError::DryRun {
                    object,
                    message: api_message(&e),
                });
            }
        };
        Ok(PlanOutcome::Ready(Box::new(Planned {
            object,
            body,
            api,
            plan,
            managed_fields,
        })))
    }

    /// The live object's managedFields once this applier took over `managers`' fields;
    /// `None` when there is nothing to take or an `ssa: Merge` annotation (on the manifest or
    /// the live object) says other managers' fields stay.
    fn take_over(
        &self,
        body: &DynamicObject,
        live: &DynamicObject,
        managers: &[FieldManager],
    ) -> Option<Vec<ManagedFieldsEntry>> {
        let merge =
            |o: &DynamicObject| SsaPolicy::of(o.metadata.annotations.as_ref()) == SsaPolicy::Merge;
        if managers.is_empty() || merge(body) || merge(live) {
            return None;
        }
        let entries = live.metadata.managed_fields.as_deref().unwrap_or_default();
        takeover::take_over(entries, managers, &self.field_manager)
    }

    /// Replaces the live object's managedFields with `fields`; returns the object after.
    async fn write_managed_fields(
        &self,
        api: &Api<DynamicObject>,
        object: &ObjectRef,
        fields: &[ManagedFieldsEntry],
    ) -> Result<DynamicObject, ApplyError> {
        // A merge patch replaces the whole list, as Flux's JSON patch does.
        let patch = serde_json::json!({"metadata": {"managedFields": fields}});
        let params = PatchParams {
            field_manager: Some(self.field_manager.clone()),
            ..PatchParams::default()
        };
        api.patch(&object.name, &params, &Patch::Merge(&patch))
            .await
            .map_err(|e| ApplyError::Apply {
                object: object.clone(),
                message: format!("taking over managedFields: {}", api_message(&e)),
            })
    }

    async fn execute(&self, p: Planned, opts: &ApplyOptions) -> Result<Change, ApplyError> {
        let action = match p.plan {
            Plan::Skip => Action::Skipped,
            Plan::Unchanged => Action::Unchanged,
            Plan::Write { created, recreate } => {
                if recreate {
                    self.delete_and_wait(&p.api, &p.object, opts.wait_timeout)
                        .await?;
                } else if let Some(fields) = &p.managed_fields {
                    self.write_managed_fields(&p.api, &p.object, fields).await?;
                }
                let params = PatchParams::apply(&self.field_manager).force();
                p.api
                    .patch(&p.object.name, &params, &Patch::Apply(&p.body))
                    .await
                    .map_err(|e| ApplyError::Apply {
                        object: p.object.clone(),
                        message: api_message(&e),
                    })?;
                if created {
                    Action::Created
                } else {
                    Action::Configured
                }
            }
        };
        Ok(Change {
            object: p.object,
            action,
        })
    }

    async fn delete_and_wait(
        &self,
        api: &Api<DynamicObject>,
        object: &ObjectRef,
        timeout: Duration,
    ) -> Result<(), ApplyError> {
        let delete_err = |e: kube::Error| ApplyError::Delete {
            object: object.clone(),
            message: api_message(&e),
        };
        match api.delete(&object.name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(delete_err(e)),
        }
        let deadline = tokio::time::Instant::now() + timeout;
        wait_gone(api, object, deadline, timeout).await
    }

    /// Waits until every one of `objects` is gone from the API server (finalizers done), all
    /// within `timeout`: what a caller that deleted them and must not move on before they are
    /// terminated needs (Flux's `deletionPolicy: WaitForTermination`).
    pub async fn wait_deleted(
        &self,
        objects: &[ObjectRef],
        timeout: Duration,
    ) -> Result<(), ApplyError> {
        let deadline = tokio::time::Instant::now() + timeout;
        for object in objects {
            let api = match self.resolver.api_for(&self.client, object).await {
                Ok((api, _)) => api,
                // A kind no longer served has no objects left.
                Err(ResolveError::UnknownKind { .. }) => continue,
                Err(source) => {
                    return Err(ApplyError::Resolve {
                        object: object.clone(),
                        source,
                    });
                }
            };
            wait_gone(&api, object, deadline, timeout).await?;
        }
        Ok(())
    }

    /// Deletes the objects of `old` that `new` does not list (by id), see [`Self::delete_all`].
    pub async fn prune(
        &self,
        old: &ResourceInventory,
        new: &ResourceInventory,
        opts: &DeleteOptions,
    ) -> Result<ChangeSet, ApplyError> {
        let keep: BTreeSet<&str> = new.entries.iter().map(|e| e.id.as_str()).collect();
        let gone: Vec<ResourceRef> = old
            .entries
            .iter()
            .filter(|e| !keep.contains(e.id.as_str()))
            .cloned()
            .collect();
        self.delete_all(&gone, opts).await
    }

    /// Deletes the listed objects (background propagation), definitions last, so instances
    /// go before their CRD and objects before their namespace.
    ///
    /// Left alone (reported `skipped`): objects annotated `prune: disabled`, objects missing
    /// the owner labels. Objects already gone, or of a kind no longer served, are not reported.
    pub async fn delete_all(
        &self,
        entries: &[ResourceRef],
        opts: &DeleteOptions,
    ) -> Result<ChangeSet, ApplyError> {
        let mut objects = entries
            .iter()
            .map(ObjectRef::from_inventory)
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApplyError::Inventory)?;
        objects.sort_by_key(|o| (o.is_crd(), o.is_definition()));
        let mut changes = ChangeSet::default();
        for object in objects {
            let api = match self.resolver.api_for(&self.client, &object).await {
                Ok((api, _)) => api,
                Err(ResolveError::UnknownKind { .. }) => continue,
                Err(source) => return Err(ApplyError::Resolve { object, source }),
            };
            let live = api
                .get_opt(&object.name)
                .await
                .map_err(|e| ApplyError::Get {
                    object: object.clone(),
                    message: api_message(&e),
                })?;
            let Some(live) = live else { continue };
            let labels = live.metadata.labels.clone().unwrap_or_default();
            let owned = opts
                .owner_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v));
            let action = if prune_disabled(&live) || !owned {
                Action::Skipped
            } else {
                if live.metadata.deletion_timestamp.is_none() {
                    let params = DeleteParams {
                        propagation_policy: Some(PropagationPolicy::Background),
                        ..DeleteParams::default()
                    };
                    match api.delete(&object.name, &params).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(s)) if s.code == 404 => continue,
                        Err(e) => {
                            return Err(ApplyError::Delete {
                                object,
                                message: api_message(&e),
                            });
                        }
                    }
                }
                Action::Deleted
            };
            changes.changes.push(Change { object, action });
        }
        Ok(changes)
    }
}

/// Polls until `object` is not found; past `deadline`, an error that says it is still there.
async fn wait_gone(
    api: &Api<DynamicObject>,
    object: &ObjectRef,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Result<(), ApplyError> {
    loop {
        let live = api
            .get_opt(&object.name)
            .await
            .map_err(|e| ApplyError::Delete {
                object: object.clone(),
                message: api_message(&e),
            })?;
        if live.is_none() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApplyError::Delete {
                object: object.clone(),
                message: format!("still present {timeout:?} after its deletion (finalizers?)"),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The (group, kind) a CRD manifest defines.
fn crd_kind(r: &ObjectRef, obj: &DynamicObject) -> Option<(String, String)> {
    if !r.is_crd() {
        return None;
    }
    let spec = obj.data.get("spec")?;
    Some((
        spec.get("group")?.as_str()?.to_owned(),
        spec.get("names")?.get("kind")?.as_str()?.to_owned(),
    ))
}

/// True when the API server refused the change because a field is immutable.
fn is_immutable(status: &kube::core::Status) -> bool {
    status.code == 422
        && (status.message.contains("immutable")
            || status.message.contains("Forbidden: updates to"))
}

/// The API server's message (not kube's wrapper text), so conditions quote the server.
fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// Whether a dry-run result equals the live object, ignoring bookkeeping that a no-op
/// apply does not write anyway, and the `ignored` paths (drift there is not corrected).
fn same_object(dry: &DynamicObject, live: &DynamicObject, ignored: &[String]) -> bool {
    let normalized = |o: &DynamicObject| {
        let mut v = serde_json::to_value(o).unwrap_or_default();
        if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            meta.remove("managedFields");
            meta.remove("resourceVersion");
        }
        ignore::without(v, ignored)
    };
    normalized(dry) == normalized(live)
}

/// `body` without the `ignored` paths whose live value differs from the dry-run's, so the
/// apply leaves what another hand set there (Flux strips only these: ignored paths that
/// agree stay in the body, and so stay owned).
fn without_drifted(
    body: DynamicObject,
    dry: &DynamicObject,
    live: &DynamicObject,
    ignored: &[String],
) -> DynamicObject {
    if ignored.is_empty() {
        return body;
    }
    let (Ok(dry), Ok(live), Ok(json)) = (
        serde_json::to_value(dry),
        serde_json::to_value(live),
        serde_json::to_value(&body),
    ) else {
        return body;
    };
    let drifted = ignore::drifted(&live, &dry, ignored);
    if drifted.is_empty() {
        return body;
    }
    serde_json::from_value(ignore::without(json, &drifted)).unwrap_or(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(json: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json).expect("valid object")
    }

    #[test]
    fn unchanged_ignores_managed_fields_and_resource_version_only() {
        let live = obj(
            serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{
            "name":"a","resourceVersion":"1","managedFields":[{"manager":"x"}]},"data":{"k":"v"}}),
        );
        let same = obj(
            serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{
            "name":"a","resourceVersion":"2"},"data":{"k":"v"}}),
        );
        let changed = obj(
            serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{
            "name":"a","resourceVersion":"1"},"data":{"k":"w"}}),
        );
        assert!(same_object(&same, &live, &[]));
        assert!(!same_object(&changed, &live, &[]));
        assert!(same_object(&changed, &live, &["/data/k".to_owned()]));
    }

    #[test]
    fn change_set_lists_writes_and_builds_a_sorted_inventory() {
        let r = |name: &str| ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "ns".into(),
            name: name.into(),
        };
        let set = ChangeSet {
            changes: vec![
                Change {
                    object: r("b"),
                    action: Action::Created,
                },
                Change {
                    object: r("a"),
                    action: Action::Unchanged,
                },
                Change {
                    object: r("c"),
                    action: Action::Deleted,
                },
            ],
        };
        assert!(set.has_writes());
        assert_eq!(
            set.to_string(),
            "ConfigMap/ns/b created\nConfigMap/ns/c deleted"
        );
        let ids: Vec<String> = set.inventory().entries.into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["ns_a__ConfigMap", "ns_b__ConfigMap"]);
        assert_eq!(set.action_of("ns_b__ConfigMap"), Some(Action::Created));
    }

    #[test]
    fn crd_kind_reads_group_and_kind_from_the_spec() {
        let crd = obj(serde_json::json!({"apiVersion":"apiextensions.k8s.io/v1",
            "kind":"CustomResourceDefinition","metadata":{"name":"ws.x.io"},
            "spec":{"group":"x.io","names":{"kind":"W"}}}));
        let r = ObjectRef::of(&crd).expect("ref");
        assert_eq!(crd_kind(&r, &crd), Some(("x.io".into(), "W".into())));
    }
}
