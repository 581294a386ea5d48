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
