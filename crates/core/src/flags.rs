//! Command-line flags with Flux's names and defaults.
//!
//! Flux's Deployments pass flags like `--watch-all-namespaces=true --log-level=info
//! --log-encoding=json --enable-leader-election`; a Driftless controller accepts the same
//! command line. [`Args`] holds the flags every controller has; [`StorageArgs`] the artifact
//! storage flags only the source-controller has. Both are `#[command(flatten)]`-able:
//!
//! ```
//! use clap::Parser;
//! use driftless_core::flags::{self, ControllerDefaults};
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     common: flags::Args,
//!     #[command(flatten)]
//!     storage: flags::StorageArgs,
//! }
//!
//! // The source-controller reconciles 2 objects at a time by default, the others 4.
//! let defaults = ControllerDefaults { concurrent: 2, ..ControllerDefaults::default() };
//! let cli: Cli = flags::try_parse_from(&defaults, ["source-controller"]).unwrap();
//! assert_eq!(cli.common.concurrent, 2);
//! assert_eq!(cli.storage.storage_addr, ":9090");
//! ```
//!
//! Boolean flags follow Go's `pflag` syntax: `--flag` means true, `--flag=false` turns off a
//! flag whose default is true (`--watch-all-namespaces=false`).

use crate::duration::GoDuration;
use clap::{ArgAction, CommandFactory, FromArgMatches, ValueEnum};
use std::{ffi::OsString, time::Duration};

/// Environment variable naming the namespace the controller runs in (Flux's name).
pub const RUNTIME_NAMESPACE_ENV: &str = "RUNTIME_NAMESPACE";

/// Flags shared by every Driftless controller.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The number of concurrent reconciles.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrent: u16,

    /// The address the metric endpoint binds to (`0` disables it).
    #[arg(long, default_value = ":8080", env = "METRICS_ADDR")]
    pub metrics_addr: String,

    /// The address the health endpoint binds to (`0` disables it).
    #[arg(long, default_value = ":9440")]
    pub health_addr: String,

    /// Watch for custom resources in all namespaces; if false, only in $RUNTIME_NAMESPACE.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub watch_all_namespaces: bool,

    /// Watch for custom resources with matching labels only (e.g. `sharding.fluxcd.io/key=shard1`).
    #[arg(long, default_value = "", value_parser = parse_label_selector)]
    pub watch_label_selector: String,

    /// Where notification-controller receives events. Until Driftless has a
    /// notification-controller, events are recorded as Kubernetes Events whatever this says.
    #[arg(long, default_value = "", env = "EVENTS_ADDR")]
    pub events_addr: String,

    /// Flux's feature gates, `Name=true|false,…`; each controller knows its own set and
    /// refuses gates it does not have or values it does not implement.
    #[arg(long, default_value = "")]
    pub feature_gates: FeatureGates,

    /// The interval at which failing dependencies are reevaluated.
    #[arg(long, default_value = "30s")]
    pub requeue_dependency: GoDuration,

    /// When enabled, references between objects in different namespaces are refused.
    #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub no_cross_namespace_refs: bool,

    /// Disallow remote bases in Kustomize overlays: every resource must come from the artifact.
    #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub no_remote_bases: bool,

    /// Service account to impersonate when an object does not name one.
    #[arg(long, default_value = "")]
    pub default_service_account: String,

    /// Percentage of jitter applied to `interval` requeues: 10 means +/-10%. Must be below 100.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..100))]
    pub interval_jitter_percentage: u8,

    /// The minimum time an object waits before a retry after a failed reconcile.
    #[arg(long, default_value = "750ms")]
    pub min_retry_delay: GoDuration,

    /// The maximum time an object waits before a retry after repeated failures.
    #[arg(long, default_value = "15m")]
    pub max_retry_delay: GoDuration,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub leader_election: LeaderElectionArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub log: LogArgs,
}

