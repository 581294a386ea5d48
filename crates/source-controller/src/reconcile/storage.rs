//! Step 1, storage: is the artifact recorded in status still in storage, intact? If not,
//! forget it so the source step does not take the no-op path; then collect garbage.

use driftless_api::source::gitrepository::GitRepository;

use super::{Context, Progress, StepError, key, object_key};

pub(super) fn run(
    obj: &GitRepository,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<(), StepError> {
    let recorded = obj.status.as_ref().and_then(|s| s.artifact.clone());
    progress.current = recorded.filter(|a| ctx.storage.verify(&a.path, &a.digest));
    progress.artifact = progress.current.clone();
    if let Some(current) = &progress.current {
        let (ns, name) = object_key(obj);
        if let Err(e) = ctx.storage.garbage_collect(&key(&ns, &name), &current.path) {
            // GC trouble must not block a reconcile; it is retried next time.
            tracing::warn!(error = %e, "artifact garbage collection failed");
        }
    }
    Ok(())
}
