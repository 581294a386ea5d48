//! Kubernetes Events on state changes, not on no-ops.
//!
//! A controller reconciles every object every `interval`; an Event per reconcile would bury
//! the ones that matter. [`ready_change`] compares the `Ready` condition before and after a
//! reconcile and yields an Event only when its status, reason or message changed: a failure
//! (Warning, reason = the condition's reason), a recovery or a new revision (Normal).
//! [`Events`] publishes it with kube's `Recorder` (events.k8s.io/v1, which also folds
//! repeats into a series).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{
    Client, Resource,
    runtime::events::{Event, EventType, Recorder, Reporter},
};

/// The `action` field of the Events we publish (required by events.k8s.io/v1).
pub const RECONCILE_ACTION: &str = "Reconcile";

/// The most bytes an Event note may have (the API server refuses more).
pub const MAX_NOTE_BYTES: usize = 1024;

/// What to publish: the Event's type, reason and note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Normal or Warning.
    pub type_: EventType,
    /// `PascalCase` reason, the condition's.
    pub reason: String,
    /// Human-readable message, at most [`MAX_NOTE_BYTES`].
    pub note: String,
}

/// The Event to publish when `Ready` went from `old` to `new`; `None` when nothing a human
/// would care about changed (same status, reason and message) or `new` is absent.
pub fn ready_change(old: Option<&Condition>, new: Option<&Condition>) -> Option<Notice> {
    let new = new?;
    if let Some(old) = old
        && old.status == new.status
        && old.reason == new.reason
        && old.message == new.message
    {
        return None;
    }
    let type_ = if new.status == "False" {
        EventType::Warning
    } else {
        EventType::Normal
    };
    Some(Notice {
        type_,
        reason: new.reason.clone(),
        note: truncate(&new.message, MAX_NOTE_BYTES),
    })
}

/// `text` cut to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Publishes Events as one controller (`reportingController` = its name).
#[derive(Clone)]
pub struct Events {
    recorder: Recorder,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// A publisher reporting as `controller` (e.g. `kustomize-controller`); the instance is the
    /// pod's hostname.
    pub fn new(client: Client, controller: &str) -> Self {
        Self {
            recorder: Recorder::new(client, Reporter::from(controller)),
        }
    }

    /// Publishes `notice` about `obj`.
    pub async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        notice: &Notice,
    ) -> Result<(), kube::Error> {
        let event = Event {
            type_: notice.type_,
            reason: notice.reason.clone(),
            note: Some(notice.note.clone()).filter(|n| !n.is_empty()),
            action: RECONCILE_ACTION.to_owned(),
            secondary: None,
        };
        self.recorder.publish(&event, &obj.object_ref(&())).await
    }

    /// Publishes the Event for a `Ready` change of `obj`, if there is one; returns whether an
    /// Event was published.
    pub async fn publish_ready_change<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        old: Option<&Condition>,
        new: Option<&Condition>,
    ) -> Result<bool, kube::Error> {
        match ready_change(old, new) {
            Some(notice) => self.publish(obj, &notice).await.map(|()| true),
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::{self, Status, reasons, types};

    fn ready(status: Status, reason: &str, msg: &str) -> Condition {
        conditions::new(types::READY, status, reason, msg, Some(1))
    }

    #[test]
    fn no_event_when_nothing_changed() {
        let c = ready(
            Status::True,
            reasons::SUCCEEDED,
            "applied revision main@sha1:1",
        );
        assert_eq!(ready_change(Some(&c), Some(&c)), None);
        assert_eq!(ready_change(Some(&c), None), None);
        assert_eq!(ready_change(None, None), None);
        // Only the generation or time differ: still a no-op for humans.
        let mut later = c.clone();
        later.observed_generation = Some(2);
        assert_eq!(ready_change(Some(&c), Some(&later)), None);
    }

    #[test]
    fn failures_are_warnings_and_recoveries_normal() {
        let ok = ready(
            Status::True,
            reasons::SUCCEEDED,
            "applied revision main@sha1:1",
        );
        let bad = ready(
            Status::False,
            reasons::BUILD_FAILED,
            "kustomize build failed",
        );
        let warn = ready_change(Some(&ok), Some(&bad)).expect("failure event");
        assert_eq!(warn.type_, EventType::Warning);
        assert_eq!(warn.reason, reasons::BUILD_FAILED);
        assert_eq!(warn.note, "kustomize build failed");
        let back = ready_change(Some(&bad), Some(&ok)).expect("recovery event");
        assert_eq!(back.type_, EventType::Normal);
        assert_eq!(back.reason, reasons::SUCCEEDED);
        // First reconcile ever.
        assert!(ready_change(None, Some(&ok)).is_some());
        // A new revision with the same status is news too.
        let newer = ready(
            Status::True,
            reasons::SUCCEEDED,
            "applied revision main@sha1:2",
        );
        assert_eq!(
            ready_change(Some(&ok), Some(&newer)).map(|n| n.note),
            Some("applied revision main@sha1:2".to_owned())
        );
        let progressing = ready(Status::Unknown, reasons::PROGRESSING, "reconciling");
        assert_eq!(
            ready_change(Some(&ok), Some(&progressing)).map(|n| n.type_),
            Some(EventType::Normal)
        );
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(600); // 1200 bytes
        let c = ready(Status::False, reasons::FAILED, &long);
        let n = ready_change(None, Some(&c)).expect("event");
        assert!(n.note.len() <= MAX_NOTE_BYTES);
        assert_eq!(n.note.len(), 1024);
        assert!(n.note.chars().all(|ch| ch == 'é'));
    }
}