impl Args {
    /// The namespace to watch: `None` for all namespaces, else `$RUNTIME_NAMESPACE`.
    ///
    /// Errors when `--watch-all-namespaces=false` and the variable is unset, rather than
    /// silently watching everything.
    pub fn watch_namespace(&self) -> Result<Option<String>, FlagError> {
        self.watch_namespace_in(std::env::var(RUNTIME_NAMESPACE_ENV).ok())
    }

    /// [`Args::watch_namespace`] given the value of `$RUNTIME_NAMESPACE`.
    fn watch_namespace_in(
        &self,
        runtime_namespace: Option<String>,
    ) -> Result<Option<String>, FlagError> {
        if self.watch_all_namespaces {
            return Ok(None);
        }
        match runtime_namespace {
            Some(ns) if !ns.is_empty() => Ok(Some(ns)),
            _ => Err(FlagError::MissingRuntimeNamespace),
        }
    }

    /// The `kube::runtime::watcher::Config` implied by `--watch-label-selector`.
    pub fn watcher_config(&self) -> kube::runtime::watcher::Config {
        let config = kube::runtime::watcher::Config::default();
        if self.watch_label_selector.is_empty() {
            config
        } else {
            config.labels(&self.watch_label_selector)
        }
    }

    /// The `kube::runtime::Controller` config implied by `--concurrent` (pass it to
    /// `Controller::with_config`; kube-runtime's own default would be unbounded).
    pub fn controller_config(&self) -> kube::runtime::controller::Config {
        kube::runtime::controller::Config::default().concurrency(self.concurrent)
    }

    /// `--default-service-account`, `None` when unset.
    pub fn default_service_account(&self) -> Option<&str> {
        Some(self.default_service_account.as_str()).filter(|s| !s.is_empty())
    }
}

/// The value of `--feature-gates`: `Name=bool` pairs as given, resolved against a
/// controller's own [`Gate`] table by [`FeatureGates::resolve`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeatureGates(Vec<(String, bool)>);

impl std::str::FromStr for FeatureGates {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut gates = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("feature gate {item:?}: expected Name=true|false"))?;
            let on = match value.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(format!(
                        "feature gate {name}: {other:?} is not true or false"
                    ));
                }
            };
            gates.push((name.trim().to_owned(), on));
        }
        Ok(Self(gates))
    }
}

/// One feature gate a controller accepts: Flux's name and default, and which values Driftless
/// implements. A value it does not implement is refused with `why`, never silently ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// Flux's name, e.g. `StrictPostBuildSubstitutions`.
    pub name: &'static str,
    /// Flux's default.
    pub default: bool,
    /// `None` when both values work, else the only value that does.
    pub only: Option<bool>,
    /// Why the other value is refused (shown to the user).
    pub why: &'static str,
}

impl Gate {
    /// A gate whose both values are implemented.
    pub const fn both(name: &'static str, default: bool) -> Self {
        Self {
            name,
            default,
            only: None,
            why: "",
        }
    }

    /// A gate implemented only at `value`; the other is refused because `why`.
    pub const fn only(name: &'static str, default: bool, value: bool, why: &'static str) -> Self {
        Self {
            name,
            default,
            only: Some(value),
            why,
        }
    }
}

/// Gates Flux gives every controller (its `pkg/auth` and `pkg/runtime`), the same here.
pub mod gates {
    use super::Gate;

    /// Secrets and ConfigMaps are cached (Flux: opt-in).
    pub const CACHE_SECRETS_AND_CONFIG_MAPS: Gate = Gate::only(
        "CacheSecretsAndConfigMaps",
        false,
        false,
        "Secrets and ConfigMaps are read from the API server on each use, never cached",
    );
    /// Cloud workload identity per object (Flux: opt-in).
    pub const OBJECT_LEVEL_WORKLOAD_IDENTITY: Gate = Gate::only(
        "ObjectLevelWorkloadIdentity",
        false,
        false,
        "cloud workload identity (a serviceAccountName for a cloud provider) is not supported",
    );
}

