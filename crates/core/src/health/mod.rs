//! kstatus-style health: is an object done becoming what its spec asks for?
//!
//! Written here by hand (Go's `kstatus` has no Rust counterpart). [`compute`] is a pure function
//! of the object's JSON; [`wait`] polls a set of objects on the API server until all are
//! [`Status::Current`], one is [`Status::Failed`] (fail fast, as Flux does), or time runs out.
//!
//! ```text
//!  object JSON ─▶ being deleted?            ─▶ Terminating
//!              ─▶ observedGeneration stale? ─▶ InProgress
//!              ─▶ kind rules (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, Job, PVC,
//!                 Service, CRD, Namespace)
//!              ─▶ else conditions: Stalled ─▶ Failed, Reconciling ─▶ InProgress,
//!                 Ready ─▶ Current / InProgress; none ─▶ Current
//! ```
//!
//! A Kustomization's `healthCheckExprs` ([`CustomHealth`], in `cel.rs`) replace the kind rules
//! for the kinds they list: [`compute_with`], [`wait_with`].

mod cel;
mod rules;

pub use cel::{BoolExpr, CustomHealth, ExprError};
pub use rules::compute;

use crate::apply::{ObjectRef, ResolveError, Resolver};
use kube::Client;
use std::{fmt, time::Duration};

/// kstatus's status values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Fully reconciled: what the spec asks for is there.
    Current,
    /// Still getting there.
    InProgress,
    /// Will not get there without a change (a deadline passed, a pod crashed, Stalled).
    Failed,
    /// Being deleted.
    Terminating,
    /// Does not exist.
    NotFound,
}

/// A status and the reason for it, for conditions and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub status: Status,
    pub message: String,
}

impl Health {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn current() -> Self {
        Self::new(Status::Current, "")
    }

    pub fn is_current(&self) -> bool {
        self.status == Status::Current
    }
}

/// Why [`wait`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// Objects that were not Current when the timeout passed, with their last status.
    #[error("timeout waiting for: [{}]", list(.pending))]
    Timeout { pending: Vec<(ObjectRef, Health)> },
    /// An object reached a failed state.
    #[error("{object} status: 'Failed': {}", .health.message)]
    Failed { object: ObjectRef, health: Health },
    #[error("{object}: {source}")]
    Resolve {
        object: ObjectRef,
        #[source]
        source: ResolveError,
    },
    #[error("{object}: reading it failed: {source}")]
    Get {
        object: ObjectRef,
        #[source]
        source: kube::Error,
    },
}

fn list(pending: &[(ObjectRef, Health)]) -> String {
    pending
        .iter()
        .map(|(o, h)| {
            format!(
                "{o} status: '{}'{}",
                status_word(h.status),
                suffix(&h.message)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Current => "Current",
        Status::InProgress => "InProgress",
        Status::Failed => "Failed",
        Status::Terminating => "Terminating",
        Status::NotFound => "NotFound",
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(status_word(*self))
    }
}

/// The health of an object: by `custom`'s expressions when they list its kind, else by
/// [`compute`]'s built-in rules.
pub fn compute_with(obj: &serde_json::Value, custom: &CustomHealth) -> Health {
    custom.evaluate(obj).unwrap_or_else(|| compute(obj))
}

/// The health of one object on the API server.
pub async fn check(
    client: &Client,
    resolver: &Resolver,
    object: &ObjectRef,
) -> Result<Health, WaitError> {
    check_with(client, resolver, object, &CustomHealth::default()).await
}

/// [`check`] with a Kustomization's `healthCheckExprs`.
pub async fn check_with(
    client: &Client,
    resolver: &Resolver,
    object: &ObjectRef,
    custom: &CustomHealth,
) -> Result<Health, WaitError> {
    let (api, _) = resolver
        .api_for(client, object)
        .await
        .map_err(|source| WaitError::Resolve {
            object: object.clone(),
            source,
        })?;
    let live = api
        .get_opt(&object.name)
        .await
        .map_err(|source| WaitError::Get {
            object: object.clone(),
            source,
        })?;
    Ok(match live {
        None => Health::new(Status::NotFound, "object not found"),
        Some(obj) => compute_with(&serde_json::to_value(&obj).unwrap_or_default(), custom),
    })
}

/// Waits until every object in `objects` is Current.
///
/// Polls with a growing delay (100 ms up to 2 s), so a set that is ready at once costs one
/// read per object. Returns early with [`WaitError::Failed`] when an object fails. A kind
/// that is not served yet counts as not found, and is waited for like a missing object.
pub async fn wait(
    client: &Client,
    resolver: &Resolver,
    objects: &[ObjectRef],
    timeout: Duration,
) -> Result<(), WaitError> {
    wait_with(client, resolver, objects, timeout, &CustomHealth::default()).await
}

/// [`wait`] judging the kinds `custom` lists by its expressions (`healthCheckExprs`).
pub async fn wait_with(
    client: &Client,
    resolver: &Resolver,
    objects: &[ObjectRef],
    timeout: Duration,
    custom: &CustomHealth,
) -> Result<(), WaitError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut delay = Duration::from_millis(100);
    let mut pending: Vec<ObjectRef> = objects.to_vec();
    loop {
        let mut still = Vec::new();
        for object in pending {
            let health = match check_with(client, resolver, &object, custom).await {
                Ok(h) => h,
                Err(WaitError::Resolve {
                    source: ResolveError::UnknownKind { .. },
                    ..
                }) => Health::new(Status::NotFound, "kind not served"),
                Err(e) => return Err(e),
            };
            match health.status {
                Status::Current => {}
                Status::Failed => return Err(WaitError::Failed { object, health }),
                _ => still.push((object, health)),
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(WaitError::Timeout { pending: still });
        }
        pending = still.into_iter().map(|(o, _)| o).collect();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        tokio::time::sleep(delay.min(left)).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}
