//! Detached control-plane processes: started in their own process group with stdio on a log
//! file, recorded by pid, and stopped only after checking that the pid still runs our binary
//! (a recycled pid is never signalled).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal, kill_process};
use serde::{Deserialize, Serialize};

use super::Layout;

/// A started process as `state.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Recorded {
    pub name: String,
    pub pid: u32,
    pub bin: PathBuf,
    pub log: PathBuf,
}

/// One recorded process as `status` sees it.
#[derive(Debug, Clone)]
pub struct ProcessStatus {
    /// `etcd`, `kube-apiserver`, …
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// True when the pid runs the recorded binary and is not a zombie.
    pub alive: bool,
    /// Resident memory (VmRSS), when alive.
    pub rss_kib: Option<u64>,
    /// Its log file.
    pub log: PathBuf,
}

/// Starts processes from the layout's binaries and reports each one to `on_start` (which
/// records it), so a failure half-way leaves a state that `down` can clean.
pub(super) struct Starter<'a, F> {
    layout: &'a Layout,
    on_start: F,
}

impl<'a, F: FnMut(Recorded) -> anyhow::Result<()>> Starter<'a, F> {
    pub fn new(layout: &'a Layout, on_start: F) -> Self {
        Self { layout, on_start }
    }

    pub fn start(&mut self, name: &str, args: &[String]) -> anyhow::Result<Recorded> {
        let bin = self.layout.bin_dir.join(name);
        let log = self.layout.logs_dir().join(format!("{name}.log"));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().context("duplicating a log handle")?;
        // The child outlives this process on purpose (`cargo xtask cluster up` returns while
        // the cluster runs); `down` stops it by pid, and init reaps it.
        #[allow(clippy::zombie_processes)]
        let child = Command::new(&bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own process group: Ctrl-C in the terminal that ran `up` does not reach it.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let recorded = Recorded {
            name: name.to_owned(),
            pid: child.id(),
            // /proc/<pid>/exe shows the resolved path; record that so is_alive can compare.
            bin: std::fs::canonicalize(&bin).unwrap_or(bin),
            log,
        };
        (self.on_start)(recorded.clone())?;
        Ok(recorded)
    }
}

/// A loopback port that was free a moment ago.
pub(super) fn free_port() -> anyhow::Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(listener
        .local_addr()
        .context("reading the bound address")?
        .port())
}

/// Waits until `port` accepts connections, failing early when the process died.
pub(super) async fn wait_for_port(
    process: &Recorded,
    port: u16,
    timeout: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        ensure_alive(process)?;
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!(
                "{} did not listen on port {port} within {}s; last lines of {}:\n{}",
                process.name,
                timeout.as_secs(),
                process.log.display(),
                tail(&process.log, 20)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fails with the tail of the process's log when it is no longer running.
pub(super) fn ensure_alive(process: &Recorded) -> anyhow::Result<()> {
    if is_alive(process) {
        return Ok(());
    }
    bail!(
        "{} (pid {}) exited; last lines of {}:\n{}",
        process.name,
        process.pid,
        process.log.display(),
        tail(&process.log, 20)
    )
}

pub(super) fn statuses(processes: &[Recorded]) -> Vec<ProcessStatus> {
    processes
        .iter()
        .map(|p| {
            let alive = is_alive(p);
            ProcessStatus {
                name: p.name.clone(),
                pid: p.pid,
                alive,
                rss_kib: if alive { rss_kib(p.pid) } else { None },
                log: p.log.clone(),
            }
        })
        .collect()
}

/// Stops the processes in reverse start order: SIGTERM, then SIGKILL after `grace`.
/// Returns the names of those that were running.
pub(super) fn stop_all(processes: &[Recorded], grace: Duration) -> anyhow::Result<Vec<String>> {
    let mut stopped = Vec::new();
    for p in processes.iter().rev() {
        if !is_alive(p) {
            continue;
        }
        let pid = pid(p)?;
        // ESRCH means it exited since is_alive looked; that is what we want anyway.
        let _ = kill_process(pid, Signal::TERM);
        let started = Instant::now();
        while is_alive(p) && started.elapsed() < grace {
            std::thread::sleep(Duration::from_millis(100));
        }
        if is_alive(p) {
            let _ = kill_process(pid, Signal::KILL);
            let started = Instant::now();
            while is_alive(p) && started.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(100));
            }
            if is_alive(p) {
                bail!("{} (pid {}) survived SIGKILL", p.name, p.pid);
            }
        }
        stopped.push(p.name.clone());
    }
    Ok(stopped)
}

fn pid(p: &Recorded) -> anyhow::Result<Pid> {
    i32::try_from(p.pid)
        .ok()
        .and_then(Pid::from_raw)
        .with_context(|| format!("{} has an invalid pid {}", p.name, p.pid))
}

/// True when the pid exists, is not a zombie, and runs the recorded binary.
fn is_alive(p: &Recorded) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{}", p.pid));
    let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may itself contain spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z" | "X") | None) {
        return false;
    }
    match std::fs::read_link(proc_dir.join("exe")) {
        Ok(exe) => exe == p.bin,
        Err(_) => false,
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The last `n` lines of a log file (or a note that it cannot be read), for error messages.
pub(super) fn tail(path: &Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_pid_is_not_ours() {
        // This test process is alive, but it does not run the recorded binary.
        let me = Recorded {
            name: "etcd".into(),
            pid: std::process::id(),
            bin: PathBuf::from("/nonexistent/etcd"),
            log: PathBuf::from("/nonexistent/etcd.log"),
        };
        assert!(!is_alive(&me));
        let exe = std::env::current_exe().expect("current_exe");
        let me = Recorded { bin: exe, ..me };
        assert!(is_alive(&me));
        assert!(rss_kib(me.pid).is_some_and(|kib| kib > 0));
    }

    #[test]
    fn stops_a_started_process_and_reports_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout {
            bin_dir: PathBuf::from("/usr/bin"),
            state_dir: dir.path().to_path_buf(),
            module_dir: dir.path().to_path_buf(),
        };
        std::fs::create_dir_all(layout.logs_dir()).expect("logs dir");
        let mut recorded = Vec::new();
        let sleeper = Starter::new(&layout, |r| {
            recorded.push(r);
            Ok(())
        })
        .start("sleep", &["300".into()])
        .expect("start sleep");
        assert!(is_alive(&sleeper), "sleep runs");
        let stopped =
            stop_all(std::slice::from_ref(&sleeper), Duration::from_secs(5)).expect("stop");
        assert_eq!(stopped, vec!["sleep".to_owned()]);
        assert!(!is_alive(&sleeper), "sleep was stopped");
        assert_eq!(recorded.len(), 1);
    }
}
