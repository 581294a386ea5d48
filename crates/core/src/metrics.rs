//! Prometheus metrics with Flux's names and labels, so the community dashboards work.
//!
//! - `gotk_reconcile_duration_seconds{kind,name,namespace}`: histogram of reconcile time,
//!   buckets `1e-8 * 10^i` for i in 0..10 (Flux's `ExponentialBuckets(10e-9, 10, 10)`).
//! - `gotk_reconcile_condition{kind,name,namespace,type,status}`: gauge; for one object and
//!   condition type, exactly one of the `status` series `True`, `False`, `Unknown`, `Deleted`
//!   is 1 and the others 0 (`Deleted` once the object is being deleted).
//! - `gotk_suspend_status{kind,name,namespace}`: gauge, 1 when `spec.suspend` is true.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use std::{sync::Arc, time::Duration};

/// The `status` label of a condition series whose object is being deleted (Flux's value).
pub const CONDITION_DELETED: &str = "Deleted";

/// Labels naming one object.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    kind: String,
    name: String,
    namespace: String,
}

/// Labels naming one condition series of one object.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabels {
    kind: String,
    name: String,
    namespace: String,
    r#type: String,
    status: String,
}

type HistogramFamily = Family<ObjectLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1e-8, 10.0, 10))
}

/// The object a metric sample is about.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRef<'a> {
    /// The object's kind, e.g. `GitRepository`.
    pub kind: &'a str,
    /// Its namespace (empty for cluster-scoped objects).
    pub namespace: &'a str,
    /// Its name.
    pub name: &'a str,
}

impl ObjectRef<'_> {
    fn labels(&self) -> ObjectLabels {
        ObjectLabels {
            kind: self.kind.to_owned(),
            name: self.name.to_owned(),
            namespace: self.namespace.to_owned(),
        }
    }
}

