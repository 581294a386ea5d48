//! Bad input: every case fails with an error that names the offending file or directory,
//! never a panic or a hang.

use std::fs;
use std::path::Path;

use driftless_kustomize::{BuildOptions, Error, build};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = root.join(path);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("create dirs");
        }
        fs::write(p, text).expect("write file");
    }
}

fn build_err(files: &[(&str, &str)], dir: &str) -> (Error, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), files);
    let err =
        build(&tmp.path().join(dir), &BuildOptions::default()).expect_err("build should fail");
    let msg = err.to_string();
    (err, msg)
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";

#[test]
fn missing_resource_file_is_named() {
    let (err, msg) = build_err(
        &[("kustomization.yaml", "resources: [missing.yaml]\n")],
        ".",
    );
    assert!(matches!(err, Error::MissingResource { .. }), "{err:?}");
    assert!(msg.contains("missing.yaml"), "{msg}");
}

#[test]
fn missing_kustomization_file_is_reported() {
    let (err, msg) = build_err(&[("other.yaml", CM)], ".");
    assert!(matches!(err, Error::NoKustomization { .. }), "{err:?}");
    assert!(msg.contains("kustomization.yaml"), "{msg}");
}

#[test]
fn missing_patch_file_is_named() {
    let (_, msg) = build_err(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\npatches:\n- path: nope.yaml\n",
            ),
            ("cm.yaml", CM),
        ],
        ".",
    );
    assert!(msg.contains("nope.yaml"), "{msg}");
}

#[test]
fn cycle_between_bases_is_detected() {
    let (err, msg) = build_err(
        &[
            ("a/kustomization.yaml", "resources: [../b]\n"),
            ("b/kustomization.yaml", "resources: [../a]\n"),
        ],
        "a",
    );
    assert!(matches!(err, Error::Cycle { .. }), "{err:?}");
    assert!(msg.contains("/a"), "{msg}");
}

#[test]
fn self_reference_is_a_cycle() {
    let (err, _) = build_err(&[("kustomization.yaml", "resources: [.]\n")], ".");
    assert!(matches!(err, Error::Cycle { .. }), "{err:?}");
}

#[test]
fn duplicate_ids_are_refused() {
    let (err, msg) = build_err(
        &[
            ("kustomization.yaml", "resources: [a.yaml, b.yaml]\n"),
            ("a.yaml", CM),
            ("b.yaml", CM),
        ],
        ".",
    );
    assert!(matches!(err, Error::DuplicateId { .. }), "{err:?}");
    assert!(
        msg.contains("ConfigMap") && msg.contains("cm") && msg.contains("kustomization.yaml"),
        "{msg}"
    );
}

#[test]
fn patch_without_target_resource_fails() {
    let (_, msg) = build_err(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\npatches:\n- patch: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: absent\n    data: {a: b}\n",
            ),
            ("cm.yaml", CM),
        ],
        ".",
    );
    assert!(
        msg.contains("no resource matches") && msg.contains("absent"),
        "{msg}"
    );
    assert!(msg.contains("kustomization.yaml"), "{msg}");
}

#[test]
fn invalid_yaml_names_the_file() {
    let (err, msg) = build_err(
        &[
            ("kustomization.yaml", "resources: [bad.yaml]\n"),
            ("bad.yaml", "kind: [unclosed\n"),
        ],
        ".",
    );
    assert!(matches!(err, Error::Yaml { .. }), "{err:?}");
    assert!(msg.contains("bad.yaml"), "{msg}");
}

#[test]
fn invalid_kustomization_yaml_names_the_file() {
    let (_, msg) = build_err(&[("kustomization.yaml", "resources: [a\n  b: c\n")], ".");
    assert!(msg.contains("kustomization.yaml"), "{msg}");
}

#[test]
fn unknown_kustomization_field_is_refused() {
    let (err, msg) = build_err(
        &[("kustomization.yaml", "resources: []\nnamePrefx: x-\n")],
        ".",
    );
    assert!(matches!(err, Error::Kustomization { .. }), "{err:?}");
    assert!(
        msg.contains("namePrefx") && msg.contains("kustomization.yaml"),
        "{msg}"
    );
}

#[test]
fn file_outside_root_is_refused() {
    let (err, msg) = build_err(
        &[
            ("app/kustomization.yaml", "resources: [../secret.yaml]\n"),
            ("secret.yaml", CM),
        ],
        "app",
    );
    assert!(matches!(err, Error::OutsideRoot { .. }), "{err:?}");
    assert!(msg.contains("secret.yaml"), "{msg}");
}

#[test]
fn generator_file_outside_root_is_refused() {
    let (err, _) = build_err(
        &[(
            "app/kustomization.yaml",
            "configMapGenerator:\n- name: x\n  files: [../../etc/passwd]\n",
        )],
        "app",
    );
    assert!(
        matches!(err, Error::OutsideRoot { .. } | Error::Io { .. }),
        "{err:?}"
    );
}

