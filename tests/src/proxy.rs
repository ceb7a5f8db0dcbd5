//! A fault-injecting TCP proxy for loopback tests. It forwards to a target
//! and, on command: cuts every open connection; stalls them (half-open: the
//! sockets stay up, nothing moves); slows delivery to the client to a trickle;
//! cuts the next chunk to the client halfway (a truncated frame); and writes
//! frames of its own into the WebSocket stream to the client, at a frame
//! boundary, as if the server had sent them.
//!
//! Written for the tests rather than taken from a crate: the fault proxies
//! on crates.io (and toxiproxy) cut, stall and slow, but none speaks
//! WebSocket framing, which the hostile-frame table needs.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// What the connections share.
#[derive(Default)]
struct Faults {
    stalled: AtomicBool,
    /// Bytes per write to the client while slow (0: full speed).
    slow_chunk: AtomicU64,
    /// Pause after each slow write, in milliseconds.
    slow_pause_ms: AtomicU64,
    /// The next chunk to a client is cut halfway and the connection dropped.
    truncate: AtomicBool,
    /// Frames to write into the stream to the client, in order.
    inject: Mutex<VecDeque<Vec<u8>>>,
    injected: Notify,
    /// Counters for the test's report.
    cuts: AtomicU64,
    truncations: AtomicU64,
    connections: AtomicU64,
}

/// A running proxy.
pub struct Proxy {
    pub addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    cut: watch::Sender<u64>,
    faults: Arc<Faults>,
}

/// A WebSocket message the proxy writes to the client as the server would
/// (server frames are not masked).
#[derive(Debug, Clone)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
    /// A text frame whose payload is not UTF-8.
    RawText(Vec<u8>),
}

