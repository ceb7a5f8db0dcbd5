//! What the delivery-latency parts share: the reference instance in-process
//! with the operator's preferences set for the measurement, events emitted
//! on the server by number, the real core engine with the sinks a part
//! gives it, and a bare WebSocket client on the same instance (the floor's
//! receive half).

use belfry_core::engine::Engine;
use belfry_core::event::ConnState;
use belfry_core::net;
use belfry_core::secret::Secret;
use belfry_core::sinks::{OnToastEvent, Sinks};
use belfry_core::store::Store;
use belfry_proto::api::EmitEvent;
use belfry_proto::settings::{SettingsDocument, SettingsWrite};
use belfry_proto::stream::{ClientFrame, ServerFrame};
use belfry_tests::{OPERATOR, Stream, TestInstance};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// The type every measured event has: listed, not critical, bell + banner
/// by default.
pub const TYPE: &str = "ticket_created";

/// Toasts on screen at once (the most the settings allow) and how long each
/// stays, for the toast parts: the router frees a slot a second after its
/// toast, so events [`SPACING`] apart each get a toast of their own (ten a
/// second at most; no summary).
pub const MAX_SIMULTANEOUS: u32 = 10;
/// See [`MAX_SIMULTANEOUS`].
pub const DURATION_S: u32 = 1;
/// Time between two measured events of the toast parts.
pub const SPACING: Duration = Duration::from_millis(120);

/// How many events a toast part emits (`BELFRY_BENCH_EVENTS`, default 1,000).
pub fn events() -> u64 {
    std::env::var("BELFRY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// A runtime for one part.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The instance with the operator's preferences set.
pub struct Server {
    pub instance: TestInstance,
}

impl Server {
    /// Starts the instance; `sound` turns the sound channel on and gives
    /// [`TYPE`] a melody.
    pub async fn start(sound: bool) -> Self {
        let instance = TestInstance::start().await;
        let api = instance.operator().await;
        let doc: SettingsDocument = api.get("/api/v1/settings").await;
        let mut prefs = doc.preferences.clone();
        prefs.channels.banner.max_simultaneous = MAX_SIMULTANEOUS;
        prefs.channels.banner.duration_s = DURATION_S;
        prefs.channels.banner.repeats = 0;
        if sound {
            prefs.channels.sound.enabled = true;
            let row = prefs.types.get_mut(TYPE).expect("the type is listed");
            row.channels.push("sound".into());
        }
        let _: SettingsDocument = api
            .send(
                Method::PUT,
                "/api/v1/settings",
                &SettingsWrite {
                    base_version: doc.version,
                    preferences: prefs,
                },
            )
            .await;
        Self { instance }
    }

    /// Emits event number `n` on the server (in-process, as the instance's
    /// helpdesk does: rendered, stored, sent to the streams); returns when
    /// it was called and when the instance published the frame.
    pub async fn emit(&self, n: u64) -> Emitted {
        let event = EmitEvent {
            operator: OPERATOR.0.into(),
            type_id: TYPE.into(),
            title: Some(title(n)),
            body: Some("A customer is waiting".into()),
            path: Some(format!("/tickets/{n}")),
            data: [("ticket_id".to_owned(), serde_json::json!(n))]
                .into_iter()
                .collect(),
        };
        let called = Instant::now();
        published::clear();
        belfry_instance::api::admin::emit_all(&self.instance.instance.state, vec![event])
            .await
            .expect("emitted");
        let published = published::take().expect(
            "the instance published the frame (the bench's tracing layer is installed in main)",
        );
        Emitted { called, published }
    }

    /// The operator signed in as the app signs in, and its TLS settings.
    pub async fn sign_in(&self) -> (net::Api, Arc<rustls::ClientConfig>) {
        let base = net::instance_url(self.instance.url(), false).expect("url");
        let tls = net::tls_config(None).expect("tls");
        let (api, _) = net::Api::login(&base, &tls, OPERATOR.0, &Secret::new(OPERATOR.1))
            .await
            .expect("signed in");
        (api, tls)
    }

    /// The real core, signed in as the operator with `store`, connected,
    /// with the preferences from the server and past the (empty) replay.
    pub async fn engine(&self, store: Store, sinks: Sinks) -> Engine {
        let (api, tls) = self.sign_in().await;
        Self::engine_with(api, tls, store, sinks).await
    }

    /// The same with a sign-in made earlier.
    pub async fn engine_with(
        api: net::Api,
        tls: Arc<rustls::ClientConfig>,
        store: Store,
        sinks: Sinks,
    ) -> Engine {
        let engine = Engine::start(belfry_tests::quick_config(), store, api, tls, sinks).await;
        let mut state = engine.state();
        tokio::time::timeout(
            Duration::from_secs(20),
            state.wait_for(|s| *s == ConnState::Connected),
        )
        .await
        .expect("the engine connects")
        .expect("state");
        let start = Instant::now();
        while engine
            .settings()
            .preferences
            .channels
            .banner
            .max_simultaneous
            != MAX_SIMULTANEOUS
        {
            assert!(start.elapsed() < Duration::from_secs(10), "no settings");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // "Connected" comes with the welcome; the replay's end follows it,
        // and an event before that would count as history.
        tokio::time::sleep(Duration::from_millis(100)).await;
        engine
    }

    /// A bare WebSocket client on the same stream: every notification frame
    /// it receives is sent to the returned channel as (event number,
    /// instant received).
    pub async fn bare_client(&self) -> mpsc::UnboundedReceiver<(u64, Instant)> {
        let api = self.instance.operator().await;
        let (mut s, _) = Stream::connect(self.instance.url(), &api.token, None).await;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = s.ws.next().await {
                let at = Instant::now();
                let Message::Text(text) = msg else { continue };
                match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(ServerFrame::Notification { notification, .. }) => {
                        if let Some(n) = number(&notification.title) {
                            let _ = tx.send((n, at));
                        }
                    }
                    Ok(ServerFrame::Ping { id }) => {
                        let pong = serde_json::to_string(&ClientFrame::Pong { id }).unwrap();
                        let _ = s.ws.send(Message::Text(pong.into())).await;
                    }
                    _ => {}
                }
            }
        });
        rx
    }
}

