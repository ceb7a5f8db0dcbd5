//! The sound player: one audio thread owns the output device (audio
//! streams are not `Send` on every platform) and plays one sound at a time:
//! a built-in melody rendered when it is first needed, or the user's own
//! file for the type, decoded when it was chosen. A missing or vanished device is
//! reported, never fatal: the player tries again, and sound resumes when a
//! device appears.

use crate::melody::{self, SAMPLE_RATE};
use crate::sounds;
use belfry_core::config::SoundConfig;
use belfry_core::sinks::{Player, SinkError, Sound};
use belfry_proto::catalogue::MELODIES;
use rodio::cpal::traits::{DeviceTrait, HostTrait};
use rodio::{ChannelCount, CpalErrorKind, SampleRate, Source};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZero;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long after a failed open the player waits before trying again on
/// the next sound (a preview, being a user's click, tries at once).
const REOPEN_AFTER: Duration = Duration::from_secs(5);

/// The output is closed after this long without a sound, so the system can
/// suspend the sound card (a stream left open plays silence forever). Longer
/// than the longest custom sound.
const IDLE_CLOSE: Duration = Duration::from_secs(30);

/// Sounds waiting for the audio thread beyond this are dropped, never waited for.
const MAX_QUEUED: usize = 4;

/// How long [`MelodyPlayer::preview`] waits for the audio thread's answer.
const PREVIEW_WAIT: Duration = Duration::from_secs(2);

/// A sound ready to play: interleaved samples with their channel count and
/// rate, shared by every play (no copy, no file I/O).
#[derive(Clone)]
pub struct Clip {
    samples: Arc<[f32]>,
    channels: ChannelCount,
    sample_rate: SampleRate,
}

impl Clip {
    /// A clip of interleaved `samples`.
    pub fn new(
        samples: impl Into<Arc<[f32]>>,
        channels: ChannelCount,
        sample_rate: SampleRate,
    ) -> Self {
        Self {
            samples: samples.into(),
            channels,
            sample_rate,
        }
    }

    /// The interleaved samples, −1.0–1.0.
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// Channels per frame.
    pub fn channels(&self) -> ChannelCount {
        self.channels
    }

    /// Frames per second.
    pub fn sample_rate(&self) -> SampleRate {
        self.sample_rate
    }

    /// How long it plays.
    pub fn duration(&self) -> Duration {
        let per_sec = f64::from(self.channels.get()) * f64::from(self.sample_rate.get());
        Duration::from_secs_f64(self.samples.len() as f64 / per_sec)
    }
}

impl std::fmt::Debug for Clip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clip")
            .field("channels", &self.channels)
            .field("sample_rate", &self.sample_rate)
            .field("duration", &self.duration())
            .finish_non_exhaustive()
    }
}

/// Which sound a playback was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Played {
    /// A built-in melody, by id.
    Melody(String),
    /// The user's own file for this type id.
    Custom(String),
}

/// The last sound handed to the output.
#[derive(Debug, Clone)]
pub struct Playback {
    /// What it was.
    pub played: Played,
    /// When it was handed to the output.
    pub started: Instant,
    /// When the output's callback pulled its first sample: the moment it
    /// starts to sound, as near as the app can see (the latency benchmark
    /// measures an event to this). `None` until then.
    pub first_frame: Option<Instant>,
    /// When the output took its last sample; `None` while it plays, or if a
    /// newer sound cut it off.
    pub finished: Option<Instant>,
    seq: u64,
}

/// A clip as a rodio source, reporting when the output has taken all of it.
struct ClipSource {
    clip: Clip,
    pos: usize,
    ended: bool,
    seq: u64,
    playback: Arc<Mutex<Option<Playback>>>,
}

impl Iterator for ClipSource {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        if let Some(s) = self.clip.samples.get(self.pos) {
            if self.pos == 0 {
                // Once per sound, on the output's thread: the lock is not
                // contended (the audio thread takes it only to start a sound).
                self.mark(|p| p.first_frame = Some(Instant::now()));
            }
            self.pos += 1;
            return Some(*s);
        }
        if !self.ended {
            // Called from the output's own thread: the end was really played.
            self.ended = true;
            self.mark(|p| p.finished = Some(Instant::now()));
        }
        None
    }
}

