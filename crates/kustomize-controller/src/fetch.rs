//! Step 2: fetch the artifact, once per digest, verified and safely unpacked.

use crate::{Context, StepError, resolve::SourceArtifact};
use driftless_core::{
    artifact::{Digest, FetchOptions, fetch_and_unpack},
    conditions::reasons,
};
use std::path::PathBuf;

/// The unpacked tree of `artifact`, from the cache (keyed by digest) or downloaded now.
///
/// A download lands in a temporary folder renamed into place, so a crash never leaves a half
/// tree under a digest's name, and concurrent reconciles of the same digest agree.
pub async fn artifact(ctx: &Context, artifact: &SourceArtifact) -> Result<PathBuf, StepError> {
    let fail = |m: String| StepError::new(reasons::ARTIFACT_FAILED, m);
    let digest = Digest::parse(&artifact.digest).map_err(|e| {
        fail(format!(
            "invalid artifact digest {:?}: {e}",
            artifact.digest
        ))
    })?;
    let dir = ctx.cache_dir.join(digest.hex());
    if dir.is_dir() {
        return Ok(dir);
    }
    let tmp = tempfile::tempdir_in(&ctx.cache_dir)
        .map_err(|e| fail(format!("creating a download folder: {e}")))?;
    let dest = tmp.path().join("tree");
    fetch_and_unpack(
        &ctx.http,
        &artifact.url,
        &digest,
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
    match std::fs::rename(&dest, &dir) {
        Ok(()) => Ok(dir),
        Err(_) if dir.is_dir() => Ok(dir), // another reconcile won the race
        Err(e) => Err(fail(format!("storing the artifact: {e}"))),
    }
}
