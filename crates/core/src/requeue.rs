//! When to reconcile an object again: at its `interval` with jitter after a success, with
//! exponential backoff after failures.
//!
//! Jitter (Flux's `--interval-jitter-percentage`, default 10) spreads objects that share an
//! interval, so a thousand `interval: 5m` objects do not all wake in the same second. Backoff
//! (Flux's `--min-retry-delay=750ms`, `--max-retry-delay=15m`) is client-go's per-item
//! exponential limiter: the n-th consecutive failure waits `min * 2^(n-1)`, capped at `max`; a
//! success resets the count. Use [`Requeue`] from both `reconcile` and `error_policy`:
//!
//! ```
//! use driftless_core::{duration, requeue::Requeue};
//! use k8s_openapi::api::core::v1::ConfigMap; // a Flux kind in a real controller
//! use kube::runtime::controller::Action;
//! use std::sync::Arc;
//!
//! struct Ctx { requeue: Requeue }
//! #[derive(Debug)]
//! struct Error;
//!
//! async fn reconcile(obj: Arc<ConfigMap>, ctx: Arc<Ctx>) -> Result<Action, Error> {
//!     // ... work; then come back at spec.interval ...
//!     let interval = duration::parse("5m0s").map_err(|_| Error)?;
//!     Ok(ctx.requeue.success(&*obj, interval))
//! }
//!
//! fn error_policy(obj: Arc<ConfigMap>, _err: &Error, ctx: Arc<Ctx>) -> Action {
//!     ctx.requeue.failure(&*obj)
//! }
//!
//! let ctx = Arc::new(Ctx { requeue: Requeue::default() });
//! let obj = Arc::new(ConfigMap::default());
//! // First failure: retry after 750ms; the next after 1.5s.
//! assert_eq!(error_policy(obj.clone(), &Error, ctx.clone()), Action::requeue(std::time::Duration::from_millis(750)));
//! assert_eq!(error_policy(obj, &Error, ctx), Action::requeue(std::time::Duration::from_millis(1500)));
//! ```

use crate::flags::Args;
use kube::{Resource, ResourceExt, runtime::controller::Action};
use rand::Rng;
use std::{collections::HashMap, sync::Mutex, time::Duration};

/// Random +/- percentage applied to requeue intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jitter {
    fraction: f64,
}

impl Jitter {
    /// `percent` of jitter: 10 gives +/-10%. Values of 100 and above disable jitter (Flux
    /// refuses them at flag parsing; clap enforces that for `--interval-jitter-percentage`).
    pub fn percent(percent: u8) -> Self {
        let fraction = if percent >= 100 {
            0.0
        } else {
            f64::from(percent) / 100.0
        };
        Self { fraction }
    }

    /// No jitter.
    pub fn none() -> Self {
        Self { fraction: 0.0 }
    }

    /// The smallest and largest value [`Jitter::apply`] can return for `d`.
    pub fn bounds(&self, d: Duration) -> (Duration, Duration) {
        (
            d.mul_f64(1.0 - self.fraction),
            d.mul_f64(1.0 + self.fraction),
        )
    }

    /// `d` changed by a uniformly random amount within +/- the percentage.
    pub fn apply(&self, d: Duration) -> Duration {
        self.apply_with(d, &mut rand::rng())
    }

    /// [`Jitter::apply`] with a given random source.
    pub fn apply_with(&self, d: Duration, rng: &mut impl Rng) -> Duration {
        if self.fraction == 0.0 || d.is_zero() {
            return d;
        }
        let r: f64 = rng.random_range(-1.0..=1.0);
        d.mul_f64(1.0 + self.fraction * r)
    }
}

/// Exponential backoff between `min` and `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub min: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(750),
            max: Duration::from_secs(15 * 60),
        }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1 for the first): `min * 2^(failures-1)`,
    /// at most `max`.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(63);
        let factor = 1u64 << exp;
        let nanos = self.min.as_nanos().saturating_mul(u128::from(factor));
        let max = self.max.as_nanos();
        let nanos = nanos.min(max);
        // Both bounds fit: nanos <= max, and max came from a Duration.
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// Per-object requeue decisions for one controller; share it through the reconcile context.
#[derive(Debug)]
pub struct Requeue {
    jitter: Jitter,
    backoff: Backoff,
    failures: Mutex<HashMap<String, u32>>,
}

impl Default for Requeue {
    /// Flux's defaults: 10% jitter, backoff from 750ms to 15m.
    fn default() -> Self {
        Self::new(Jitter::percent(10), Backoff::default())
    }
}

