//! An HTTP proxy on loopback with basic proxy authentication, for the clients' `proxySecretRef`
//! support: plain-HTTP requests in absolute form are passed to their origin as they are (Go
//! and most servers accept an absolute request target), `CONNECT host:port` opens a tunnel
//! for HTTPS. It counts what it relayed, so a test can prove the traffic went through it.
//!
//! ```text
//!  client ── GET http://origin/… + Proxy-Authorization ──▶ 127.0.0.1:P ──▶ origin (bytes as sent)
//!  client ── CONNECT origin:443 ─────────────────────────▶ 127.0.0.1:P ══▶ origin (tunnel)
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use base64::Engine as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::http_serve::LoopbackServer;

/// The user name the proxy accepts.
pub const PROXY_USER: &str = "proxy-user";
/// The password of [`PROXY_USER`].
pub const PROXY_PASSWORD: &str = "proxy-p@ss";

/// Longest request head the proxy reads before giving up on a connection.
const MAX_HEAD: usize = 64 * 1024;

/// The running proxy; dropping it stops it.
pub struct Proxy {
    server: LoopbackServer,
    relayed: Arc<AtomicU64>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Starts the proxy on a free loopback port.
    pub fn start() -> Result<Self> {
        let relayed = Arc::new(AtomicU64::new(0));
        let counter = relayed.clone();
        let server = LoopbackServer::start("proxy", move |client| handle(client, counter.clone()))?;
        Ok(Self { server, relayed })
    }

    /// `http://127.0.0.1:<port>`, a proxy Secret's `address`.
    pub fn address(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Connections (requests or tunnels) relayed to an origin after authentication.
    pub fn relayed(&self) -> u64 {
        self.relayed.load(Ordering::Relaxed)
    }
}

async fn handle(mut client: TcpStream, relayed: Arc<AtomicU64>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_HEAD {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut words = text.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let expected = format!(
        "basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{PROXY_USER}:{PROXY_PASSWORD}"))
    );
    let authorized = text.lines().any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("proxy-authorization")
                && value.trim().eq_ignore_ascii_case(&expected)
        })
    });
    if !authorized {
        let _ = client
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\n\
                  Connection: close\r\n\r\n",
            )
            .await;
        return;
    }
    let origin = if method == "CONNECT" {
        target.to_owned()
    } else {
        let Some(rest) = target.strip_prefix("http://") else {
            return;
        };
        rest.split('/').next().unwrap_or_default().to_owned()
    };
    let Ok(mut upstream) = TcpStream::connect(&origin).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    relayed.fetch_add(1, Ordering::Relaxed);
    let sent = if method == "CONNECT" {
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
    } else {
        upstream.write_all(&head).await
    };
    if sent.is_ok() {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}
