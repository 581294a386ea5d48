//! A TCP relay on loopback that breaks the server's answers on purpose: it passes requests
//! through unchanged and the responses up to a byte budget per connection, then cuts the
//! connection or goes silent while keeping it open (or flips one byte of the answers). Put in front of a real server (the OCI
//! registry, a Helm repository) it turns "the server died / stalled in the middle of a
//! download" into a deterministic test: the budget, not the timing, decides where it breaks.
//!
//! ```text
//!  client ──▶ 127.0.0.1:P (TcpFault) ──▶ upstream      requests: unchanged
//!  client ◀── first `after` bytes ◀───── upstream      then: closed (Cut) or silent (Stall)
//! ```

use std::net::SocketAddr;

use anyhow::Result;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::http_serve::LoopbackServer;

/// What happens once a connection's responses reach the byte budget.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Close the connection after this many response bytes.
    CutAfter(u64),
    /// Stop relaying responses after this many bytes but keep the connection open.
    StallAfter(u64),
    /// Relay everything, but flip the bits of the response byte at this offset (a corrupted
    /// transfer the framing does not notice).
    FlipByteAt(u64),
}

/// The relay; dropping it stops it and every connection it holds.
pub struct TcpFault(LoopbackServer);

impl std::fmt::Debug for TcpFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpFault")
            .field("addr", &self.0.addr())
            .finish_non_exhaustive()
    }
}

impl TcpFault {
    /// Relays a free loopback port to `upstream` with `fault`.
    pub fn start(upstream: SocketAddr, fault: Fault) -> Result<Self> {
        Ok(Self(LoopbackServer::start("tcp-fault", move |client| {
            relay(client, upstream, fault)
        })?))
    }

    /// `127.0.0.1:<port>`, to use in place of the upstream's address.
    pub fn host(&self) -> String {
        self.0.addr().to_string()
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, fault: Fault) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    let budget = match fault {
        Fault::CutAfter(n) | Fault::StallAfter(n) => n,
        Fault::FlipByteAt(_) => u64::MAX,
    };
    let mut sent: u64 = 0;
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = server_read.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = usize::try_from(budget - sent).unwrap_or(usize::MAX).min(n);
        if let Fault::FlipByteAt(at) = fault
            && (sent..sent + room as u64).contains(&at)
        {
            let i = usize::try_from(at - sent).unwrap_or(0);
            buf[i] = !buf[i];
        }
        if client_write.write_all(&buf[..room]).await.is_err() {
            break;
        }
        sent += room as u64;
        if sent >= budget {
            match fault {
                Fault::CutAfter(_) | Fault::FlipByteAt(_) => break,
                // Hold the connection open, silent, until the client gives up.
                Fault::StallAfter(_) => {
                    let _ = requests.await;
                    return;
                }
            }
        }
    }
    requests.abort();
}
