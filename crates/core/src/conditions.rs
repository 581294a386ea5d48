//! Status conditions with kstatus semantics, on `Vec<metav1::Condition>`.
//!
//! Flux tooling (`flux get`, `kubectl wait --for=condition=Ready`, kstatus health checks in a
//! parent Kustomization) reads these conditions, so the rules are Flux's:
//!
//! - `Ready` is True only when the object is fully reconciled; False with a reason on failure.
//! - `Reconciling` and `Stalled` are "abnormal-true": present only when True. Setting one of
//!   them to False or Unknown removes it. Marking Stalled removes Reconciling and the reverse.
//! - `lastTransitionTime` changes only when the status changes; a new reason or message
//!   alone keeps it (so "Ready since" stays meaningful).
//! - Each condition carries the `observedGeneration` it was computed for.
//! - The list is ordered `Ready` first, then by type, so SSA patches are stable.

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};

/// Condition types (Flux's `meta` package and controllers).
pub mod types {
    /// The object is fully reconciled (True) or why not (False/Unknown).
    pub const READY: &str = "Ready";
    /// The controller is working on the latest spec; present only when True.
    pub const RECONCILING: &str = "Reconciling";
    /// Reconciliation cannot make progress without a user change; present only when True.
    pub const STALLED: &str = "Stalled";
    /// The applied workloads passed their health checks (Kustomization, HelmRelease).
    pub const HEALTHY: &str = "Healthy";
    /// The source's artifact is in storage (source kinds).
    pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
    /// The stored artifact is older than the latest fetched revision (source kinds).
    pub const ARTIFACT_OUTDATED: &str = "ArtifactOutdated";
    /// The source's signature was verified (source kinds).
    pub const SOURCE_VERIFIED: &str = "SourceVerified";
    /// Fetching the source failed (source kinds).
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// Building the artifact failed (HelmChart, GitRepository includes).
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// A storage operation failed (source kinds).
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// An included GitRepository is not available (GitRepository).
    pub const INCLUDE_UNAVAILABLE: &str = "IncludeUnavailable";
    /// The last Helm release action's outcome (HelmRelease).
    pub const RELEASED: &str = "Released";
    /// The last Helm test's outcome (HelmRelease).
    pub const TEST_SUCCESS: &str = "TestSuccess";
    /// The last remediation's outcome (HelmRelease).
    pub const REMEDIATED: &str = "Remediated";
}

/// Reason strings (Flux's `meta` package and the controllers' APIs), `PascalCase`.
pub mod reasons {
    /// Generic success.
    pub const SUCCEEDED: &str = "Succeeded";
    /// Generic failure.
    pub const FAILED: &str = "Failed";
    /// Work is underway.
    pub const PROGRESSING: &str = "Progressing";
    /// Work is underway again after a failure; it will be retried.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// `spec.suspend` is true.
    pub const SUSPENDED: &str = "Suspended";
    /// A `dependsOn` dependency is not Ready yet.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// Reconciliation succeeded (Kustomization, HelmRelease).
    pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
    /// Reconciliation failed (Kustomization, HelmRelease).
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// A health check failed or timed out.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// A CEL expression (`healthCheckExprs`) does not compile.
    pub const INVALID_CEL_EXPRESSION: &str = "InvalidCELExpression";
    /// The source artifact could not be fetched or verified.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// kustomize build (or chart build) failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// Pruning objects that left the source failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// Server-side dry-run or validation failed.
    pub const VALIDATION_FAILED: &str = "ValidationFailed";
    /// A Git clone/fetch/push failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// A Git clone/fetch succeeded.
    pub const GIT_OPERATION_SUCCEEDED: &str = "GitOperationSucceeded";
    /// Credentials were missing or rejected.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Signature verification could not run (e.g. no usable key in the Secret).
    pub const VERIFICATION_ERROR: &str = "VerificationError";
    /// The commit is unsigned or no trusted key verifies its signature.
    pub const INVALID_COMMIT_SIGNATURE: &str = "InvalidCommitSignature";
    /// No trusted key verifies the tag's signature.
    pub const INVALID_TAG_SIGNATURE: &str = "InvalidTagSignature";
    /// The object to verify cannot carry a signature (an unsigned or lightweight tag).
    pub const INVALID_GIT_OBJECT: &str = "InvalidGitObject";
    /// `verify.mode` asks for a tag but the reference names none.
    pub const INVALID_VERIFICATION_MODE: &str = "InvalidVerificationMode";
    /// `spec.url` is not valid.
    pub const URL_INVALID: &str = "URLInvalid";
    /// A path in the spec is not valid.
    pub const INVALID_PATH: &str = "InvalidPath";
    /// The stored artifact matches the latest revision.
    pub const ARTIFACT_UP_TO_DATE: &str = "ArtifactUpToDate";
    /// A new artifact was stored.
    pub const NEW_ARTIFACT: &str = "NewArtifact";
    /// A storage directory could not be created.
    pub const DIR_CREATION_FAILED: &str = "DirectoryCreationFailed";
    /// Archiving the artifact failed.
    pub const ARCHIVE_OPERATION_FAILED: &str = "ArchiveOperationFailed";
    /// A referenced object was in another namespace under `--no-cross-namespace-refs`.
    pub const ACCESS_DENIED: &str = "AccessDenied";
}

