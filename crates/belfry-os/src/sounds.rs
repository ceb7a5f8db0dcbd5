//! The user's own sound files, one per notification type: checked and
//! decoded in full when chosen (so a bad file is refused then, not at the
//! first event), and kept in the data directory as a WAV of exactly the
//! samples that were checked (so moving or deleting the original breaks
//! nothing). The player reads only those WAV copies ([`load`]): reading a
//! chosen sound back needs no mp3, ogg or flac decoder, so the small
//! `belfry-headless` binary links none (they are about 1 MB of its file,
//! which an idle process maps whole). The player holds them as samples, so
//! an event starts its sound with no file I/O.

use crate::player::Clip;
use rodio::Source;
use std::io::{BufReader, Cursor, Read, Write};
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The largest file accepted, on disk.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// The longest sound accepted: a notification sound, not a song.
pub const MAX_LENGTH: Duration = Duration::from_secs(10);

/// File extensions accepted (lower case), one per format rodio is built to decode.
pub const EXTENSIONS: [&str; 4] = ["wav", "ogg", "mp3", "flac"];

/// The largest copy [`load`] reads: [`MAX_LENGTH`] at the most channels and
/// the highest rate, as 32-bit samples, and its header.
const MAX_COPY_BYTES: u64 =
    4096 + MAX_LENGTH.as_secs() * MAX_CHANNELS as u64 * MAX_SAMPLE_RATE as u64 * 4;

/// More channels or a higher rate than this is no notification sound, and
/// would make [`MAX_LENGTH`] of samples very large.
const MAX_CHANNELS: u16 = 8;
const MAX_SAMPLE_RATE: u32 = 384_000;

/// Quieter than this everywhere (about −80 dBFS) is silence.
const SILENCE: f32 = 1e-4;

/// Why a sound file was refused or could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SoundError {
    /// The type id cannot be a file name.
    #[error(
        "{0:?} is not a notification type id that can name a file (only a-z, 0-9 and _, at most 64)"
    )]
    BadTypeId(String),
    /// Not one of [`EXTENSIONS`].
    #[error("{}: unsupported file type; choose a .wav, .ogg, .mp3 or .flac file", .0.display())]
    UnsupportedType(PathBuf),
    /// Over [`MAX_FILE_BYTES`].
    #[error("{}: the file is {size} bytes; a notification sound may be at most 10 MB", path.display())]
    TooBig {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// The decoder (or, for a copy, the WAV reader) could not read it.
    #[error("{}: not a sound file Belfry can read: {reason}", path.display())]
    NotSound {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// It decodes to nothing.
    #[error("{}: the file holds no sound (empty)", .0.display())]
    Empty(PathBuf),
    /// It decodes to silence.
    #[error("{}: the file is silent", .0.display())]
    Silent(PathBuf),
    /// The header promises more sound than the file holds.
    #[error(
        "{}: the file is truncated: its header promises {declared:.2} s but only {decoded:.2} s decode",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Seconds the header promises.
        declared: f64,
        /// Seconds that decode.
        decoded: f64,
    },
    /// Over [`MAX_LENGTH`].
    #[error(
        "{}: the sound is too long ({secs:.1} s); a notification sound may be at most 10 s",
        path.display()
    )]
    TooLong {
        /// The file.
        path: PathBuf,
        /// Its length in seconds (at least this much).
        secs: f64,
    },
    /// A copy an older Belfry kept in the chosen file's own format; the
    /// app rewrites it as WAV when it starts ([`upgrade`]).
    #[error(
        "{}: kept in the format it was chosen in, which only the Belfry app converts; start the app once (or choose the file again)",
        .0.display()
    )]
    OldCopy(PathBuf),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A sound file taken in by [`import`].
#[derive(Debug, Clone)]
pub struct ImportedSound {
    /// The notification type it is for.
    pub type_id: String,
    /// The copy in the data directory; store this path in the settings.
    pub path: PathBuf,
    /// Its samples, for [`crate::player::MelodyPlayer::set_custom`].
    pub clip: Clip,
}

/// The directory the copies live in: `<data_dir>/sounds`.
pub fn sounds_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("sounds")
}

