//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's rules.
//!
//! Only the holder of the Lease `<controller>-leader-election` in the controller's namespace
//! reconciles. The holder renews `renewTime` every retry period; a candidate takes over when
//! it has seen the same Lease record unchanged for `leaseDurationSeconds` (measured on its own
//! clock, so clock skew between nodes does not matter). A leader that cannot renew within the
//! renew deadline, or finds another holder, has lost and must stop reconciling at once. On a
//! clean shutdown the leader releases the Lease (empty holder, 1s duration) so a successor
//! starts without waiting out the lease.
//!
//! kube-runtime has no leader election, so this is written by hand against the Lease API.

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use std::time::Duration;
use tokio::time::Instant;

/// Settings of one election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// Lease name, by convention `<controller>-leader-election` (Flux's naming).
    pub lease_name: String,
    /// Namespace of the Lease (the controller's own).
    pub namespace: String,
    /// This candidate's unique identity (`hostname_random`).
    pub identity: String,
    /// How long a record must stay unchanged before others may take over.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up.
    pub renew_deadline: Duration,
    /// Pause between attempts.
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// Flux's lease name for a controller.
    pub fn lease_name_for(controller: &str) -> String {
        format!("{controller}-leader-election")
    }

    /// A fresh identity: the hostname plus a random suffix, unique per process.
    pub fn new_identity() -> String {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "driftless".to_owned());
        format!("{host}_{:016x}", rand::random::<u64>())
    }
}

/// Why leadership ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeadershipLost {
    /// Another candidate holds the Lease now.
    #[error("leader election lost: lease {lease} is held by {holder}")]
    TakenOver {
        /// The Lease.
        lease: String,
        /// Its new holder.
        holder: String,
    },
    /// Renewal failed until the renew deadline passed.
    #[error(
        "leader election lost: could not renew lease {lease} within {deadline:?}: {last_error}"
    )]
    RenewDeadline {
        /// The Lease.
        lease: String,
        /// The renew deadline.
        deadline: Duration,
        /// The last error seen.
        last_error: String,
    },
}

/// The outcome of one acquire-or-renew attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// We hold the Lease (acquired or renewed).
    Leader,
    /// Someone else holds a valid Lease.
    Follower {
        /// The current holder.
        holder: String,
    },
}

/// The last Lease record seen and when (on our clock).
#[derive(Debug, Clone)]
struct Observed {
    spec: LeaseSpec,
    at: Instant,
}

/// One candidate in one election.
#[derive(Debug)]
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    observed: Option<Observed>,
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
}

