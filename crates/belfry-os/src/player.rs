//! The melody player: one audio thread owns the output device (audio
//! streams are not `Send` on every platform) and plays the pre-rendered
//! melodies, one at a time. A missing device is reported, not fatal: the
//! next melody tries to open one again.

use crate::melody::{self, SAMPLE_RATE};
use belfry_core::sinks::{Player, SinkError, Sound};
use rodio::Source;
use std::collections::HashMap;
use std::num::NonZero;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long after a failed open the player waits before trying again.
const REOPEN_AFTER: Duration = Duration::from_secs(5);

/// A rendered melody as a rodio source, sharing the buffer (no copy per play).
struct Shared {
    data: Arc<[f32]>,
    pos: usize,
}

impl Iterator for Shared {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        let s = self.data.get(self.pos).copied();
        self.pos += 1;
        s
    }
}

impl Source for Shared {
    fn current_span_len(&self) -> Option<usize> {
        Some(self.data.len().saturating_sub(self.pos))
    }

    fn channels(&self) -> rodio::ChannelCount {
        NonZero::<u16>::MIN
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        NonZero::new(SAMPLE_RATE).unwrap_or(NonZero::<u32>::MIN)
    }

    fn total_duration(&self) -> Option<Duration> {
        Some(Duration::from_secs_f64(
            self.data.len() as f64 / f64::from(SAMPLE_RATE),
        ))
    }
}

enum Cmd {
    Play(String),
    Volume(f32),
}

/// Plays melodies on the default output device.
pub struct MelodyPlayer {
    tx: SyncSender<Cmd>,
    /// The last device error, until a melody plays again.
    fault: Arc<Mutex<Option<String>>>,
    /// When the audio thread handed the last melody to the output (benchmarks).
    pub last_started: Arc<Mutex<Option<Instant>>>,
}

impl MelodyPlayer {
    /// Starts the audio thread; renders every melody once, up front.
    pub fn start(volume: f32) -> Result<Self, SinkError> {
        let (tx, rx) = sync_channel(4);
        let fault = Arc::new(Mutex::new(None));
        let last_started = Arc::new(Mutex::new(None));
        let (f, l) = (Arc::clone(&fault), Arc::clone(&last_started));
        std::thread::Builder::new()
            .name("belfry-audio".into())
            .spawn(move || audio_thread(rx, volume, f, l))
            .map_err(|e| SinkError(format!("starting the audio thread: {e}")))?;
        Ok(Self {
            tx,
            fault,
            last_started,
        })
    }

    /// Sets the volume, 0.0–1.0.
    pub fn set_volume(&self, volume: f32) {
        let _ = self.tx.try_send(Cmd::Volume(volume.clamp(0.0, 1.0)));
    }
}

impl Player for MelodyPlayer {
    fn play(&self, sound: &Sound) -> Result<(), SinkError> {
        match self.tx.try_send(Cmd::Play(sound.melody.clone())) {
            // A stuck device fills the queue; melodies are dropped, never waited for.
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => {
                return Err(SinkError("the audio thread stopped".into()));
            }
        }
        match self
            .fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            Some(why) => Err(SinkError(why)),
            None => Ok(()),
        }
    }
}

fn audio_thread(
    rx: Receiver<Cmd>,
    mut volume: f32,
    fault: Arc<Mutex<Option<String>>>,
    started: Arc<Mutex<Option<Instant>>>,
) {
    let melodies: HashMap<&'static str, Arc<[f32]>> = melody::catalogue();
    let mut device: Option<(rodio::MixerDeviceSink, rodio::Player)> = None;
    let mut last_try: Option<Instant> = None;
    let set_fault = |v: Option<String>| *fault.lock().unwrap_or_else(PoisonError::into_inner) = v;
    while let Ok(cmd) = rx.recv() {
        let id = match cmd {
            Cmd::Volume(v) => {
                volume = v;
                if let Some((_, p)) = &device {
                    p.set_volume(volume);
                }
                continue;
            }
            Cmd::Play(id) => id,
        };
        if device.is_none() && last_try.is_none_or(|t| t.elapsed() >= REOPEN_AFTER) {
            last_try = Some(Instant::now());
            match rodio::DeviceSinkBuilder::open_default_sink() {
                Ok(mut sink) => {
                    sink.log_on_drop(false);
                    let player = rodio::Player::connect_new(sink.mixer());
                    player.set_volume(volume);
                    device = Some((sink, player));
                    set_fault(None);
                    tracing::info!("audio output opened");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no audio output");
                    set_fault(Some(format!("no audio output device: {e}")));
                }
            }
        }
        let Some((_, player)) = &device else { continue };
        let Some(samples) = melodies.get(id.as_str()).or_else(|| melodies.get("chime")) else {
            continue;
        };
        // One melody at a time: a new one replaces whatever is playing.
        player.clear();
        player.append(Shared {
            data: Arc::clone(samples),
            pos: 0,
        });
        player.play();
        *started.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }
}
