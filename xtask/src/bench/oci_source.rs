//! `cargo xtask bench source-oci` (also the last part of `bench source`): the
//! source-controller's OCIRepository reconciler at scale, against the real distribution
//! registry of the e2e harness on loopback. For 100 and then 1,000 OCIRepositories created at
//! once (a fresh controller each time, `--concurrent=4`): the time until all are Ready with
//! the artifact, the controller's CPU time over that span, and its peak RSS (VmHWM).
//!
//! The reference is Flux's own published benchmark (source-controller v2.9.0 on a 16-core
//! runner: 1,000 OCIRepositories in 4m17s, 128 MiB); it is quoted, not rerun here.

use std::path::Path;
use std::time::{Duration, Instant};

use driftless_api::source::ocirepository::OCIRepository;
use driftless_e2e::TestEnv;
use driftless_e2e::registry::{Registry, flux_artifact};
use driftless_e2e::source::create_source;
use kube::Api;

use super::source::{Controller, until};

const COUNTS: [usize; 2] = [100, 1000];

fn ready(obj: &OCIRepository) -> bool {
    obj.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn run() -> anyhow::Result<()> {
    let bin = super::release_controllers()?.join("source-controller");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run_async(&bin))
}

pub(super) async fn run_async(bin: &Path) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = Registry::anonymous()?;
    let pusher = driftless_oci::RegistryClient::new(
        &driftless_oci::ClientOptions {
            insecure: true,
            ..driftless_oci::ClientOptions::default()
        },
        &driftless_oci::Credentials::Anonymous,
    )?;
    let repo = driftless_oci::Repository::parse(&registry.oci_url("bench/app"))?;
    pusher
        .push(&repo, "v1", &flux_artifact(&artifact_layer()?))
        .await?;
    let env = TestEnv::get().await?;
    let mut rows = Vec::new();
    for count in COUNTS {
        let ns = env.namespace("bench-oci").await?;
        let api: Api<OCIRepository> = Api::namespaced(env.client(), ns.name());
        let controller = Controller::start(bin, &env, &ns)?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let cpu_before = controller.cpu()?;
        let started = Instant::now();
        for i in 0..count {
            create_source(
                &api,
                &ns,
                &format!("oci-{i:04}"),
                serde_json::json!({"url": registry.oci_url("bench/app"), "insecure": true,
                                   "ref": {"tag": "v1"}}),
            )
            .await?;
        }
        until(&format!("{count} OCIRepositories Ready"), async || {
            let list = api.list(&Default::default()).await?;
            Ok(list.items.len() == count && list.items.iter().all(ready))
        })
        .await?;
        let took = started.elapsed();
        let cpu = controller.cpu()? - cpu_before;
        let (_, hwm) = controller.memory()?;
        // Deleted while the controller runs: its finalizer removes the artifacts.
        ns.delete_and_wait(&env, Duration::from_secs(600)).await?;
        drop(controller);
        rows.push((count, took, cpu, hwm));
    }
    println!(
        "source-controller OCIRepositories ({}) against the distribution registry on loopback",
        bin.display()
    );
    println!();
    println!(
        "| OCIRepositories created -> all Ready (--concurrent=4) | time | controller CPU | VmHWM | Flux v2.9.0, 1,000 on 16 cores |"
    );
    println!("|---|---|---|---|---|");
    for (count, took, cpu, hwm) in rows {
        println!(
            "| {count} | {:.1} s | {:.1} s | {:.1} MiB | 4m17s, 128 MiB |",
            took.as_secs_f64(),
            cpu.as_secs_f64(),
            hwm as f64 / 1024.0
        );
    }
    Ok(())
}

/// A small manifests layer: ten ConfigMaps in a tar.gz.
fn artifact_layer() -> anyhow::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for i in 0..10 {
        let content = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n");
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, format!("cm-{i}.yaml"), content.as_bytes())?;
    }
    Ok(builder.into_inner()?.finish()?)
}
