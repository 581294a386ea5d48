//! Step 2: fetch the artifact, once per digest, verified and safely unpacked.

use crate::cache::Tree;
use crate::{Context, StepError, resolve::SourceArtifact};
use driftless_core::{
    artifact::{Digest, FetchOptions, fetch_and_unpack},
    conditions::reasons,
};
use std::time::Instant;

/// The unpacked tree of `artifact`, from the cache (keyed by digest) or downloaded now; trees
/// idle too long or beyond the cache's size are evicted afterwards.
///
/// A download lands in a temporary folder renamed into place, so a crash never leaves a half
/// tree under a digest's name, and concurrent reconciles of the same digest agree.
pub async fn artifact(ctx: &Context, artifact: &SourceArtifact) -> Result<Tree, StepError> {
    let fail = |m: String| StepError::new(reasons::ARTIFACT_FAILED, m);
    let digest = Digest::parse(&artifact.digest).map_err(|e| {
        fail(format!(
            "invalid artifact digest {:?}: {e}",
            artifact.digest
        ))
    })?;
    let tree = match ctx.cache.get(&digest.hex()) {
        Some(tree) => tree,
        None => download(ctx, artifact, &digest).await?,
    };
    let evicted = ctx.cache.evict(Instant::now());
    if evicted > 0 {
        tracing::debug!(evicted, "evicted cached artifacts");
    }
    Ok(tree)
}

async fn download(
    ctx: &Context,
    artifact: &SourceArtifact,
    digest: &Digest,
) -> Result<Tree, StepError> {
    let fail = |m: String| StepError::new(reasons::ARTIFACT_FAILED, m);
    let tmp = tempfile::tempdir_in(ctx.cache.dir())
        .map_err(|e| fail(format!("creating a download folder: {e}")))?;
    let dest = tmp.path().join("tree");
    fetch_and_unpack(
        &ctx.http,
        &artifact.url,
        digest,
        &dest,
        &FetchOptions::default(),
    )
    .await
    .map_err(|e| {
        fail(format!(
            "failed to download artifact from {}: {e}",
            artifact.url
        ))
    })?;
    ctx.cache
        .insert(&digest.hex(), &dest)
        .map_err(|e| fail(format!("storing the artifact: {e}")))
}
