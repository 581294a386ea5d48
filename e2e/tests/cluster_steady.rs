//! The control plane holds a steady cluster: what became Available stays Available for as long
//! as it runs (kwok's node leases keep the nodes Ready), and it holds thousands of Services.
//!
//! Cost: this binary takes about ten minutes of wall time, because the steady-state test watches
//! a Deployment for ten; its other tests run alongside it (test threads), so they add nothing.
//! `cargo test -p driftless-e2e --test cluster_steady -- services` runs only the quick ones.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use driftless_e2e::cluster::{NODE_NAMES, SERVICE_NETWORK, SERVICE_PREFIX_LEN};
use driftless_e2e::workload::{deployment, is_available};
use driftless_e2e::{TestEnv, wait};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Node, Pod, Service};
use kube::Api;
use kube::api::{ListParams, PostParams};

/// How long an Available Deployment is watched: the figure, ten times the period at
/// which the nodes used to flap.
const OBSERVE: Duration = Duration::from_secs(600);
/// How often the watched state is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(15);
const TIMEOUT: Duration = Duration::from_secs(180);

/// The Ready condition of a node or pod: `(status, lastTransitionTime)`. Read through JSON
/// because the two kinds have different condition types of the same shape.
fn ready_of(obj: &impl serde::Serialize) -> Option<(String, String)> {
    let obj = serde_json::to_value(obj).ok()?;
    let condition = obj
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?;
    let text = |field: &str| condition[field].as_str().unwrap_or_default().to_owned();
    Some((text("status"), text("lastTransitionTime")))
}

/// One sample of everything that must not change while the Deployment is watched.
#[derive(Debug)]
struct Sample {
    /// The Deployment is Available, and since when.
    available: (bool, String),
    /// Ready of each of its pods, by name (a replaced pod shows up as a different name).
    pods: BTreeMap<String, Option<(String, String)>>,
    /// Ready of each kwok node.
    nodes: BTreeMap<String, Option<(String, String)>>,
    /// The node lifecycle controller's `NodeNotReady` events so far: name, count, last seen.
    not_ready_events: BTreeSet<(String, i32, String)>,
}

impl Sample {
    /// What changed since `first`, if anything. An event that expired (events live an hour) is
    /// no change; a new one, or one seen again, is a node that went NotReady.
    fn changed_since(&self, first: &Sample) -> Option<String> {
        let mut changes = Vec::new();
        if self.available != first.available {
            changes.push(format!(
                "Deployment available {:?}, was {:?}",
                self.available, first.available
            ));
        }
        if self.pods != first.pods {
            changes.push(format!("pods {:?}, were {:?}", self.pods, first.pods));
        }
        if self.nodes != first.nodes {
            changes.push(format!("nodes {:?}, were {:?}", self.nodes, first.nodes));
        }
        let new_events: Vec<_> = self
            .not_ready_events
            .difference(&first.not_ready_events)
            .collect();
        if !new_events.is_empty() {
            changes.push(format!("NodeNotReady events {new_events:?}"));
        }
        (!changes.is_empty()).then(|| changes.join("; "))
    }
}

struct Watched {
    deployments: Api<Deployment>,
    pods: Api<Pod>,
    nodes: Api<Node>,
    events: Api<Event>,
    name: String,
    replicas: i32,
}

