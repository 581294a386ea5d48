//! The controller main loop: servers, leader election, graceful shutdown, around the
//! controller's own body.
//!
//! ```text
//!  SIGTERM/SIGINT ─┐                 ┌─ /metrics  (--metrics-addr)
//!                  ▼                 ├─ /healthz, /readyz (--health-addr)
//!              Shutdown ◄── lost ──┐ │
//!                  │               │ │
//!   run ──► servers ──► acquire Lease ──► body(Runtime) ──► release Lease ──► stop servers
//!                        (if enabled)  keep renewing ┘
//! ```
//!
//! The body runs one or more `kube::runtime::Controller`s with
//! `.graceful_shutdown_on(rt.shutdown.wait_owned())`, so a signal or a lost Lease lets the
//! running reconciles finish and then stops them. Losing the Lease makes [`run`] return
//! [`RunError::LeadershipLost`]; `main` then exits non-zero and the pod restarts as a
//! follower, as Flux's controllers do.

use crate::{
    events::Events,
    flags::{Args, FlagError, RUNTIME_NAMESPACE_ENV},
    leader::{LeaderElectionConfig, LeaderElector, LeadershipLost},
    metrics::Metrics,
    serve::{self, Readiness, ServeError},
};
use kube::Client;
use std::{future::Future, sync::Arc, time::Duration};
use tokio::sync::watch;

/// The file the kubelet mounts with the pod's namespace.
const SERVICE_ACCOUNT_NAMESPACE_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// A one-way "stop now" signal shared by everything in the process.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// Not triggered.
    pub fn new() -> Self {
        Self {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    /// Starts shutdown; later calls do nothing.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Completes once shutdown has started; `'static`, `Send` and `Sync`, as
    /// `Controller::graceful_shutdown_on` wants.
    pub fn wait_owned(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            // An error means the sender is gone, which only happens when the process ends.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }

    /// Triggers on the first SIGTERM or SIGINT; a second one exits the process at once
    /// (exit code 1), like controller-runtime.
    pub fn trigger_on_signals(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let this = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
                _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
            }
            this.trigger();
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::error!("second signal received, exiting immediately");
            std::process::exit(1);
        });
        Ok(())
    }
}

/// What the controller body gets from [`run`].
#[derive(Clone)]
pub struct Runtime {
    /// The controller's name: Lease name prefix, Event reporter, status field manager.
    pub name: String,
    /// A client for the controller's own identity.
    pub client: Client,
    /// Flux's reconcile metrics, served on `/metrics`.
    pub metrics: Metrics,
    /// Event publisher reporting as this controller.
    pub events: Events,
    /// Stop signal: pass `shutdown.wait_owned()` to `Controller::graceful_shutdown_on`.
    pub shutdown: Shutdown,
    /// Readiness: register watch caches with `readiness.wait_for(store.wait_until_ready())`.
    pub readiness: Readiness,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why [`run`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A flag value is unusable.
    #[error(transparent)]
    Flags(#[from] FlagError),
    /// A server could not start.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// No Kubernetes client configuration (kubeconfig or in-cluster) was found.
    #[error("cannot create a Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    /// Leadership was lost while running; the process should exit and restart.
    #[error(transparent)]
    LeadershipLost(#[from] LeadershipLost),
    /// The controller body failed.
    #[error("controller failed: {0}")]
    Controller(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Settings of [`run_with`] beyond the flags.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Controller name, e.g. `source-controller`.
    pub name: String,
    /// Namespace for the Lease; `None` finds it like Flux: `$RUNTIME_NAMESPACE`, then the
    /// service account namespace file, then the client's default namespace.
    pub lease_namespace: Option<String>,
    /// Candidate identity; `None` generates `hostname_random`.
    pub identity: Option<String>,
}

impl RunOptions {
    /// Defaults for a controller called `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            lease_namespace: None,
            identity: None,
        }
    }
}

/// Selects rustls' `ring` crypto provider for the process (what kube is built with).
///
/// The workspace links two providers (kube uses ring, reqwest aws-lc-rs), and rustls then
/// refuses to guess: the first TLS connection panics unless a provider was installed. [`run`]
/// calls this; tests and tools that build a `kube::Client` themselves call it first. Calling it
/// again is harmless.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs a controller process: crypto provider, client from kubeconfig or in-cluster config,
/// signal handling, then [`run_with`].
pub async fn run<F, Fut, E>(
    name: &str,
    args: &Args,
    metrics: Metrics,
    body: F,
) -> Result<(), RunError>
where
    F: FnOnce(Runtime) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    install_crypto_provider();
    let client = Client::try_default().await.map_err(RunError::Client)?;
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals().map_err(RunError::Signals)?;
    run_with(RunOptions::new(name), args, client, metrics, shutdown, body).await
}

fn lease_namespace(client: &Client, configured: Option<&str>) -> String {
    if let Some(ns) = configured {
        return ns.to_owned();
    }
    if let Ok(ns) = std::env::var(RUNTIME_NAMESPACE_ENV)
        && !ns.is_empty()
    {
        return ns;
    }
    if let Ok(ns) = std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE_FILE) {
        let ns = ns.trim();
        if !ns.is_empty() {
            return ns.to_owned();
        }
    }
    client.default_namespace().to_owned()
}