impl Frame {
    /// The bytes on the wire: FIN, opcode, length, payload.
    pub fn encode(&self) -> Vec<u8> {
        let (opcode, payload): (u8, &[u8]) = match self {
            Frame::Text(t) => (0x1, t.as_bytes()),
            Frame::Binary(b) => (0x2, b),
            Frame::RawText(b) => (0x1, b),
        };
        let mut out = vec![0x80 | opcode];
        let len = payload.len();
        if len < 126 {
            out.push(len as u8);
        } else if let Ok(short) = u16::try_from(len) {
            out.push(126);
            out.extend_from_slice(&short.to_be_bytes());
        } else {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }
}

impl Proxy {
    /// Listens on a loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(Mutex::new(target));
        let (cut, cut_rx) = watch::channel(0u64);
        let faults = Arc::new(Faults::default());
        let t = Arc::clone(&target);
        let f = Arc::clone(&faults);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let target = *t.lock().unwrap();
                let mut cut_rx = cut_rx.clone();
                cut_rx.borrow_and_update();
                let faults = Arc::clone(&f);
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    faults.connections.fetch_add(1, Ordering::SeqCst);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    // Either direction ending ends the connection: a
                    // truncated frame must not leave the other half open.
                    tokio::select! {
                        _ = up(cr, sw, Arc::clone(&faults)) => {}
                        _ = down(sr, cw, faults) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self {
            addr,
            target,
            cut,
            faults,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drops every open connection (new ones still work).
    pub fn cut(&self) {
        self.faults.cuts.fetch_add(1, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Stops (or resumes) moving bytes on every connection, without closing.
    pub fn stall(&self, on: bool) {
        self.faults.stalled.store(on, Ordering::SeqCst);
    }

    /// Delivers to clients `chunk` bytes at a time with `pause` between
    /// (`None`: full speed again).
    pub fn slow(&self, rate: Option<(usize, Duration)>) {
        let (chunk, pause) = rate.unwrap_or((0, Duration::ZERO));
        self.faults
            .slow_pause_ms
            .store(pause.as_millis() as u64, Ordering::SeqCst);
        self.faults.slow_chunk.store(chunk as u64, Ordering::SeqCst);
    }

    /// The next bytes to a client are cut halfway and that connection drops
    /// (a frame truncated mid-way, as when a link dies under load).
    pub fn truncate_next(&self) {
        self.faults.truncate.store(true, Ordering::SeqCst);
    }

    /// Writes `frames` into the WebSocket stream to the client (the next
    /// stream connection if none is open), between the server's frames.
    pub fn inject(&self, frames: &[Frame]) {
        let mut q = self.faults.inject.lock().unwrap();
        q.extend(frames.iter().map(Frame::encode));
        drop(q);
        self.faults.injected.notify_waiters();
    }

    /// Whether injected frames are still waiting for a stream.
    pub fn injections_pending(&self) -> bool {
        !self.faults.inject.lock().unwrap().is_empty()
    }

    /// Points new connections at another target.
    pub fn retarget(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
    }

    /// Faults injected so far: (cuts, truncated frames, connections made).
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.faults.cuts.load(Ordering::SeqCst),
            self.faults.truncations.load(Ordering::SeqCst),
            self.faults.connections.load(Ordering::SeqCst),
        )
    }
}

/// Client to server: forwarded as it comes (unless stalled).
async fn up(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, faults: Arc<Faults>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // A stalled connection swallows what it reads: half-open, as when a
        // NAT drops the flow without telling either side.
        if faults.stalled.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Where the stream to the client is: still HTTP (REST answers, or the
/// upgrade answer not yet complete) or WebSocket frames.
enum Phase {
    Http,
    Ws,
}

/// Server to client: stalls, slows, truncates, and injects frames at frame
/// boundaries once the connection has upgraded to WebSocket.
async fn down(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, faults: Arc<Faults>) {
    let mut buf = vec![0u8; 64 * 1024];
    // Bytes read but not yet forwarded: a partial frame, or the upgrade
    // answer's head.
    let mut held: Vec<u8> = Vec::new();
    let mut phase = Phase::Http;
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            () = faults.injected.notified(), if matches!(phase, Phase::Ws) && held.is_empty() => {
                if write_injected(&mut to, &faults).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if faults.stalled.load(Ordering::SeqCst) {
            continue;
        }
        if faults.truncate.swap(false, Ordering::SeqCst) {
            faults.truncations.fetch_add(1, Ordering::SeqCst);
            let half = (n / 2).max(1);
            let _ = to.write_all(&buf[..half]).await;
            return;
        }
        held.extend_from_slice(&buf[..n]);
        // Forward what is complete; keep a partial frame back so that an
        // injected frame never lands inside one of the server's.
        let ready = match phase {
            Phase::Http => match find(&held, b"\r\n\r\n") {
                Some(end) if held.starts_with(b"HTTP/1.1 101") => {
                    phase = Phase::Ws;
                    end + 4 + complete_frames(&held[end + 4..])
                }
                // A REST answer: passed through as it comes.
                _ => held.len(),
            },
            Phase::Ws => complete_frames(&held),
        };
        let out: Vec<u8> = held.drain(..ready).collect();
        if send(&mut to, &out, &faults).await.is_err() {
            return;
        }
        if matches!(phase, Phase::Ws)
            && held.is_empty()
            && write_injected(&mut to, &faults).await.is_err()
        {
            return;
        }
    }
}

/// Writes out every queued injected frame.
async fn write_injected(to: &mut OwnedWriteHalf, faults: &Faults) -> std::io::Result<()> {
    loop {
        let next = faults.inject.lock().unwrap().pop_front();
        let Some(frame) = next else {
            return Ok(());
        };
        to.write_all(&frame).await?;
    }
}

/// Writes `bytes` to the client, a trickle at a time while slow.
async fn send(to: &mut OwnedWriteHalf, bytes: &[u8], faults: &Faults) -> std::io::Result<()> {
    let chunk = faults.slow_chunk.load(Ordering::SeqCst) as usize;
    if chunk == 0 {
        return to.write_all(bytes).await;
    }
    let pause = Duration::from_millis(faults.slow_pause_ms.load(Ordering::SeqCst));
    for part in bytes.chunks(chunk) {
        to.write_all(part).await?;
        tokio::time::sleep(pause).await;
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// How many leading bytes of `buf` are whole WebSocket frames.
fn complete_frames(buf: &[u8]) -> usize {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        if rest.len() < 2 {
            return at;
        }
        let masked = rest[1] & 0x80 != 0;
        let (len, head) = match rest[1] & 0x7f {
            126 if rest.len() >= 4 => (u64::from(u16::from_be_bytes([rest[2], rest[3]])), 4),
            127 if rest.len() >= 10 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[2..10]);
                (u64::from_be_bytes(b), 10)
            }
            126 | 127 => return at,
            l => (u64::from(l), 2),
        };
        let total = head as u64 + if masked { 4 } else { 0 } + len;
        if (rest.len() as u64) < total {
            return at;
        }
        at += total as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_counted_whole_and_partial_ones_held_back() {
        let a = Frame::Text("hello".into()).encode();
        let b = Frame::Text("x".repeat(300)).encode();
        let mut both = a.clone();
        both.extend_from_slice(&b);
        assert_eq!(complete_frames(&both), both.len());
        assert_eq!(complete_frames(&both[..both.len() - 1]), a.len());
        assert_eq!(complete_frames(&both[..a.len() + 3]), a.len());
        assert_eq!(complete_frames(&a[..1]), 0);
    }
}
