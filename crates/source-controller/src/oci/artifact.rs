//! Step 3, artifact: pull the manifest at the resolved digest, the layer `layerSelector`
//! picks, and store it: `extract` unpacks the layer's tar.gz with the safe unpacker and
//! repacks it (minus `spec.ignore` and `.sourceignore`), so the same files give the same
//! digest; `copy` stores the layer's bytes as they are. The manifest's annotations become the
//! artifact's metadata, as Flux copies them.

use std::path::Path;

use driftless_api::source::ocirepository::{OCILayerOperation, OCIRepository};
use driftless_core::artifact::{Limits, Revision, unpack_file};
use driftless_core::conditions::{reasons, types};
use driftless_oci::{Manifest, REASON_LAYER_OPERATION_FAILED, REASON_PULL_FAILED};

use super::source::oci_step_error;
use super::{Progress, key, object_key};
use crate::reconcile::{Context, StepError};
use crate::sourceignore::SourceFilter;

fn storage_failed(reason: &'static str, message: String) -> StepError {
    StepError::new(reason, message).on(types::STORAGE_OPERATION_FAILED)
}

fn layer_failed(message: String) -> StepError {
    StepError::new(REASON_LAYER_OPERATION_FAILED, message).on(types::FETCH_FAILED)
}

pub(super) async fn run(
    obj: &OCIRepository,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<(), StepError> {
    let Some(remote) = &progress.remote else {
        return Ok(());
    };
    let fetched = remote
        .client
        .fetch_manifest(&remote.repo, &remote.digest)
        .await
        .map_err(oci_step_error)?;
    let manifest = match fetched.manifest {
        Manifest::Image(m) => m,
        Manifest::Index(_) => {
            return Err(StepError::new(
                REASON_PULL_FAILED,
                format!(
                    "{}@{} is an image index ({}), not an artifact: point spec.url and spec.ref \
                     at an artifact pushed with `flux push artifact` or a Helm chart",
                    remote.repo, remote.digest, fetched.media_type
                ),
            )
            .on(types::FETCH_FAILED));
        }
    };
    let selector = obj.spec.layer_selector.clone().unwrap_or_default();
    let layer = driftless_oci::select_layer(&manifest, selector.media_type.as_deref())
        .map_err(oci_step_error)?;
    let dir = tempfile::tempdir().map_err(|e| {
        storage_failed(
            reasons::DIR_CREATION_FAILED,
            format!("creating a temporary directory: {e}"),
        )
    })?;
    let blob = dir.path().join("layer.tgz");
    remote
        .client
        .fetch_blob(&remote.repo, layer, &blob, ctx.limits.max_fetch_bytes)
        .await
        .map_err(oci_step_error)?;
    let revision = Revision::parse(&remote.revision).map_err(|e| {
        StepError::new(REASON_PULL_FAILED, format!("revision: {e}")).on(types::FETCH_FAILED)
    })?;
    let (ns, name) = object_key(obj);
    let (blocking_ns, blocking_name) = (ns.clone(), name.clone());
    let storage = ctx.storage.clone();
    let operation = selector.operation.unwrap_or_default();
    let ignore = obj.spec.ignore.clone();
    let work = dir.path().to_owned();
    let stored = tokio::task::spawn_blocking(move || {
        store(
            &storage,
            &key(&blocking_ns, &blocking_name),
            &revision,
            &work,
            operation,
            ignore.as_deref(),
        )
    })
    .await
    .map_err(|e| storage_failed(reasons::ARCHIVE_OPERATION_FAILED, e.to_string()))??;
    drop(dir);
    let artifact = crate::reconcile::artifact::record(
        &ctx.storage,
        &key(&ns, &name),
        progress.current.as_ref(),
        stored,
        manifest.annotations.clone().filter(|a| !a.is_empty()),
    );
    progress.artifact = Some(artifact);
    Ok(())
}

/// Store the layer at `work/layer.tgz` as `operation` says. Blocking (unpack, pack, copy).
fn store(
    storage: &crate::storage::Storage,
    key: &crate::storage::ObjectKey<'_>,
    revision: &Revision,
    work: &Path,
    operation: OCILayerOperation,
    ignore: Option<&str>,
) -> Result<crate::storage::StoredArtifact, StepError> {
    let blob = work.join("layer.tgz");
    let store_failed = |e: crate::storage::StorageError| {
        storage_failed(reasons::ARCHIVE_OPERATION_FAILED, e.to_string())
    };
    match operation {
        OCILayerOperation::Copy => storage
            .store_file(key, revision, &blob)
            .map_err(store_failed),
        OCILayerOperation::Extract => {
            let root = work.join("content");
            unpack_file(&blob, &root, &Limits::default()).map_err(|e| {
                layer_failed(format!(
                    "extracting the layer: {e}; the layer must be a tar.gz (or set \
                     spec.layerSelector.operation to 'copy' to store it as it is)"
                ))
            })?;
            let filter = SourceFilter::load(&root, ignore).map_err(|e| {
                storage_failed(reasons::ARCHIVE_OPERATION_FAILED, e.to_string()).stalled()
            })?;
            storage
                .store(key, revision, &root, |p, is_dir| filter.include(p, is_dir))
                .map_err(store_failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{ObjectKey, Retention, Storage};

    const KEY: ObjectKey<'static> = ObjectKey {
        kind: "ocirepository",
        namespace: "ns",
        name: "app",
    };

    fn tgz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // Written raw so that hostile names (`..`) reach the unpacker.
            header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *data).expect("append");
        }
        builder.into_inner().expect("tar").finish().expect("gzip")
    }

    fn setup(layer: &[u8]) -> (tempfile::TempDir, Storage, Revision) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let storage =
            Storage::new(tmp.path().join("s"), "h:80", Retention::default()).expect("storage");
        std::fs::create_dir_all(tmp.path().join("w")).expect("mkdir");
        std::fs::write(tmp.path().join("w/layer.tgz"), layer).expect("write");
        let rev = Revision::new(Some("v1"), "sha256", &"a".repeat(64)).expect("revision");
        (tmp, storage, rev)
    }

    fn files(storage: &Storage, path: &str) -> Vec<String> {
        let file = storage.resolve(path).expect("stored");
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
            std::fs::File::open(file).expect("open"),
        ));
        let mut names: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn extract_repacks_without_ignored_files_and_copy_keeps_the_bytes() {
        let layer = tgz(&[
            ("deploy/app.yaml", b"kind: ConfigMap\n"),
            ("notes.md", b"# notes"),
        ]);
        let (tmp, storage, rev) = setup(&layer);
        let work = tmp.path().join("w");
        let extracted = store(
            &storage,
            &KEY,
            &rev,
            &work,
            OCILayerOperation::Extract,
            Some("*.md"),
        )
        .expect("extract");
        let names = files(&storage, &extracted.path);
        assert!(names.iter().any(|n| n.ends_with("app.yaml")), "{names:?}");
        assert!(!names.iter().any(|n| n.ends_with("notes.md")), "{names:?}");
        let copied =
            store(&storage, &KEY, &rev, &work, OCILayerOperation::Copy, None).expect("copy");
        let bytes = std::fs::read(storage.resolve(&copied.path).expect("stored")).expect("read");
        assert_eq!(bytes, layer, "copy stores the layer unchanged");
    }

    #[test]
    fn a_hostile_or_corrupt_layer_is_a_layer_operation_failure() {
        for layer in [tgz(&[("../escape.yaml", b"x")]), b"not a tarball".to_vec()] {
            let (tmp, storage, rev) = setup(&layer);
            let err = store(
                &storage,
                &KEY,
                &rev,
                &tmp.path().join("w"),
                OCILayerOperation::Extract,
                None,
            )
            .expect_err("refused");
            assert_eq!(err.reason, REASON_LAYER_OPERATION_FAILED);
            assert!(err.message.contains("extracting the layer"), "{err}");
            assert!(!tmp.path().join("escape.yaml").exists());
            assert!(!tmp.path().join("w/escape.yaml").exists());
        }
    }
}
