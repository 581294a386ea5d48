//! Servers on a free loopback port with their own tokio runtime, for fixtures: raw TCP
//! ([`LoopbackServer`]: the fault relay, the proxy) and HTTP/1 whose answers are a function of
//! the request ([`HttpServer`]: the Helm repository's files, the registry's token endpoint).
//! Their own runtime makes a fixture usable from blocking code and from any test runtime
//! alike; dropping the value stops it.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A TCP accept loop on a free loopback port, on its own runtime; each connection is handed
/// to `on_connection` in a task of its own. Dropping it stops the loop and every connection.
pub(crate) struct LoopbackServer {
    runtime: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
}

impl LoopbackServer {
    /// Listens on `127.0.0.1:<free port>`; `name` names the runtime's thread.
    pub(crate) fn start<F, Fut>(name: &str, on_connection: F) -> Result<Self>
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .thread_name(name)
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(on_connection(stream));
            }
        });
        Ok(Self {
            runtime: Some(runtime),
            addr,
        })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// An HTTP/1 server whose answers are `handler(request)`.
pub(crate) struct HttpServer(LoopbackServer);

impl HttpServer {
    /// Serves `handler` on `127.0.0.1:<free port>`; `name` names the runtime's thread.
    pub(crate) fn start<F>(name: &str, handler: F) -> Result<Self>
    where
        F: Fn(Request<Incoming>) -> Response<Full<Bytes>> + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        let server = LoopbackServer::start(name, move |stream| {
            let handler = handler.clone();
            async move {
                let service = hyper::service::service_fn(move |req| {
                    let response = handler(req);
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            }
        })?;
        Ok(Self(server))
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.0.addr()
    }
}

/// A response with `status` and a text body.
pub(crate) fn text(status: hyper::StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_owned())));
    *resp.status_mut() = status;
    resp
}

/// Whether `req` carries HTTP basic credentials `user`/`password`.
pub(crate) fn has_basic_auth(req: &Request<Incoming>, user: &str, password: &str) -> bool {
    use base64::Engine as _;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    );
    req.headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str())
}

/// 401 with a basic-auth challenge for `realm`.
pub(crate) fn unauthorized(realm: &str) -> Response<Full<Bytes>> {
    let mut resp = text(hyper::StatusCode::UNAUTHORIZED, "unauthorized\n");
    if let Ok(value) = hyper::header::HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
        resp.headers_mut()
            .insert(hyper::header::WWW_AUTHENTICATE, value);
    }
    resp
}