impl ClipSource {
    /// Updates the playback record if it is still this sound's.
    fn mark(&self, f: impl FnOnce(&mut Playback)) {
        if let Some(p) = lock(&self.playback).as_mut()
            && p.seq == self.seq
        {
            f(p);
        }
    }
}

impl Source for ClipSource {
    fn current_span_len(&self) -> Option<usize> {
        Some(self.clip.samples.len().saturating_sub(self.pos))
    }

    fn channels(&self) -> ChannelCount {
        self.clip.channels
    }

    fn sample_rate(&self) -> SampleRate {
        self.clip.sample_rate
    }

    fn total_duration(&self) -> Option<Duration> {
        Some(self.clip.duration())
    }
}

/// What the audio thread knows about the output, for the callers.
#[derive(Debug, Default)]
struct Status {
    /// No output at all: every play reports it until one opens.
    fault: Option<String>,
    /// Said once, by the next play: the chosen device is missing and the
    /// default plays instead.
    notice: Option<String>,
    /// The output device in use.
    device: Option<String>,
}

impl Status {
    fn report(&mut self) -> Result<(), SinkError> {
        if let Some(why) = &self.fault {
            return Err(SinkError(why.clone()));
        }
        match self.notice.take() {
            Some(why) => Err(SinkError(why)),
            None => Ok(()),
        }
    }
}

enum Cmd {
    /// Play a sound; a preview carries where to answer.
    Play(Sound, Option<SyncSender<Result<(), SinkError>>>),
    Volume(f32),
    Device(Option<String>),
    SetCustom(String, Clip),
    RemoveCustom(String),
}

/// Plays melodies and the user's own sounds on the chosen output device.
pub struct MelodyPlayer {
    tx: Sender<Cmd>,
    /// Plays sent and not yet taken by the audio thread.
    queued: Arc<AtomicUsize>,
    status: Arc<Mutex<Status>>,
    playback: Arc<Mutex<Option<Playback>>>,
    /// When the audio thread handed the last sound to the output (benchmarks).
    pub last_started: Arc<Mutex<Option<Instant>>>,
}

impl MelodyPlayer {
    /// Starts the audio thread with the device's sound settings. The thread
    /// decodes every custom sound once, up front (a custom file that no
    /// longer decodes is logged once and its type gets its melody), then
    /// opens the output so a missing device is known before the first
    /// event. Built-in melodies are rendered on their first play.
    pub fn start(settings: &SoundConfig) -> Result<Self, SinkError> {
        let (tx, rx) = channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let status = Arc::new(Mutex::new(Status::default()));
        let playback = Arc::new(Mutex::new(None));
        let last_started = Arc::new(Mutex::new(None));
        let thread = AudioThread {
            volume: settings.volume.clamp(0.0, 1.0),
            wanted: settings.output_device.clone(),
            missing_reported: None,
            output: None,
            last_try: None,
            last_active: Instant::now(),
            melodies: HashMap::new(),
            custom: HashMap::new(),
            queued: Arc::clone(&queued),
            status: Arc::clone(&status),
            playback: Arc::clone(&playback),
            started: Arc::clone(&last_started),
            seq: 0,
        };
        let custom = settings.custom.clone();
        std::thread::Builder::new()
            .name("belfry-audio".into())
            .spawn(move || thread.run(rx, custom))
            .map_err(|e| SinkError(format!("starting the audio thread: {e}")))?;
        Ok(Self {
            tx,
            queued,
            status,
            playback,
            last_started,
        })
    }

    /// Sets the volume, 0.0–1.0, for the sound playing and those after it.
    pub fn set_volume(&self, volume: f32) {
        self.send(Cmd::Volume(volume.clamp(0.0, 1.0)));
    }

    /// Chooses the output device by a name from [`list_output_devices`] (or
    /// a cpal device id such as `alsa:front:CARD=PCH,DEV=0`); `None` is the
    /// system default. The output reopens at once.
    pub fn set_device(&self, name: Option<String>) {
        self.send(Cmd::Device(name));
    }

