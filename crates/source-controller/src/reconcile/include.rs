//! Step 3, include: other GitRepositories' artifacts copied (`fromPath` → `toPath`) into the
//! checkout. [`resolve`] finds them before the no-op check (which compares them with
//! `status.includedArtifacts`); [`copy`] unpacks them into a fresh checkout. They are read
//! from this controller's own storage, digest checked first.

use std::path::{Component, Path, PathBuf};

use driftless_api::common::Artifact;
use driftless_api::source::gitrepository::GitRepository;
use driftless_core::artifact::{Limits, unpack_file};
use driftless_core::conditions::{reasons, types};
use kube::{Api, ResourceExt as _};

use super::{Context, Progress, StepError};

/// Flux's `IncludeUnavailable` reason when the included GitRepository cannot be read.
const NOT_FOUND: &str = "NotFound";
/// Flux's `IncludeUnavailable` reason when the included GitRepository has no artifact yet.
const NO_ARTIFACT: &str = "NoArtifact";

fn unavailable(message: impl Into<String>) -> StepError {
    unavailable_because(reasons::ARTIFACT_FAILED, message)
}

fn unavailable_because(reason: &'static str, message: impl Into<String>) -> StepError {
    StepError::new(reason, message).on(types::INCLUDE_UNAVAILABLE)
}

/// A relative path with only normal components (no `..`, not absolute).
fn safe_relative(p: &str) -> Option<&Path> {
    let path = Path::new(p.trim_start_matches("./"));
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        .then_some(path)
}

/// An included repository's artifact, found and checked, waiting to be copied.
pub struct Included {
    /// The included repository's artifact (recorded in `status.includedArtifacts`).
    pub artifact: Artifact,
    /// Its file in storage.
    file: PathBuf,
    name: String,
    from: PathBuf,
    to: PathBuf,
}

/// Find every included repository's artifact in storage (digest checked), before anything is
/// fetched: the no-op check compares them with the ones the current artifact was built with.
pub(super) async fn resolve(
    obj: &GitRepository,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<(), StepError> {
    let includes = obj.spec.include.clone().unwrap_or_default();
    if includes.is_empty() {
        return Ok(());
    }
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<GitRepository> = Api::namespaced(ctx.runtime.client.clone(), &ns);
    for include in includes {
        let name = &include.repository.name;
        let from = include.from_path.as_deref().unwrap_or(".");
        let to = include.to_path.as_deref().unwrap_or(name);
        let (Some(from), Some(to)) = (safe_relative(from), safe_relative(to)) else {
            return Err(unavailable(format!(
                "include of '{name}': fromPath and toPath must be relative paths without '..'"
            ))
            .stalled());
        };
        let other = api
            .get_opt(name)
            .await
            .map_err(|e| {
                unavailable_because(
                    NOT_FOUND,
                    format!("reading GitRepository '{ns}/{name}': {e}"),
                )
            })?
            .ok_or_else(|| {
                unavailable_because(
                    NOT_FOUND,
                    format!("included GitRepository '{ns}/{name}' not found"),
                )
            })?;
        let artifact = other
            .status
            .as_ref()
            .and_then(|s| s.artifact.clone())
            .ok_or_else(|| {
                unavailable_because(
                    NO_ARTIFACT,
                    format!("included GitRepository '{ns}/{name}' has no artifact yet"),
                )
            })?;
        if !ctx.storage.verify(&artifact.path, &artifact.digest) {
            return Err(unavailable(format!(
                "the artifact of '{ns}/{name}' is missing from storage or does not match its digest"
            )));
        }
        let file = ctx.storage.resolve(&artifact.path).ok_or_else(|| {
            unavailable(format!("the artifact of '{ns}/{name}' is not in storage"))
        })?;
        progress.includes.push(Included {
            artifact,
            file,
            name: name.clone(),
            from: from.to_owned(),
            to: to.to_owned(),
        });
    }
    Ok(())
}

/// Copy each included artifact's `fromPath` to `toPath` in the checkout. The artifact is
/// unpacked with the safe unpacker, so it cannot write outside the checkout.
pub(super) fn copy(progress: &Progress) -> Result<(), StepError> {
    let Some((dir, _)) = &progress.checkout else {
        return Ok(());
    };
    for Included {
        file,
        name,
        from,
        to,
        ..
    } in &progress.includes
    {
        let staging = tempfile::tempdir()
            .map_err(|e| unavailable(format!("creating a temporary directory: {e}")))?;
        let unpack_dir = staging.path().join("a");
        unpack_file(file, &unpack_dir, &Limits::default())
            .map_err(|e| unavailable(format!("unpacking the artifact of '{name}': {e}")))?;
        copy_tree(&unpack_dir.join(from), &dir.path().join(to)).map_err(|e| {
            unavailable(format!(
                "copying '{name}' {} to {}: {e}",
                from.display(),
                to.display()
            ))
        })?;
    }
    Ok(())
}

/// Copy regular files and directories (never links) from `src` to `dst`.
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    if meta.is_file() {
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(src, dst)?;
        return Ok(());
    }
    if !meta.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        copy_tree(&entry.path(), &dst.join(entry.file_name()))?;
    }
    Ok(())
}