/// Checks `source` (type, size, decodes in full, length), then keeps its
/// samples as `<data_dir>/sounds/<type_id>.wav`, replacing the type's
/// previous copy. Nothing is written unless the file is accepted.
pub fn import(type_id: &str, source: &Path, data_dir: &Path) -> Result<ImportedSound, SoundError> {
    check_type_id(type_id)?;
    let ext = extension(source)?;
    let bytes = read_limited(source)?;
    let clip = decode_bytes(Arc::from(bytes), ext, source)?;
    store(type_id, clip, Name::Forget, source, data_dir)
}

/// As [`import`], for a file the Settings window read itself: `bytes` under
/// the user's file `name` (only its extension names the copy). The name is
/// kept beside the copy, so Settings can show the file the user knows
/// ([`chosen_name`]); errors name it too.
pub fn import_named(
    type_id: &str,
    name: &str,
    bytes: &[u8],
    data_dir: &Path,
) -> Result<ImportedSound, SoundError> {
    check_type_id(type_id)?;
    // A browser gives a bare file name; anything more is not ours to keep.
    let label = PathBuf::from(Path::new(name).file_name().unwrap_or_default());
    let ext = extension(&label)?;
    let size = bytes.len() as u64;
    if size > MAX_FILE_BYTES {
        return Err(SoundError::TooBig { path: label, size });
    }
    if bytes.is_empty() {
        return Err(SoundError::Empty(label));
    }
    let shown: String = label
        .to_string_lossy()
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    let clip = decode_bytes(Arc::from(bytes), ext, &label)?;
    store(type_id, clip, Name::Keep(&shown), &label, data_dir)
}

/// Rewrites a copy an older Belfry kept in the chosen file's own format
/// (`<type_id>.ogg`, `.mp3` or `.flac`) as the WAV [`load`] reads, keeping
/// the name the user chose it by. Returns where the copy is now: `path`
/// itself when it is a WAV already. The app (which links the decoders)
/// calls it at start for every own sound in the settings.
pub fn upgrade(type_id: &str, path: &Path, data_dir: &Path) -> Result<PathBuf, SoundError> {
    check_type_id(type_id)?;
    let ext = extension(path)?;
    if ext == "wav" {
        return Ok(path.to_owned());
    }
    let clip = decode_bytes(Arc::from(read_limited(path)?), ext, path)?;
    Ok(store(type_id, clip, Name::Unchanged, path, data_dir)?.path)
}

/// The own sounds an older Belfry kept in their chosen format (`custom`:
/// type id → file), each rewritten as the WAV the player reads
/// ([`upgrade`]); WAVs are left alone and not listed. For each: where its
/// copy is now, or why it could not be rewritten (its melody then plays,
/// as for any unusable file). Blocking: file reads and decoding.
pub fn upgrade_old<'a>(
    custom: impl IntoIterator<Item = (&'a String, &'a PathBuf)>,
    data_dir: &Path,
) -> Vec<(String, Result<PathBuf, SoundError>)> {
    custom
        .into_iter()
        .filter(|(_, path)| {
            !path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
        })
        .map(|(type_id, path)| (type_id.clone(), upgrade(type_id, path, data_dir)))
        .collect()
}

/// The file name the user chose `type_id`'s sound by ([`import_named`]), if
/// it was kept.
pub fn chosen_name(type_id: &str, data_dir: &Path) -> Option<String> {
    check_type_id(type_id).ok()?;
    let text = std::fs::read_to_string(name_file(&sounds_dir(data_dir), type_id)).ok()?;
    let name: String = text.trim().chars().take(MAX_NAME_CHARS).collect();
    (!name.is_empty()).then_some(name)
}

/// Longest file name kept for showing.
const MAX_NAME_CHARS: usize = 255;

/// Where the name the user knows `type_id`'s file by is kept.
fn name_file(dir: &Path, type_id: &str) -> PathBuf {
    dir.join(format!("{type_id}.name"))
}

/// What [`store`] does with the name the user knows a sound by.
enum Name<'a> {
    /// Keeps this one.
    Keep(&'a str),
    /// Removes the one kept for the type's previous file (it would be wrong now).
    Forget,
    /// Leaves it as it is (the same sound, rewritten).
    Unchanged,
}