/// The state of every gate of a controller after `--feature-gates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnabledGates(std::collections::BTreeMap<&'static str, bool>);

impl EnabledGates {
    /// Whether `name` is on; false for a gate the controller does not have.
    pub fn enabled(&self, name: &str) -> bool {
        self.0.get(name).copied().unwrap_or(false)
    }
}

impl FeatureGates {
    /// The gates of `known` with the values given on the command line; an unknown name or an
    /// unimplemented value is an error naming the gate and what to do.
    pub fn resolve(&self, known: &[Gate]) -> Result<EnabledGates, FlagError> {
        let mut state: std::collections::BTreeMap<&'static str, bool> =
            known.iter().map(|g| (g.name, g.default)).collect();
        for (name, on) in &self.0 {
            let Some(gate) = known.iter().find(|g| g.name == name) else {
                let names: Vec<&str> = known.iter().map(|g| g.name).collect();
                return Err(FlagError::FeatureGate(format!(
                    "feature-gate '{name}' not supported; this controller has: {}",
                    names.join(", ")
                )));
            };
            if let Some(only) = gate.only
                && only != *on
            {
                return Err(FlagError::FeatureGate(format!(
                    "feature-gate {name}={on} is not implemented by Driftless ({}); remove it or set {name}={only}",
                    gate.why
                )));
            }
            state.insert(gate.name, *on);
        }
        Ok(EnabledGates(state))
    }
}

/// Leader election flags (Flux's names and defaults: 35s lease, 30s renew deadline, 5s retry).
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct LeaderElectionArgs {
    /// Enable leader election: only one replica reconciles at a time.
    #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub enable_leader_election: bool,

    /// Step down voluntarily (release the Lease) on shutdown, so a successor need not wait.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub leader_election_release_on_cancel: bool,

    /// How long non-leaders wait after the last renewal before they take over the Lease.
    #[arg(long, default_value = "35s")]
    pub leader_election_lease_duration: GoDuration,

    /// How long the leader retries renewing before it gives up leadership.
    #[arg(long, default_value = "30s")]
    pub leader_election_renew_deadline: GoDuration,

    /// How long candidates wait between attempts to acquire or renew.
    #[arg(long, default_value = "5s")]
    pub leader_election_retry_period: GoDuration,
}

impl LeaderElectionArgs {
    /// Checks the relations client-go enforces: lease duration > renew deadline > retry period.
    pub fn validate(&self) -> Result<(), FlagError> {
        let lease: Duration = self.leader_election_lease_duration.into();
        let renew: Duration = self.leader_election_renew_deadline.into();
        let retry: Duration = self.leader_election_retry_period.into();
        if retry.is_zero() || lease <= renew || renew <= retry {
            return Err(FlagError::LeaderElectionTimings {
                lease: self.leader_election_lease_duration,
                renew: self.leader_election_renew_deadline,
                retry: self.leader_election_retry_period,
            });
        }
        Ok(())
    }
}

/// Log verbosity, Flux's `--log-level` values.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Normal operation.
    Info,
    /// Detail for debugging.
    Debug,
    /// Everything.
    Trace,
}

/// Log line format, Flux's `--log-encoding` values.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogEncoding {
    /// One JSON object per line (the default, what log collectors expect).
    Json,
    /// Human-readable lines.
    Console,
}

/// Logging flags.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct LogArgs {
    /// Log verbosity level.
    #[arg(long, value_enum, default_value = "info")]
    pub log_level: LogLevel,

    /// Log encoding format.
    #[arg(long, value_enum, default_value = "json")]
    pub log_encoding: LogEncoding,
}

