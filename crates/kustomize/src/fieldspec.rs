//! Field specs: which fields of which kinds a transformer touches.
//!
//! These tables are kustomize's default transformer configurations for built-in kinds,
//! written down as data. A path is `/`-separated; a segment ending in `[]` (or any segment
//! that meets a sequence) visits every element.

use crate::resource::Resource;
use crate::value::Value;

/// One field a transformer applies to.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub path: String,
    pub create: bool,
}

impl FieldSpec {
    pub fn new(kind: Option<&str>, path: &str, create: bool) -> Self {
        FieldSpec {
            group: None,
            kind: kind.map(str::to_string),
            path: path.to_string(),
            create,
        }
    }

    pub fn applies_to(&self, res: &Resource) -> bool {
        if let Some(kind) = &self.kind
            && kind != res.kind()
        {
            return false;
        }
        if let Some(group) = &self.group
            && group != res.group()
        {
            return false;
        }
        true
    }

    /// Reads user-supplied `fieldSpecs` entries (`{path, kind, group, create}`).
    pub fn from_value(v: &Value) -> Option<FieldSpec> {
        Some(FieldSpec {
            group: v.get_str(&["group"]).map(str::to_string),
            kind: v.get_str(&["kind"]).map(str::to_string),
            path: v.get_str(&["path"])?.to_string(),
            create: matches!(v.get("create"), Some(Value::Bool(true))),
        })
    }
}

/// Calls `f` on every node at `path` inside `root`. With `create`, missing maps on the way are
/// created and `f` receives a fresh `Null` leaf to fill in.
pub fn visit(root: &mut Value, path: &str, create: bool, f: &mut dyn FnMut(&mut Value)) {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    visit_segs(root, &segs, create, f);
}

fn visit_segs(node: &mut Value, segs: &[&str], create: bool, f: &mut dyn FnMut(&mut Value)) {
    let Some((first, rest)) = segs.split_first() else {
        f(node);
        return;
    };
    if let Value::Seq(items) = node {
        for item in items {
            visit_segs(item, segs, create, f);
        }
        return;
    }
    let (key, each) = match first.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (*first, false),
    };
    let Value::Map(map) = node else {
        return;
    };
    if !map.contains_key(key) {
        if !create || each {
            return;
        }
        let fresh = if rest.is_empty() {
            Value::Null
        } else {
            Value::new_map()
        };
        map.insert(key, fresh);
    }
    let Some(child) = map.get_mut(key) else {
        return;
    };
    if child.is_null() && !rest.is_empty() {
        if !create {
            return;
        }
        *child = Value::new_map();
    }
    visit_segs(child, rest, create, f);
}

fn specs(list: &[(&str, &str, bool)]) -> Vec<FieldSpec> {
    list.iter()
        .map(|(kind, path, create)| {
            FieldSpec::new(
                if kind.is_empty() { None } else { Some(kind) },
                path,
                *create,
            )
        })
        .collect()
}

const AFFINITY_SELECTORS: &[&str] = &[
    "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
];

/// Label fields on pod templates (`labels[].includeTemplates`).
pub fn template_labels() -> Vec<FieldSpec> {
    specs(&[
        (
            "ReplicationController",
            "spec/template/metadata/labels",
            true,
        ),
        ("Deployment", "spec/template/metadata/labels", true),
        ("ReplicaSet", "spec/template/metadata/labels", true),
        ("DaemonSet", "spec/template/metadata/labels", true),
        ("StatefulSet", "spec/template/metadata/labels", true),
        (
            "StatefulSet",
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
        ),
        ("Job", "spec/template/metadata/labels", true),
        (
            "CronJob",
            "spec/jobTemplate/spec/template/metadata/labels",
            true,
        ),
        ("CronJob", "spec/jobTemplate/metadata/labels", true),
    ])
}

/// Label fields `commonLabels` (and `labels[].includeSelectors`) writes: metadata, templates
/// and selectors.
pub fn common_labels() -> Vec<FieldSpec> {
    let mut out = specs(&[
        ("", "metadata/labels", true),
        ("Service", "spec/selector", true),
        ("ReplicationController", "spec/selector", true),
        (
            "ReplicationController",
            "spec/template/metadata/labels",
            true,
        ),
        ("Deployment", "spec/selector/matchLabels", true),
        ("Deployment", "spec/template/metadata/labels", true),
        ("ReplicaSet", "spec/selector/matchLabels", true),
        ("ReplicaSet", "spec/template/metadata/labels", true),
        ("DaemonSet", "spec/selector/matchLabels", true),
        ("DaemonSet", "spec/template/metadata/labels", true),
        ("StatefulSet", "spec/selector/matchLabels", true),
        ("StatefulSet", "spec/template/metadata/labels", true),
        (
            "StatefulSet",
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
        ),
        ("Job", "spec/selector/matchLabels", false),
        ("Job", "spec/template/metadata/labels", true),
        (
            "CronJob",
            "spec/jobTemplate/spec/selector/matchLabels",
            false,
        ),
        ("CronJob", "spec/jobTemplate/metadata/labels", true),
        (
            "CronJob",
            "spec/jobTemplate/spec/template/metadata/labels",
            true,
        ),
        ("PodDisruptionBudget", "spec/selector/matchLabels", false),
        ("NetworkPolicy", "spec/podSelector/matchLabels", false),
        (
            "NetworkPolicy",
            "spec/ingress/from/podSelector/matchLabels",
            false,
        ),
        (
            "NetworkPolicy",
            "spec/egress/to/podSelector/matchLabels",
            false,
        ),
    ]);
    for kind in ["Deployment", "StatefulSet"] {
        for path in AFFINITY_SELECTORS {
            out.push(FieldSpec::new(Some(kind), path, false));
        }
    }
    out
}