/// When an event was emitted, two ways.
#[derive(Debug, Clone, Copy)]
pub struct Emitted {
    /// The bench called the instance's emit (before it rendered the event
    /// and wrote it to its own database).
    pub called: Instant,
    /// The instance handed the frame to its streams, after its commit:
    /// where the delivery figures and their floors start.
    pub published: Instant,
}

/// The instant the instance publishes a frame, from its `published` trace
/// event in `Hub::publish`, taken in the publishing thread as it happens
/// (a subscriber task would add its own wake-up to every figure).
pub mod published {
    use std::sync::{Mutex, PoisonError};
    use std::time::Instant;
    use tracing::subscriber::Interest;
    use tracing::{Event, Metadata, Subscriber};
    use tracing_subscriber::layer::{Context, Layer};

    const TARGET: &str = "belfry_instance::hub";
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);

    /// The layer; every other callsite is off, so the core's logging costs
    /// nothing in the measurements.
    pub struct Publishes;

    impl<S: Subscriber> Layer<S> for Publishes {
        fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
            if m.is_event() && m.target() == TARGET {
                Interest::always()
            } else {
                Interest::never()
            }
        }

        fn enabled(&self, m: &Metadata<'_>, _: Context<'_, S>) -> bool {
            m.is_event() && m.target() == TARGET
        }

        fn on_event(&self, _: &Event<'_>, _: Context<'_, S>) {
            let at = Instant::now();
            LAST.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(at);
        }
    }

    /// Installs the layer as the process's subscriber.
    pub fn install() {
        use tracing_subscriber::layer::SubscriberExt;
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Publishes))
            .expect("no other subscriber in the bench");
    }

    pub(super) fn clear() {
        *LAST.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The first publish since [`clear`].
    pub(super) fn take() -> Option<Instant> {
        LAST.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The title of event `n`; the toast carries it.
pub fn title(n: u64) -> String {
    format!("bench {n}")
}

/// The event number in a toast's or notification's title.
pub fn number(title: &str) -> Option<u64> {
    title.strip_prefix("bench ")?.parse().ok()
}

/// A local store in `dir`, as the app keeps it.
pub fn store(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("inbox.db")).expect("the store opens")
}

/// What the user does with a toast goes to the engine, as the app's session
/// wires it (a daemon closing a toast frees its slot in the router).
pub fn toast_events() -> (
    OnToastEvent,
    mpsc::UnboundedReceiver<belfry_core::sinks::ToastEvent>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let on: OnToastEvent = Arc::new(move |ev| {
        let _ = tx.send(ev);
    });
    (on, rx)
}

/// Forwards toast events to the engine until it stops.
pub fn forward_toast_events(
    engine: Arc<Engine>,
    mut rx: mpsc::UnboundedReceiver<belfry_core::sinks::ToastEvent>,
) {
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            let _ = engine.on_toast(ev).await;
        }
    });
}

/// Waits (up to `limit`) for event `n` on `rx`, keeping any others that
/// came first in `early`; `None` when it never came.
pub async fn wait_for(
    rx: &mut mpsc::UnboundedReceiver<(u64, Instant)>,
    early: &mut std::collections::HashMap<u64, Instant>,
    n: u64,
    limit: Duration,
) -> Option<Instant> {
    if let Some(at) = early.remove(&n) {
        return Some(at);
    }
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((k, at))) if k == n => return Some(at),
            Ok(Some((k, at))) => {
                early.insert(k, at);
            }
            Ok(None) | Err(_) => return None,
        }
    }
}

/// The app's identity on toasts.
pub fn identity() -> belfry_os::toast::AppIdentity {
    belfry_os::toast::AppIdentity {
        name: "Belfry".into(),
        icon: "belfry".into(),
        desktop_entry: "Belfry".into(),
    }
}