/// Artifact storage flags, only the source-controller has them.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct StorageArgs {
    /// The local storage path; empty means a directory under the system temp dir.
    #[arg(long, default_value = "", env = "STORAGE_PATH")]
    pub storage_path: String,

    /// The address the static file server binds to.
    #[arg(long, default_value = ":9090", env = "STORAGE_ADDR")]
    pub storage_addr: String,

    /// The advertised address of the static file server (host[:port] in artifact URLs).
    #[arg(long, default_value = "", env = "STORAGE_ADV_ADDR")]
    pub storage_adv_addr: String,

    /// How long an artifact that is no longer current is kept before garbage collection.
    #[arg(long, default_value = "60s")]
    pub artifact_retention_ttl: GoDuration,

    /// How many artifacts per object are kept (the current one included).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub artifact_retention_records: u32,
}

/// Defaults that differ between controllers (Flux's source-controller uses 2 workers, the
/// others 4). They are shown by `--help` like any default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerDefaults {
    /// Default of `--concurrent`.
    pub concurrent: u16,
    /// Default of `--requeue-dependency`, Go duration syntax.
    pub requeue_dependency: &'static str,
}

impl Default for ControllerDefaults {
    fn default() -> Self {
        Self {
            concurrent: 4,
            requeue_dependency: "30s",
        }
    }
}

/// Errors in flag values found after parsing.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// `--watch-all-namespaces=false` needs to know which namespace to watch.
    #[error(
        "--watch-all-namespaces=false requires the {RUNTIME_NAMESPACE_ENV} environment variable"
    )]
    MissingRuntimeNamespace,
    /// The leader election durations contradict each other.
    #[error(
        "leader election needs lease duration > renew deadline > retry period > 0, got {lease} > {renew} > {retry}"
    )]
    LeaderElectionTimings {
        /// `--leader-election-lease-duration`
        lease: GoDuration,
        /// `--leader-election-renew-deadline`
        renew: GoDuration,
        /// `--leader-election-retry-period`
        retry: GoDuration,
    },
    /// `--feature-gates` names a gate this controller does not have, or a value it does not
    /// implement.
    #[error("--feature-gates: {0}")]
    FeatureGate(String),
    /// An address flag is not `host:port`, `:port` or `0`.
    #[error("invalid address {0:?}: want host:port, :port, or 0 to disable")]
    Address(String),
}

/// Builds the clap command of `A` with this controller's defaults applied.
fn command_with<A: CommandFactory>(defaults: &ControllerDefaults) -> clap::Command {
    // Go's pflag lets a later flag override an earlier one (`--concurrent=2 --concurrent=8`
    // means 8); Deployments that append flags rely on it.
    let mut cmd = A::command().args_override_self(true);
    let has = |cmd: &clap::Command, id: &str| cmd.get_arguments().any(|a| a.get_id() == id);
    if has(&cmd, "concurrent") {
        // clap keeps defaults as `&'static str`; this runs once per process.
        let concurrent: &'static str = Box::leak(defaults.concurrent.to_string().into_boxed_str());
        cmd = cmd.mut_arg("concurrent", |a| a.default_value(concurrent));
    }
    if has(&cmd, "requeue_dependency") {
        cmd = cmd.mut_arg("requeue_dependency", |a| {
            a.default_value(defaults.requeue_dependency)
        });
    }
    cmd
}

/// Parses the process arguments into `A` with this controller's defaults; exits with clap's
/// usage message on bad input, like any CLI.
pub fn parse<A: CommandFactory + FromArgMatches>(defaults: &ControllerDefaults) -> A {
    let matches = command_with::<A>(defaults).get_matches();
    A::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Parses `args` (the first item is the program name) into `A`; for tests and embedding.
pub fn try_parse_from<A, I, T>(defaults: &ControllerDefaults, args: I) -> Result<A, clap::Error>
where
    A: CommandFactory + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = command_with::<A>(defaults).try_get_matches_from(args)?;
    A::from_arg_matches(&matches)
}