/// Annotation fields `commonAnnotations` writes.
pub fn common_annotations() -> Vec<FieldSpec> {
    specs(&[
        ("", "metadata/annotations", true),
        (
            "ReplicationController",
            "spec/template/metadata/annotations",
            true,
        ),
        ("Deployment", "spec/template/metadata/annotations", true),
        ("ReplicaSet", "spec/template/metadata/annotations", true),
        ("DaemonSet", "spec/template/metadata/annotations", true),
        ("StatefulSet", "spec/template/metadata/annotations", true),
        ("Job", "spec/template/metadata/annotations", true),
        ("CronJob", "spec/jobTemplate/metadata/annotations", true),
        (
            "CronJob",
            "spec/jobTemplate/spec/template/metadata/annotations",
            true,
        ),
    ])
}

/// Where each workload kind keeps its pod spec.
pub const POD_SPEC_ROOTS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("PodTemplate", "template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
];

/// A field that names another object, and the kind of object it names.
#[derive(Debug, Clone)]
pub struct NameRef {
    /// Kind (and group) of the referenced object.
    pub ref_kind: String,
    pub ref_group: String,
    /// Kind of the referring object (None: any kind).
    pub kind: Option<String>,
    pub path: String,
}

fn pod_refs(out: &mut Vec<NameRef>, ref_kind: &'static str, rel: &[&str]) {
    for (kind, root) in POD_SPEC_ROOTS {
        for r in rel {
            out.push(NameRef {
                ref_kind: ref_kind.to_string(),
                ref_group: String::new(),
                kind: Some(kind.to_string()),
                path: format!("{root}/{r}"),
            });
        }
    }
}

