//! Step 1, storage: is the artifact recorded in status still in storage, intact? If not,
//! forget it so the source step does not take the no-op path; then collect garbage.

use driftless_api::common::Artifact;
use driftless_api::source::gitrepository::GitRepository;

use super::{Context, Progress, StepError, key, object_key};
use crate::storage::{ObjectKey, Storage};

pub(super) fn run(
    obj: &GitRepository,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<(), StepError> {
    let (ns, name) = object_key(obj);
    let recorded = obj.status.as_ref().and_then(|s| s.artifact.clone());
    progress.current = current(&ctx.storage, &key(&ns, &name), recorded);
    progress.artifact = progress.current.clone();
    Ok(())
}

/// The `recorded` artifact when its file is still in storage with its digest (any source
/// kind); older files of `key` beyond retention are collected on the way.
pub(crate) fn current(
    storage: &Storage,
    key: &ObjectKey<'_>,
    recorded: Option<Artifact>,
) -> Option<Artifact> {
    let current = recorded.filter(|a| storage.verify(&a.path, &a.digest))?;
    if let Err(e) = storage.garbage_collect(key, &current.path) {
        // GC trouble must not block a reconcile; it is retried next time.
        tracing::warn!(error = %e, "artifact garbage collection failed");
    }
    Some(current)
}

/// The finalizer's cleanup of any source kind: its artifacts leave the storage.
pub(crate) fn remove_artifacts<K: kube::Resource>(
    storage: &Storage,
    kind: &str,
    obj: &K,
) -> Result<(), driftless_core::reconcile::Error> {
    let (ns, name) = (
        obj.meta().namespace.clone().unwrap_or_default(),
        obj.meta().name.clone().unwrap_or_default(),
    );
    let key = ObjectKey {
        kind,
        namespace: &ns,
        name: &name,
    };
    storage.remove_all(&key).map_err(|e| {
        driftless_core::reconcile::Error::Cleanup(format!("removing the artifacts: {e}"))
    })
}
