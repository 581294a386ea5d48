//! Manifests written the way Flux users write them deserialize into the types, keep every
//! field, and serialize back to the same document.

use driftless_api::{
    common::{CloudProvider, FluxStatus},
    extensions::{ArtifactGenerator, CopyStrategy, GeneratorInventoryKind, GeneratorSourceKind},
    helm::{ChartSourceKind, ChartTemplateKind, HelmRelease, ServerSideApplyMode},
    image::{ImagePolicy, ImageUpdateAutomation, ReflectionPolicy},
    kustomize::{Kustomization, KustomizationSourceKind},
    notification::{
        Alert, EventSeverity, FluxKind, Provider, ProviderType, Receiver, ReceiverType, v1beta3,
    },
    source::{
        ExternalArtifact, GitRepository, GitRepositoryStatus, GitVerificationMode, OCIRepository,
    },
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
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

const HELM_RELEASE: &str = r#"
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: apps
spec:
  interval: 10m
  releaseName: podinfo
  chart:
    spec:
      chart: podinfo
      version: "6.x"
      sourceRef:
        kind: HelmRepository
        name: podinfo
        namespace: flux-system
      interval: 1h
  install:
    crds: CreateReplace
    remediation:
      retries: 3
  upgrade:
    crds: CreateReplace
    serverSideApply: auto
    strategy:
      name: RetryOnFailure
      retryInterval: 2m
  test:
    enable: true
  driftDetection:
    mode: enabled
    ignore:
      - paths: ["/spec/replicas"]
        target:
          kind: Deployment
  values:
    replicaCount: 2
    resources:
      limits:
        memory: 256Mi
    ingress:
      enabled: true
      hosts:
        - host: podinfo.example.com
          paths: [{path: /, pathType: Prefix}]
  valuesFrom:
    - kind: ConfigMap
      name: podinfo-values
      valuesKey: values.yaml
    - kind: Secret
      name: podinfo-secret
      targetPath: auth.token
      optional: true
  postRenderers:
    - kustomize:
        images:
          - name: ghcr.io/stefanprodan/podinfo
            digest: sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
status:
  observedGeneration: 2
  history:
    - name: podinfo
      namespace: apps
      version: 4
      status: deployed
      chartName: podinfo
      chartVersion: 6.5.0
      appVersion: 6.5.0
      configDigest: sha256:aa
      digest: sha256:bb
      firstDeployed: "2026-01-01T00:00:00Z"
      lastDeployed: "2026-01-02T00:00:00Z"
      testHooks:
        podinfo-grpc-test:
          lastStarted: "2026-01-02T00:00:01Z"
          lastCompleted: "2026-01-02T00:00:05Z"
          phase: Succeeded
"#;

#[test]
fn helm_release_round_trips_with_free_form_values() {
    let hr: HelmRelease = roundtrip(HELM_RELEASE);
    let chart = hr.spec.chart.as_ref().expect("chart template");
    assert_eq!(
        chart.spec.source_ref.as_ref().map(|r| r.kind),
        Some(ChartSourceKind::HelmRepository)
    );
    let values = hr.spec.values.as_ref().expect("values are kept");
    assert_eq!(
        values["ingress"]["hosts"][0]["paths"][0]["pathType"],
        "Prefix"
    );
    assert_eq!(
        hr.spec.upgrade.as_ref().and_then(|u| u.server_side_apply),
        Some(ServerSideApplyMode::Auto)
    );
    let history = hr.status.and_then(|s| s.history).expect("history");
    assert_eq!(history[0].version, 4);
}

const IMAGE_POLICY: &str = r#"
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
spec:
  imageRepositoryRef:
    name: podinfo
  filterTags:
    pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)'
    extract: '$ts'
  policy:
    numerical:
      order: asc
  digestReflectionPolicy: Always
  interval: 10m
status:
  latestRef:
    name: ghcr.io/stefanprodan/podinfo
    tag: main-abc1234-1700000000
"#;

#[test]
fn image_policy_round_trips() {
    let policy: ImagePolicy = roundtrip(IMAGE_POLICY);
    assert_eq!(
        policy.spec.digest_reflection_policy,
        Some(ReflectionPolicy::Always)
    );
    assert!(policy.spec.policy.numerical.is_some());
}

const RECEIVER: &str = r#"
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: github-receiver
  namespace: flux-system
spec:
  type: github
  events: ["ping", "push"]
  secretRef:
    name: webhook-token
  resources:
    - apiVersion: source.toolkit.fluxcd.io/v1
      kind: GitRepository
      name: "*"
      matchLabels:
        repo: podinfo
    - kind: OCIRepository
      name: podinfo
status:
  webhookPath: /hook/bed6d00b5555b1603e1f59b94d7fdbca58089cb5663633fb83f2815dc626d92b
"#;

const PROVIDER: &str = r#"
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Provider
metadata:
  name: mastodon
  namespace: flux-system
spec:
  type: mastodon
  address: https://mastodon.social
  secretRef:
    name: mastodon-token
"#;

const ALERT: &str = r#"
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Alert
metadata:
  name: on-call
  namespace: flux-system