    /// Adds or replaces the user's own sound for `type_id` (from
    /// [`sounds::import`]); it plays instead of the type's melody.
    pub fn set_custom(&self, type_id: &str, clip: Clip) {
        self.send(Cmd::SetCustom(type_id.to_owned(), clip));
    }

    /// Forgets the user's own sound for `type_id`: its melody plays again.
    pub fn remove_custom(&self, type_id: &str) {
        self.send(Cmd::RemoveCustom(type_id.to_owned()));
    }

    /// Plays `sound` now, for the settings' preview button: it is never
    /// dropped, tries to open the output even if an attempt just failed, and
    /// answers with what happened (waiting up to two seconds for the output).
    pub fn preview(&self, sound: &Sound) -> Result<(), SinkError> {
        let (reply, answer) = sync_channel(1);
        self.tx
            .send(Cmd::Play(sound.clone(), Some(reply)))
            .map_err(|_| SinkError("the audio thread stopped".into()))?;
        match answer.recv_timeout(PREVIEW_WAIT) {
            Ok(result) => result,
            Err(_) => lock(&self.status).report(),
        }
    }

    /// The output device sounds go to (the last one opened; it is closed
    /// after a quiet spell and reopened by the next sound); `None` while
    /// there is none.
    pub fn output_device(&self) -> Option<String> {
        lock(&self.status).device.clone()
    }

    /// Why there is no output, while there is none.
    pub fn fault(&self) -> Option<String> {
        lock(&self.status).fault.clone()
    }

    /// The last sound handed to the output, and whether it played to the end.
    pub fn last_playback(&self) -> Option<Playback> {
        lock(&self.playback).clone()
    }

    fn send(&self, cmd: Cmd) {
        if self.tx.send(cmd).is_err() {
            tracing::debug!("audio thread stopped; setting dropped");
        }
    }
}

impl Player for MelodyPlayer {
    /// Queues `sound` and returns at once; reports the output's fault, if any.
    fn play(&self, sound: &Sound) -> Result<(), SinkError> {
        // A stuck output (a device open that hangs) must not pile up sounds
        // or block the caller: past a few, they are dropped.
        if self.queued.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED {
            self.queued.fetch_sub(1, Ordering::SeqCst);
        } else if self.tx.send(Cmd::Play(sound.clone(), None)).is_err() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(SinkError("the audio thread stopped".into()));
        }
        lock(&self.status).report()
    }
}