/// The condition of `type_`, if present.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition `type_` is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "True")
}

/// Whether the condition `type_` is present with status `False`.
pub fn is_false(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "False")
}

/// `Ready=True`.
pub fn is_ready(conditions: &[Condition]) -> bool {
    is_true(conditions, types::READY)
}

/// `Stalled=True`.
pub fn is_stalled(conditions: &[Condition]) -> bool {
    is_true(conditions, types::STALLED)
}

/// `Reconciling=True`.
pub fn is_reconciling(conditions: &[Condition]) -> bool {
    is_true(conditions, types::RECONCILING)
}

/// The three statuses a condition can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `"True"`
    True,
    /// `"False"`
    False,
    /// `"Unknown"`
    Unknown,
}

impl Status {
    /// The API string.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

fn is_abnormal_true(type_: &str) -> bool {
    type_ == types::RECONCILING || type_ == types::STALLED
}

/// Sets a condition, keeping kstatus rules: `lastTransitionTime` is kept unless the status
/// changed, abnormal-true types are removed unless True, and the list stays ordered.
/// Returns whether anything changed.
pub fn set(conditions: &mut Vec<Condition>, new: Condition) -> bool {
    set_at(conditions, new, Timestamp::now())
}

/// [`set`] with an explicit clock, for deterministic callers and tests.
pub fn set_at(conditions: &mut Vec<Condition>, mut new: Condition, now: Timestamp) -> bool {
    if is_abnormal_true(&new.type_) && new.status != "True" {
        return remove(conditions, &new.type_);
    }
    let changed = match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            if existing.status == new.status {
                new.last_transition_time = existing.last_transition_time.clone();
            } else {
                new.last_transition_time = Time(now);
            }
            let changed = *existing != new;
            *existing = new;
            changed
        }
        None => {
            new.last_transition_time = Time(now);
            conditions.push(new);
            true
        }
    };
    conditions.sort_by(|a, b| order_key(&a.type_).cmp(&order_key(&b.type_)));
    changed
}

fn order_key(type_: &str) -> (bool, &str) {
    (type_ != types::READY, type_)
}

/// Removes the condition `type_`; returns whether it was present.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

/// Builds a condition value (its `lastTransitionTime` is filled in by [`set`]).
pub fn new(
    type_: &str,
    status: Status,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: status.as_str().to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        observed_generation,
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
    }
}

/// Sets `type_` to `status` with a reason and message, computed for `generation`.
pub fn mark(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: Status,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) -> bool {
    set(conditions, new(type_, status, reason, message, generation))
}

/// `Reconciling=True` (work started on this generation); clears `Stalled`.
pub fn mark_reconciling(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) -> bool {
    let removed = remove(conditions, types::STALLED);
    mark(
        conditions,
        types::RECONCILING,
        Status::True,
        reason,
        message,
        generation,
    ) || removed
}

/// `Stalled=True` (no progress without a user change); clears `Reconciling`.
pub fn mark_stalled(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) -> bool {
    let removed = remove(conditions, types::RECONCILING);
    mark(
        conditions,
        types::STALLED,
        Status::True,
        reason,
        message,
        generation,
    ) || removed
}

/// The end of a successful reconcile: `Ready=True`, `Reconciling` and `Stalled` removed.
pub fn mark_ready(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) -> bool {
    let a = remove(conditions, types::RECONCILING);
    let b = remove(conditions, types::STALLED);
    mark(
        conditions,
        types::READY,
        Status::True,
        reason,
        message,
        generation,
    ) || a
        || b
}

