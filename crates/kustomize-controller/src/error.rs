//! One failure type for every step: the condition reason it maps to, and the message.

use std::time::Duration;

/// Why a reconcile stopped. `reason` is Flux's reason string for `Ready=False`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct Failure {
    pub reason: &'static str,
    pub message: String,
    /// Retrying cannot help until the spec changes (`Stalled=True`).
    pub stalled: bool,
    /// Retry after this long instead of the failure backoff (dependencies).
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            stalled: false,
            retry_after: None,
        }
    }

    pub fn stalled(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            stalled: true,
            ..Self::new(reason, message)
        }
    }
}