impl Watched {
    async fn sample(&self) -> anyhow::Result<Sample> {
        let d = self.deployments.get(&self.name).await?;
        let since = d
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_.as_deref() == Some("Available")))
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| t.0.to_string())
            .unwrap_or_default();
        let pods = self
            .pods
            .list(&ListParams::default().labels(&format!("app={}", self.name)))
            .await?
            .items
            .iter()
            .map(|p| (p.metadata.name.clone().unwrap_or_default(), ready_of(p)))
            .collect();
        let nodes = self
            .nodes
            .list(&ListParams::default().labels("type=kwok"))
            .await?
            .items
            .iter()
            .map(|n| (n.metadata.name.clone().unwrap_or_default(), ready_of(n)))
            .collect();
        // The node lifecycle controller records one in `default` each time a node goes NotReady:
        // it catches a flap that falls between two samples.
        let not_ready_events = self
            .events
            .list(&ListParams::default().fields("involvedObject.kind=Node,reason=NodeNotReady"))
            .await?
            .items
            .iter()
            .map(|e| {
                (
                    e.metadata.name.clone().unwrap_or_default(),
                    e.count.unwrap_or(1),
                    e.last_timestamp
                        .as_ref()
                        .map(|t| t.0.to_string())
                        .unwrap_or_default(),
                )
            })
            .collect();
        Ok(Sample {
            available: (is_available(&d, self.replicas), since),
            pods,
            nodes,
            not_ready_events,
        })
    }
}

/// Lease renew times of the kwok nodes, by node.
async fn lease_renewals(leases: &Api<Lease>) -> anyhow::Result<BTreeMap<String, String>> {
    let mut renewed = BTreeMap::new();
    for node in NODE_NAMES {
        let lease = leases
            .get_opt(node)
            .await?
            .with_context(|| format!("no Lease kube-node-lease/{node}: kwok holds none"))?;
        let at = lease
            .spec
            .and_then(|s| s.renew_time)
            .map(|t| t.0.to_string())
            .with_context(|| format!("Lease {node} was never renewed"))?;
        renewed.insert(node.to_owned(), at);
    }
    Ok(renewed)
}

#[tokio::test]
async fn an_available_deployment_stays_available_and_the_nodes_stay_ready_for_ten_minutes()
-> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let ns = env.namespace("steady").await?;
    let watched = Watched {
        deployments: Api::namespaced(env.client(), ns.name()),
        pods: Api::namespaced(env.client(), ns.name()),
        nodes: Api::all(env.client()),
        events: Api::namespaced(env.client(), "default"),
        name: "steady".to_owned(),
        replicas: 2,
    };
    let leases: Api<Lease> = Api::namespaced(env.client(), "kube-node-lease");

    watched
        .deployments
        .create(&PostParams::default(), &deployment("steady", 2)?)
        .await?;
    wait::wait_for(
        &watched.deployments,
        "steady",
        TIMEOUT,
        "be Available with 2 replicas",
        |d| is_available(d, 2),
    )
    .await?;
    let first = watched.sample().await?;
    assert!(first.available.0, "{first:?}");
    assert_eq!(first.pods.len(), 2, "{first:?}");
    assert!(
        first
            .pods
            .values()
            .all(|r| r.as_ref().is_some_and(|(s, _)| s == "True")),
        "{first:?}"
    );
    assert_eq!(
        first.nodes.keys().map(String::as_str).collect::<Vec<_>>(),
        NODE_NAMES
    );
    assert!(
        first
            .nodes
            .values()
            .all(|r| r.as_ref().is_some_and(|(s, _)| s == "True")),
        "{first:?}"
    );
    let leases_before = lease_renewals(&leases).await?;

    let started = Instant::now();
    let mut samples = 0;
    while started.elapsed() < OBSERVE {
        tokio::time::sleep(SAMPLE_EVERY).await;
        samples += 1;
        let now = watched.sample().await?;
        if let Some(changes) = now.changed_since(&first) {
            bail!(
                "sample {samples}, {}s after the Deployment became Available: {changes}",
                started.elapsed().as_secs()
            );
        }
    }

    // kwok kept the nodes alive by renewing their Leases, as a kubelet does.
    let leases_after = lease_renewals(&leases).await?;
    for node in NODE_NAMES {
        assert_ne!(
            leases_before[node], leases_after[node],
            "kwok did not renew the Lease of {node} in {samples} samples"
        );
    }
    Ok(())
}

fn service(name: &str) -> anyhow::Result<Service> {
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": { "name": name },
        "spec": {
            "selector": { "app": name },
            "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }],
        },
    }))?)
}