/// The end of a failed reconcile that will be retried: `Ready=False` with the reason, and an
/// existing `Reconciling` turned into `ProgressingWithRetry` (Flux's convention).
pub fn mark_failed(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) -> bool {
    let message = message.into();
    let mut changed = mark(
        conditions,
        types::READY,
        Status::False,
        reason,
        message.clone(),
        generation,
    );
    if is_reconciling(conditions) {
        changed |= mark(
            conditions,
            types::RECONCILING,
            Status::True,
            reasons::PROGRESSING_WITH_RETRY,
            message,
            generation,
        );
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid timestamp")
    }

    fn ready(status: Status, reason: &str, msg: &str) -> Condition {
        new(types::READY, status, reason, msg, Some(1))
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut c = Vec::new();
        assert!(set_at(
            &mut c,
            ready(Status::False, reasons::PROGRESSING, "a"),
            at(10)
        ));
        assert_eq!(c[0].last_transition_time, Time(at(10)));
        // Same status, new message and reason: time kept, still a change.
        assert!(set_at(
            &mut c,
            ready(Status::False, reasons::BUILD_FAILED, "b"),
            at(20)
        ));
        assert_eq!(c[0].last_transition_time, Time(at(10)));
        assert_eq!(c[0].reason, reasons::BUILD_FAILED);
        // Identical: no change at all.
        assert!(!set_at(
            &mut c,
            ready(Status::False, reasons::BUILD_FAILED, "b"),
            at(30)
        ));
        assert_eq!(c[0].last_transition_time, Time(at(10)));
        // Status flips: time moves.
        assert!(set_at(
            &mut c,
            ready(Status::True, reasons::SUCCEEDED, "ok"),
            at(40)
        ));
        assert_eq!(c[0].last_transition_time, Time(at(40)));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn reconciling_and_stalled_exist_only_when_true() {
        let mut c = Vec::new();
        assert!(!set(
            &mut c,
            new(types::RECONCILING, Status::False, "X", "", None)
        ));
        assert!(c.is_empty());
        mark_reconciling(&mut c, reasons::PROGRESSING, "working", Some(2));
        assert!(is_reconciling(&c));
        assert!(set(
            &mut c,
            new(types::RECONCILING, Status::Unknown, "X", "", None)
        ));
        assert!(get(&c, types::RECONCILING).is_none());
        mark_stalled(&mut c, reasons::INVALID_PATH, "bad", Some(2));
        assert!(is_stalled(&c));
        mark_reconciling(&mut c, reasons::PROGRESSING, "again", Some(3));
        assert!(is_reconciling(&c) && !is_stalled(&c));
        mark_stalled(&mut c, reasons::INVALID_PATH, "bad", Some(3));
        assert!(is_stalled(&c) && !is_reconciling(&c));
    }

    #[test]
    fn ready_removes_reconciling_and_stalled_and_records_generation() {
        let mut c = Vec::new();
        mark_reconciling(&mut c, reasons::PROGRESSING, "working", Some(4));
        mark(
            &mut c,
            types::READY,
            Status::False,
            reasons::PROGRESSING,
            "working",
            Some(4),
        );
        assert!(mark_ready(
            &mut c,
            reasons::SUCCEEDED,
            "applied revision main@sha1:abc",
            Some(4)
        ));
        assert_eq!(c.len(), 1);
        assert!(is_ready(&c));
        assert_eq!(c[0].observed_generation, Some(4));
        assert!(!mark_ready(
            &mut c,
            reasons::SUCCEEDED,
            "applied revision main@sha1:abc",
            Some(4)
        ));
    }

    #[test]
    fn failure_while_reconciling_becomes_progressing_with_retry() {
        let mut c = Vec::new();
        mark_reconciling(&mut c, reasons::PROGRESSING, "working", Some(1));
        mark_failed(
            &mut c,
            reasons::BUILD_FAILED,
            "kustomization.yaml: bad",
            Some(1),
        );
        assert!(is_false(&c, types::READY));
        let r = get(&c, types::RECONCILING).expect("still reconciling");
        assert_eq!(r.reason, reasons::PROGRESSING_WITH_RETRY);
        // Without Reconciling, a failure does not invent it.
        let mut d = Vec::new();
        mark_failed(&mut d, reasons::ARTIFACT_FAILED, "404", None);
        assert!(get(&d, types::RECONCILING).is_none());
    }

    #[test]
    fn ready_comes_first_then_types_in_order() {
        let mut c = Vec::new();
        mark(
            &mut c,
            types::SOURCE_VERIFIED,
            Status::True,
            reasons::SUCCEEDED,
            "",
            None,
        );
        mark(
            &mut c,
            types::ARTIFACT_IN_STORAGE,
            Status::True,
            reasons::SUCCEEDED,
            "",
            None,
        );
        mark_reconciling(&mut c, reasons::PROGRESSING, "", None);
        mark(
            &mut c,
            types::READY,
            Status::False,
            reasons::PROGRESSING,
            "",
            None,
        );
        let order: Vec<&str> = c.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            order,
            [
                types::READY,
                types::ARTIFACT_IN_STORAGE,
                types::RECONCILING,
                types::SOURCE_VERIFIED
            ]
        );
        assert!(remove(&mut c, types::SOURCE_VERIFIED));
        assert!(!remove(&mut c, types::SOURCE_VERIFIED));
    }

    #[test]
    fn unknown_is_a_status_of_its_own() {
        let mut c = Vec::new();
        mark(
            &mut c,
            types::READY,
            Status::Unknown,
            reasons::PROGRESSING,
            "reconciliation in progress",
            Some(1),
        );
        assert!(!is_ready(&c) && !is_false(&c, types::READY));
        assert_eq!(
            get(&c, types::READY).map(|c| c.status.as_str()),
            Some("Unknown")
        );
    }
}