/// Writes an accepted sound's samples as the type's WAV copy (and the
/// user's name for it, as `name` says). `source` names the file in errors.
fn store(
    type_id: &str,
    clip: Clip,
    name: Name<'_>,
    source: &Path,
    data_dir: &Path,
) -> Result<ImportedSound, SoundError> {
    let wav = encode_wav(&clip).map_err(|e| SoundError::NotSound {
        path: source.to_owned(),
        reason: format!("it cannot be kept as WAV ({e})"),
    })?;
    let dir = sounds_dir(data_dir);
    create_private_dir(&dir)?;
    let path = dir.join(format!("{type_id}.wav"));
    write_replacing(&dir, &path, &wav)?;
    // The type's copy in another format (an older Belfry's), if any, is replaced by this one.
    for other in EXTENSIONS.iter().filter(|e| **e != "wav") {
        remove_file(&dir.join(format!("{type_id}.{other}")))?;
    }
    let names = name_file(&dir, type_id);
    match name {
        Name::Keep(name) => write_replacing(&dir, &names, name.as_bytes())?,
        Name::Forget => remove_file(&names)?,
        Name::Unchanged => {}
    }
    Ok(ImportedSound {
        type_id: type_id.to_owned(),
        path,
        clip,
    })
}

/// Writes `path` through a temp file renamed into place: a full disk or a
/// crash never leaves half a file under the real name.
fn write_replacing(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), SoundError> {
    let io = |source| SoundError::Io {
        path: path.to_owned(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".import-")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Deletes the copy of `type_id`'s sound, in whatever format; none is fine.
pub fn remove(type_id: &str, data_dir: &Path) -> Result<(), SoundError> {
    check_type_id(type_id)?;
    let dir = sounds_dir(data_dir);
    for ext in EXTENSIONS {
        remove_file(&dir.join(format!("{type_id}.{ext}")))?;
    }
    remove_file(&name_file(&dir, type_id))
}

/// Reads a copy [`import`] kept (a WAV; an older Belfry's copy in another
/// format is [`SoundError::OldCopy`] until [`upgrade`] rewrites it): how
/// the player loads the copies when it starts. The copy was checked when it
/// was chosen; here only what could make it unplayable or huge is checked
/// again (it may have been damaged or replaced since).
pub fn load(path: &Path) -> Result<Clip, SoundError> {
    if extension(path)? != "wav" {
        return Err(SoundError::OldCopy(path.to_owned()));
    }
    let (file, _) = open_limited(path, MAX_COPY_BYTES)?;
    let reader = hound::WavReader::new(BufReader::new(file.take(MAX_COPY_BYTES)))
        .map_err(|e| wav_error(e, path))?;
    read_wav(reader, path)
}

/// The samples of a WAV copy, as floats whatever the file holds (an older
/// Belfry kept a chosen WAV file as it was, in any of WAV's sample formats).
fn read_wav<R: Read>(mut reader: hound::WavReader<R>, path: &Path) -> Result<Clip, SoundError> {
    let not_sound = |reason: String| SoundError::NotSound {
        path: path.to_owned(),
        reason,
    };
    let spec = reader.spec();
    let (Some(channels), Some(rate)) =
        (NonZero::new(spec.channels), NonZero::new(spec.sample_rate))
    else {
        return Err(not_sound("its header names no channels or no rate".into()));
    };
    if channels.get() > MAX_CHANNELS || rate.get() > MAX_SAMPLE_RATE {
        return Err(not_sound(format!(
            "{channels} channels at {rate} Hz is not a notification sound"
        )));
    }
    let secs = f64::from(reader.duration()) / f64::from(rate.get());
    // A frame's worth of slack: the copy holds what was checked against MAX_LENGTH.
    if secs > MAX_LENGTH.as_secs_f64() + 0.01 {
        return Err(SoundError::TooLong {
            path: path.to_owned(),
            secs,
        });
    }
    let samples: Result<Vec<f32>, hound::Error> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect(),
        hound::SampleFormat::Int => {
            let bits = i32::from(spec.bits_per_sample.clamp(1, 32));
            let scale = (2f64.powi(bits - 1)).recip() as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect()
        }
    };
    let mut samples = samples.map_err(|e| wav_error(e, path))?;
    samples.truncate(samples.len() - samples.len() % usize::from(channels.get()));
    if samples.is_empty() {
        return Err(SoundError::Empty(path.to_owned()));
    }
    Ok(Clip::new(samples, channels, rate))
}

/// hound's complaint about a copy, in words a user can act on.
fn wav_error(e: hound::Error, path: &Path) -> SoundError {
    let reason = match e {
        // hound reports a short read as an error of kind `Other`, so a
        // cut file and a failing disk read alike; the file opened, so
        // both mean the copy cannot be played.
        hound::Error::IoError(e) => format!("the file is cut short or cannot be read ({e})"),
        other => format!("not a WAV file ({other})"),
    };
    SoundError::NotSound {
        path: path.to_owned(),
        reason,
    }
}

/// The samples as a 32-bit float WAV: exactly what was checked, read back
/// by [`load`] with no conversion.
fn encode_wav(clip: &Clip) -> Result<Vec<u8>, hound::Error> {
    let spec = hound::WavSpec {
        channels: clip.channels().get(),
        sample_rate: clip.sample_rate().get(),
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut out = Cursor::new(Vec::with_capacity(64 + clip.samples().len() * 4));
    let mut writer = hound::WavWriter::new(&mut out, spec)?;
    for sample in clip.samples() {
        writer.write_sample(*sample)?;
    }
    writer.finalize()?;
    Ok(out.into_inner())
}

fn check_type_id(type_id: &str) -> Result<(), SoundError> {
    let ok = !type_id.is_empty()
        && type_id.len() <= 64
        && type_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SoundError::BadTypeId(type_id.to_owned()))
    }
}