spec:
  providerRef:
    name: mastodon
  eventSeverity: error
  eventSources:
    - kind: GitRepository
      name: "*"
    - kind: Kustomization
      name: apps
      namespace: flux-system
  eventMetadata:
    cluster: staging
  exclusionList:
    - ".*no changes.*"
"#;

/// A Flux v2.9 manifest: still served through the deprecated v1beta3.
const ALERT_V1BETA3: &str = r#"
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: on-call
  namespace: flux-system
spec:
  summary: Cluster addons impacted in us-east-2
  providerRef:
    name: slack
  eventSeverity: info
  eventSources:
    - kind: HelmRelease
      name: "*"
"#;

const PROVIDER_V1BETA3: &str = r#"
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: slack
spec:
  type: slack
  channel: general
  interval: 5m
  proxy: https://proxy.example.com:8080
  secretRef:
    name: slack-url
"#;

#[test]
fn notification_kinds_round_trip() {
    let receiver: Receiver = roundtrip(RECEIVER);
    assert_eq!(receiver.spec.type_, ReceiverType::Github);
    assert_eq!(receiver.spec.resources[1].kind, FluxKind::OciRepository);
    let provider: Provider = roundtrip(PROVIDER);
    assert_eq!(provider.spec.type_, ProviderType::Mastodon);
    let alert: Alert = roundtrip(ALERT);
    assert_eq!(alert.spec.event_severity, Some(EventSeverity::Error));
    assert_eq!(alert.spec.event_sources[1].kind, FluxKind::Kustomization);
}

#[test]
fn deprecated_v1beta3_notification_kinds_round_trip() {
    let alert: v1beta3::Alert = roundtrip(ALERT_V1BETA3);
    assert_eq!(
        alert.spec.summary.as_deref(),
        Some("Cluster addons impacted in us-east-2")
    );
    let provider: v1beta3::Provider = roundtrip(PROVIDER_V1BETA3);
    assert_eq!(provider.spec.type_, ProviderType::Slack);
    assert_eq!(provider.spec.interval.as_deref(), Some("5m"));
}

#[test]
fn flux_status_accessors_read_and_write_the_shared_fields() {
    let mut status = GitRepositoryStatus::default();
    assert!(status.conditions().is_empty());
    status.conditions_mut().push(Condition {
        type_: "Ready".into(),
        status: "True".into(),
        reason: "Succeeded".into(),
        message: "stored artifact".into(),
        last_transition_time: Time(Default::default()),
        observed_generation: Some(7),
    });
    status.set_observed_generation(7);
    status.set_last_handled_reconcile_at("2026-01-02T03:04:05Z".into());
    let json = serde_json::to_value(&status).expect("status serializes");
    assert_eq!(json["observedGeneration"], 7);
    assert_eq!(json["lastHandledReconcileAt"], "2026-01-02T03:04:05Z");
    assert_eq!(status.conditions().len(), 1);
}

/// Source composition as the Flux docs show it, with the v2.10 (source-watcher v2.3) fields.
const ARTIFACT_GENERATOR: &str = r#"
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata:
  name: my-app
  namespace: apps
spec:
  serviceAccountName: generator
  sources:
    - alias: backend
      kind: GitRepository
      name: my-backend
    - alias: frontend
      kind: OCIRepository
      name: my-frontend
      namespace: web
    - alias: config
      kind: Bucket
      name: my-configs
  managedNamespaces:
    allowedNames:
      - "ns.startsWith('team-')"
    prune: true
    metadata:
      from:
        - namespace: "*"
          strategy: Merge
          labels:
            toolkit.fluxcd.io/tenant: apps
  artifacts:
    - name: my-app-composite
      namespace: team-a
      revision: "@backend"
      inputsFrom: "@config/envs/prod/inputs.yaml"
      copy:
        - from: "@backend/deploy/**"
          to: "@artifact/my-app/backend/"
          exclude: ["*.md"]
        - from: "@frontend/deploy/*.yaml"
          to: "@artifact/my-app/frontend/"
          optional: true
        - from: "@config/envs/prod/configmap.yaml"
          to: "@artifact/my-app/env.yaml"
          strategy: Merge
status:
  observedSourcesDigest: sha256:35d47c9db0eee6ffe08a404dfb416bee31b2b79eabc3f2eb26749163ce487f52
  inventory:
    - kind: ExternalArtifact
      name: my-app-composite
      namespace: team-a
      digest: sha256:35d47c9db0eee6ffe08a404dfb416bee31b2b79eabc3f2eb26749163ce487f52
      filename: 3f2a9c1e.tar.gz
    - kind: Namespace
      name: team-a
      digest: sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
"#;

#[test]
fn artifact_generator_round_trips() {
    let generator: ArtifactGenerator = roundtrip(ARTIFACT_GENERATOR);
    assert_eq!(
        generator.spec.sources[1].kind,
        GeneratorSourceKind::OciRepository
    );
    let artifact = &generator.spec.artifacts[0];
    assert_eq!(artifact.copy[1].optional, Some(true));
    assert_eq!(artifact.copy[2].strategy, Some(CopyStrategy::Merge));
    let managed = generator
        .spec
        .managed_namespaces
        .expect("managedNamespaces");
    assert!(managed.prune);
    let inventory = generator
        .status
        .and_then(|s| s.inventory)
        .expect("inventory");
    assert_eq!(inventory[1].kind, Some(GeneratorInventoryKind::Namespace));
    assert_eq!(inventory[1].namespace, None);
}