/// Turns a Go-style listen address (`:8080`, `127.0.0.1:8080`, `[::1]:8080`) into a socket
/// address string for binding; `None` for `0` or empty (the endpoint is disabled, as in
/// controller-runtime).
pub fn listen_addr(addr: &str) -> Result<Option<String>, FlagError> {
    if addr.is_empty() || addr == "0" {
        return Ok(None);
    }
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| FlagError::Address(addr.to_owned()))?;
    if port.parse::<u16>().is_err() {
        return Err(FlagError::Address(addr.to_owned()));
    }
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok(Some(format!("{host}:{port}")))
}

/// `--storage-adv-addr`, or Flux's default derived from `--storage-addr`: `localhost` for an
/// empty host, the host name (`$HOSTNAME`, else the system's) for `0.0.0.0`, so artifact URLs
/// name the pod.
pub fn advertised_storage_addr(storage: &StorageArgs) -> Result<String, FlagError> {
    advertised_storage_addr_with(storage, || {
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
            })
            .filter(|h| !h.is_empty())
    })
}

fn advertised_storage_addr_with(
    storage: &StorageArgs,
    hostname: impl FnOnce() -> Option<String>,
) -> Result<String, FlagError> {
    if !storage.storage_adv_addr.is_empty() {
        return Ok(storage.storage_adv_addr.clone());
    }
    let addr = &storage.storage_addr;
    let (host, port) = addr
        .rsplit_once(':')
        .filter(|(_, p)| p.parse::<u16>().is_ok())
        .ok_or_else(|| FlagError::Address(addr.clone()))?;
    let host = match host {
        "" => "localhost".to_owned(),
        "0.0.0.0" => hostname().ok_or_else(|| {
            FlagError::Address(format!(
                "{addr} (0.0.0.0 needs a host name to advertise; set --storage-adv-addr)"
            ))
        })?,
        h => h.to_owned(),
    };
    Ok(format!("{host}:{port}"))
}

/// Checks `--watch-label-selector` against Kubernetes' label selector grammar at start, as Flux
/// does, instead of letting every watch fail later with the API server's 400.
fn parse_label_selector(selector: &str) -> Result<String, String> {
    let mut depth = 0usize;
    let mut start = 0;
    let mut requirements = Vec::new();
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced ')'")?,
            ',' if depth == 0 => {
                requirements.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".into());
    }
    requirements.push(&selector[start..]);
    if selector.trim().is_empty() {
        return Ok(String::new());
    }
    for r in requirements {
        label_requirement(r.trim()).map_err(|e| format!("{r:?}: {e}"))?;
    }
    Ok(selector.to_owned())
}

/// One requirement: `key`, `!key`, `key=v`, `key==v`, `key!=v`, `key in (a,b)`, `key notin (a)`.
fn label_requirement(r: &str) -> Result<(), String> {
    if let Some(key) = r.strip_prefix('!') {
        return label_key(key.trim());
    }
    for op in ["!=", "==", "="] {
        if let Some((key, value)) = r.split_once(op) {
            label_key(key.trim())?;
            return label_value(value.trim());
        }
    }
    for op in [" notin ", " in "] {
        if let Some((key, values)) = r.split_once(op) {
            label_key(key.trim())?;
            let list = values
                .trim()
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or("a set must be written '(a,b)'")?;
            return list.split(',').try_for_each(|v| label_value(v.trim()));
        }
    }
    label_key(r)
}

/// A label key: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters.
fn label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !ok {
            return Err(format!("invalid label key prefix {p:?}"));
        }
    }
    if name.is_empty() {
        return Err("empty label key".into());
    }
    label_value(name).map_err(|_| format!("invalid label key {key:?}"))
}

