//! Step 4, artifact: pack the checkout (minus ignored files and links) into storage and record
//! it. Identical trees give identical digests, so an unchanged tree keeps its digest.

use driftless_api::common::Artifact;
use driftless_api::source::gitrepository::GitRepository;
use driftless_core::conditions::{reasons, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{Context, Progress, StepError, key, object_key};
use crate::sourceignore::SourceFilter;

pub(super) async fn run(
    obj: &GitRepository,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<(), StepError> {
    let Some((dir, checked)) = &progress.checkout else {
        return Ok(());
    };
    let failed = |reason: &'static str, message: String| {
        StepError::new(types::STORAGE_OPERATION_FAILED, reason, message)
    };
    let filter = SourceFilter::load(dir.path(), obj.spec.ignore.as_deref())
        .map_err(|e| failed(reasons::ARCHIVE_OPERATION_FAILED, e.to_string()).stalled())?;
    let (ns, name) = object_key(obj);
    let storage = ctx.storage.clone();
    let src = dir.path().to_owned();
    let revision = checked.revision.clone();
    let stored = tokio::task::spawn_blocking(move || {
        storage.store(&key(&ns, &name), &revision, &src, |p, is_dir| {
            filter.include(p, is_dir)
        })
    })
    .await
    .map_err(|e| failed(reasons::ARCHIVE_OPERATION_FAILED, e.to_string()))?
    .map_err(|e| failed(reasons::ARCHIVE_OPERATION_FAILED, e.to_string()))?;
    let unchanged = progress.current.as_ref().filter(|c| {
        c.digest == stored.digest && c.revision == stored.revision && c.path == stored.path
    });
    let artifact = match unchanged {
        Some(current) => current.clone(),
        None => Artifact {
            path: stored.path,
            url: stored.url,
            revision: stored.revision,
            digest: stored.digest,
            last_update_time: Time(jiff_now()),
            size: i64::try_from(stored.size).ok(),
            metadata: None,
        },
    };
    let (ns, name) = object_key(obj);
    if let Err(e) = ctx
        .storage
        .garbage_collect(&key(&ns, &name), &artifact.path)
    {
        tracing::warn!(error = %e, "artifact garbage collection failed");
    }
    progress.artifact = Some(artifact);
    Ok(())
}

fn jiff_now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}
