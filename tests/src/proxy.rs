//! A fault-injecting TCP proxy for loopback tests: forwards to a target and
//! can cut every open connection, or stall them (half-open: the sockets stay
//! up, nothing moves).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy.
pub struct Proxy {
    pub addr: SocketAddr,
    target: Arc<std::sync::Mutex<SocketAddr>>,
    cut: watch::Sender<u64>,
    stalled: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(std::sync::Mutex::new(target));
        let (cut, cut_rx) = watch::channel(0u64);
        let stalled = Arc::new(AtomicBool::new(false));
        let t = Arc::clone(&target);
        let s = Arc::clone(&stalled);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let target = *t.lock().unwrap();
                let mut cut_rx = cut_rx.clone();
                cut_rx.borrow_and_update();
                let stalled = Arc::clone(&s);
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let up = pump(cr, sw, Arc::clone(&stalled));
                    let down = pump(sr, cw, stalled);
                    tokio::select! {
                        _ = async { tokio::join!(up, down) } => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self {
            addr,
            target,
            cut,
            stalled,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drops every open connection (new ones still work).
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Stops (or resumes) moving bytes on every connection, without closing.
    pub fn stall(&self, on: bool) {
        self.stalled.store(on, Ordering::SeqCst);
    }

    /// Points new connections at another target.
    pub fn retarget(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // A stalled connection swallows what it reads: half-open, as when a
        // NAT drops the flow without telling either side.
        if stalled.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
