//! Manifests written the way Flux users write them deserialize into the types, keep every
//! field, and serialize back to the same document.

use driftless_api::{
    kustomize::{Kustomization, KustomizationSourceKind},
    source::{GitRepository, GitVerificationMode},
};
use serde::{Serialize, de::DeserializeOwned};

/// Parses `yaml` as `T`, serializes it back, and checks that nothing was lost or added.
fn roundtrip<T: Serialize + DeserializeOwned>(yaml: &str) -> T {
    let typed: T = serde_saphyr::from_str(yaml).expect("manifest parses into the type");
    let original: serde_json::Value = serde_saphyr::from_str(yaml).expect("manifest is YAML");
    let back = serde_json::to_value(&typed).expect("type serializes");
    assert_eq!(back, original, "round trip changed the manifest");
    typed
}

const GIT_REPOSITORY: &str = r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 5m0s
  url: https://github.com/stefanprodan/podinfo
  ref:
    semver: ">=6.0.0 <7.0.0"
  secretRef:
    name: podinfo-auth
  timeout: 60s
  ignore: |
    /*
    !/deploy
  include:
    - repository:
        name: shared-config
      fromPath: base
      toPath: config/base
  verify:
    mode: TagAndHEAD
    secretRef:
      name: pgp-public-keys
  sparseCheckout:
    - deploy
status:
  observedGeneration: 3
  conditions:
    - type: Ready
      status: "True"
      reason: Succeeded
      message: "stored artifact for revision 'v6.5.0@sha1:0123456789abcdef0123456789abcdef01234567'"
      lastTransitionTime: "2026-01-02T03:04:05Z"
      observedGeneration: 3
  artifact:
    path: gitrepository/flux-system/podinfo/0123456789abcdef0123456789abcdef01234567.tar.gz
    url: http://source-controller.flux-system.svc.cluster.local./gitrepository/flux-system/podinfo/0123456789abcdef0123456789abcdef01234567.tar.gz
    revision: v6.5.0@sha1:0123456789abcdef0123456789abcdef01234567
    digest: sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
    lastUpdateTime: "2026-01-02T03:04:05Z"
    size: 12345
  lastHandledReconcileAt: "2026-01-02T03:00:00Z"
"#;

#[test]
fn git_repository_round_trips() {
    let repo: GitRepository = roundtrip(GIT_REPOSITORY);
    assert_eq!(repo.spec.url, "https://github.com/stefanprodan/podinfo");
    assert_eq!(
        repo.spec
            .reference
            .as_ref()
            .and_then(|r| r.semver.as_deref()),
        Some(">=6.0.0 <7.0.0")
    );
    assert_eq!(
        repo.spec.verify.as_ref().and_then(|v| v.mode),
        Some(GitVerificationMode::TagAndHEAD)
    );
    let status = repo.status.expect("status is kept");
    let artifact = status.artifact.expect("artifact is kept");
    assert_eq!(artifact.size, Some(12345));
    assert_eq!(status.conditions.expect("conditions")[0].type_, "Ready");
}

const KUSTOMIZATION: &str = r#"
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: apps
spec:
  interval: 10m
  retryInterval: 1m
  timeout: 2m
  path: ./kustomize
  prune: true
  wait: true
  targetNamespace: podinfo
  sourceRef:
    kind: GitRepository
    name: podinfo
    namespace: flux-system
  dependsOn:
    - name: infra-controllers
      namespace: flux-system
  commonMetadata:
    labels:
      app.kubernetes.io/part-of: podinfo
  patches:
    - patch: |
        - op: replace
          path: /spec/replicas
          value: 2
      target:
        kind: Deployment
        name: podinfo
  images:
    - name: ghcr.io/stefanprodan/podinfo
      newTag: 6.5.0
  postBuild:
    substitute:
      cluster_env: prod
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
      - kind: Secret
        name: cluster-secrets
        optional: true
  kubeConfig:
    secretRef:
      name: remote-kubeconfig
      key: value.yaml
  decryption:
    provider: sops
    secretRef:
      name: sops-age
status:
  observedGeneration: 1
  lastAppliedRevision: main@sha1:0123456789abcdef0123456789abcdef01234567
  inventory:
    entries:
      - id: podinfo_podinfo_apps_Deployment
        v: v1
      - id: _podinfo__Namespace
        v: v1
"#;

#[test]
fn kustomization_round_trips() {
    let ks: Kustomization = roundtrip(KUSTOMIZATION);
    assert!(ks.spec.prune);
    assert_eq!(
        ks.spec.source_ref.kind,
        KustomizationSourceKind::GitRepository
    );
    assert_eq!(ks.spec.source_ref.namespace.as_deref(), Some("flux-system"));
    let inventory = ks
        .status
        .and_then(|s| s.inventory)
        .expect("inventory is kept");
    assert_eq!(inventory.entries[1].id, "_podinfo__Namespace");
}

#[test]
fn unknown_source_kind_is_rejected() {
    let bad = KUSTOMIZATION.replace("kind: GitRepository", "kind: HelmRepository");
    let err =
        serde_saphyr::from_str::<Kustomization>(&bad).expect_err("HelmRepository is no source");
    assert!(err.to_string().contains("HelmRepository"), "{err}");
}

#[test]
fn missing_required_field_is_an_error() {
    let bad = GIT_REPOSITORY.replace("  url: https://github.com/stefanprodan/podinfo\n", "");
    let err = serde_saphyr::from_str::<GitRepository>(&bad).expect_err("url is required");
    assert!(err.to_string().contains("url"), "{err}");
}