/// [`run`] with a given client and shutdown signal (tests, embedding).
pub async fn run_with<F, Fut, E>(
    options: RunOptions,
    args: &Args,
    client: Client,
    metrics: Metrics,
    shutdown: Shutdown,
    body: F,
) -> Result<(), RunError>
where
    F: FnOnce(Runtime) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if !args.events_addr.is_empty() {
        tracing::info!(
            events_addr = %args.events_addr,
            "--events-addr: events are recorded as Kubernetes Events (no notification-controller yet)"
        );
    }
    let election = &args.leader_election;
    if election.enable_leader_election {
        election.validate()?;
    }
    let readiness = Readiness::new();
    let metrics_server = serve::serve(
        "metrics",
        &args.metrics_addr,
        serve::metrics_router(metrics.clone()),
        shutdown.wait_owned(),
    )
    .await?;
    // Probes keep answering until the very end, so they stop on their own signal.
    let probes_stop = Shutdown::new();
    let probes_server = serve::serve(
        "health probes",
        &args.health_addr,
        serve::probes_router(readiness.clone()),
        probes_stop.wait_owned(),
    )
    .await?;

    let mut elector = election.enable_leader_election.then(|| {
        LeaderElector::new(
            client.clone(),
            LeaderElectionConfig {
                lease_name: LeaderElectionConfig::lease_name_for(&options.name),
                namespace: lease_namespace(&client, options.lease_namespace.as_deref()),
                identity: options
                    .identity
                    .clone()
                    .unwrap_or_else(LeaderElectionConfig::new_identity),
                lease_duration: election.leader_election_lease_duration.get(),
                renew_deadline: election.leader_election_renew_deadline.get(),
                retry_period: election.leader_election_retry_period.get(),
            },
        )
    });

    let result = async {
        if let Some(elector) = elector.as_mut() {
            tokio::select! {
                () = elector.acquire() => {}
                () = shutdown.wait_owned() => return Ok(()),
            }
        }
        readiness.set_leading(true);
        let rt = Runtime {
            name: options.name.clone(),
            client: client.clone(),
            metrics: metrics.clone(),
            events: Events::new(client.clone(), &options.name),
            shutdown: shutdown.clone(),
            readiness: readiness.clone(),
        };
        let body = body(rt);
        tokio::pin!(body);
        match elector.as_mut() {
            None => body.await.map_err(|e| RunError::Controller(e.into())),
            Some(elector) => {
                tokio::select! {
                    res = &mut body => res.map_err(|e| RunError::Controller(e.into())),
                    lost = elector.keep_renewing() => {
                        tracing::error!(error = %lost, "stopping reconciles");
                        readiness.set_leading(false);
                        shutdown.trigger();
                        // Let the body wind down (running reconciles finish), but not forever.
                        let _ = tokio::time::timeout(Duration::from_secs(30), &mut body).await;
                        Err(RunError::LeadershipLost(lost))
                    }
                }
            }
        }
    }
    .await;

    readiness.set_stopping();
    shutdown.trigger();
    let lost = matches!(result, Err(RunError::LeadershipLost(_)));
    if let Some(elector) = elector.as_mut()
        && election.leader_election_release_on_cancel
        && !lost
        && let Err(e) = elector.release().await
    {
        tracing::warn!(error = %e, "could not release the leader election lease");
    }
    probes_stop.trigger();
    for server in [metrics_server, probes_server].into_iter().flatten() {
        let _ = server.task.await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_wakes_every_waiter_once_triggered() {
        let s = Shutdown::new();
        assert!(!s.is_triggered());
        let a = tokio::spawn(s.wait_owned());
        let b = tokio::spawn(s.clone().wait_owned());
        tokio::task::yield_now().await;
        assert!(!a.is_finished());
        s.trigger();
        a.await.expect("a");
        b.await.expect("b");
        assert!(s.is_triggered());
        // Waiting after the fact completes at once.
        s.wait_owned().await;
        s.trigger();
    }
}