impl Requeue {
    /// With the given jitter and backoff.
    pub fn new(jitter: Jitter, backoff: Backoff) -> Self {
        Self {
            jitter,
            backoff,
            failures: Mutex::default(),
        }
    }

    /// From `--interval-jitter-percentage`, `--min-retry-delay`, `--max-retry-delay`.
    pub fn from_args(args: &Args) -> Self {
        Self::new(
            Jitter::percent(args.interval_jitter_percentage),
            Backoff {
                min: args.min_retry_delay.get(),
                max: args.max_retry_delay.get(),
            },
        )
    }

    fn key<K: Resource<DynamicType = ()>>(obj: &K) -> String {
        format!(
            "{}/{}/{}",
            K::kind(&()),
            obj.namespace().unwrap_or_default(),
            obj.name_any()
        )
    }

    /// After a successful reconcile: forget past failures, come back at `interval` +/- jitter.
    pub fn success<K: Resource<DynamicType = ()>>(&self, obj: &K, interval: Duration) -> Action {
        self.forget(obj);
        Action::requeue(self.jitter.apply(interval))
    }

    /// After a failed reconcile: count it and come back after the backoff delay.
    pub fn failure<K: Resource<DynamicType = ()>>(&self, obj: &K) -> Action {
        Action::requeue(self.next_failure_delay(&Self::key(obj)))
    }

    /// Forget the failures of `obj` (on success or deletion).
    pub fn forget<K: Resource<DynamicType = ()>>(&self, obj: &K) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&Self::key(obj));
        }
    }

    /// How many consecutive failures `obj` has had.
    pub fn failures<K: Resource<DynamicType = ()>>(&self, obj: &K) -> u32 {
        self.failures
            .lock()
            .map(|m| m.get(&Self::key(obj)).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    fn next_failure_delay(&self, key: &str) -> Duration {
        let n = match self.failures.lock() {
            Ok(mut map) => {
                let n = map.entry(key.to_owned()).or_insert(0);
                *n = n.saturating_add(1);
                *n
            }
            // A poisoned lock only loses the count; retry at the slowest pace to be safe.
            Err(_) => u32::MAX,
        };
        self.backoff.delay(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use rand::{SeedableRng, rngs::StdRng};

    fn cm(ns: &str, name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let j = Jitter::percent(10);
        let d = Duration::from_secs(300);
        let (lo, hi) = j.bounds(d);
        assert_eq!(lo, Duration::from_secs(270));
        assert_eq!(hi, Duration::from_secs(330));
        let mut rng = StdRng::seed_from_u64(7);
        let samples: Vec<Duration> = (0..1000).map(|_| j.apply_with(d, &mut rng)).collect();
        assert!(samples.iter().all(|s| *s >= lo && *s <= hi));
        // Both halves of the window are used.
        assert!(samples.iter().any(|s| *s < d) && samples.iter().any(|s| *s > d));
        assert_eq!(Jitter::none().apply(d), d);
        assert_eq!(Jitter::percent(0).apply(d), d);
        assert_eq!(Jitter::percent(100).apply(d), d);
    }

    #[test]
    fn backoff_doubles_from_min_to_max() {
        let b = Backoff::default();
        let secs: Vec<f64> = (1..=6).map(|n| b.delay(n).as_secs_f64()).collect();
        assert_eq!(secs, [0.75, 1.5, 3.0, 6.0, 12.0, 24.0]);
        assert_eq!(b.delay(11), Duration::from_millis(768_000));
        assert_eq!(b.delay(12), Duration::from_secs(900));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(900));
        assert_eq!(b.delay(0), Duration::from_millis(750));
    }

    #[test]
    fn failures_are_counted_per_object_and_reset_on_success() {
        let r = Requeue::new(Jitter::none(), Backoff::default());
        let a = cm("ns", "a");
        let b = cm("ns", "b");
        assert_eq!(r.failure(&a), Action::requeue(Duration::from_millis(750)));
        assert_eq!(r.failure(&a), Action::requeue(Duration::from_millis(1500)));
        assert_eq!(r.failure(&a), Action::requeue(Duration::from_millis(3000)));
        assert_eq!(r.failure(&b), Action::requeue(Duration::from_millis(750)));
        assert_eq!(r.failures(&a), 3);
        assert_eq!(
            r.success(&a, Duration::from_secs(60)),
            Action::requeue(Duration::from_secs(60))
        );
        assert_eq!(r.failures(&a), 0);
        assert_eq!(r.failure(&a), Action::requeue(Duration::from_millis(750)));
        assert_eq!(r.failures(&b), 1);
    }
}