fn in_service_range(ip: Ipv4Addr) -> bool {
    let mask = u32::MAX << (32 - u32::from(SERVICE_PREFIX_LEN));
    ip.to_bits() & mask == SERVICE_NETWORK.to_bits()
}

#[tokio::test]
async fn services_two_thousand_in_one_namespace_each_get_a_cluster_ip() -> anyhow::Result<()> {
    const COUNT: usize = 2_000;
    /// Creations in flight at once: enough to keep the API server busy, few enough that API
    /// Priority and Fairness does not queue them behind the other tests' requests.
    const PARALLEL: usize = 16;
    let env = TestEnv::get().await?;
    let ns = env.namespace("services").await?;
    let services: Api<Service> = Api::namespaced(env.client(), ns.name());

    futures::stream::iter(0..COUNT)
        .map(|i| {
            let services = services.clone();
            async move {
                let name = format!("svc-{i:04}");
                services
                    .create(&PostParams::default(), &service(&name)?)
                    .await
                    .with_context(|| format!("creating Service {name}"))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<()>>()
        .await?;

    let listed = services.list(&ListParams::default()).await?.items;
    assert_eq!(listed.len(), COUNT);
    let mut ips = BTreeSet::new();
    for svc in &listed {
        let name = svc.metadata.name.as_deref().unwrap_or_default();
        let ip: Ipv4Addr = svc
            .spec
            .as_ref()
            .and_then(|s| s.cluster_ip.as_deref())
            .with_context(|| format!("Service {name} has no ClusterIP"))?
            .parse()
            .with_context(|| format!("Service {name}'s ClusterIP"))?;
        assert!(
            in_service_range(ip),
            "{name}: {ip} outside {SERVICE_NETWORK}/{SERVICE_PREFIX_LEN}"
        );
        assert!(ips.insert(ip), "{name}: {ip} given twice");
    }
    Ok(())
}

/// Pods reach the API server at the `kubernetes` Service's ClusterIP, the first address of the
/// Service range, and verify its certificate for that address.
#[tokio::test]
async fn services_the_kubernetes_service_has_the_first_address_and_the_certificate_names_it()
-> anyhow::Result<()> {
    let env = TestEnv::get().await?;
    let kubernetes = Api::<Service>::namespaced(env.client(), "default")
        .get("kubernetes")
        .await?;
    let ip: Ipv4Addr = kubernetes
        .spec
        .and_then(|s| s.cluster_ip)
        .context("the kubernetes Service has no ClusterIP")?
        .parse()?;
    let first = Ipv4Addr::from_bits(SERVICE_NETWORK.to_bits() + 1);
    assert_eq!(ip, first);

    let config = kube::config::Kubeconfig::read_from(env.kubeconfig())?;
    let cluster = config
        .clusters
        .first()
        .and_then(|c| c.cluster.clone())
        .context("the kubeconfig names no cluster")?;
    let ca = cluster
        .certificate_authority
        .context("the kubeconfig names no CA file")?;
    let server: http::Uri = cluster.server.context("no server")?.parse()?;
    let addr = format!(
        "{}:{}",
        server.host().context("no host")?,
        server.port_u16().context("no port")?
    );
    handshake(&addr, &ca, ip).await?;
    let next = Ipv4Addr::from_bits(first.to_bits() + 1);
    assert!(
        handshake(&addr, &ca, next).await.is_err(),
        "the certificate must not be valid for any address: {next} passed"
    );
    Ok(())
}

/// A TLS handshake with the API server at `addr` that verifies its certificate, issued by the
/// CA in `ca_file`, for the address `name`.
async fn handshake(addr: &str, ca_file: &str, name: Ipv4Addr) -> anyhow::Result<()> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca_file)? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V4(name).into()),
            tcp,
        )
        .await
        .with_context(|| format!("TLS handshake with {addr} as {name}"))?;
    Ok(())
}
