//! The per-kind rules of [`compute`].

use super::{Health, Status};
use serde_json::Value;

fn i(v: &Value, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_i64()
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// The condition `type_` of `status.conditions`: (status, reason, message).
fn condition<'a>(obj: &'a Value, type_: &str) -> Option<(&'a str, &'a str, &'a str)> {
    obj.get("status")?
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
        .map(|c| {
            let f = |k| c.get(k).and_then(Value::as_str).unwrap_or("");
            (f("status"), f("reason"), f("message"))
        })
}

fn in_progress(message: impl Into<String>) -> Health {
    Health::new(Status::InProgress, message)
}

/// The health of an object (its full JSON, as read from the API server).
pub fn compute(obj: &Value) -> Health {
    if let Some(early) = before_kind_rules(obj) {
        return early;
    }
    let api_version = s(obj, &["apiVersion"]).unwrap_or("");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = s(obj, &["kind"]).unwrap_or("");
    match (group, kind) {
        ("apps", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => statefulset(obj),
        ("apps", "DaemonSet") => daemonset(obj),
        ("apps", "ReplicaSet") => replicaset(obj),
        ("", "Pod") => pod(obj),
        ("batch", "Job") => job(obj),
        ("", "PersistentVolumeClaim") => pvc(obj),
        ("", "Service") => service(obj),
        ("", "Namespace") => namespace(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(obj),
        _ => generic(obj),
    }
}

/// What holds for every kind, checked before any kind's rules (built-in or CEL): an object
/// being deleted is Terminating; one whose controller has not seen its latest spec
/// (`status.observedGeneration` behind `metadata.generation`) is InProgress.
pub(super) fn before_kind_rules(obj: &Value) -> Option<Health> {
    if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|d| !d.is_null())
    {
        return Some(Health::new(Status::Terminating, "being deleted"));
    }
    if let (Some(generation), Some(observed)) = (
        i(obj, &["metadata", "generation"]),
        i(obj, &["status", "observedGeneration"]),
    ) && observed != generation
    {
        return Some(in_progress(format!(
            "observedGeneration {observed} does not match generation {generation}"
        )));
    }
    None
}

/// Objects with kstatus / Flux conditions (Ready, Reconciling, Stalled); none means Current.
fn generic(obj: &Value) -> Health {
    if let Some(("True", reason, message)) = condition(obj, "Stalled") {
        return Health::new(Status::Failed, format!("{reason}: {message}"));
    }
    if let Some(("True", reason, message)) = condition(obj, "Reconciling") {
        return in_progress(format!("{reason}: {message}"));
    }
    match condition(obj, "Ready") {
        Some(("True", _, _)) | None => {
            // Flux kinds write observedGeneration; a Ready that predates it is not current.
            Health::current()
        }
        Some((_, reason, message)) => in_progress(format!("{reason}: {message}")),
    }
}

fn deployment(obj: &Value) -> Health {
    if let Some(("False", "ProgressDeadlineExceeded", message)) = condition(obj, "Progressing") {
        return Health::new(
            Status::Failed,
            format!("progress deadline exceeded: {message}"),
        );
    }
    let wanted = i(obj, &["spec", "replicas"]).unwrap_or(1);
    let updated = i(obj, &["status", "updatedReplicas"]).unwrap_or(0);
    let total = i(obj, &["status", "replicas"]).unwrap_or(0);
    let available = i(obj, &["status", "availableReplicas"]).unwrap_or(0);
    if obj
        .get("status")
        .and_then(|s| s.get("observedGeneration"))
        .is_none()
    {
        return in_progress("Deployment not yet observed by its controller");
    }
    if updated < wanted {
        return in_progress(format!("Updated: {updated}/{wanted}"));
    }
    if total > updated {
        return in_progress(format!("Pending termination: {}", total - updated));
    }
    if available < updated {
        return in_progress(format!("Available: {available}/{updated}"));
    }
    if let Some(("False", _, message)) = condition(obj, "Available") {
        return in_progress(format!("Deployment not Available: {message}"));
    }
    Health::current()
}

fn statefulset(obj: &Value) -> Health {
    if s(obj, &["spec", "updateStrategy", "type"]) == Some("OnDelete") {
        return Health::current();
    }
    if obj
        .get("status")
        .and_then(|s| s.get("observedGeneration"))
        .is_none()
    {
        return in_progress("StatefulSet not yet observed by its controller");
    }
    let wanted = i(obj, &["spec", "replicas"]).unwrap_or(1);
    let ready = i(obj, &["status", "readyReplicas"]).unwrap_or(0);
    let current = i(obj, &["status", "currentReplicas"]).unwrap_or(0);
    let updated = i(obj, &["status", "updatedReplicas"]).unwrap_or(0);
    if ready < wanted {
        return in_progress(format!("Ready: {ready}/{wanted}"));
    }
    let partition = i(
        obj,
        &["spec", "updateStrategy", "rollingUpdate", "partition"],
    )
    .unwrap_or(0);
    if partition > 0 {
        let expected = (wanted - partition).max(0);
        if updated < expected {
            return in_progress(format!("Updated: {updated}/{expected} (partitioned)"));
        }
        return Health::current();
    }
    if s(obj, &["status", "currentRevision"]) != s(obj, &["status", "updateRevision"]) {
        return in_progress(format!("Rolling out: {updated}/{wanted} updated"));
    }
    if current < wanted {
        return in_progress(format!("Current: {current}/{wanted}"));
    }
    Health::current()
}

fn daemonset(obj: &Value) -> Health {
    if obj
        .get("status")
        .and_then(|s| s.get("observedGeneration"))
        .is_none()
    {
        return in_progress("DaemonSet not yet observed by its controller");
    }
    let desired = i(obj, &["status", "desiredNumberScheduled"]).unwrap_or(0);
    for (field, label) in [
        ("currentNumberScheduled", "Scheduled"),
        ("updatedNumberScheduled", "Updated"),
        ("numberAvailable", "Available"),
        ("numberReady", "Ready"),
    ] {
        let have = i(obj, &["status", field]).unwrap_or(0);
        if have < desired {
            return in_progress(format!("{label}: {have}/{desired}"));
        }
    }
    Health::current()
}

fn replicaset(obj: &Value) -> Health {
    let wanted = i(obj, &["spec", "replicas"]).unwrap_or(1);
    for (field, label) in [
        ("fullyLabeledReplicas", "Labelled"),
        ("readyReplicas", "Ready"),
        ("availableReplicas", "Available"),
    ] {
        let have = i(obj, &["status", field]).unwrap_or(0);
        if have < wanted {
            return in_progress(format!("{label}: {have}/{wanted}"));
        }
    }
    if let Some(("True", reason, message)) = condition(obj, "ReplicaFailure") {
        return in_progress(format!("{reason}: {message}"));
    }
    Health::current()
}

fn pod(obj: &Value) -> Health {
    match s(obj, &["status", "phase"]) {
        Some("Succeeded") => return Health::current(),
        Some("Failed") => {
            let msg = s(obj, &["status", "message"]).unwrap_or("pod failed");
            return Health::new(Status::Failed, msg);
        }
        _ => {}
    }
    let statuses = obj
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for c in statuses {
        if s(c, &["state", "waiting", "reason"]) == Some("CrashLoopBackOff") {
            let name = s(c, &["name"]).unwrap_or("?");
            return Health::new(
                Status::Failed,
                format!("container {name} is in CrashLoopBackOff"),
            );
        }
    }
    match condition(obj, "Ready") {
        Some(("True", _, _)) => Health::current(),
        _ => in_progress(format!(
            "Pod phase {}, not Ready",
            s(obj, &["status", "phase"]).unwrap_or("Pending")
        )),
    }
}

fn job(obj: &Value) -> Health {
    if let Some(("True", reason, message)) = condition(obj, "Failed") {
        return Health::new(Status::Failed, format!("Job failed: {reason}: {message}"));
    }
    if let Some(("True", _, _)) = condition(obj, "Complete") {
        return Health::current();
    }
    let succeeded = i(obj, &["status", "succeeded"]).unwrap_or(0);
    let completions = i(obj, &["spec", "completions"]).unwrap_or(1);
    in_progress(format!(
        "Job in progress: {succeeded}/{completions} succeeded"
    ))
}

fn pvc(obj: &Value) -> Health {
    match s(obj, &["status", "phase"]) {
        Some("Bound") => Health::current(),
        Some("Lost") => Health::new(Status::Failed, "PVC lost its volume"),
        phase => in_progress(format!("PVC is {}", phase.unwrap_or("Pending"))),
    }
}

fn service(obj: &Value) -> Health {
    if s(obj, &["spec", "type"]) == Some("LoadBalancer") {
        let ingress = obj
            .pointer("/status/loadBalancer/ingress")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if !ingress {
            return in_progress("LoadBalancer has no ingress address yet");
        }
    }
    Health::current()
}

fn namespace(obj: &Value) -> Health {
    match s(obj, &["status", "phase"]) {
        Some("Terminating") => Health::new(Status::Terminating, "namespace is terminating"),
        _ => Health::current(),
    }
}

fn crd(obj: &Value) -> Health {
    if let Some(("False", reason, message)) = condition(obj, "NamesAccepted") {
        return Health::new(Status::Failed, format!("{reason}: {message}"));
    }
    match condition(obj, "Established") {
        Some(("True", _, _)) => Health::current(),
        _ => in_progress("CRD is not Established yet"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(v: Value) -> Status {
        compute(&v).status
    }

    #[test]
    fn deployments_follow_replicas_and_deadlines() {
        let base = |status: Value| {
            json!({"apiVersion":"apps/v1","kind":"Deployment",
                "metadata":{"name":"d","generation":2},"spec":{"replicas":2},"status":status})
        };
        assert_eq!(
            status(base(
                json!({"observedGeneration":2,"replicas":2,"updatedReplicas":2,
                "availableReplicas":2,"conditions":[{"type":"Available","status":"True"}]})
            )),
            Status::Current
        );
        assert_eq!(
            status(base(
                json!({"observedGeneration":1,"replicas":2,"updatedReplicas":2,
                "availableReplicas":2})
            )),
            Status::InProgress
        );
        let h = compute(&base(
            json!({"observedGeneration":2,"replicas":2,"updatedReplicas":2,
            "availableReplicas":1}),
        ));
        assert_eq!(h, Health::new(Status::InProgress, "Available: 1/2"));
        assert_eq!(
            status(base(
                json!({"observedGeneration":2,"replicas":3,"updatedReplicas":2,
                "availableReplicas":2})
            )),
            Status::InProgress
        );
        assert_eq!(
            status(base(
                json!({"observedGeneration":2,"conditions":[{"type":"Progressing",
                "status":"False","reason":"ProgressDeadlineExceeded","message":"slow"}]})
            )),
            Status::Failed
        );
        assert_eq!(status(base(json!({}))), Status::InProgress);
    }

    #[test]
    fn statefulsets_daemonsets_replicasets() {
        let sts = json!({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"generation":1},
            "spec":{"replicas":2},"status":{"observedGeneration":1,"readyReplicas":2,
            "currentReplicas":2,"updatedReplicas":2,"currentRevision":"a","updateRevision":"a"}});
        assert_eq!(status(sts.clone()), Status::Current);
        let mut rolling = sts.clone();
        rolling["status"]["updateRevision"] = json!("b");
        assert_eq!(status(rolling), Status::InProgress);
        let mut unready = sts;
        unready["status"]["readyReplicas"] = json!(1);
        assert_eq!(status(unready), Status::InProgress);

        let ds = json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"generation":1},
            "status":{"observedGeneration":1,"desiredNumberScheduled":2,"currentNumberScheduled":2,
            "updatedNumberScheduled":2,"numberAvailable":2,"numberReady":1}});
        assert_eq!(compute(&ds).message, "Ready: 1/2");

        let rs = json!({"apiVersion":"apps/v1","kind":"ReplicaSet","spec":{"replicas":1},
            "status":{"fullyLabeledReplicas":1,"readyReplicas":1,"availableReplicas":1}});
        assert_eq!(status(rs), Status::Current);
    }

    #[test]
    fn pods_jobs_pvcs_services() {
        let pod = |st: Value| json!({"apiVersion":"v1","kind":"Pod","status":st});
        assert_eq!(
            status(pod(
                json!({"phase":"Running","conditions":[{"type":"Ready","status":"True"}]})
            )),
            Status::Current
        );
        assert_eq!(status(pod(json!({"phase":"Pending"}))), Status::InProgress);
        assert_eq!(status(pod(json!({"phase":"Failed"}))), Status::Failed);
        assert_eq!(
            status(pod(
                json!({"phase":"Running","containerStatuses":[{"name":"c",
                "state":{"waiting":{"reason":"CrashLoopBackOff"}}}]})
            )),
            Status::Failed
        );
        assert_eq!(status(pod(json!({"phase":"Succeeded"}))), Status::Current);

        let job = |conds: Value| json!({"apiVersion":"batch/v1","kind":"Job","status":{"conditions":conds}});
        assert_eq!(
            status(job(json!([{"type":"Complete","status":"True"}]))),
            Status::Current
        );
        assert_eq!(
            status(job(json!([{"type":"Failed","status":"True"}]))),
            Status::Failed
        );
        assert_eq!(status(job(json!([]))), Status::InProgress);

        let pvc = |phase: &str| json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","status":{"phase":phase}});
        assert_eq!(status(pvc("Bound")), Status::Current);
        assert_eq!(status(pvc("Pending")), Status::InProgress);

        assert_eq!(
            status(json!({"apiVersion":"v1","kind":"Service","spec":{"type":"ClusterIP"}})),
            Status::Current
        );
        assert_eq!(
            status(
                json!({"apiVersion":"v1","kind":"Service","spec":{"type":"LoadBalancer"},"status":{}})
            ),
            Status::InProgress
        );
    }

    #[test]
    fn crds_namespaces_and_deletion() {
        let crd = |conds: Value| {
            json!({"apiVersion":"apiextensions.k8s.io/v1",
            "kind":"CustomResourceDefinition","status":{"conditions":conds}})
        };
        assert_eq!(
            status(crd(json!([{"type":"Established","status":"True"}]))),
            Status::Current
        );
        assert_eq!(status(crd(json!([]))), Status::InProgress);
        assert_eq!(
            status(crd(
                json!([{"type":"NamesAccepted","status":"False","reason":"Conflict"}])
            )),
            Status::Failed
        );
        assert_eq!(
            status(json!({"apiVersion":"v1","kind":"Namespace","status":{"phase":"Active"}})),
            Status::Current
        );
        assert_eq!(
            status(json!({"apiVersion":"v1","kind":"ConfigMap",
                "metadata":{"deletionTimestamp":"2024-01-01T00:00:00Z"}})),
            Status::Terminating
        );
    }

    #[test]
    fn ready_conditions_of_custom_and_flux_kinds() {
        let k = |conds: Value, observed: i64| {
            json!({
            "apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization",
            "metadata":{"generation":3},"status":{"observedGeneration":observed,"conditions":conds}})
        };
        assert_eq!(
            status(k(json!([{"type":"Ready","status":"True"}]), 3)),
            Status::Current
        );
        assert_eq!(
            status(k(json!([{"type":"Ready","status":"True"}]), 2)),
            Status::InProgress
        );
        assert_eq!(
            status(k(
                json!([{"type":"Ready","status":"False","reason":"BuildFailed"}]),
                3
            )),
            Status::InProgress
        );
        assert_eq!(
            status(k(
                json!([{"type":"Stalled","status":"True","reason":"InvalidPath"}]),
                3
            )),
            Status::Failed
        );
        assert_eq!(
            status(k(
                json!([{"type":"Reconciling","status":"True"},{"type":"Ready","status":"True"}]),
                3
            )),
            Status::InProgress
        );
        // No conditions at all: nothing to wait for (a ConfigMap, a Secret).
        assert_eq!(
            status(json!({"apiVersion":"v1","kind":"ConfigMap"})),
            Status::Current
        );
    }
}