/// A label value: empty, or at most 63 of `[A-Za-z0-9._-]` starting and ending alphanumeric.
fn label_value(value: &str) -> Result<(), String> {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let ok = value.is_empty()
        || (value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && alnum(value.chars().next())
            && alnum(value.chars().last()));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid label value {value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn feature_gates_resolve_against_the_controllers_table() {
        const GATES: &[Gate] = &[
            Gate::both("StrictPostBuildSubstitutions", true),
            Gate::only(
                "GroupChangeLog",
                false,
                false,
                "logs list objects one by one",
            ),
        ];
        let parse = |s: &str| s.parse::<FeatureGates>().expect("syntax");
        let on = parse("").resolve(GATES).expect("defaults");
        assert!(on.enabled("StrictPostBuildSubstitutions"));
        assert!(!on.enabled("GroupChangeLog"));
        let on = parse("StrictPostBuildSubstitutions=false, GroupChangeLog=false")
            .resolve(GATES)
            .expect("implemented values");
        assert!(!on.enabled("StrictPostBuildSubstitutions"));
        let e = parse("GroupChangeLog=true")
            .resolve(GATES)
            .expect_err("refused");
        assert!(
            e.to_string()
                .contains("GroupChangeLog=true is not implemented")
                && e.to_string().contains("logs list objects one by one"),
            "{e}"
        );
        let e = parse("NoSuchGate=true")
            .resolve(GATES)
            .expect_err("unknown");
        assert!(e.to_string().contains("'NoSuchGate' not supported"), "{e}");
        assert!("Gate".parse::<FeatureGates>().is_err());
        let e = "Gate=yes".parse::<FeatureGates>().expect_err("not a bool");
        assert!(e.contains("yes"), "{e}");
    }

    #[test]
    fn storage_adv_addr_defaults_like_flux() {
        let storage = |addr: &str, adv: &str| StorageArgs {
            storage_path: String::new(),
            storage_addr: addr.into(),
            storage_adv_addr: adv.into(),
            artifact_retention_ttl: "60s".parse().expect("duration"),
            artifact_retention_records: 2,
        };
        let host = || Some("source-controller-7d9f".to_owned());
        let adv = |addr, adv| advertised_storage_addr_with(&storage(addr, adv), host);
        assert_eq!(adv(":9090", "").expect("ok"), "localhost:9090");
        assert_eq!(
            adv("0.0.0.0:9090", "").expect("ok"),
            "source-controller-7d9f:9090"
        );
        assert_eq!(adv("127.0.0.1:9999", "").expect("ok"), "127.0.0.1:9999");
        assert_eq!(
            adv(":9090", "source-controller.flux-system.svc.cluster.local.").expect("ok"),
            "source-controller.flux-system.svc.cluster.local."
        );
        assert!(adv("nonsense", "").is_err());
        assert!(advertised_storage_addr_with(&storage("0.0.0.0:1", ""), || None).is_err());
    }

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        common: Args,
        #[command(flatten)]
        storage: StorageArgs,
    }

    fn parse_cli(args: &[&str]) -> Result<Cli, clap::Error> {
        let argv = std::iter::once("controller").chain(args.iter().copied());
        try_parse_from(&ControllerDefaults::default(), argv)
    }

    #[test]
    fn empty_command_line_gives_flux_defaults() {
        let cli = parse_cli(&[]).expect("empty args parse");
        let a = &cli.common;
        assert_eq!(a.concurrent, 4);
        // METRICS_ADDR may be set in a developer shell; only check when it is not.
        if std::env::var_os("METRICS_ADDR").is_none() {
            assert_eq!(a.metrics_addr, ":8080");
        }
        assert_eq!(a.health_addr, ":9440");
        assert!(a.watch_all_namespaces);
        assert_eq!(a.watch_label_selector, "");
        assert_eq!(a.requeue_dependency.get(), Duration::from_secs(30));
        assert!(!a.no_cross_namespace_refs);
        assert!(!a.no_remote_bases);
        assert_eq!(a.default_service_account(), None);
        assert_eq!(a.interval_jitter_percentage, 10);
        assert_eq!(a.min_retry_delay.get(), Duration::from_millis(750));
        assert_eq!(a.max_retry_delay.get(), Duration::from_secs(15 * 60));
        let le = &a.leader_election;
        assert!(!le.enable_leader_election);
        assert!(le.leader_election_release_on_cancel);
        assert_eq!(
            le.leader_election_lease_duration.get(),
            Duration::from_secs(35)
        );
        assert_eq!(
            le.leader_election_renew_deadline.get(),
            Duration::from_secs(30)
        );
        assert_eq!(
            le.leader_election_retry_period.get(),
            Duration::from_secs(5)
        );
        le.validate().expect("defaults are consistent");
        assert_eq!(a.log.log_level, LogLevel::Info);
        assert_eq!(a.log.log_encoding, LogEncoding::Json);
        let s = &cli.storage;
        if std::env::var_os("STORAGE_ADDR").is_none() {
            assert_eq!(s.storage_addr, ":9090");
        }
        assert_eq!(s.artifact_retention_ttl.get(), Duration::from_secs(60));
        assert_eq!(s.artifact_retention_records, 2);
    }

    #[test]
    fn per_controller_defaults_apply_and_flags_override_them() {
        let defaults = ControllerDefaults {
            concurrent: 2,
            requeue_dependency: "5s",
        };
        let cli: Cli = try_parse_from(&defaults, ["source-controller"]).expect("parse");
        assert_eq!(cli.common.concurrent, 2);
        assert_eq!(cli.common.requeue_dependency.get(), Duration::from_secs(5));
        let cli: Cli =
            try_parse_from(&defaults, ["source-controller", "--concurrent=8"]).expect("parse");
        assert_eq!(cli.common.concurrent, 8);
        let help = command_with::<Cli>(&defaults)
            .render_long_help()
            .to_string();
        assert!(help.contains("[default: 2]"), "{help}");
    }

    #[test]
    fn flux_style_command_line_parses() {
        let cli = parse_cli(&[
            "--watch-all-namespaces=false",
            "--enable-leader-election",
            "--log-level=debug",
            "--log-encoding=console",
            "--requeue-dependency=1m30s",
            "--no-cross-namespace-refs=true",
            "--no-remote-bases",
            "--default-service-account=default",
            "--leader-election-lease-duration=1m",
            "--storage-adv-addr=source-controller.flux-system.svc.cluster.local.",
            "--artifact-retention-ttl=2m",
            "--artifact-retention-records=5",
            "--concurrent",
            "10",
        ])
        .expect("parse");
        let a = cli.common;
        assert!(!a.watch_all_namespaces);
        assert!(a.leader_election.enable_leader_election);
        assert_eq!(a.log.log_level, LogLevel::Debug);
        assert_eq!(a.log.log_encoding, LogEncoding::Console);
        assert_eq!(a.requeue_dependency.get(), Duration::from_secs(90));
        assert!(a.no_cross_namespace_refs && a.no_remote_bases);
        assert_eq!(a.default_service_account(), Some("default"));
        assert_eq!(a.concurrent, 10);
        assert_eq!(
            a.leader_election.leader_election_lease_duration.get(),
            Duration::from_secs(60)
        );
        assert_eq!(
            cli.storage.artifact_retention_ttl.get(),
            Duration::from_secs(120)
        );
        assert_eq!(cli.storage.artifact_retention_records, 5);
    }

    #[test]
    fn watch_scope_follows_the_namespace_flags() {
        let all = parse_cli(&[]).expect("parse").common;
        assert_eq!(
            all.watch_namespace_in(Some("flux-system".into())).ok(),
            Some(None)
        );
        let one = parse_cli(&["--watch-all-namespaces=false"])
            .expect("parse")
            .common;
        assert_eq!(
            one.watch_namespace_in(Some("flux-system".into())).ok(),
            Some(Some("flux-system".to_owned()))
        );
        for missing in [None, Some(String::new())] {
            let err = one
                .watch_namespace_in(missing)
                .expect_err("needs the namespace");
            assert!(err.to_string().contains(RUNTIME_NAMESPACE_ENV), "{err}");
        }
        assert_eq!(all.watcher_config().label_selector, None);
        for bad in [
            "a b=c",
            "key=(x",
            "=v",
            "key in x",
            "-bad=v",
            "k=v,",
            "Upper.Case/k=v",
        ] {
            let arg = format!("--watch-label-selector={bad}");
            assert!(parse_cli(&[arg.as_str()]).is_err(), "{bad} accepted");
        }
        for good in [
            "k",
            "!k",
            "k!=v",
            "k==v",
            "a.b/c=d,e in (f, g),h notin (i)",
            "k=",
        ] {
            let arg = format!("--watch-label-selector={good}");
            assert!(parse_cli(&[arg.as_str()]).is_ok(), "{good} refused");
        }
        let sharded = parse_cli(&["--watch-label-selector=sharding.fluxcd.io/key=shard1"])
            .expect("parse")
            .common;
        assert_eq!(
            sharded.watcher_config().label_selector.as_deref(),
            Some("sharding.fluxcd.io/key=shard1")
        );
    }

    #[test]
    fn concurrent_becomes_the_controller_concurrency() {
        let args = parse_cli(&["--concurrent=7"]).expect("parse").common;
        // kube-runtime's Config keeps its fields private; its Debug output shows them.
        let shown = format!("{:?}", args.controller_config());
        assert!(shown.contains("concurrency: 7"), "{shown}");
    }

    #[test]
    fn a_repeated_flag_takes_the_last_value_like_pflag() {
        let cli = parse_cli(&[
            "--concurrent=2",
            "--concurrent=8",
            "--log-level=debug",
            "--log-level=error",
        ])
        .expect("repeated flags parse");
        assert_eq!(cli.common.concurrent, 8);
        assert_eq!(cli.common.log.log_level, LogLevel::Error);
    }

    #[test]
    fn bad_values_are_refused_with_the_flag_named() {
        for (args, needle) in [
            (&["--requeue-dependency=soon"][..], "requeue-dependency"),
            (&["--log-level=verbose"][..], "log-level"),
            (&["--log-encoding=xml"][..], "log-encoding"),
            (&["--concurrent=0"][..], "concurrent"),
            (
                &["--interval-jitter-percentage=100"][..],
                "interval-jitter-percentage",
            ),
            (
                &["--watch-all-namespaces=maybe"][..],
                "watch-all-namespaces",
            ),
            (
                &["--leader-election-retry-period=-1s"][..],
                "leader-election-retry-period",
            ),
        ] {
            let err = parse_cli(args).expect_err(needle).to_string();
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }

    #[test]
    fn inconsistent_leader_election_timings_are_refused() {
        let cli = parse_cli(&["--leader-election-renew-deadline=40s"]).expect("parse");
        let err = cli
            .common
            .leader_election
            .validate()
            .expect_err("renew > lease");
        assert!(err.to_string().contains("40s"), "{err}");
    }

    #[test]
    fn listen_addresses_follow_go_syntax() {
        assert_eq!(
            listen_addr(":8080").ok().flatten().as_deref(),
            Some("0.0.0.0:8080")
        );
        assert_eq!(
            listen_addr("127.0.0.1:9440").ok().flatten().as_deref(),
            Some("127.0.0.1:9440")
        );
        assert_eq!(
            listen_addr("[::1]:80").ok().flatten().as_deref(),
            Some("[::1]:80")
        );
        assert!(matches!(listen_addr("0"), Ok(None)));
        assert!(matches!(listen_addr(""), Ok(None)));
        assert!(listen_addr("8080x").is_err());
        assert!(listen_addr("host:http").is_err());
    }
}
