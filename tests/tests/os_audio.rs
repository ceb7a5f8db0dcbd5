//! Sound through the real audio path in the test rig: built-in melodies and
//! the user's own files through rodio to ALSA's null device, output device
//! choice, and what happens with no device at all. Run through
//! `cargo xtask test`, which provides the null device. The Windows pass
//! runs them too: WASAPI as Wine implements it, over the same null device.
//!
//! The null device is not real time (a melody "plays" in milliseconds), so
//! nothing here measures durations through it: "played to the end" means
//! the output took the sound's last sample.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_core::config::SoundConfig;
use belfry_core::sinks::{Player, Sound};
use belfry_os::melody::{self, CATALOGUE, SAMPLE_RATE};
use belfry_os::player::{MelodyPlayer, Played, list_output_devices};
use belfry_os::sounds::{self, SoundError};
use belfry_tests::sound::{beep, flac, wav};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn in_rig() {
    assert!(
        std::env::var_os("BELFRY_RIG").is_some(),
        "this test needs the rig's audio device: run it with `cargo xtask test`"
    );
}

/// Long enough for anything that should happen at once on a busy machine.
const PATIENCE: Duration = Duration::from_secs(10);

fn sound(melody: &str, type_id: Option<&str>) -> Sound {
    Sound {
        melody: melody.into(),
        type_id: type_id.map(Into::into),
    }
}