impl LeaderElector {
    /// A candidate using `client` with `config`.
    pub fn new(client: Client, config: LeaderElectionConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
        }
    }

    /// This candidate's settings.
    pub fn config(&self) -> &LeaderElectionConfig {
        &self.config
    }

    fn observe(&mut self, spec: &LeaseSpec) {
        let changed = self.observed.as_ref().is_none_or(|o| o.spec != *spec);
        if changed {
            self.observed = Some(Observed {
                spec: spec.clone(),
                at: Instant::now(),
            });
        }
    }

    /// One attempt to acquire the Lease, or renew it if we hold it. A write that loses a race
    /// (conflict, already exists) counts as follower, not as an error.
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let me = self.config.identity.clone();
        let Some(lease) = self.api.get_opt(&self.config.lease_name).await? else {
            let spec = LeaseSpec {
                holder_identity: Some(me.clone()),
                lease_duration_seconds: Some(secs(self.config.lease_duration)),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..Default::default()
            };
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.lease_name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(spec.clone()),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    self.observe(&spec);
                    Ok(Attempt::Leader)
                }
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Follower {
                    holder: String::new(),
                }),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        self.observe(&spec);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let held_by_me = holder == me;
        if !held_by_me && !holder.is_empty() {
            let duration = spec
                .lease_duration_seconds
                .filter(|s| *s > 0)
                .map_or(self.config.lease_duration, |s| {
                    Duration::from_secs(u64::try_from(s).unwrap_or(0))
                });
            let seen_at = self.observed.as_ref().map_or_else(Instant::now, |o| o.at);
            if seen_at + duration > Instant::now() {
                return Ok(Attempt::Follower { holder });
            }
        }
        let mut new_spec = spec.clone();
        new_spec.lease_duration_seconds = Some(secs(self.config.lease_duration));
        new_spec.renew_time = Some(now.clone());
        if !held_by_me {
            new_spec.holder_identity = Some(me);
            new_spec.acquire_time = Some(now);
            new_spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        let mut updated = lease;
        updated.spec = Some(new_spec.clone());
        // replace carries metadata.resourceVersion: a concurrent writer makes it fail with 409.
        match self
            .api
            .replace(&self.config.lease_name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => {
                self.observe(&new_spec);
                Ok(Attempt::Leader)
            }
            // Someone wrote the Lease since we read it; who holds it now shows at the next read.
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Follower {
                holder: String::new(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Waits until this candidate holds the Lease. Errors are logged and retried: the API
    /// server may be briefly unreachable while a cluster starts. Cancel by dropping the future.
    pub async fn acquire(&mut self) {
        let mut last_holder = String::new();
        loop {
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Leader) => {
                    tracing::info!(lease = %self.config.lease_name, identity = %self.config.identity, "acquired leadership");
                    return;
                }
                Ok(Attempt::Follower { holder }) => {
                    if holder != last_holder {
                        tracing::info!(lease = %self.config.lease_name, %holder, "waiting for leadership");
                        last_holder = holder;
                    }
                }
                Err(e) => {
                    tracing::warn!(lease = %self.config.lease_name, error = %e, "leader election attempt failed")
                }
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Keeps renewing while we lead; returns only when leadership is lost. Cancel by dropping
    /// the future (then call [`LeaderElector::release`]).
    pub async fn keep_renewing(&mut self) -> LeadershipLost {
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            let deadline = Instant::now() + self.config.renew_deadline;
            let mut last_error = String::from("no attempt finished");
            loop {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    return LeadershipLost::RenewDeadline {
                        lease: self.config.lease_name.clone(),
                        deadline: self.config.renew_deadline,
                        last_error,
                    };
                }
                match tokio::time::timeout(remaining, self.try_acquire_or_renew()).await {
                    Ok(Ok(Attempt::Leader)) => break,
                    Ok(Ok(Attempt::Follower { holder })) if !holder.is_empty() => {
                        return LeadershipLost::TakenOver {
                            lease: self.config.lease_name.clone(),
                            holder,
                        };
                    }
                    Ok(Ok(Attempt::Follower { .. })) => last_error = "lease update conflict".into(),
                    Ok(Err(e)) => last_error = e.to_string(),
                    Err(_) => last_error = "renewal timed out".into(),
                }
                let pause = self
                    .config
                    .retry_period
                    .min(deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// Gives the Lease up if we hold it: empty holder and a 1s duration, so the next
    /// candidate takes over at its next attempt.
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.lease_name).await? else {
            return Ok(());
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        let now = MicroTime(Timestamp::now());
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now.clone());
        spec.acquire_time = Some(now);
        lease.spec = Some(spec);
        self.api
            .replace(&self.config.lease_name, &PostParams::default(), &lease)
            .await?;
        tracing::info!(lease = %self.config.lease_name, "released leadership");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_flux_and_identities_are_unique() {
        assert_eq!(
            LeaderElectionConfig::lease_name_for("source-controller"),
            "source-controller-leader-election"
        );
        let a = LeaderElectionConfig::new_identity();
        let b = LeaderElectionConfig::new_identity();
        assert_ne!(a, b);
        assert!(a.contains('_'));
    }

    #[test]
    fn lease_seconds_are_at_least_one() {
        assert_eq!(secs(Duration::from_millis(300)), 1);
        assert_eq!(secs(Duration::from_secs(35)), 35);
    }
}
