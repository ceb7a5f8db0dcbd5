//! Event emitted on the server → the first sample of its melody pulled by
//! the audio output's callback, through the real core and the real player
//! (rodio, cpal) on ALSA's null device (the rig's).
//!
//! The router plays one melody at a time and not within 1.5 s of the last
//! (the same one not within 4 s): so each event is measured in a short
//! cycle of its own, a fresh engine (and router) on the same local store,
//! sign-in and player, which stay up as the app's do. The toaster is left
//! out (it has its own worker and is measured by the toast parts).
//!
//! The floor, per event and in the same run: a bare WebSocket client
//! receiving the same frame, plus the same melody handed straight to the
//! same player (play → first sample).

use crate::Row;
use crate::latency::{self, Server};
use belfry_core::config::SoundConfig;
use belfry_core::sinks::{Player, Sinks, Sound};
use belfry_os::player::MelodyPlayer;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WARM_UP: u64 = 5;
const LOST_AFTER: Duration = Duration::from_secs(2);

pub fn run() -> Vec<Row> {
    latency::runtime().block_on(measure())
}

/// The first sample of the first sound handed to the output after `since`.
async fn first_frame(player: &MelodyPlayer, since: Instant) -> Option<Instant> {
    let deadline = Instant::now() + LOST_AFTER;
    while Instant::now() < deadline {
        if let Some(p) = player.last_playback()
            && p.started >= since
            && let Some(at) = p.first_frame
        {
            return Some(at);
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    None
}

async fn measure() -> Vec<Row> {
    let player = match MelodyPlayer::start(&SoundConfig::default()) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            println!("sound: no audio thread ({e}): skipping its rows");
            return Vec::new();
        }
    };
    // The audio thread opens the output as it starts.
    let opened = Instant::now();
    while player.output_device().is_none() && player.fault().is_none() {
        if opened.elapsed() > Duration::from_secs(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let Some(device) = player.output_device() else {
        println!(
            "sound: no audio output ({}; run inside the rig, which has ALSA's null device: cargo xtask bench): skipping its rows",
            player.fault().unwrap_or_else(|| "none opened".into())
        );
        return Vec::new();
    };
    let cycles = (latency::events() / 5).max(10);
    let instance = Server::start(true).await;
    let melody = instance_melody(&instance).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = latency::store(&dir);
    let (api, tls) = instance.sign_in().await;
    let mut received = instance.bare_client().await;
    let mut early = HashMap::new();
    println!(
        "sound: {cycles} events (+{WARM_UP} warm-up), each in a cycle of its own, melody {melody:?} on {device:?}"
    );
    let sound = Sound {
        melody: melody.clone(),
        type_id: Some(latency::TYPE.into()),
    };
    let mut samples = Vec::new();
    let mut floor = Vec::new();
    let mut lost = 0u32;
    for n in 1..=WARM_UP + cycles {
        let sinks = Sinks {
            toaster: Arc::new(belfry_os::Quiet),
            player: Arc::clone(&player) as Arc<dyn Player>,
        };
        let engine = Server::engine_with(api.clone(), Arc::clone(&tls), store.clone(), sinks).await;
        let emitted = instance.emit(n).await;
        let heard = first_frame(&player, emitted.called).await;
        let got = latency::wait_for(&mut received, &mut early, n, LOST_AFTER)
            .await
            .expect("the bare client got the event");
        engine.shutdown().await;
        // The floor's audio half: the same melody, straight to the player.
        let handed = Instant::now();
        player.play(&sound).expect("the player takes it");
        let bare = first_frame(&player, handed)
            .await
            .expect("the bare sound started");
        if n > WARM_UP {
            match heard {
                Some(at) => {
                    samples.push(at - emitted.published);
                    floor.push((got - emitted.published) + (bare - handed));
                }
                None => lost += 1,
            }
        }
    }
    vec![
        Row::timed(
            "event → first audio frame to the output (ALSA null)",
            &samples,
            &floor,
            30.0,
        )
        .at(0.99),
        Row::count("event → audio: melodies lost", f64::from(lost), 0.0),
    ]
}

/// The melody the operator's settings give the type.
async fn instance_melody(instance: &Server) -> String {
    let api = instance.instance.operator().await;
    let doc: belfry_proto::settings::SettingsDocument = api.get("/api/v1/settings").await;
    doc.preferences.types[latency::TYPE].melody.clone()
}