#[cfg(unix)]
#[test]
fn symlink_leaving_root_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        tmp.path(),
        &[
            ("outside.yaml", CM),
            ("app/kustomization.yaml", "resources: [link.yaml]\n"),
        ],
    );
    std::os::unix::fs::symlink(
        tmp.path().join("outside.yaml"),
        tmp.path().join("app/link.yaml"),
    )
    .expect("symlink");
    let err = build(&tmp.path().join("app"), &BuildOptions::default()).expect_err("must fail");
    assert!(matches!(err, Error::OutsideRoot { .. }), "{err:?}");
}

#[test]
fn alias_bomb_fails_fast() {
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..15 {
        let p = i - 1;
        bomb.push_str(&format!(
            "x{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let (err, msg) = build_err(
        &[
            ("kustomization.yaml", "resources: [bomb.yaml]\n"),
            ("bomb.yaml", &bomb),
        ],
        ".",
    );
    assert!(matches!(err, Error::Yaml { .. }), "{err:?}");
    assert!(msg.contains("bomb.yaml"), "{msg}");
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: ");
    text.push_str(&"[".repeat(100_000));
    text.push_str(&"]".repeat(100_000));
    let (err, _) = build_err(
        &[
            ("kustomization.yaml", "resources: [deep.yaml]\n"),
            ("deep.yaml", &text),
        ],
        ".",
    );
    assert!(matches!(err, Error::Yaml { .. }), "{err:?}");
}

#[test]
fn remote_base_is_refused_by_default() {
    let (err, msg) = build_err(
        &[(
            "kustomization.yaml",
            "resources:\n- https://github.com/example/repo//deploy?ref=v1\n",
        )],
        ".",
    );
    assert!(matches!(err, Error::RemoteRefused { .. }), "{err:?}");
    assert!(msg.contains("github.com/example/repo"), "{msg}");
}

#[test]
fn component_in_resources_is_refused() {
    let (_, msg) = build_err(
        &[
            ("kustomization.yaml", "resources: [comp]\n"),
            (
                "comp/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
            ),
        ],
        ".",
    );
    assert!(msg.contains("Component") && msg.contains("comp"), "{msg}");
}

#[test]
fn resource_without_kind_or_name_is_refused() {
    let (_, msg) = build_err(
        &[
            ("kustomization.yaml", "resources: [x.yaml]\n"),
            ("x.yaml", "metadata: {name: x}\n"),
        ],
        ".",
    );
    assert!(msg.contains("x.yaml") && msg.contains("kind"), "{msg}");
    let (_, msg) = build_err(
        &[
            ("kustomization.yaml", "resources: [x.yaml]\n"),
            ("x.yaml", "kind: ConfigMap\n"),
        ],
        ".",
    );
    assert!(msg.contains("x.yaml") && msg.contains("name"), "{msg}");
}

#[test]
fn failing_json_patch_names_its_target() {
    let (_, msg) = build_err(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\npatches:\n- target: {kind: ConfigMap}\n  patch: |\n    - op: remove\n      path: /data/absent\n",
            ),
            ("cm.yaml", CM),
        ],
        ".",
    );
    assert!(msg.contains("ConfigMap") && msg.contains("absent"), "{msg}");
}

#[test]
fn generator_merge_without_base_fails() {
    let (_, msg) = build_err(
        &[(
            "kustomization.yaml",
            "configMapGenerator:\n- name: x\n  behavior: merge\n  literals: [a=1]\n",
        )],
        ".",
    );
    assert!(msg.contains("does not exist"), "{msg}");
}

#[test]
fn duplicate_generator_keys_fail() {
    let (_, msg) = build_err(
        &[(
            "kustomization.yaml",
            "configMapGenerator:\n- name: x\n  literals: [a=1, a=2]\n",
        )],
        ".",
    );
    assert!(msg.contains("`a`"), "{msg}");
}

#[test]
fn duplicate_yaml_keys_fail() {
    let (err, msg) = build_err(
        &[
            ("kustomization.yaml", "resources: [d.yaml]\n"),
            (
                "d.yaml",
                "kind: ConfigMap\nkind: Secret\nmetadata: {name: x}\n",
            ),
        ],
        ".",
    );
    assert!(matches!(err, Error::Yaml { .. }), "{err:?}");
    assert!(msg.contains("d.yaml"), "{msg}");
}

#[test]
fn replacement_source_missing_fails() {
    let (_, msg) = build_err(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\nreplacements:\n- source: {kind: Secret, name: nope}\n  targets:\n  - select: {kind: ConfigMap}\n    fieldPaths: [data.x]\n",
            ),
            ("cm.yaml", CM),
        ],
        ".",
    );
    assert!(msg.contains("nope"), "{msg}");
}

