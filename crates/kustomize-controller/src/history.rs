//! `status.history`: Flux's short record of recent reconciliations (kustomize-controller v1.5+).
//!
//! One snapshot per distinct outcome — the digest of the built set together with the Ready
//! reason — so a reconcile that changes nothing only bumps `lastReconciled` and
//! `totalReconciliations` of the newest snapshot, while a new commit or a failure adds one.
//! Newest first, at most [`MAX_SNAPSHOTS`], as Flux's `meta.History.Upsert` keeps it: tools
//! such as `flux get kustomizations` read it unchanged.

use driftless_api::kustomize::ReconcileSnapshot;
use driftless_core::{artifact::Digest, duration};
use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use std::{collections::BTreeMap, time::Duration};

/// How many snapshots Flux keeps (`meta.HistoryMaxSize`).
pub const MAX_SNAPSHOTS: usize = 5;

/// `sha256:<hex>` of the built set, the identity of a snapshot: the same source, overlay and
/// variables give the same digest, whatever the revision string says.
pub fn digest(objects: &[serde_json::Value]) -> String {
    let mut bytes = Vec::new();
    for obj in objects {
        // Serializing a `Value` cannot fail; an empty document would only weaken the digest.
        bytes.extend(serde_json::to_vec(obj).unwrap_or_default());
        bytes.push(b'\n');
    }
    Digest::of_bytes(&bytes).to_string()
}

/// One reconcile's outcome, as it goes into a snapshot.
pub struct Outcome<'a> {
    pub digest: &'a str,
    /// The Ready reason (`ReconciliationSucceeded`, `HealthCheckFailed`, …).
    pub status: &'a str,
    /// The source revision, recorded in the snapshot's `metadata.revision`.
    pub revision: &'a str,
    pub took: Duration,
}

/// Records `outcome` at `now`: the snapshot with the same digest and status is updated and
/// moved to the front, otherwise a new one is put there; the oldest beyond
/// [`MAX_SNAPSHOTS`] are dropped.
pub fn upsert(history: &mut Vec<ReconcileSnapshot>, outcome: &Outcome<'_>, now: Timestamp) {
    let metadata = BTreeMap::from([("revision".to_owned(), outcome.revision.to_owned())]);
    let took = duration::format(outcome.took);
    let found = history
        .iter()
        .position(|s| s.digest == outcome.digest && s.last_reconciled_status == outcome.status);
    let snapshot = match found {
        Some(i) => {
            let mut s = history.remove(i);
            s.last_reconciled = Time(now);
            s.last_reconciled_duration = took;
            s.total_reconciliations += 1;
            s.metadata = Some(metadata);
            s
        }
        None => ReconcileSnapshot {
            digest: outcome.digest.to_owned(),
            first_reconciled: Time(now),
            last_reconciled: Time(now),
            last_reconciled_duration: took,
            last_reconciled_status: outcome.status.to_owned(),
            total_reconciliations: 1,
            metadata: Some(metadata),
        },
    };
    history.insert(0, snapshot);
    history.truncate(MAX_SNAPSHOTS);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid timestamp")
    }

    fn outcome<'a>(digest: &'a str, status: &'a str, revision: &'a str) -> Outcome<'a> {
        Outcome {
            digest,
            status,
            revision,
            took: Duration::from_millis(1500),
        }
    }

    #[test]
    fn the_same_outcome_updates_the_newest_snapshot() {
        let mut h = Vec::new();
        upsert(
            &mut h,
            &outcome("sha256:a", "ReconciliationSucceeded", "r1"),
            at(10),
        );
        upsert(
            &mut h,
            &outcome("sha256:a", "ReconciliationSucceeded", "r1"),
            at(20),
        );
        assert_eq!(h.len(), 1);
        let s = &h[0];
        assert_eq!(s.total_reconciliations, 2);
        assert_eq!(s.first_reconciled, Time(at(10)));
        assert_eq!(s.last_reconciled, Time(at(20)));
        assert_eq!(s.last_reconciled_duration, "1.5s");
        assert_eq!(
            s.metadata
                .as_ref()
                .and_then(|m| m.get("revision"))
                .map(String::as_str),
            Some("r1")
        );
    }

    #[test]
    fn a_new_digest_or_status_goes_first_and_a_repeat_moves_to_the_front() {
        let mut h = Vec::new();
        upsert(
            &mut h,
            &outcome("sha256:a", "ReconciliationSucceeded", "r1"),
            at(1),
        );
        upsert(
            &mut h,
            &outcome("sha256:b", "ReconciliationSucceeded", "r2"),
            at(2),
        );
        upsert(
            &mut h,
            &outcome("sha256:b", "HealthCheckFailed", "r2"),
            at(3),
        );
        let order = |h: &[ReconcileSnapshot]| {
            h.iter()
                .map(|s| format!("{} {}", s.digest, s.last_reconciled_status))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            order(&h),
            [
                "sha256:b HealthCheckFailed",
                "sha256:b ReconciliationSucceeded",
                "sha256:a ReconciliationSucceeded"
            ]
        );
        upsert(
            &mut h,
            &outcome("sha256:a", "ReconciliationSucceeded", "r1"),
            at(4),
        );
        assert_eq!(order(&h)[0], "sha256:a ReconciliationSucceeded");
        assert_eq!(h[0].total_reconciliations, 2);
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn at_most_five_snapshots_are_kept_dropping_the_oldest() {
        let mut h = Vec::new();
        for i in 0..7 {
            let d = format!("sha256:{i}");
            upsert(&mut h, &outcome(&d, "ReconciliationSucceeded", "r"), at(i));
        }
        assert_eq!(h.len(), MAX_SNAPSHOTS);
        assert_eq!(h[0].digest, "sha256:6");
        assert_eq!(h[4].digest, "sha256:2");
    }

    #[test]
    fn the_digest_follows_the_content() {
        let a = serde_json::json!({"kind": "ConfigMap", "data": {"k": "v"}});
        let b = serde_json::json!({"kind": "ConfigMap", "data": {"k": "w"}});
        let d = digest(std::slice::from_ref(&a));
        assert!(d.starts_with("sha256:") && d.len() == 7 + 64, "{d}");
        assert_eq!(d, digest(std::slice::from_ref(&a)));
        assert_ne!(d, digest(&[b]));
        assert_ne!(d, digest(&[]));
    }
}
