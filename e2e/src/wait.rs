//! Waiting for the cluster to converge, with timeouts whose errors say what was last seen.
//!
//! Polling (every 200 ms) rather than watching: it is simple, survives API server hiccups and
//! costs nothing measurable against a loopback API server.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

const POLL: Duration = Duration::from_millis(200);

/// Calls `check` until it returns `Ok(Ok(value))` or `timeout` passes.
///
/// `Ok(Err(seen))` means "not yet" and describes what was seen; the timeout error quotes the
/// last one. `Err(e)` stops the wait at once (a real failure, not a state to wait out).
pub async fn until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Result<T, String>>>,
{
    let started = Instant::now();
    loop {
        let seen = match check().await? {
            Ok(value) => return Ok(value),
            Err(seen) => seen,
        };
        if started.elapsed() >= timeout {
            bail!(
                "timed out after {}s waiting for {what}; last seen: {seen}",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the object `name` exists and satisfies `condition`; returns it.
///
/// On timeout the error names the object and prints its `status` (or says it does not exist).
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    what: &str,
    condition: impl Fn(&K) -> bool,
) -> anyhow::Result<K>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    until(timeout, &format!("{kind} {name} to {what}"), || async {
        Ok(match api.get_opt(name).await? {
            Some(obj) if condition(&obj) => Ok(obj),
            Some(obj) => Err(format!("status {}", status_of(&obj))),
            None => Err("it does not exist".to_owned()),
        })
    })
    .await
}

/// Waits until the object `name` is gone (its finalizers ran and it was removed).
pub async fn wait_deleted<K>(api: &Api<K>, name: &str, timeout: Duration) -> anyhow::Result<()>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    until(timeout, &format!("{kind} {name} to be deleted"), || async {
        Ok(match api.get_opt(name).await? {
            None => Ok(()),
            Some(obj) => Err(format!(
                "still there with finalizers {:?} and status {}",
                obj.meta().finalizers.as_deref().unwrap_or_default(),
                status_of(&obj)
            )),
        })
    })
    .await
}

/// The object's `.status` as compact JSON (or the whole object when it has none).
pub fn status_of<K: Serialize>(obj: &K) -> String {
    match serde_json::to_value(obj) {
        Ok(value) => match value.get("status") {
            Some(status) => status.to_string(),
            None => format!("(no status) {value}"),
        },
        Err(e) => format!("(cannot serialize: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn until_quotes_the_last_state_on_timeout() {
        let mut calls = 0;
        let err = until(Duration::from_millis(300), "the answer", || {
            calls += 1;
            let seen = format!("attempt {calls}");
            async move { Ok(Err::<(), _>(seen)) }
        })
        .await
        .expect_err("never converges");
        let msg = err.to_string();
        assert!(msg.contains("waiting for the answer"), "{msg}");
        assert!(
            msg.contains(&format!("last seen: attempt {calls}")),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn until_returns_the_value_and_stops_on_errors() {
        let mut calls = 0;
        let value = until(Duration::from_secs(5), "three calls", || {
            calls += 1;
            let n = calls;
            async move { Ok(if n >= 3 { Ok(n) } else { Err(format!("{n}")) }) }
        })
        .await
        .expect("converges");
        assert_eq!(value, 3);

        let err = until(Duration::from_secs(5), "never", || async {
            Err::<Result<(), String>, _>(anyhow::anyhow!("boom"))
        })
        .await
        .expect_err("fails at once");
        assert_eq!(err.to_string(), "boom");
    }
}
