//! Step 4, artifact: pack the checkout (minus ignored files and links) into storage and record
//! it. Identical trees give identical digests, so an unchanged tree keeps its digest.

use driftless_api::common::Artifact;
use driftless_api::source::gitrepository::GitRepository;
use driftless_core::conditions::{reasons, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use std::collections::BTreeMap;
use std::path::Path;

use super::{Context, Progress, StepError, key, object_key};
use crate::git::CommitTree;
use crate::sourceignore::SourceFilter;
use crate::storage::{ObjectKey, Storage, StoredArtifact};

pub(super) async fn run(
    obj: &GitRepository,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<(), StepError> {
    let Some((dir, checked)) = &progress.checkout else {
        return Ok(());
    };
    let failed = |reason: &'static str, message: String| {
        StepError::new(reason, message).on(types::STORAGE_OPERATION_FAILED)
    };
    let (ns, name) = object_key(obj);
    let storage = ctx.storage.clone();
    let src = dir.path().to_owned();
    let revision = checked.revision.clone();
    let (worktree, commit) = (checked.worktree, checked.commit);
    let spec_ignore = obj.spec.ignore.clone();
    let sparse = obj.spec.sparse_checkout.clone().unwrap_or_default();
    let stored = tokio::task::spawn_blocking(move || {
        let key = key(&ns, &name);
        let ignore_failed = |e: crate::sourceignore::IgnoreError| {
            failed(reasons::ARCHIVE_OPERATION_FAILED, e.to_string()).stalled()
        };
        let store_failed = |e: crate::storage::StorageError| {
            failed(reasons::ARCHIVE_OPERATION_FAILED, e.to_string())
        };
        if worktree {
            let filter = SourceFilter::load(&src, spec_ignore.as_deref()).map_err(ignore_failed)?;
            storage
                .store(&key, &revision, &src, |p, is_dir| filter.include(p, is_dir))
                .map_err(store_failed)
        } else {
            let tree = CommitTree::open(&src, commit)
                .map_err(|e| failed(reasons::ARCHIVE_OPERATION_FAILED, e.to_string()))?;
            let filter = SourceFilter::load_tree(&src, &tree, spec_ignore.as_deref())
                .map_err(ignore_failed)?;
            storage
                .store_tree(&key, &revision, &tree, |p, is_dir| {
                    within_sparse(&sparse, p, is_dir) && filter.include(p, is_dir)
                })
                .map_err(store_failed)
        }
    })
    .await
    .map_err(|e| failed(reasons::ARCHIVE_OPERATION_FAILED, e.to_string()))??;
    let (ns, name) = object_key(obj);
    let artifact = record(
        &ctx.storage,
        &key(&ns, &name),
        progress.current.as_ref(),
        stored,
        None,
    );
    progress.artifact = Some(artifact);
    Ok(())
}

/// The `status.artifact` for `stored` (any source kind): the current one, its
/// `lastUpdateTime` kept, when nothing about it changed; then older files are collected.
pub(crate) fn record(
    storage: &Storage,
    key: &ObjectKey<'_>,
    current: Option<&Artifact>,
    stored: StoredArtifact,
    metadata: Option<BTreeMap<String, String>>,
) -> Artifact {
    let unchanged = current.filter(|c| {
        c.digest == stored.digest
            && c.revision == stored.revision
            && c.path == stored.path
            && c.metadata == metadata
    });
    let artifact = match unchanged {
        Some(current) => current.clone(),
        None => Artifact {
            path: stored.path,
            url: stored.url,
            revision: stored.revision,
            digest: stored.digest,
            last_update_time: Time(k8s_openapi::jiff::Timestamp::now()),
            size: i64::try_from(stored.size).ok(),
            metadata,
        },
    };
    if let Err(e) = storage.garbage_collect(key, &artifact.path) {
        tracing::warn!(error = %e, "artifact garbage collection failed");
    }
    artifact
}

/// Whether `rel` is inside one of the `spec.sparseCheckout` folders (or a folder on the way
/// to one), as a sparse checkout would have written it; everything when there are none.
fn within_sparse(sparse: &[String], rel: &Path, is_dir: bool) -> bool {
    sparse.is_empty()
        || sparse.iter().any(|dir| {
            let dir = Path::new(dir.trim_matches('/'));
            rel.starts_with(dir) || (is_dir && dir.starts_with(rel))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_folders_keep_their_contents_and_the_folders_leading_to_them() {
        let sparse = vec!["apps/web/".to_owned()];
        assert!(within_sparse(&sparse, Path::new("apps"), true));
        assert!(within_sparse(&sparse, Path::new("apps/web"), true));
        assert!(within_sparse(
            &sparse,
            Path::new("apps/web/deploy.yaml"),
            false
        ));
        assert!(!within_sparse(&sparse, Path::new("apps/readme.md"), false));
        assert!(!within_sparse(&sparse, Path::new("apps/api"), true));
        assert!(!within_sparse(&sparse, Path::new("infra"), true));
        assert!(within_sparse(&[], Path::new("anything"), false));
    }
}