const EXTERNAL_ARTIFACT: &str = r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: ExternalArtifact
metadata:
  name: my-app-composite
  namespace: team-a
spec:
  sourceRef:
    apiVersion: source.extensions.fluxcd.io/v1beta1
    kind: ArtifactGenerator
    name: my-app
    namespace: apps
status:
  artifact:
    digest: sha256:35d47c9db0eee6ffe08a404dfb416bee31b2b79eabc3f2eb26749163ce487f52
    lastUpdateTime: "2025-08-21T13:37:31Z"
    path: source/team-a/my-app-composite/35d47c9d.tar.gz
    revision: latest@sha256:35d47c9db0eee6ffe08a404dfb416bee31b2b79eabc3f2eb26749163ce487f52
    size: 20914
    url: http://source-watcher.flux-system.svc.cluster.local./source/team-a/my-app-composite/35d47c9d.tar.gz
  exportedInputs:
    replicas: 3
    image:
      repository: ghcr.io/stefanprodan/podinfo
      tags: ["6.7.0", "6.7.1"]
"#;

#[test]
fn external_artifact_keeps_free_form_exported_inputs() {
    let artifact: ExternalArtifact = roundtrip(EXTERNAL_ARTIFACT);
    let inputs = artifact
        .status
        .and_then(|s| s.exported_inputs)
        .expect("exportedInputs");
    assert_eq!(inputs["replicas"], 3);
    assert_eq!(inputs["image"]["tags"][1], "6.7.1");
}

/// A chart pulled from an OCI registry through the OCIRepository the controller creates.
const HELM_RELEASE_OCI_TEMPLATE: &str = r#"
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: apps
spec:
  interval: 10m
  chart:
    kind: OCIRepository
    metadata:
      labels:
        team: web
    spec:
      url: oci://ghcr.io/stefanprodan/charts/podinfo
      ref:
        semver: ">=6.0.0"
      interval: 1h
      provider: generic
      layerSelector:
        mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip
        operation: copy
      verify:
        provider: cosign
        matchOIDCIdentity:
          - issuer: ^https://token.actions.githubusercontent.com$
            subject: ^https://github.com/stefanprodan/podinfo.*$
status:
  helmChart: OCIRepository/apps/apps-podinfo
"#;

#[test]
fn helm_release_with_an_oci_repository_template_round_trips() {
    let hr: HelmRelease = roundtrip(HELM_RELEASE_OCI_TEMPLATE);
    let chart = hr.spec.chart.expect("chart template");
    assert_eq!(chart.kind(), ChartTemplateKind::OciRepository);
    assert_eq!(chart.spec.chart, None);
    assert_eq!(
        chart
            .spec
            .reference
            .as_ref()
            .and_then(|r| r.semver.as_deref()),
        Some(">=6.0.0")
    );
    // The HelmChart defaults Flux v2.10 moved out of the schema are applied when read.
    assert_eq!(chart.spec.version(), "*");
    assert_eq!(
        chart.spec.reconcile_strategy(),
        driftless_api::source::ReconcileStrategy::ChartVersion
    );
}

const OCI_REPOSITORY: &str = r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 5m
  url: oci://ghcr.io/stefanprodan/manifests/podinfo
  ref:
    tag: latest
status:
  sourceVerificationFingerprint: sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
"#;

#[test]
fn oci_repository_applies_the_defaults_flux_moved_into_code() {
    let repo: OCIRepository = roundtrip(OCI_REPOSITORY);
    assert_eq!(repo.spec.provider, None);
    assert_eq!(repo.spec.provider(), CloudProvider::Generic);
    assert_eq!(repo.spec.timeout(), "60s");
    let mut custom = repo.spec.clone();
    custom.timeout = Some("2m".into());
    custom.provider = Some(CloudProvider::Aws);
    assert_eq!(
        (custom.timeout(), custom.provider()),
        ("2m", CloudProvider::Aws)
    );
    assert!(
        repo.status
            .and_then(|s| s.source_verification_fingerprint)
            .is_some()
    );
}

const IMAGE_UPDATE_AUTOMATION: &str = r#"
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 30m
  policyChangeDelay: 2m
  sourceRef:
    kind: GitRepository
    name: flux-system
  git:
    commit:
      author:
        email: fluxcdbot@users.noreply.github.com
        name: fluxcdbot
    push:
      branch: main
      refspec: refs/heads/main:refs/heads/image-updates
  update:
    path: ./clusters/my-cluster
    strategy: Setters
"#;

#[test]
fn image_update_automation_keeps_the_policy_change_delay() {
    let automation: ImageUpdateAutomation = roundtrip(IMAGE_UPDATE_AUTOMATION);
    assert_eq!(automation.spec.policy_change_delay.as_deref(), Some("2m"));
}