/// The file's extension as one of [`EXTENSIONS`] (so the copy's name is ours, not the user's).
fn extension(path: &Path) -> Result<&'static str, SoundError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    EXTENSIONS
        .into_iter()
        .find(|e| Some(*e) == ext.as_deref())
        .ok_or_else(|| SoundError::UnsupportedType(path.to_owned()))
}

/// Opens `path`, refusing a file over `limit` bytes before reading it;
/// returns the file and its size.
fn open_limited(path: &Path, limit: u64) -> Result<(std::fs::File, u64), SoundError> {
    let io = |source| SoundError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limit {
        return Err(SoundError::TooBig {
            path: path.to_owned(),
            size,
        });
    }
    Ok((file, size))
}

/// Reads the whole file, refusing one over [`MAX_FILE_BYTES`] before
/// reading it (and if it grows while being read).
fn read_limited(path: &Path) -> Result<Vec<u8>, SoundError> {
    let (file, size) = open_limited(path, MAX_FILE_BYTES)?;
    let io = |source| SoundError::Io {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let read = bytes.len() as u64;
    if read > MAX_FILE_BYTES {
        return Err(SoundError::TooBig {
            path: path.to_owned(),
            size: read,
        });
    }
    if bytes.is_empty() {
        return Err(SoundError::Empty(path.to_owned()));
    }
    Ok(bytes)
}

/// Decodes the whole file into interleaved samples at its own rate and
/// channel count (the output's mixer converts while playing).
fn decode_bytes(bytes: Arc<[u8]>, ext: &str, path: &Path) -> Result<Clip, SoundError> {
    let not_sound = |reason: String| SoundError::NotSound {
        path: path.to_owned(),
        reason,
    };
    let len = bytes.len() as u64;
    let mut decoder = rodio::Decoder::builder()
        .with_data(Cursor::new(bytes))
        .with_byte_len(len)
        .with_hint(ext)
        .with_seekable(true)
        .build()
        .map_err(|e| not_sound(decoder_reason(&e)))?;
    let channels = decoder.channels();
    let rate = decoder.sample_rate();
    if channels.get() > MAX_CHANNELS || rate.get() > MAX_SAMPLE_RATE {
        return Err(not_sound(format!(
            "{channels} channels at {rate} Hz is not a notification sound"
        )));
    }
    let samples_per_sec = u64::from(channels.get()) * u64::from(rate.get());
    let secs = |n: usize| n as f64 / samples_per_sec as f64;
    let declared = decoder.total_duration();
    if let Some(d) = declared
        && d > MAX_LENGTH
    {
        return Err(SoundError::TooLong {
            path: path.to_owned(),
            secs: d.as_secs_f64(),
        });
    }
    let limit = usize::try_from(MAX_LENGTH.as_secs() * samples_per_sec).unwrap_or(usize::MAX);
    let mut samples = Vec::new();
    // `next` by hand: the loop checks the decoder's format as it goes.
    while let Some(s) = decoder.next() {
        if decoder.channels() != channels || decoder.sample_rate() != rate {
            return Err(not_sound(
                "the channel count or sample rate changes within the file".into(),
            ));
        }
        if samples.len() >= limit {
            // Stop decoding here: a long file would otherwise fill memory.
            return Err(SoundError::TooLong {
                path: path.to_owned(),
                secs: secs(samples.len()),
            });
        }
        samples.push(s);
    }
    // Round down to whole frames, so channels never swap at the end.
    samples.truncate(samples.len() - samples.len() % usize::from(channels.get()));
    if samples.is_empty() {
        return Err(SoundError::Empty(path.to_owned()));
    }
    if let Some(d) = declared {
        let (declared, decoded) = (d.as_secs_f64(), secs(samples.len()));
        // Decoders may differ from the header by a frame or two; a cut file by far more.
        if decoded < declared * 0.95 - 0.02 {
            return Err(SoundError::Truncated {
                path: path.to_owned(),
                declared,
                decoded,
            });
        }
    }
    if !samples.iter().any(|s| s.abs() > SILENCE) {
        return Err(SoundError::Silent(path.to_owned()));
    }
    Ok(Clip::new(samples, channels, rate))
}

/// The decoder's complaint in words a user can act on (rodio's own text
/// drops the detail of an I/O error).
fn decoder_reason(e: &rodio::decoder::DecoderError) -> String {
    use rodio::decoder::DecoderError as E;
    match e {
        E::UnrecognizedFormat => "its format is not one of wav, ogg, mp3 or flac".into(),
        // The data is in memory: the only I/O error is running out of it.
        E::IoError(detail) => format!("no sound found before the file ends ({detail})"),
        E::DecodeError(detail) => format!("the data is malformed ({detail})"),
        E::NoStreams => "it holds no audio track".into(),
        other => other.to_string(),
    }
}

/// Creates the sounds directory, readable by the user only: what sounds a
/// user chose is theirs.
fn create_private_dir(dir: &Path) -> Result<(), SoundError> {
    let io = |source| SoundError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir).map_err(io)?;
        // An older directory keeps its mode through `create`: tighten it.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)
    }
    #[cfg(not(unix))]
    builder.create(dir).map_err(io)
}

