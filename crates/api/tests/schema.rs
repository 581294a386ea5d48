//! Properties of the generated schemas that crd-compat does not look at.

use driftless_api::source::GitRepository;
use kube::CustomResourceExt;

/// `kubectl explain gitrepository.spec.provider` should describe the field, not the enum type
/// behind it (kube's rewrite of `Option<Enum>` would otherwise copy the type's doc over it).
#[test]
fn optional_enum_fields_keep_their_own_description() {
    let crd = serde_json::to_value(GitRepository::crd()).expect("CRD serializes");
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let provider = &spec["properties"]["provider"];
    let description = provider["description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with("How to authenticate"),
        "spec.provider description is {description:?}"
    );
    assert_eq!(provider["enum"].as_array().map(Vec::len), Some(4));
}

/// Alert and Provider are served as v1 (stored) and v1beta3 (deprecated, with the warning
/// Flux's CRDs give), each with its own schema: `summary` only in v1beta3, `mastodon` only in v1.
#[test]
fn notification_kinds_store_v1_and_serve_v1beta3_deprecated() {
    let crds = driftless_api::crds().expect("CRDs build");
    for (name, kind) in [
        ("alerts.notification.toolkit.fluxcd.io", "Alert"),
        ("providers.notification.toolkit.fluxcd.io", "Provider"),
    ] {
        let crd = crds
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} is generated"));
        assert!(
            crd.spec.conversion.is_none(),
            "{name}: no conversion webhook"
        );
        let versions: Vec<_> = crd
            .spec
            .versions
            .iter()
            .map(|v| (v.name.as_str(), v.served, v.storage, v.deprecated))
            .collect();
        assert_eq!(
            versions,
            [
                ("v1", true, true, None),
                ("v1beta3", true, false, Some(true))
            ],
            "{name}"
        );
        assert_eq!(
            crd.spec.versions[1].deprecation_warning.as_deref(),
            Some(format!("v1beta3 {kind} is deprecated, upgrade to v1").as_str())
        );
    }
    let spec_of = |name: &str, version: usize| {
        let crd = crds
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .expect("generated");
        let json = serde_json::to_value(&crd.spec.versions[version]).expect("serializes");
        json["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"].clone()
    };
    let alerts = "alerts.notification.toolkit.fluxcd.io";
    assert!(spec_of(alerts, 0).get("summary").is_none());
    assert!(spec_of(alerts, 1).get("summary").is_some());
    let providers = "providers.notification.toolkit.fluxcd.io";
    let types = |version| spec_of(providers, version)["type"]["enum"].clone();
    assert!(
        types(0)
            .as_array()
            .is_some_and(|t| t.contains(&"mastodon".into()))
    );
    assert!(
        types(1)
            .as_array()
            .is_some_and(|t| !t.contains(&"mastodon".into()))
    );
    assert!(
        types(1)
            .as_array()
            .is_some_and(|t| t.contains(&"zoom".into()))
    );
}
