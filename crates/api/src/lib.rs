//! The Flux v2 API types served by Driftless, as Flux v2.10 publishes them (source- and
//! kustomize-controller v1.10, helm-controller v1.7, notification-controller v1.10,
//! image-reflector and image-automation-controller v1.3, source-watcher v2.3): one module per
//! API group, one file per kind, and [`common`] for what several kinds share (artifact,
//! references, inventory, conditions). No I/O: the controllers, the CLI and `cargo xtask crds`
//! build on these types.
//!
//! How the kinds relate (arrows: "is read by"):
//!
//! ```text
//!  source (source.toolkit.fluxcd.io/v1)          appliers
//!  GitRepository ─┐                                 (kustomize.toolkit.fluxcd.io/v1)
//!  OCIRepository ─┼─ status.artifact ─────────────> Kustomization  (spec.sourceRef)
//!  Bucket ────────┤                                 (helm.toolkit.fluxcd.io/v2)
//!  ExternalArtifact ┘            ┌────────────────> HelmRelease    (spec.chartRef)
//!  HelmRepository ─> HelmChart ──┘  HelmRelease.spec.chart creates a HelmChart or an
//!                                    OCIRepository (chart.kind)
//!  source.extensions.fluxcd.io/v1beta1: sources ─> ArtifactGenerator ─> ExternalArtifacts
//!
//!  image.toolkit.fluxcd.io/v1: ImageRepository ─> ImagePolicy ─> ImageUpdateAutomation ─> Git
//!  notification.toolkit.fluxcd.io/v1 (v1beta3 served, deprecated): events ─> Alert ─> Provider;
//!  webhook ─> Receiver
//! ```
//!
//! The CRDs in `config/crd/bases` are generated from these types ([`crd_files`], written by
//! `cargo xtask crds`); tests keep the files in sync and compare them with Flux's CRDs.
//! Schemas come from the derives (`#[kube(...)]`, `#[schemars(...)]`, `#[x_kube(validation)]`
//! for CEL rules); the only post-processing is [`crds`] declaring the root `apiVersion`, `kind`
//! and `metadata` properties and merging the versions of a kind served from several types
//! (notification v1 and v1beta3) into one CRD.

pub mod common;
pub mod extensions;
pub mod helm;
pub mod image;
pub mod kustomize;
pub mod notification;
pub mod source;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD Driftless serves, in a stable order.
pub fn crds() -> Result<Vec<CustomResourceDefinition>, CrdError> {
    let single = [
        source::GitRepository::crd(),
        source::OCIRepository::crd(),
        source::HelmRepository::crd(),
        source::HelmChart::crd(),
        source::Bucket::crd(),
        source::ExternalArtifact::crd(),
        extensions::ArtifactGenerator::crd(),
        kustomize::Kustomization::crd(),
        helm::HelmRelease::crd(),
        image::ImageRepository::crd(),
        image::ImagePolicy::crd(),
        image::ImageUpdateAutomation::crd(),
        notification::Receiver::crd(),
    ];
    let multi = [
        with_deprecated_versions(
            notification::Alert::crd(),
            [notification::v1beta3::Alert::crd()],
        )?,
        with_deprecated_versions(
            notification::Provider::crd(),
            [notification::v1beta3::Provider::crd()],
        )?,
    ];
    Ok(single
        .into_iter()
        .chain(multi)
        .map(with_object_meta_properties)
        .collect())
}

/// One CRD serving `storage`'s version (stored) and each of `deprecated` (served, with the
/// API server's deprecation warning), each with its own type's schema.
///
/// kube's derive describes one version per type; Flux serves older versions of a kind from
/// the same CRD without a conversion webhook (strategy `None`), so objects keep the version
/// they were written in until they are written again.
fn with_deprecated_versions(
    storage: CustomResourceDefinition,
    deprecated: impl IntoIterator<Item = CustomResourceDefinition>,
) -> Result<CustomResourceDefinition, CrdError> {
    // An empty version list is refused by merge_crds below.
    let stored = storage
        .spec
        .versions
        .first()
        .map(|v| v.name.clone())
        .unwrap_or_default();
    let kind = storage.spec.names.kind.clone();
    let mut crds = vec![storage];
    for mut old in deprecated {
        for version in &mut old.spec.versions {
            version.deprecated = Some(true);
            version.deprecation_warning = Some(format!(
                "{} {kind} is deprecated, upgrade to {stored}",
                version.name
            ));
        }
        crds.push(old);
    }
    kube::core::crd::merge_crds(crds, &stored).map_err(|source| CrdError::Merge {
        kind: kind.clone(),
        source,
    })
}

/// Declares `apiVersion`, `kind` and `metadata` in the root schema, as controller-gen does.
///
/// kube's derive leaves them out (the API server knows them anyway), but Flux's CRDs list
/// them and `crd-compat` compares path by path, and `kubectl explain` shows them only when
/// they are declared. This is the one post-processing step applied to the derived schemas.
fn with_object_meta_properties(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
    let string = |description: &str| JSONSchemaProps {
        type_: Some("string".into()),
        description: Some(description.into()),
        ..Default::default()
    };
    for version in &mut crd.spec.versions {
        let Some(root) = version
            .schema
            .as_mut()
            .and_then(|schema| schema.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        let properties = root.properties.get_or_insert_with(Default::default);
        properties.insert(
            "apiVersion".into(),
            string("Versioned schema of this representation of the object."),
        );
        properties.insert(
            "kind".into(),
            string("REST resource this object represents."),
        );
        properties.insert(
            "metadata".into(),
            JSONSchemaProps {
                type_: Some("object".into()),
                ..Default::default()
            },
        );
    }
    crd
}

/// A CRD rendered as a YAML document, with the file name Flux uses for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdFile {
    /// `<group>_<plural>.yaml`, e.g. `source.toolkit.fluxcd.io_gitrepositories.yaml`.
    pub file_name: String,
    /// The YAML document, starting with `---`.
    pub yaml: String,
}

/// A CRD could not be built from the types or rendered as YAML.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// The versions of a kind do not form one CRD (a type declares another group or scope).
    #[error("merging the versions of {kind} into one CRD: {source}")]
    Merge {
        kind: String,
        #[source]
        source: kube::core::crd::MergeError,
    },
    /// serde-saphyr refused the CRD.
    #[error("rendering CRD {name} as YAML: {source}")]
    Render {
        name: String,
        #[source]
        source: serde_saphyr::SerializeError,
    },
}

/// Renders every CRD of [`crds`] as the content of its file in `config/crd/bases`.
pub fn crd_files() -> Result<Vec<CrdFile>, CrdError> {
    crds()?
        .into_iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap_or_default();
            let body = serde_saphyr::to_string(&crd).map_err(|source| CrdError::Render {
                name: name.clone(),
                source,
            })?;
            Ok(CrdFile {
                file_name: format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural),
                yaml: format!("---\n{body}"),
            })
        })
        .collect()
}
