//! Which layer of an artifact a source uses (`layerSelector`), and the revision it reports.

use oci_client::manifest::{OciDescriptor, OciImageManifest};

use crate::Error;

/// Flux's artifact layer (`flux push artifact`): a tar+gzip of the manifests.
pub const FLUX_CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
/// Flux's artifact config media type (an empty JSON object).
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// A Helm chart's layer (`helm push`): the chart `.tgz`.
pub const HELM_CHART_CONTENT_MEDIA_TYPE: &str =
    "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// A Helm chart's config media type (the Chart.yaml as JSON).
pub const HELM_CHART_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";

/// The layer a source uses: the first whose media type is `media_type`
/// (`spec.layerSelector.mediaType`), or the first layer when no selector is set, as Flux does.
pub fn select_layer<'m>(
    manifest: &'m OciImageManifest,
    media_type: Option<&str>,
) -> Result<&'m OciDescriptor, Error> {
    let found = match media_type.filter(|m| !m.is_empty()) {
        Some(wanted) => manifest.layers.iter().find(|l| l.media_type == wanted),
        None => manifest.layers.first(),
    };
    found.ok_or_else(|| Error::LayerNotFound {
        media_type: media_type.unwrap_or("<any>").to_owned(),
        available: manifest
            .layers
            .iter()
            .map(|l| l.media_type.clone())
            .collect(),
    })
}

/// The artifact revision Flux reports: `<tag>@sha256:<hex>`, or the digest alone when the
/// source names a digest and no tag.
pub fn revision(tag: Option<&str>, digest: &str) -> String {
    match tag.filter(|t| !t.is_empty()) {
        Some(tag) => format!("{tag}@{digest}"),
        None => digest.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(types: &[&str]) -> OciImageManifest {
        OciImageManifest {
            layers: types
                .iter()
                .enumerate()
                .map(|(i, t)| OciDescriptor {
                    media_type: (*t).to_owned(),
                    digest: format!("sha256:{i:064}"),
                    size: 1,
                    ..OciDescriptor::default()
                })
                .collect(),
            ..OciImageManifest::default()
        }
    }

    #[test]
    fn selects_the_first_layer_of_the_media_type() {
        let m = manifest(&["a/b", FLUX_CONTENT_MEDIA_TYPE, FLUX_CONTENT_MEDIA_TYPE]);
        let layer = select_layer(&m, Some(FLUX_CONTENT_MEDIA_TYPE)).unwrap();
        assert_eq!(layer.digest, format!("sha256:{:064}", 1));
        assert_eq!(select_layer(&m, None).unwrap().media_type, "a/b");
        assert_eq!(select_layer(&m, Some("")).unwrap().media_type, "a/b");
    }

    #[test]
    fn a_missing_media_type_names_what_there_is() {
        let m = manifest(&[HELM_CHART_CONTENT_MEDIA_TYPE]);
        let err = select_layer(&m, Some(FLUX_CONTENT_MEDIA_TYPE)).unwrap_err();
        assert_eq!(err.reason(), crate::error::REASON_LAYER_OPERATION_FAILED);
        let text = err.to_string();
        assert!(
            text.contains(FLUX_CONTENT_MEDIA_TYPE) && text.contains(HELM_CHART_CONTENT_MEDIA_TYPE),
            "{text}"
        );
        assert!(text.contains("layerSelector"), "{text}");
        assert!(select_layer(&manifest(&[]), None).is_err());
    }

    #[test]
    fn revisions() {
        assert_eq!(revision(Some("v1.0.0"), "sha256:ab"), "v1.0.0@sha256:ab");
        assert_eq!(revision(None, "sha256:ab"), "sha256:ab");
        assert_eq!(revision(Some(""), "sha256:ab"), "sha256:ab");
    }
}
