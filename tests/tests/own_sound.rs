//! The user's own sound file as the Settings window chooses it: the bytes
//! the window read, under the file's name, through
//! `belfry_os::sounds::import_named` (what the shell's `import_sound`
//! command calls) into the real player, which then plays the file instead of
//! the type's melody. Playing needs the rig's ALSA null device: run with
//! `cargo xtask test` (or `cargo xtask rig cargo nextest run …`).

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_core::config::SoundConfig;
use belfry_core::sinks::{Player, Sound};
use belfry_os::player::{MelodyPlayer, Played};
use belfry_os::sounds::{self, SoundError};
use belfry_tests::sound::{beep, wav};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Long enough for anything that should happen at once on a busy machine.
const PATIENCE: Duration = Duration::from_secs(10);

fn in_rig() {
    assert!(
        std::env::var_os("BELFRY_RIG").is_some(),
        "this test needs the rig's audio device: run it with `cargo xtask test`"
    );
}

fn sound(type_id: &str) -> Sound {
    Sound {
        melody: "bells".into(),
        type_id: Some(type_id.into()),
    }
}

/// Plays `s` and waits until the output took its last sample; returns what played.
async fn play_through(p: &MelodyPlayer, s: &Sound) -> Played {
    let before = p.last_playback().map(|pb| pb.started);
    p.play(s).unwrap();
    belfry_tests::eventually("the sound played to the end", PATIENCE, || {
        p.last_playback()
            .is_some_and(|pb| Some(pb.started) != before && pb.finished.is_some())
    })
    .await;
    p.last_playback().unwrap().played
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn a_wav_chosen_in_the_window_is_copied_named_and_plays_for_its_type() {
    in_rig();
    let data = tempfile::tempdir().unwrap();
    let p = MelodyPlayer::start(&SoundConfig::default()).unwrap();
    belfry_tests::eventually("the output opened", PATIENCE, || {
        p.output_device().is_some()
    })
    .await;
    assert_eq!(
        play_through(&p, &sound("sla_expired")).await,
        Played::Melody("bells".into())
    );

    // What the window sends: the bytes and the name the user knows.
    let bytes = wav(16_000, 1, &beep(16_000, 1, 0.3));
    let imported =
        sounds::import_named("sla_expired", "Мій дзвін.WAV", &bytes, data.path()).unwrap();
    let sounds_dir = data.path().join("sounds");
    assert_eq!(imported.path, sounds_dir.join("sla_expired.wav"));
    assert_eq!(
        sounds::load(&imported.path).unwrap().samples(),
        imported.clip.samples()
    );
    assert_eq!(
        files_in(&sounds_dir),
        ["sla_expired.name", "sla_expired.wav"]
    );
    assert_eq!(
        sounds::chosen_name("sla_expired", data.path()).as_deref(),
        Some("Мій дзвін.WAV")
    );

    // The command hands the clip to the running player: it plays at once.
    p.set_custom(&imported.type_id, imported.clip.clone());
    assert_eq!(
        play_through(&p, &sound("sla_expired")).await,
        Played::Custom("sla_expired".into())
    );
    assert_eq!(
        play_through(&p, &sound("chat_created")).await,
        Played::Melody("bells".into()),
        "other types keep their melody"
    );

    // Saved in the device settings, it plays after a restart too.
    let saved = SoundConfig {
        custom: BTreeMap::from([("sla_expired".to_owned(), imported.path.clone())]),
        ..SoundConfig::default()
    };
    let restarted = MelodyPlayer::start(&saved).unwrap();
    assert_eq!(
        play_through(&restarted, &sound("sla_expired")).await,
        Played::Custom("sla_expired".into())
    );

    // "Remove": the files go, and the melody plays again.
    sounds::remove("sla_expired", data.path()).unwrap();
    p.remove_custom("sla_expired");
    assert!(
        files_in(&sounds_dir).is_empty(),
        "{:?}",
        files_in(&sounds_dir)
    );
    assert_eq!(sounds::chosen_name("sla_expired", data.path()), None);
    assert_eq!(
        play_through(&p, &sound("sla_expired")).await,
        Played::Melody("bells".into())
    );
}

#[test]
fn a_file_that_is_no_notification_sound_is_refused_naming_it_and_nothing_is_kept() {
    let data = tempfile::tempdir().unwrap();
    let refused = |name: &str, bytes: &[u8], why: &str| -> SoundError {
        let err = sounds::import_named("ticket_created", name, bytes, data.path()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(why), "{name}: {text}");
        assert!(text.starts_with(name), "the message names the file: {text}");
        assert!(
            files_in(&data.path().join("sounds")).is_empty(),
            "{name}: something was kept"
        );
        err
    };
    refused(
        "notes.mp3",
        b"shopping list: milk, bread\n",
        "not a sound file",
    );
    refused("photo.png", b"\x89PNG\r\n", "unsupported file type");
    let long = refused(
        "song.wav",
        &wav(8_000, 1, &beep(8_000, 1, 11.0)),
        "too long",
    );
    assert!(matches!(long, SoundError::TooLong { .. }), "{long:?}");
    let big = vec![0u8; usize::try_from(sounds::MAX_FILE_BYTES).unwrap() + 1];
    refused("huge.wav", &big, "at most 10 MB");
    refused("empty.wav", b"", "no sound");
    // A path in the name is not the window's to give: only the name counts.
    let good = wav(8_000, 1, &beep(8_000, 1, 0.2));
    let ok = sounds::import_named(
        "ticket_created",
        "../../elsewhere/ok.wav",
        &good,
        data.path(),
    )
    .unwrap();
    assert_eq!(ok.path, data.path().join("sounds/ticket_created.wav"));
    assert_eq!(
        sounds::chosen_name("ticket_created", data.path()).as_deref(),
        Some("ok.wav")
    );
    // A type id that is no safe file name is refused before anything else.
    let err = sounds::import_named("../evil", "ok.wav", &good, data.path()).unwrap_err();
    assert!(matches!(err, SoundError::BadTypeId(_)), "{err}");
    // A file chosen from disk later (no name given) drops the old name.
    let src = data.path().join("from-disk.wav");
    std::fs::write(&src, &good).unwrap();
    sounds::import("ticket_created", &src, data.path()).unwrap();
    assert_eq!(sounds::chosen_name("ticket_created", data.path()), None);
}
