//! The gateway under load: signed webhooks at 1,000 a second for 10
//! seconds into one instance (its own process), each for the one operator
//! whose stream is open. Measured: the time to the 2xx, beside its floor
//! (the same POSTs, at the same pace, to an endpoint that only answers
//! 202), and the time from sending a webhook to its notification frame
//! arriving on the operator's stream; and how many were lost or came twice.

use crate::burst::Instance;
use crate::{Row, Unit};
use belfry_proto::stream::ServerFrame;
use belfry_tests::hooks::{add_source, dotted_signature};
use belfry_tests::{ADMIN, Api, OPERATOR, Stream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Webhooks a second.
const RATE: u64 = 1_000;
/// For how long.
const SECONDS: u64 = 10;

/// Runs the part.
pub fn run() -> Vec<Row> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(measure())
}

/// An HTTP/1.1 server that answers every request 202 with no body and
/// does nothing else: the floor.
async fn answering_only() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let _ = sock.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf: Vec<u8> = Vec::with_capacity(8192);
                let mut chunk = [0u8; 8192];
                loop {
                    // One request: its head, then Content-Length bytes.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + len);
                    let answer = b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n";
                    if sock.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// One webhook: when it was sent, and how long its 2xx took (None: no 2xx).
type Sent = (Instant, Option<Duration>);

/// Sends `RATE * SECONDS` signed webhooks to `url` on schedule; returns
/// each one's send time and time to its answer (None: not a 2xx).
async fn send_all(url: &str, secret: &str) -> Vec<Sent> {
    let client = reqwest::Client::new();
    let total = RATE * SECONDS;
    let out: Arc<Mutex<Vec<Sent>>> =
        Arc::new(Mutex::new(vec![(Instant::now(), None); total as usize]));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        tokio::time::sleep_until(start + Duration::from_micros(i * 1_000_000 / RATE)).await;
        let body = format!(
            r#"{{"type":"ticket_message","operator":"{}","title":"w{i}","body":"a webhook under load","data":{{"ticket_id":"{i}"}}}}"#,
            OPERATOR.0
        );
        let at = chrono::Utc::now().timestamp().to_string();
        let sig = dotted_signature(secret, &at, body.as_bytes());
        let req = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-belfry-timestamp", at)
            .header("x-belfry-signature", sig)
            .header("x-belfry-delivery", format!("load-{i}"))
            .body(body);
        let out = Arc::clone(&out);
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = matches!(req.send().await, Ok(r) if r.status().is_success());
            let took = sent.elapsed();
            out.lock().unwrap()[i as usize] = (sent, ok.then_some(took));
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    out.lock().unwrap().clone()
}

async fn measure() -> Vec<Row> {
    let total = (RATE * SECONDS) as usize;
    // The floor first, on its own, so the two runs do not share the cores.
    let floor_url = answering_only().await;
    let floor: Vec<Duration> = send_all(&format!("{floor_url}/api/v1/hooks/floor"), "x")
        .await
        .into_iter()
        .filter_map(|(_, took)| took)
        .collect();

    let instance = Instance::start();
    let admin = Api::login(&instance.url, ADMIN.0, ADMIN.1).await;
    let operator = Api::login(&instance.url, OPERATOR.0, OPERATOR.1).await;
    let src = add_source(&admin, "load", "generic", "https://load.example", &[]).await;
    let (mut stream, _) = Stream::connect(&instance.url, &operator.token, None).await;
    let arrivals: Arc<Mutex<Vec<Vec<Instant>>>> = Arc::new(Mutex::new(vec![Vec::new(); total]));
    let reader = {
        let arrivals = Arc::clone(&arrivals);
        tokio::spawn(async move {
            let mut seen = 0;
            // Every notification, and then quiet for a few seconds to catch duplicates.
            let deadline = Duration::from_secs(SECONDS + 60);
            let start = Instant::now();
            while start.elapsed() < deadline {
                let quiet = if seen >= total {
                    Duration::from_secs(3)
                } else {
                    Duration::from_secs(30)
                };
                let Ok(next) = tokio::time::timeout(quiet, stream.next_or_end()).await else {
                    break;
                };
                let Ok(frame) = next else { break };
                if let ServerFrame::Notification { notification, .. } = frame {
                    let at = Instant::now();
                    if let Some(i) = notification
                        .title
                        .strip_prefix('w')
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|i| *i < total)
                    {
                        arrivals.lock().unwrap()[i].push(at);
                        seen += 1;
                    }
                }
            }
        })
    };
    let sent = send_all(&src.source.ingest_url, &src.secret).await;
    let _ = reader.await;
    let arrivals = arrivals.lock().unwrap().clone();

    let answered: Vec<Duration> = sent.iter().filter_map(|(_, took)| *took).collect();
    let refused = sent.iter().filter(|(_, took)| took.is_none()).count();
    let mut to_client = Vec::with_capacity(total);
    let (mut lost, mut twice) = (0usize, 0usize);
    for ((at, _), got) in sent.iter().zip(&arrivals) {
        match got.as_slice() {
            [] => lost += 1,
            [first, rest @ ..] => {
                to_client.push(first.saturating_duration_since(*at));
                twice += rest.len();
            }
        }
    }
    println!(
        "gateway: {} webhooks at {RATE}/s; {} answered 2xx, {refused} not; {} notifications at the client, {lost} lost, {twice} twice",
        sent.len(),
        answered.len(),
        to_client.len()
    );
    drop(instance);
    vec![
        Row::timed(
            "gateway: webhook → 2xx (1,000/s for 10 s)",
            &answered,
            &floor,
            50.0,
        )
        .at(0.99),
        Row::timed(
            "gateway: webhook → notification on the operator's stream",
            &to_client,
            &[],
            250.0,
        )
        .at(0.99),
        Row {
            figure: "gateway: webhooks not answered 2xx, lost or twice".into(),
            unit: Unit::Count,
            samples: vec![(refused + lost + twice) as f64],
            floor: Vec::new(),
            budget: 0.0,
            budget_at: 0.5,
        },
    ]
}