fn remove_file(path: &Path) -> Result<(), SoundError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SoundError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_ids_must_be_safe_file_names() {
        for ok in ["ticket_created", "sla_breach_2", "a"] {
            assert!(check_type_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "Ticket",
            "a.b",
            "a/b",
            "a b",
            "é",
            &"x".repeat(65),
        ] {
            let err = check_type_id(bad).unwrap_err().to_string();
            assert!(err.contains("only a-z, 0-9 and _"), "{bad}: {err}");
        }
    }

    fn clip() -> Clip {
        let samples: Vec<f32> = (0..4_800).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        Clip::new(
            samples,
            NonZero::new(2).unwrap(),
            NonZero::new(24_000).unwrap(),
        )
    }

    #[test]
    fn a_wav_copy_reads_back_the_same_samples_and_a_damaged_one_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.wav");
        let original = clip();
        let bytes = encode_wav(&original).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back.samples(), original.samples());
        assert_eq!(back.channels(), original.channels());
        assert_eq!(back.sample_rate(), original.sample_rate());

        // Cut in the middle of its samples (a crash of another program, a full disk).
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("cut short"), "{err}");
        // Not a WAV at all.
        std::fs::write(&path, b"not a sound").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("not a WAV file"), "{err}");
        // An older build's copy in the chosen format is not read here.
        let old = dir.path().join("t.ogg");
        std::fs::write(&old, b"OggS").unwrap();
        assert!(matches!(load(&old), Err(SoundError::OldCopy(_))));
    }

    #[test]
    fn only_the_four_formats_are_accepted_in_any_case() {
        assert_eq!(extension(Path::new("a/b.WAV")).unwrap(), "wav");
        assert_eq!(extension(Path::new("b.Flac")).unwrap(), "flac");
        for bad in ["a.aiff", "a.m4a", "a", "a.wav.txt"] {
            let err = extension(Path::new(bad)).unwrap_err().to_string();
            assert!(err.contains("unsupported file type"), "{err}");
        }
    }
}