fn settings(device: Option<&str>, custom: &[(&str, &Path)]) -> SoundConfig {
    SoundConfig {
        volume: 0.5,
        output_device: device.map(Into::into),
        custom: custom
            .iter()
            .map(|(t, p)| ((*t).to_owned(), p.to_path_buf()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// Waits until the player reports that the output took the last sample of
/// the latest sound, and returns what that sound was.
async fn played_to_the_end(p: &MelodyPlayer) -> Played {
    belfry_tests::eventually("the sound played to the end", PATIENCE, || {
        p.last_playback().is_some_and(|pb| pb.finished.is_some())
    })
    .await;
    let pb = p.last_playback().unwrap();
    assert!(pb.finished.unwrap() >= pb.started);
    pb.played
}

/// Plays and waits for the end; the play itself must report no fault.
async fn play_through(p: &MelodyPlayer, s: &Sound) -> Played {
    let before = p.last_playback().map(|pb| pb.started);
    p.play(s).unwrap();
    belfry_tests::eventually("the sound started", PATIENCE, || {
        p.last_playback().map(|pb| pb.started) != before
    })
    .await;
    played_to_the_end(p).await
}

#[test]
fn every_builtin_melody_is_audible_and_no_longer_than_stated() {
    for m in &CATALOGUE {
        let samples = melody::render(m.id);
        let secs = samples.len() as f64 / f64::from(SAMPLE_RATE);
        assert!(
            secs > 0.2 && secs <= m.length.as_secs_f64(),
            "{}: {secs} s, stated {:?}",
            m.id,
            m.length
        );
        let peak = samples.iter().fold(0.0f32, |a, s| a.max(s.abs()));
        assert!(peak > 0.5, "{}: peak {peak}", m.id);
        assert!(!m.sound.is_empty());
    }
    assert_eq!(CATALOGUE.len(), belfry_proto::catalogue::MELODIES.len());
}

#[tokio::test]
async fn melodies_play_to_the_end_through_the_audio_output() {
    in_rig();
    let p = MelodyPlayer::start(&settings(None, &[])).unwrap();
    belfry_tests::eventually("the output opened", PATIENCE, || {
        p.output_device().is_some()
    })
    .await;
    assert_eq!(p.fault(), None);
    for m in &CATALOGUE {
        assert_eq!(
            play_through(&p, &sound(m.id, None)).await,
            Played::Melody(m.id.into())
        );
    }
    // An id this version does not know (a newer server's) still rings.
    assert_eq!(
        play_through(&p, &sound("carillon", None)).await,
        Played::Melody("chime".into())
    );
    assert!(p.last_started.lock().unwrap().is_some());
    // A preview plays the same way and answers at once.
    p.preview(&sound("harp", None)).unwrap();
    assert_eq!(played_to_the_end(&p).await, Played::Melody("harp".into()));
}

#[tokio::test]
async fn a_custom_sound_is_copied_in_and_plays_instead_of_the_melody() {
    in_rig();
    let outside = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let original = outside.path().join("My Ping.WAV");
    let bytes = wav(22_050, 2, &beep(22_050, 2, 0.3));
    std::fs::write(&original, &bytes).unwrap();

    let imported = sounds::import("ticket_created", &original, data.path()).unwrap();
    let copy = data.path().join("sounds").join("ticket_created.wav");
    assert_eq!(imported.path, copy);
    // The copy holds exactly the samples that were checked.
    let kept = sounds::load(&copy).unwrap();
    assert_eq!(kept.samples(), imported.clip.samples());
    assert_eq!(kept.sample_rate(), imported.clip.sample_rate());
    assert_eq!(imported.clip.channels().get(), 2);
    assert_eq!(imported.clip.sample_rate().get(), 22_050);
    let ms = imported.clip.duration().as_millis();
    assert!((295..=305).contains(&ms), "{ms} ms");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join("sounds"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    // Only the copy remains: no temp files beside it.
    let names: Vec<_> = std::fs::read_dir(data.path().join("sounds"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["ticket_created.wav"]);

    // The user moves the original away: the copy is what plays.
    std::fs::remove_file(&original).unwrap();
    let p = MelodyPlayer::start(&settings(None, &[("ticket_created", &copy)])).unwrap();
    assert_eq!(
        play_through(&p, &sound("ding", Some("ticket_created"))).await,
        Played::Custom("ticket_created".into())
    );
    // Other types keep their melody; so do summaries (no type).
    assert_eq!(
        play_through(&p, &sound("ding", Some("chat_message"))).await,
        Played::Melody("ding".into())
    );
    assert_eq!(
        play_through(&p, &sound("knock", None)).await,
        Played::Melody("knock".into())
    );

    // Chosen at runtime: added, then removed again.
    let other = outside.path().join("blip.wav");
    std::fs::write(&other, wav(8_000, 1, &beep(8_000, 1, 0.2))).unwrap();
    let blip = sounds::import("chat_message", &other, data.path()).unwrap();
    p.set_custom(&blip.type_id, blip.clip.clone());
    assert_eq!(
        play_through(&p, &sound("ding", Some("chat_message"))).await,
        Played::Custom("chat_message".into())
    );
    p.remove_custom("chat_message");
    sounds::remove("chat_message", data.path()).unwrap();
    assert!(!blip.path.exists());
    assert_eq!(
        play_through(&p, &sound("ding", Some("chat_message"))).await,
        Played::Melody("ding".into())
    );
    // Removing what is not there is fine.
    sounds::remove("chat_message", data.path()).unwrap();

    // Another format for the same type replaces the first file: kept as
    // WAV too, the one file of the type.
    let chord = outside.path().join("chord.flac");
    std::fs::write(&chord, flac(44_100, 2, &beep(44_100, 2, 0.25))).unwrap();
    let replaced = sounds::import("ticket_created", &chord, data.path()).unwrap();
    assert_eq!(replaced.path, copy);
    assert_eq!(
        sounds::load(&copy).unwrap().samples(),
        replaced.clip.samples()
    );
    let names: Vec<_> = std::fs::read_dir(data.path().join("sounds"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["ticket_created.wav"]);
    assert_eq!(replaced.clip.channels().get(), 2);
    assert_eq!(replaced.clip.duration().as_millis(), 250);
    p.set_custom("ticket_created", replaced.clip);
    assert_eq!(
        play_through(&p, &sound("ding", Some("ticket_created"))).await,
        Played::Custom("ticket_created".into())
    );
}

#[tokio::test]
async fn an_older_copy_in_its_chosen_format_plays_its_melody_until_the_app_rewrites_it_as_wav() {
    in_rig();
    // What an older Belfry kept: the chosen FLAC as it was, and its name.
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("sounds");
    std::fs::create_dir_all(&dir).unwrap();
    let old = dir.join("sla_breach.flac");
    let samples = beep(44_100, 2, 0.3);
    std::fs::write(&old, flac(44_100, 2, &samples)).unwrap();
    std::fs::write(dir.join("sla_breach.name"), "Gong.flac").unwrap();

    // The player reads only WAV copies: this one is unusable, and says how to mend it.
    let err = sounds::load(&old).unwrap_err();
    assert!(matches!(err, SoundError::OldCopy(_)), "{err:?}");
    assert!(err.to_string().contains("start the app once"), "{err}");
    let p = MelodyPlayer::start(&settings(None, &[("sla_breach", &old)])).unwrap();
    assert_eq!(
        play_through(&p, &sound("alert", Some("sla_breach"))).await,
        Played::Melody("alert".into())
    );

    // The app's start rewrites it: a WAV of the same sound, the name kept, the FLAC gone.
    let wav_copy = sounds::upgrade("sla_breach", &old, data.path()).unwrap();
    assert_eq!(wav_copy, dir.join("sla_breach.wav"));
    assert!(!old.exists(), "the FLAC copy is gone");
    assert_eq!(
        sounds::chosen_name("sla_breach", data.path()).as_deref(),
        Some("Gong.flac")
    );
    let clip = sounds::load(&wav_copy).unwrap();
    assert_eq!(clip.channels().get(), 2);
    assert_eq!(clip.sample_rate().get(), 44_100);
    assert_eq!(clip.samples().len(), samples.len());
    let off = clip
        .samples()
        .iter()
        .zip(&samples)
        .map(|(kept, chosen)| (kept - f32::from(*chosen) / 32_768.0).abs())
        .fold(0f32, f32::max);
    assert!(
        off < 1e-6,
        "the WAV holds the FLAC's samples (off by {off})"
    );
    // A WAV copy is left as it is.
    assert_eq!(
        sounds::upgrade("sla_breach", &wav_copy, data.path()).unwrap(),
        wav_copy
    );
    let p = MelodyPlayer::start(&settings(None, &[("sla_breach", &wav_copy)])).unwrap();
    assert_eq!(
        play_through(&p, &sound("alert", Some("sla_breach"))).await,
        Played::Custom("sla_breach".into())
    );
}

#[tokio::test]
async fn a_custom_file_corrupted_since_it_was_chosen_falls_back_to_the_melody() {
    in_rig();
    let data = tempfile::tempdir().unwrap();
    let original = data.path().join("ping.wav");
    std::fs::write(&original, wav(16_000, 1, &beep(16_000, 1, 0.2))).unwrap();
    let imported = sounds::import("sla_breach", &original, data.path()).unwrap();
    std::fs::write(&imported.path, random_bytes(4096, 7)).unwrap();
    let missing = data.path().join("sounds").join("gone.wav");
    let p = MelodyPlayer::start(&settings(
        None,
        &[("sla_breach", &imported.path), ("ticket_created", &missing)],
    ))
    .unwrap();
    assert_eq!(
        play_through(&p, &sound("alert", Some("sla_breach"))).await,
        Played::Melody("alert".into())
    );
    assert_eq!(
        play_through(&p, &sound("chime", Some("ticket_created"))).await,
        Played::Melody("chime".into())
    );
}

/// Imports `bytes` as `name` and expects a refusal saying `why`; nothing
/// may be left in the sounds directory.
fn refused(name: &str, bytes: &[u8], why: &str) -> SoundError {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join(name);
    std::fs::write(&src, bytes).unwrap();
    let data = dir.path().join("data");
    let err = sounds::import("ticket_created", &src, &data).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(why), "{name}: {text}");
    assert!(text.contains(name), "the error names the file: {text}");
    let left: Vec<PathBuf> = std::fs::read_dir(data.join("sounds"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{name}: left behind {left:?}");
    err
}

#[test]
fn files_that_are_not_notification_sounds_are_refused_with_the_reason() {
    let unreadable = "not a sound file Belfry can read";
    for seed in 1..=5 {
        refused("noise.wav", &random_bytes(20_000, seed), unreadable);
        refused("noise.mp3", &random_bytes(20_000, seed), unreadable);
        refused("noise.ogg", &random_bytes(20_000, seed), unreadable);
        refused("noise.flac", &random_bytes(20_000, seed), unreadable);
    }
    // Text with a sound file's name.
    refused("notes.mp3", b"shopping list: milk, bread\n", unreadable);

    let good = wav(16_000, 1, &beep(16_000, 1, 1.0));
    let half = &good[..good.len() / 2];
    refused("cut.wav", half, "truncated");
    refused("header-only.wav", &good[..44], "no sound");
    refused("empty.wav", b"", "no sound");
    refused("quiet.wav", &wav(16_000, 1, &vec![0; 16_000]), "silent");
    let long = refused(
        "long.wav",
        &wav(8_000, 1, &beep(8_000, 1, 11.0)),
        "too long",
    );
    assert!(matches!(long, SoundError::TooLong { .. }), "{long:?}");
    refused("ring.aiff", &good, "unsupported file type");
    refused("ring", &good, "unsupported file type");

    // Over 10 MB on disk is refused before it is read.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.wav");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(sounds::MAX_FILE_BYTES + 1)
        .unwrap();
    let err = sounds::import("ticket_created", &big, dir.path()).unwrap_err();
    assert!(err.to_string().contains("at most 10 MB"), "{err}");

    // A type id that is no safe file name is refused before the file is read.
    let src = dir.path().join("ok.wav");
    std::fs::write(&src, &good).unwrap();
    for bad in ["../evil", "Ticket", "a/b", ""] {
        let err = sounds::import(bad, &src, dir.path()).unwrap_err();
        assert!(matches!(err, SoundError::BadTypeId(_)), "{bad}: {err}");
    }
    assert!(!dir.path().join("evil.wav").exists());
    // The same file under a good id is accepted.
    sounds::import("ticket_created", &src, dir.path()).unwrap();
}

#[tokio::test]
async fn a_missing_named_device_is_reported_once_and_the_default_plays() {
    in_rig();
    let p = MelodyPlayer::start(&settings(Some("Belfry Test Headset"), &[])).unwrap();
    belfry_tests::eventually("an output opened", PATIENCE, || p.output_device().is_some()).await;
    let err = p.play(&sound("chime", None)).unwrap_err().to_string();
    assert!(
        err.contains("Belfry Test Headset") && err.contains("default"),
        "{err}"
    );
    // Said once: sound works, so the next plays are fine.
    assert_eq!(played_to_the_end(&p).await, Played::Melody("chime".into()));
    assert_eq!(
        play_through(&p, &sound("ding", None)).await,
        Played::Melody("ding".into())
    );
    assert_eq!(p.fault(), None);
}

#[tokio::test]
async fn every_listed_device_can_be_chosen_and_plays() {
    in_rig();
    let names = list_output_devices();
    assert!(!names.is_empty(), "the rig lists no output device");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "listed twice: {names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("Discard all samples")),
        "the null device is no choice: {names:?}"
    );
    let p = MelodyPlayer::start(&settings(None, &[])).unwrap();
    for name in &names {
        p.set_device(Some(name.clone()));
        // No "not connected" notice: the chosen device itself opened.
        p.preview(&sound("pluck", None)).unwrap();
        assert_eq!(played_to_the_end(&p).await, Played::Melody("pluck".into()));
        assert_eq!(p.output_device().as_ref(), Some(name));
    }
    // Back to the system default.
    p.set_device(None);
    p.preview(&sound("ding", None)).unwrap();
    assert_eq!(played_to_the_end(&p).await, Played::Melody("ding".into()));
}

/// No device, then one: the device is taken away through ALSA's
/// configuration, which is Linux's own (under Wine the Windows audio stack
/// keeps listing its endpoint, so the Windows pass does not run these).
#[cfg(target_os = "linux")]
mod no_device {
    use super::*;
    use std::process::Command;
    use std::time::Instant;

    /// Set for the child process of the no-device test: its ALSA config file.
    const CHILD_ALSA_CONFIG: &str = "BELFRY_TEST_ALSA_CONFIG";

    /// An ALSA configuration whose default device is a sound card that is not there.
    const NO_DEVICE: &str = "pcm.!default { type hw card 7 }\nctl.!default { type hw card 7 }\n";
    /// The rig's null device.
    const NULL_DEVICE: &str = "pcm.!default { type null }\nctl.!default { type hw card 0 }\n";

    /// Replaces a file by renaming a new one over it, so ALSA sees a new file.
    fn replace(path: &Path, text: &str) {
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    #[test]
    fn with_no_audio_device_play_reports_at_once_and_sound_resumes_when_one_appears() {
        in_rig();
        // ALSA reads its configuration per process: the player runs in a child
        // process (this test binary again) with one of its own.
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("asound.conf");
        replace(&conf, NO_DEVICE);
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "no_device::child_without_then_with_a_device",
                "--include-ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ALSA_CONFIG_PATH", &conf)
            .env(CHILD_ALSA_CONFIG, &conf)
            .output()
            .unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "the child failed:\n{text}");
        assert!(text.contains("1 passed"), "the child did not run:\n{text}");
    }

    #[tokio::test]
    #[ignore = "the child process of the no-device test"]
    async fn child_without_then_with_a_device() {
        let conf = PathBuf::from(std::env::var_os(CHILD_ALSA_CONFIG).expect("run by its parent"));
        let p = MelodyPlayer::start(&settings(None, &[])).unwrap();
        belfry_tests::eventually("the missing device reported", PATIENCE, || {
            p.fault().is_some()
        })
        .await;

        // Each play says why there is no sound, without waiting on the device.
        for _ in 0..20 {
            let t = Instant::now();
            let err = p.play(&sound("chime", None)).unwrap_err().to_string();
            assert!(
                t.elapsed() < Duration::from_millis(500),
                "{:?}",
                t.elapsed()
            );
            assert!(err.contains("no audio output"), "{err}");
        }
        // A preview tries the device again at once, and says it is still missing.
        let err = p.preview(&sound("chime", None)).unwrap_err().to_string();
        assert!(err.contains("no audio output"), "{err}");
        assert!(p.last_playback().is_none());

        // A device appears; events go on ringing, and sound comes back by itself.
        replace(&conf, NULL_DEVICE);
        let t = Instant::now();
        belfry_tests::eventually("sound back", Duration::from_secs(20), || {
            let _ = p.play(&sound("bells", None));
            p.last_playback().is_some_and(|pb| {
                pb.played == Played::Melody("bells".into()) && pb.finished.is_some()
            })
        })
        .await;
        eprintln!("sound back after {:?}", t.elapsed());
        assert_eq!(p.fault(), None);
        p.play(&sound("ding", None)).unwrap();
    }
}