fn kind_refs(
    out: &mut Vec<NameRef>,
    ref_kind: &'static str,
    ref_group: &'static str,
    list: &[(&'static str, &str)],
) {
    for (kind, path) in list {
        let kind = if kind.is_empty() {
            None
        } else {
            Some(kind.to_string())
        };
        out.push(NameRef {
            ref_kind: ref_kind.to_string(),
            ref_group: ref_group.to_string(),
            kind,
            path: path.to_string(),
        });
    }
}

/// kustomize's default name-reference configuration for built-in kinds.
pub fn name_references() -> Vec<NameRef> {
    let mut out = Vec::new();
    let containers = ["containers", "initContainers", "ephemeralContainers"];
    let mut cm = vec![
        "volumes/configMap/name".to_string(),
        "volumes/projected/sources/configMap/name".to_string(),
    ];
    let mut secret = vec![
        "volumes/secret/secretName".to_string(),
        "volumes/projected/sources/secret/name".to_string(),
        "imagePullSecrets/name".to_string(),
        "volumes/csi/nodePublishSecretRef/name".to_string(),
        "volumes/cephfs/secretRef/name".to_string(),
        "volumes/cinder/secretRef/name".to_string(),
        "volumes/flexVolume/secretRef/name".to_string(),
        "volumes/rbd/secretRef/name".to_string(),
        "volumes/iscsi/secretRef/name".to_string(),
        "volumes/scaleIO/secretRef/name".to_string(),
        "volumes/storageos/secretRef/name".to_string(),
        "volumes/azureFile/secretName".to_string(),
    ];
    for c in containers {
        cm.push(format!("{c}/env/valueFrom/configMapKeyRef/name"));
        cm.push(format!("{c}/envFrom/configMapRef/name"));
        secret.push(format!("{c}/env/valueFrom/secretKeyRef/name"));
        secret.push(format!("{c}/envFrom/secretRef/name"));
    }
    let cm: Vec<&str> = cm.iter().map(String::as_str).collect();
    let secret: Vec<&str> = secret.iter().map(String::as_str).collect();
    pod_refs(&mut out, "ConfigMap", &cm);
    pod_refs(&mut out, "Secret", &secret);
    pod_refs(
        &mut out,
        "ServiceAccount",
        &["serviceAccountName", "serviceAccount"],
    );
    pod_refs(
        &mut out,
        "PersistentVolumeClaim",
        &["volumes/persistentVolumeClaim/claimName"],
    );
    pod_refs(&mut out, "PriorityClass", &["priorityClassName"]);
    kind_refs(
        &mut out,
        "Secret",
        "",
        &[
            ("ServiceAccount", "imagePullSecrets/name"),
            ("Ingress", "spec/tls/secretName"),
            ("StorageClass", "parameters/secretName"),
            ("StorageClass", "parameters/adminSecretName"),
            ("PersistentVolume", "spec/csi/nodePublishSecretRef/name"),
            (
                "PersistentVolume",
                "spec/csi/controllerPublishSecretRef/name",
            ),
            ("PersistentVolume", "spec/csi/nodeStageSecretRef/name"),
            (
                "PersistentVolume",
                "spec/csi/controllerExpandSecretRef/name",
            ),
        ],
    );
    kind_refs(
        &mut out,
        "ServiceAccount",
        "",
        &[
            ("RoleBinding", "subjects/name"),
            ("ClusterRoleBinding", "subjects/name"),
        ],
    );
    kind_refs(
        &mut out,
        "Service",
        "",
        &[
            ("Ingress", "spec/rules/http/paths/backend/serviceName"),
            ("Ingress", "spec/rules/http/paths/backend/service/name"),
            ("Ingress", "spec/backend/serviceName"),
            ("Ingress", "spec/defaultBackend/service/name"),
            ("StatefulSet", "spec/serviceName"),
            ("APIService", "spec/service/name"),
            (
                "ValidatingWebhookConfiguration",
                "webhooks/clientConfig/service/name",
            ),
            (
                "MutatingWebhookConfiguration",
                "webhooks/clientConfig/service/name",
            ),
        ],
    );
    kind_refs(
        &mut out,
        "Role",
        "rbac.authorization.k8s.io",
        &[("RoleBinding", "roleRef/name")],
    );
    kind_refs(
        &mut out,
        "ClusterRole",
        "rbac.authorization.k8s.io",
        &[
            ("RoleBinding", "roleRef/name"),
            ("ClusterRoleBinding", "roleRef/name"),
        ],
    );
    kind_refs(
        &mut out,
        "PersistentVolume",
        "",
        &[("PersistentVolumeClaim", "spec/volumeName")],
    );
    kind_refs(
        &mut out,
        "StorageClass",
        "storage.k8s.io",
        &[
            ("PersistentVolumeClaim", "spec/storageClassName"),
            ("PersistentVolume", "spec/storageClassName"),
            (
                "StatefulSet",
                "spec/volumeClaimTemplates/spec/storageClassName",
            ),
        ],
    );
    kind_refs(
        &mut out,
        "IngressClass",
        "networking.k8s.io",
        &[("Ingress", "spec/ingressClassName")],
    );
    for kind in ["Deployment", "ReplicaSet", "StatefulSet"] {
        out.push(NameRef {
            ref_kind: kind.to_string(),
            ref_group: "apps".to_string(),
            kind: Some("HorizontalPodAutoscaler".to_string()),
            path: "spec/scaleTargetRef/name".to_string(),
        });
    }
    out
}

/// Field specs a kustomization adds through `configurations:` files (kustomize's
/// transformer configurations), typically to teach the transformers about custom kinds.
#[derive(Debug, Clone, Default)]
pub struct CustomConfig {
    pub name_refs: Vec<NameRef>,
    pub common_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub images: Vec<FieldSpec>,
    pub var_refs: Vec<FieldSpec>,
}

impl CustomConfig {
    /// Merges one configuration document in; unknown sections are an error.
    pub fn add(&mut self, doc: &Value) -> Result<(), String> {
        let Value::Map(m) = doc else {
            return Err("a transformer configuration must be a map".into());
        };
        let specs = |v: &Value| -> Vec<FieldSpec> {
            v.as_seq()
                .map(|s| s.iter().filter_map(FieldSpec::from_value).collect())
                .unwrap_or_default()
        };
        for (key, v) in m.iter() {
            match key.as_str() {
                "nameReference" => {
                    for entry in v.as_seq().into_iter().flatten() {
                        let ref_kind = entry.get_str(&["kind"]).unwrap_or_default().to_string();
                        let ref_group = entry.get_str(&["group"]).unwrap_or_default().to_string();
                        for fs in entry.get("fieldSpecs").map(specs).unwrap_or_default() {
                            self.name_refs.push(NameRef {
                                ref_kind: ref_kind.clone(),
                                ref_group: ref_group.clone(),
                                kind: fs.kind.clone(),
                                path: fs.path.clone(),
                            });
                        }
                    }
                }
                "commonLabels" => self.common_labels.extend(specs(v)),
                "commonAnnotations" => self.common_annotations.extend(specs(v)),
                "images" => self.images.extend(specs(v)),
                "varReference" => self.var_refs.extend(specs(v)),
                "namePrefix" | "nameSuffix" | "namespace" | "templateLabels" | "replicas" => {}
                other => {
                    return Err(format!(
                        "unknown transformer configuration section '{other}'"
                    ));
                }
            }
        }
        Ok(())
    }
}
