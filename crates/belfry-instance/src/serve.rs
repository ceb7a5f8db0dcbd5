//! The accept loop: axum's `serve`, plus the HTTP/1 limits it does not let a
//! caller set (a deadline for the request head, which also closes idle
//! keep-alive connections, and the largest head), so a client that trickles
//! its headers, or sends a huge one, costs a bounded slot and nothing more.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// hyper's smallest read buffer; a smaller head limit would panic it.
const MIN_HEAD_BYTES: usize = 8 * 1024;
/// Pause after a failed accept (out of file descriptors, say), so the loop
/// does not spin while the condition lasts; doubled while it lasts, up to
/// [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(500);
/// Connections the kernel queues before the accept loop takes them: 10,000
/// desktops reconnecting at once overflowed a queue of 1,024 (single
/// connects waited up to 3.8 s, issue 32). Linux clamps it to
/// `net.core.somaxconn` (4,096 by default since 5.4).
pub const BACKLOG: u32 = 8192;

/// Binds `addr` (`host:port`, resolved) with [`BACKLOG`]: tokio's own
/// `TcpListener::bind` listens with 1,024.
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As std's and tokio's bind do on Unix: a restarted node takes its
        // port back while old connections linger in TIME_WAIT.
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(a) {
            Ok(()) => return socket.listen(BACKLOG),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to bind")
    }))
}

/// Limits of the HTTP connection layer.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest request head, in bytes.
    pub max_head_bytes: usize,
    /// Deadline for a request head once the connection waits for one.
    pub header_read_timeout: Duration,
}

/// Serves `app` on `listener` until `stop` turns true, then stops
/// accepting, lets each connection finish its request in flight, and
/// returns once they have. Upgraded connections (streams) live on; they
/// close themselves on the same signal.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_head_bytes.max(MIN_HEAD_BYTES));
    // Every connection task holds a receiver; `closed()` below resolves when
    // the last one has ended.
    let (drained_tx, drained_rx) = watch::channel(());
    let mut backoff = ACCEPT_BACKOFF;
    let mut failed = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Said once when it starts and once when it ends, not at
                // every try (it was a line every 50 ms while out of files).
                if failed == 0 {
                    tracing::warn!(%error, "accept failed; retrying with backoff until it works again");
                }
                failed += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        if failed > 0 {
            tracing::warn!(failed, "accepting again");
            failed = 0;
            backoff = ACCEPT_BACKOFF;
        }
        // Stream frames are small and each is due at once: without this,
        // Nagle's algorithm held an event sent just after a heartbeat ping
        // until the ping was acknowledged, 20-36 ms on loopback (the toast
        // bench; docs/benchmarks.md). HTTP responses are written whole.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, %error, "could not turn Nagle's algorithm off");
        }
        let service = TowerToHyperService::new(app.clone());
        let builder = builder.clone();
        let mut stop = stop.clone();
        let drained = drained_rx.clone();
        tokio::spawn(async move {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
            tokio::pin!(conn);
            let mut stopping = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(error) = result {
                            // Timeouts, resets, malformed requests: the client's business.
                            tracing::debug!(%peer, %error, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stop.wait_for(|s| *s), if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(drained);
        });
    }
    drop(listener);
    drop(drained_rx);
    drained_tx.closed().await;
    Ok(())
}