#[test]
fn confine_to_refuses_bases_outside_the_artifact_root() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        tmp.path(),
        &[
            (
                "artifact/app/kustomization.yaml",
                "resources: [../../base]\n",
            ),
            ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            ("base/cm.yaml", CM),
        ],
    );
    let options = BuildOptions {
        confine_to: Some(tmp.path().join("artifact")),
        ..BuildOptions::default()
    };
    let err = build(&tmp.path().join("artifact/app"), &options).expect_err("must fail");
    assert!(matches!(err, Error::OutsideRoot { .. }), "{err:?}");
    // Without the confinement kustomize's rule allows a base outside the kustomization.
    let ok = build(&tmp.path().join("artifact/app"), &BuildOptions::default()).expect("builds");
    assert_eq!(ok.len(), 1);
}

#[test]
fn exec_and_container_plugins_are_refused_by_name() {
    let plugin =
        "apiVersion: someteam.example.com/v1\nkind: SecretsFromVault\nmetadata:\n  name: v\n";
    for field in ["generators", "transformers"] {
        let (_, msg) = build_err(
            &[
                (
                    "kustomization.yaml",
                    &format!("resources: [cm.yaml]\n{field}: [plugin.yaml]\n"),
                ),
                ("cm.yaml", CM),
                ("plugin.yaml", plugin),
            ],
            ".",
        );
        assert!(msg.contains("SecretsFromVault"), "{msg}");
        assert!(msg.contains("only 'apiVersion: builtin'"), "{msg}");
    }
}

#[test]
fn unsupported_builtin_kind_is_refused_with_the_supported_list() {
    let (_, msg) = build_err(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: HelmChartInflationGenerator\n  metadata: {name: h}\n",
            ),
            ("cm.yaml", CM),
        ],
        ".",
    );
    assert!(msg.contains("HelmChartInflationGenerator"), "{msg}");
    assert!(msg.contains("LabelTransformer"), "{msg}");
}

#[test]
fn prefix_transformer_without_field_specs_says_what_to_add() {
    let (_, msg) = build_err(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: PrefixSuffixTransformer\n  metadata: {name: p}\n  prefix: a-\n",
            ),
            ("cm.yaml", CM),
        ],
        ".",
    );
    assert!(msg.contains("fieldSpecs is required"), "{msg}");
}

#[test]
fn missing_transformer_config_file_is_named() {
    let (_, msg) = build_err(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\ntransformers: [nope.yaml]\n",
            ),
            ("cm.yaml", CM),
        ],
        ".",
    );
    assert!(msg.contains("nope.yaml"), "{msg}");
}

#[test]
fn crds_file_that_is_not_definitions_names_the_file() {
    let (_, msg) = build_err(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\ncrds: [crd.yaml]\n",
            ),
            ("cm.yaml", CM),
            ("crd.yaml", "- just\n- a list\n"),
        ],
        ".",
    );
    assert!(msg.contains("crd.yaml"), "{msg}");
    assert!(msg.contains("OpenAPI definitions"), "{msg}");
}

#[test]
fn unsupported_build_metadata_and_invalid_openapi_schemas_are_refused() {
    let (_, msg) = build_err(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\nbuildMetadata: [transformerAnnotations]\n",
            ),
            ("cm.yaml", CM),
        ],
        ".",
    );
    assert!(msg.contains("transformerAnnotations"), "{msg}");
    let (_, msg) = build_err(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\nopenapi:\n  path: schema.json\n",
            ),
            ("cm.yaml", CM),
            ("schema.json", "[\"not\", \"a schema\"]"),
        ],
        ".",
    );
    assert!(
        msg.contains("schema.json") && msg.contains("definitions"),
        "{msg}"
    );
}

#[test]
fn openapi_version_not_built_in_is_refused() {
    let (_, msg) = build_err(
        &[
            (
                "kustomization.yaml",
                "resources: [cm.yaml]\nopenapi:\n  version: v1.99.0\n",
            ),
            ("cm.yaml", CM),
        ],
        ".",
    );
    assert!(
        msg.contains("v1.99.0") && msg.contains("not built in"),
        "{msg}"
    );
}

#[test]
fn namespace_transformer_options_not_built_are_refused_not_ignored() {
    for (option, expect) in [
        (
            "  fieldSpecs:\n  - path: metadata/namespace\n    kind: Deployment\n",
            "fieldSpec 'metadata/namespace' is not supported",
        ),
        ("  unsetOnly: true\n", "unsetOnly is not supported"),
        (
            "  setRoleBindingSubjects: allServiceAccounts\n",
            "setRoleBindingSubjects 'allServiceAccounts' is not supported",
        ),
    ] {
        let kustomization = format!(
            "resources: [cm.yaml]\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: NamespaceTransformer\n  metadata: {{name: ns, namespace: shop}}\n{option}"
        );
        let (_, msg) = build_err(
            &[("kustomization.yaml", &kustomization), ("cm.yaml", CM)],
            ".",
        );
        assert!(msg.contains(expect), "{option}: {msg}");
    }
}
