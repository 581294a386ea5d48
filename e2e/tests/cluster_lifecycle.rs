//! What `cargo xtask cluster up|status|down` promise, checked on a second cluster in a
//! temporary state directory (the shared one is left alone): `up` is idempotent, its processes
//! are detached from the caller's stdio, a half-dead cluster is restarted, and `down` leaves no
//! process behind.

use std::path::{Path, PathBuf};

use driftless_e2e::cluster::{self, BINARIES, Layout, NODE_NAMES};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use rustix::process::{Pid, Signal, kill_process};

/// Stops the test's cluster even when an assertion fails half-way.
struct DownOnDrop(Layout);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        if let Err(e) = cluster::down(&self.0) {
            eprintln!("stopping the test cluster: {e:#}");
        }
    }
}

fn fd_target(pid: u32, fd: u32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap_or_default()
}

/// Gone, or a zombie of this test process (they are its children) waiting to be reaped.
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

#[tokio::test]
async fn up_is_idempotent_detached_restarts_a_broken_cluster_and_down_stops_everything()
-> anyhow::Result<()> {
    let state = tempfile::tempdir()?;
    let layout = Layout {
        state_dir: state.path().to_path_buf(),
        ..Layout::default()
    };
    tokio::task::spawn_blocking({
        let layout = layout.clone();
        move || cluster::build(&layout)
    })
    .await??;
    let _down = DownOnDrop(layout.clone());

    let first = cluster::up(&layout).await?;
    assert!(first.started);
    let status = cluster::status(&layout).await?;
    assert!(status.ready, "{status:?}");
    let names: Vec<&str> = status.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, BINARIES);
    for p in &status.processes {
        assert!(p.alive, "{p:?}");
        assert!(p.rss_kib.is_some_and(|kib| kib > 0), "{p:?}");
        // Nothing points at the caller's terminal or pipe: `cluster up > log` returns.
        assert_eq!(fd_target(p.pid, 0), Path::new("/dev/null"), "{}", p.name);
        assert_eq!(fd_target(p.pid, 1), p.log, "{}", p.name);
        assert_eq!(fd_target(p.pid, 2), p.log, "{}", p.name);
    }
    let client = cluster::client_for(&first.kubeconfig).await?;
    let mut nodes: Vec<String> = Api::<Node>::all(client)
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    nodes.sort();
    assert_eq!(nodes, NODE_NAMES);

    let again = cluster::up(&layout).await?;
    assert!(!again.started, "a running cluster is reused");
    assert_eq!(again.server, first.server);

    // A cluster with a dead member is stopped and started afresh, not handed out.
    let kwok = status
        .processes
        .iter()
        .find(|p| p.name == "kwok")
        .expect("kwok is recorded");
    let pid = i32::try_from(kwok.pid)
        .ok()
        .and_then(Pid::from_raw)
        .expect("a valid pid");
    kill_process(pid, Signal::KILL)?;
    // SIGKILL is delivered asynchronously: on a busy machine the process can still look alive
    // for a moment. Wait (bounded) until it is gone, so `up` is asked about a dead member.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !is_gone(kwok.pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let restarted = cluster::up(&layout).await?;
    assert!(restarted.started, "a half-dead cluster is restarted");
    for p in &status.processes {
        assert!(
            is_gone(p.pid),
            "{} of the broken cluster was stopped",
            p.name
        );
    }

    let running = cluster::status(&layout).await?;
    let stopped = cluster::down(&layout)?;
    assert_eq!(stopped.len(), BINARIES.len(), "{stopped:?}");
    for p in &running.processes {
        assert!(
            is_gone(p.pid),
            "{} (pid {}) still runs after down",
            p.name,
            p.pid
        );
    }
    let after = cluster::status(&layout).await?;
    assert!(
        after.server.is_none() && after.processes.is_empty(),
        "{after:?}"
    );
    Ok(())
}