/// The names of the output devices the platform lists, each once, for the
/// settings' device choice. Empty when they cannot be listed. ALSA's null
/// device ("Discard all samples") is left out: nobody means to pick silence.
pub fn list_output_devices() -> Vec<String> {
    let devices = match rodio::cpal::default_host().output_devices() {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list audio output devices");
            return Vec::new();
        }
    };
    let mut names: Vec<String> = Vec::new();
    for name in devices
        .filter(|d| !is_null_device(d))
        .filter_map(|d| device_name(&d))
    {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// An open output.
struct Output {
    sink: rodio::MixerDeviceSink,
    /// The sound playing; dropping it stops it.
    player: Option<rodio::Player>,
    /// Set by the stream's error callback when the device failed.
    lost: Arc<AtomicBool>,
    /// The chosen device is missing; this is the default instead.
    fallback: bool,
}

/// The audio thread's state; it owns the output.
struct AudioThread {
    volume: f32,
    /// The device chosen in the settings; `None` is the default.
    wanted: Option<String>,
    /// The chosen device whose absence was already reported.
    missing_reported: Option<String>,
    output: Option<Output>,
    last_try: Option<Instant>,
    last_active: Instant,
    /// Built-in melodies rendered so far: each on its first play (about a
    /// millisecond), kept while the output is open so a busy spell plays
    /// from memory, and dropped with the output after a quiet one. Rendered
    /// all at start they were 3 MB of an idle headless app's memory.
    melodies: HashMap<&'static str, Clip>,
    custom: HashMap<String, Clip>,
    queued: Arc<AtomicUsize>,
    status: Arc<Mutex<Status>>,
    playback: Arc<Mutex<Option<Playback>>>,
    started: Arc<Mutex<Option<Instant>>>,
    seq: u64,
}

impl AudioThread {
    fn run(mut self, rx: Receiver<Cmd>, custom: BTreeMap<String, PathBuf>) {
        for (type_id, path) in custom {
            match sounds::load(&path) {
                Ok(clip) => {
                    self.custom.insert(type_id, clip);
                }
                Err(e) => {
                    tracing::warn!(%type_id, error = %e, "custom sound unusable; its melody plays instead");
                }
            }
        }
        self.open();
        loop {
            let cmd = if self.output.is_some() {
                match rx.recv_timeout(IDLE_CLOSE.saturating_sub(self.last_active.elapsed())) {
                    Ok(cmd) => cmd,
                    Err(RecvTimeoutError::Timeout) => {
                        self.close_if_idle();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match rx.recv() {
                    Ok(cmd) => cmd,
                    Err(_) => return,
                }
            };
            match cmd {
                Cmd::Play(sound, None) => {
                    self.queued.fetch_sub(1, Ordering::SeqCst);
                    self.play(&sound, false);
                }
                Cmd::Play(sound, Some(reply)) => {
                    self.play(&sound, true);
                    let _ = reply.try_send(lock(&self.status).report());
                }
                Cmd::Volume(v) => {
                    self.volume = v;
                    if let Some(p) = self.output.as_ref().and_then(|o| o.player.as_ref()) {
                        p.set_volume(v);
                    }
                }
                Cmd::Device(name) => {
                    self.wanted = name;
                    self.missing_reported = None;
                    self.output = None;
                    lock(&self.status).notice = None;
                    self.open();
                }
                Cmd::SetCustom(type_id, clip) => {
                    self.custom.insert(type_id, clip);
                }
                Cmd::RemoveCustom(type_id) => {
                    self.custom.remove(&type_id);
                }
            }
        }
    }

    fn close_if_idle(&mut self) {
        if self.output.is_some() && self.last_active.elapsed() >= IDLE_CLOSE {
            tracing::debug!("audio output closed after a quiet spell");
            self.output = None;
            self.melodies = HashMap::new();
            // Closing is ours, not a failure: the next sound reopens at once
            // (and `device` still names where it will go).
            self.last_try = None;
        }
    }

    fn play(&mut self, sound: &Sound, now: bool) {
        if self
            .output
            .as_ref()
            .is_some_and(|o| o.lost.load(Ordering::SeqCst))
        {
            // The device failed under the stream: reopen at once, on it if
            // it is back or on whatever is the default now.
            self.output = None;
            self.last_try = None;
            lock(&self.status).device = None;
        }
        let due = now || self.last_try.is_none_or(|t| t.elapsed() >= REOPEN_AFTER);
        if due && self.output.as_ref().is_some_and(|o| o.fallback) {
            self.return_to_chosen_device();
        }
        if due && self.output.is_none() {
            self.open();
        }
        if self.output.is_none() {
            return;
        }
        let custom = sound
            .type_id
            .as_ref()
            .and_then(|t| Some((Played::Custom(t.clone()), self.custom.get(t)?.clone())));
        let (played, clip) = match custom {
            Some(c) => c,
            None => {
                let id = MELODIES
                    .iter()
                    .copied()
                    .find(|m| *m == sound.melody)
                    .unwrap_or("chime");
                (Played::Melody(id.to_owned()), self.melody(id))
            }
        };
        let Some(out) = self.output.as_mut() else {
            return;
        };
        self.seq += 1;
        let started = Instant::now();
        // What reaches the speakers, for support and the end-to-end tests.
        tracing::debug!(?played, type_id = ?sound.type_id, "playing");
        *lock(&self.playback) = Some(Playback {
            played,
            started,
            first_frame: None,
            finished: None,
            seq: self.seq,
        });
        let player = rodio::Player::connect_new(out.sink.mixer());
        player.set_volume(self.volume);
        player.append(ClipSource {
            clip,
            pos: 0,
            ended: false,
            seq: self.seq,
            playback: Arc::clone(&self.playback),
        });
        // One sound at a time: dropping the previous player stops it without
        // waiting (`Player::clear` would block until the output reaches it,
        // forever if the output stalled).
        out.player = Some(player);
        *lock(&self.started) = Some(started);
        self.last_active = started;
    }

    /// The built-in melody `id`, rendered now if it is not in memory.
    fn melody(&mut self, id: &'static str) -> Clip {
        self.melodies
            .entry(id)
            .or_insert_with(|| {
                let rate = NonZero::new(SAMPLE_RATE).unwrap_or(NonZero::<u32>::MIN);
                Clip::new(melody::render(id), NonZero::<u16>::MIN, rate)
            })
            .clone()
    }

    /// Opens the chosen device, or the default if it is missing (reported
    /// once), or records why there is no output.
    fn open(&mut self) {
        self.last_try = Some(Instant::now());
        let opened = match self.wanted.clone() {
            None => self.open_default(),
            Some(name) => match self.open_named(&name) {
                Ok(out) => {
                    self.missing_reported = None;
                    Ok(out)
                }
                Err(why) => match self.open_default() {
                    Ok((mut out, default)) => {
                        out.fallback = true;
                        if self.missing_reported.as_deref() != Some(name.as_str()) {
                            let notice = format!(
                                "output device {name:?} {why}; playing on the default output ({default})"
                            );
                            tracing::warn!("{notice}");
                            lock(&self.status).notice = Some(notice);
                            self.missing_reported = Some(name);
                        }
                        Ok((out, default))
                    }
                    Err(e) => Err(format!(
                        "output device {name:?} {why}, and the default output failed: {e}"
                    )),
                },
            },
        };
        let mut status = lock(&self.status);
        match opened {
            Ok((out, name)) => {
                tracing::info!(device = %name, "audio output opened");
                status.fault = None;
                status.device = Some(name);
                // Outside the lock: replacing an output drops its stream,
                // which waits for the stream's thread, whose error callback
                // may be waiting for this lock.
                drop(status);
                self.output = Some(out);
                self.last_active = Instant::now();
            }
            Err(why) => {
                let fault = format!("no audio output: {why}");
                // Logged when it starts failing, not on every retry.
                if status.fault.is_none() {
                    tracing::warn!("{fault}");
                }
                status.fault = Some(fault);
                status.device = None;
            }
        }
    }

    /// On the default while the chosen device is missing: switch back when
    /// it is there again.
    fn return_to_chosen_device(&mut self) {
        self.last_try = Some(Instant::now());
        let Some(name) = self.wanted.clone() else {
            return;
        };
        if let Ok((out, device)) = self.open_named(&name) {
            tracing::info!(%device, "chosen audio output is back");
            self.missing_reported = None;
            self.output = Some(out);
            lock(&self.status).device = Some(device);
        }
    }

    fn open_named(&self, wanted: &str) -> Result<(Output, String), String> {
        let devices = rodio::cpal::default_host()
            .output_devices()
            .map_err(|e| format!("cannot be looked for: {e}"))?;
        let mut failure = None;
        // Names repeat (ALSA lists several PCMs per card): the first that opens wins.
        for device in devices {
            let name = device_name(&device);
            let id = device.id().ok().map(|id| id.to_string());
            if name.as_deref() != Some(wanted) && id.as_deref() != Some(wanted) {
                continue;
            }
            match self.open_device(device) {
                Ok(out) => return Ok((out, name.unwrap_or_else(|| wanted.to_owned()))),
                Err(e) => failure = Some(e),
            }
        }
        Err(match failure {
            Some(e) => format!("could not be opened ({e})"),
            None => "is not connected".into(),
        })
    }

    fn open_default(&self) -> Result<(Output, String), String> {
        let host = rodio::cpal::default_host();
        let device = host
            .default_output_device()
            .ok_or_else(|| "the system has no default output device".to_owned())?;
        let name = device_name(&device).unwrap_or_else(|| "default".into());
        let first = match self.open_device(device) {
            Ok(out) => return Ok((out, name)),
            Err(e) => format!("{name}: {e}"),
        };
        // As rodio's own default does: any real device rather than silence.
        let others =
            host.output_devices().into_iter().flatten().filter(|d| {
                d.description().is_ok_and(|d| d.driver().is_some()) && !is_null_device(d)
            });
        for device in others {
            let name = device_name(&device);
            if let (Ok(out), Some(name)) = (self.open_device(device), name) {
                return Ok((out, name));
            }
        }
        Err(first)
    }

    fn open_device(&self, device: rodio::Device) -> Result<Output, String> {
        let lost = Arc::new(AtomicBool::new(false));
        let on_error = {
            let lost = Arc::clone(&lost);
            let status = Arc::clone(&self.status);
            move |e: rodio::CpalError| {
                // Glitches and reroutes the stream survives; anything else ends it.
                if matches!(
                    e.kind(),
                    CpalErrorKind::Xrun
                        | CpalErrorKind::DeviceChanged
                        | CpalErrorKind::RealtimeDenied
                ) {
                    tracing::debug!(error = %e, "audio output glitch");
                } else if !lost.swap(true, Ordering::SeqCst) {
                    tracing::warn!(error = %e, "audio output failed; reopening on the next sound");
                    lock(&status).fault = Some(format!("the audio output failed: {e}"));
                }
            }
        };
        let mut sink = rodio::DeviceSinkBuilder::from_device(device)
            .and_then(|b| b.with_error_callback(on_error).open_sink_or_fallback())
            .map_err(|e| chain(&e))?;
        sink.log_on_drop(false);
        Ok(Output {
            sink,
            player: None,
            lost,
            fallback: false,
        })
    }
}

/// A device's name as the platform shows it.
fn device_name(device: &rodio::Device) -> Option<String> {
    device.description().ok().map(|d| d.name().to_owned())
}

/// ALSA's null device, which plays nothing (cpal names the PCM as the driver).
fn is_null_device(device: &rodio::Device) -> bool {
    device
        .description()
        .is_ok_and(|d| d.driver() == Some("null"))
}

/// An error with its causes, for a fault string that says what happened.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(seq: u64, playback: &Arc<Mutex<Option<Playback>>>) -> ClipSource {
        let clip = Clip::new(
            vec![0.1, 0.2, 0.3, 0.4],
            NonZero::new(2).unwrap(),
            NonZero::new(8_000).unwrap(),
        );
        ClipSource {
            clip,
            pos: 0,
            ended: false,
            seq,
            playback: Arc::clone(playback),
        }
    }

    fn playback(seq: u64) -> Arc<Mutex<Option<Playback>>> {
        Arc::new(Mutex::new(Some(Playback {
            played: Played::Melody("ding".into()),
            started: Instant::now(),
            first_frame: None,
            finished: None,
            seq,
        })))
    }

    #[test]
    fn a_clip_reports_its_first_sample_and_end_once_and_only_for_its_own_playback() {
        let pb = playback(3);
        let mut s = source(3, &pb);
        assert_eq!(s.clip.duration(), Duration::from_micros(250));
        assert_eq!(s.next(), Some(0.1));
        let first = lock(&pb).as_ref().unwrap().first_frame.unwrap();
        assert_eq!(s.by_ref().take(3).count(), 3);
        assert_eq!(lock(&pb).as_ref().unwrap().first_frame, Some(first));
        assert!(lock(&pb).as_ref().unwrap().finished.is_none(), "not yet");
        assert_eq!(s.next(), None);
        let end = lock(&pb).as_ref().unwrap().finished.unwrap();
        assert_eq!(s.next(), None);
        assert_eq!(lock(&pb).as_ref().unwrap().finished, Some(end));

        // A sound cut off by a newer one does not mark the newer one done.
        let newer = playback(4);
        let mut old = source(3, &newer);
        while old.next().is_some() {}
        assert!(lock(&newer).as_ref().unwrap().finished.is_none());
        assert!(lock(&newer).as_ref().unwrap().first_frame.is_none());
    }

    #[test]
    fn a_notice_is_said_once_a_fault_until_it_clears() {
        let mut s = Status {
            notice: Some("device \"X\" is not connected".into()),
            ..Status::default()
        };
        assert!(s.report().is_err());
        assert!(s.report().is_ok());
        s.fault = Some("no audio output".into());
        assert!(s.report().is_err());
        assert!(s.report().is_err());
        s.fault = None;
        assert!(s.report().is_ok());
    }
}