/// Flux's reconcile metrics in a registry of their own; cheap to clone and share.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    duration: HistogramFamily,
    condition: Family<ConditionLabels, Gauge>,
    suspend: Family<ObjectLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry holding Flux's metrics only.
    pub fn new() -> Self {
        Self::new_with(|_| {})
    }

    /// A registry holding Flux's metrics plus whatever `extra` registers (a controller's own
    /// metrics), all served on the same `/metrics`.
    pub fn new_with(extra: impl FnOnce(&mut Registry)) -> Self {
        let mut registry = Registry::default();
        let duration = HistogramFamily::new_with_constructor(duration_histogram);
        let condition = Family::<ConditionLabels, Gauge>::default();
        let suspend = Family::<ObjectLabels, Gauge>::default();
        registry.register(
            "gotk_reconcile_duration_seconds",
            // prometheus-client appends the final period itself.
            "The duration in seconds of a GitOps Toolkit resource reconciliation",
            duration.clone(),
        );
        registry.register(
            "gotk_reconcile_condition",
            "The current condition status of a GitOps Toolkit resource reconciliation",
            condition.clone(),
        );
        registry.register(
            "gotk_suspend_status",
            "The current suspend status of a GitOps Toolkit resource",
            suspend.clone(),
        );
        extra(&mut registry);
        Self {
            registry: Arc::new(registry),
            duration,
            condition,
            suspend,
        }
    }

    /// Records how long one reconcile of `obj` took.
    pub fn record_duration(&self, obj: ObjectRef<'_>, took: Duration) {
        self.duration
            .get_or_create(&obj.labels())
            .observe(took.as_secs_f64());
    }

    /// Records `spec.suspend` of `obj`.
    pub fn record_suspend(&self, obj: ObjectRef<'_>, suspended: bool) {
        self.suspend
            .get_or_create(&obj.labels())
            .set(i64::from(suspended));
    }

    /// Records the condition `type_` of `obj` from its conditions (a missing condition counts
    /// as Unknown, as in Flux); `deleted` marks an object that is being deleted.
    pub fn record_condition(
        &self,
        obj: ObjectRef<'_>,
        conditions: &[Condition],
        type_: &str,
        deleted: bool,
    ) {
        let status =
            crate::conditions::get(conditions, type_).map_or("Unknown", |c| c.status.as_str());
        for series in ["True", "False", "Unknown", CONDITION_DELETED] {
            let on = if deleted {
                series == CONDITION_DELETED
            } else {
                series == status
            };
            let labels = ConditionLabels {
                kind: obj.kind.to_owned(),
                name: obj.name.to_owned(),
                namespace: obj.namespace.to_owned(),
                r#type: type_.to_owned(),
                status: series.to_owned(),
            };
            self.condition.get_or_create(&labels).set(i64::from(on));
        }
    }

    /// Records the `Ready` condition, the one dashboards show.
    pub fn record_readiness(&self, obj: ObjectRef<'_>, conditions: &[Condition], deleted: bool) {
        self.record_condition(obj, conditions, crate::conditions::types::READY, deleted);
    }

    /// Everything Flux records after one reconcile of `obj`: its duration, its `Ready`
    /// condition (as `Deleted` once `deletionTimestamp` is set) and its suspend state.
    pub fn record_reconcile<K: kube::Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        conditions: &[Condition],
        suspended: bool,
        took: Duration,
    ) {
        let kind = K::kind(&());
        let meta = obj.meta();
        let r = ObjectRef {
            kind: &kind,
            namespace: meta.namespace.as_deref().unwrap_or(""),
            name: meta.name.as_deref().unwrap_or(""),
        };
        self.record_duration(r, took);
        self.record_readiness(r, conditions, meta.deletion_timestamp.is_some());
        self.record_suspend(r, suspended);
    }

    /// The registry in the OpenMetrics text format served at `/metrics`.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::{self, reasons, types};

    const OBJ: ObjectRef<'static> = ObjectRef {
        kind: "Kustomization",
        namespace: "flux-system",
        name: "apps",
    };

    fn sample<'t>(text: &'t str, prefix: &str) -> Vec<&'t str> {
        text.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    #[test]
    fn text_output_has_flux_names_and_labels() {
        let m = Metrics::new();
        let mut conds = Vec::new();
        conditions::mark(
            &mut conds,
            types::READY,
            conditions::Status::False,
            reasons::BUILD_FAILED,
            "bad",
            Some(1),
        );
        m.record_duration(OBJ, Duration::from_millis(250));
        m.record_readiness(OBJ, &conds, false);
        m.record_suspend(OBJ, true);
        let text = m.encode().expect("encode");
        assert!(
            text.contains("# TYPE gotk_reconcile_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE gotk_reconcile_condition gauge"),
            "{text}"
        );
        assert!(text.contains("# TYPE gotk_suspend_status gauge"), "{text}");
        assert!(text.contains(
            "# HELP gotk_reconcile_condition The current condition status of a GitOps Toolkit resource reconciliation.\n"
        ), "{text}");
        assert!(text.contains(
            r#"gotk_reconcile_duration_seconds_count{kind="Kustomization",name="apps",namespace="flux-system"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"gotk_reconcile_condition{kind="Kustomization",name="apps",namespace="flux-system",type="Ready",status="False"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"gotk_reconcile_condition{kind="Kustomization",name="apps",namespace="flux-system",type="Ready",status="True"} 0"#
        ), "{text}");
        assert!(
            text.contains(
                r#"gotk_suspend_status{kind="Kustomization",name="apps",namespace="flux-system"} 1"#
            ),
            "{text}"
        );
        // Ten buckets from 1e-8 to 10 seconds, plus +Inf.
        assert_eq!(
            sample(&text, "gotk_reconcile_duration_seconds_bucket").len(),
            11,
            "{text}"
        );
    }

    #[test]
    fn exactly_one_condition_series_is_set() {
        let m = Metrics::new();
        let mut conds = Vec::new();
        conditions::mark_ready(&mut conds, reasons::SUCCEEDED, "ok", Some(1));
        m.record_readiness(OBJ, &conds, false);
        let ones = |text: &str| {
            sample(text, "gotk_reconcile_condition{")
                .into_iter()
                .filter(|l| l.ends_with(" 1"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let text = m.encode().expect("encode");
        assert_eq!(
            sample(&text, "gotk_reconcile_condition{").len(),
            4,
            "{text}"
        );
        let on = ones(&text);
        assert_eq!(on.len(), 1);
        assert!(on[0].contains(r#"status="True""#));
        // Deleting flips it to Deleted.
        m.record_readiness(OBJ, &conds, true);
        let on = ones(&m.encode().expect("encode"));
        assert_eq!(on.len(), 1);
        assert!(on[0].contains(r#"status="Deleted""#));
        // No Ready condition at all counts as Unknown.
        m.record_readiness(OBJ, &[], false);
        let on = ones(&m.encode().expect("encode"));
        assert!(on[0].contains(r#"status="Unknown""#), "{on:?}");
    }

    #[test]
    fn one_call_records_a_whole_reconcile() {
        let m = Metrics::new();
        let cm = k8s_openapi::api::core::v1::ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some("cfg".into()),
                namespace: Some("apps".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut conds = Vec::new();
        conditions::mark_ready(&mut conds, reasons::SUCCEEDED, "ok", Some(1));
        m.record_reconcile(&cm, &conds, false, Duration::from_secs(2));
        let text = m.encode().expect("encode");
        let labels = r#"kind="ConfigMap",name="cfg",namespace="apps""#;
        assert!(
            text.contains(&format!(
                "gotk_reconcile_duration_seconds_sum{{{labels}}} 2.0"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                r#"gotk_reconcile_condition{{{labels},type="Ready",status="True"}} 1"#
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("gotk_suspend_status{{{labels}}} 0")),
            "{text}"
        );
    }

    #[test]
    fn extra_metrics_share_the_registry() {
        let m = Metrics::new_with(|r| {
            let g = Gauge::<i64>::default();
            g.set(7);
            r.register("driftless_test_gauge", "A test gauge", g);
        });
        m.record_suspend(OBJ, false);
        let text = m.encode().expect("encode");
        assert!(
            text.contains("# HELP driftless_test_gauge A test gauge.\n"),
            "{text}"
        );
        assert!(text.contains("driftless_test_gauge 7"), "{text}");
        assert!(text.contains("gotk_suspend_status"), "{text}");
    }
}
