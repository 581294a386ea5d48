//! The two small HTTP servers of every controller: `/metrics` on `--metrics-addr` and
//! `/healthz` + `/readyz` on `--health-addr`.
//!
//! `/healthz` answers 200 while the process serves at all (the kubelet restarts it otherwise).
//! `/readyz` answers 200 once the controller leads (or election is off) and every watch cache
//! it registered has synced, 503 before that and after shutdown began.

use crate::metrics::Metrics;
use axum::{Router, http::StatusCode, http::header, response::IntoResponse, routing::get};
use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};
use tokio::{net::TcpListener, task::JoinHandle};

/// The content type of the OpenMetrics text format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Readiness state shared by the runtime and the `/readyz` handler.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    inner: Arc<ReadinessInner>,
}

#[derive(Debug, Default)]
struct ReadinessInner {
    leading: AtomicBool,
    stopping: AtomicBool,
    pending_caches: AtomicUsize,
}

impl Readiness {
    /// Not ready: not leading yet, no caches pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ready when leading, all caches synced and not stopping.
    pub fn is_ready(&self) -> bool {
        let i = &self.inner;
        i.leading.load(Ordering::SeqCst)
            && !i.stopping.load(Ordering::SeqCst)
            && i.pending_caches.load(Ordering::SeqCst) == 0
    }

    /// Leadership acquired (or election disabled).
    pub fn set_leading(&self, leading: bool) {
        self.inner.leading.store(leading, Ordering::SeqCst);
    }

    /// Shutdown began: report not ready so no new traffic (artifact downloads) arrives.
    pub fn set_stopping(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
    }

    /// Registers a cache that must sync before ready; the returned guard marks it synced
    /// when `synced` completes (typically `store.wait_until_ready()`).
    pub fn wait_for<F>(&self, synced: F) -> JoinHandle<()>
    where
        F: Future + Send + 'static,
    {
        self.inner.pending_caches.fetch_add(1, Ordering::SeqCst);
        let inner = self.inner.clone();
        tokio::spawn(async move {
            synced.await;
            inner.pending_caches.fetch_sub(1, Ordering::SeqCst);
        })
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address flag is malformed.
    #[error(transparent)]
    Address(#[from] crate::flags::FlagError),
    /// Binding failed (port in use, permission).
    #[error("cannot listen on {addr} for {what}: {source}")]
    Bind {
        /// `metrics` or `health probes`.
        what: &'static str,
        /// The address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The `/metrics` router.
pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                match metrics.encode() {
                    Ok(text) => {
                        ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response()
                    }
                    Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }
        }),
    )
}

/// The `/healthz` + `/readyz` router.
pub fn probes_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = readiness.is_ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                    }
                }
            }),
        )
}

/// A bound, running server.
#[derive(Debug)]
pub struct Server {
    /// The address actually bound (useful with port 0).
    pub local_addr: std::net::SocketAddr,
    /// The serving task; it ends after the shutdown future completes.
    pub task: JoinHandle<()>,
}

/// Binds `addr` (Go syntax, `0` disables) and serves `router` until `shutdown` completes.
pub async fn serve(
    what: &'static str,
    addr: &str,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Option<Server>, ServeError> {
    let Some(bind) = crate::flags::listen_addr(addr)? else {
        return Ok(None);
    };
    let listener = TcpListener::bind(&bind)
        .await
        .map_err(|source| ServeError::Bind {
            what,
            addr: bind.clone(),
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServeError::Bind {
        what,
        addr: bind.clone(),
        source,
    })?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, server = what, "server failed");
        }
    });
    tracing::info!(server = what, addr = %local_addr, "listening");
    Ok(Some(Server { local_addr, task }))
}

/// A minimal HTTP/1.0 GET over TCP, returning status code and body; enough for probes and
/// tests without an HTTP client dependency.
#[cfg(test)]
pub(crate) async fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await?;
    conn.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await?;
    let mut resp = String::new();
    conn.read_to_string(&mut resp).await?;
    let code = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {resp}")))?;
    Ok((code, resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn start(router: Router) -> Server {
        serve("test", "127.0.0.1:0", router, std::future::pending())
            .await
            .expect("bind")
            .expect("enabled")
    }

    async fn code(server: &Server, path: &str) -> u16 {
        http_get(server.local_addr, path).await.expect("get").0
    }

    #[tokio::test]
    async fn readyz_follows_leadership_caches_and_shutdown() {
        let r = Readiness::new();
        let s = start(probes_router(r.clone())).await;
        assert_eq!(code(&s, "/healthz").await, 200);
        assert_eq!(code(&s, "/readyz").await, 503);
        r.set_leading(true);
        assert_eq!(code(&s, "/readyz").await, 200);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let waiter = r.wait_for(rx);
        assert_eq!(code(&s, "/readyz").await, 503);
        tx.send(()).expect("send");
        waiter.await.expect("join");
        assert_eq!(code(&s, "/readyz").await, 200);
        r.set_stopping();
        assert_eq!(code(&s, "/readyz").await, 503);
        assert_eq!(code(&s, "/healthz").await, 200);
        assert_eq!(code(&s, "/nope").await, 404);
        s.task.abort();
    }

    #[tokio::test]
    async fn metrics_endpoint_serves_flux_metrics_and_stops_on_shutdown() {
        let metrics = Metrics::new();
        metrics.record_suspend(
            crate::metrics::ObjectRef {
                kind: "Bucket",
                namespace: "ns",
                name: "b",
            },
            false,
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = serve("metrics", "127.0.0.1:0", metrics_router(metrics), async {
            let _ = stopped.await;
        })
        .await
        .expect("bind")
        .expect("enabled");
        let (status, resp) = http_get(server.local_addr, "/metrics").await.expect("get");
        assert_eq!(status, 200, "{resp}");
        assert!(resp.contains("application/openmetrics-text"), "{resp}");
        assert!(
            resp.contains(r#"gotk_suspend_status{kind="Bucket",name="b",namespace="ns"} 0"#),
            "{resp}"
        );
        stop.send(()).expect("stop");
        server.task.await.expect("server ends after shutdown");
    }

    #[tokio::test]
    async fn disabled_and_busy_addresses() {
        let none = serve("metrics", "0", Router::new(), async {})
            .await
            .expect("ok");
        assert!(none.is_none());
        let first = start(Router::new()).await;
        let busy = first.local_addr.to_string();
        let err = serve("health probes", &busy, Router::new(), async {})
            .await
            .expect_err("in use");
        assert!(err.to_string().contains(&busy), "{err}");
        assert!(
            serve("metrics", "nonsense", Router::new(), async {})
                .await
                .is_err()
        );
        first.task.abort();
    }
}
