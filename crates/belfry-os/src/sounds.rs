//! The user's own sound files, one per notification type: checked and
//! decoded in full when chosen (so a bad file is refused then, not at the
//! first event), copied into the data directory (so moving or deleting the
//! original breaks nothing) and handed to the player as samples, so an event
//! starts its sound with no file I/O.

use crate::player::Clip;
use rodio::Source;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The largest file accepted, on disk.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// The longest sound accepted: a notification sound, not a song.
pub const MAX_LENGTH: Duration = Duration::from_secs(10);

/// File extensions accepted (lower case), one per format rodio is built to decode.
pub const EXTENSIONS: [&str; 4] = ["wav", "ogg", "mp3", "flac"];

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
    /// The decoder could not read it.
    #[error("{}: not a sound file rodio can read: {reason}", path.display())]
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

/// Checks `source` (type, size, decodes in full, length), then copies it to
/// `<data_dir>/sounds/<type_id>.<ext>`, replacing the type's previous file.
/// Nothing is written unless the file is accepted.
pub fn import(type_id: &str, source: &Path, data_dir: &Path) -> Result<ImportedSound, SoundError> {
    check_type_id(type_id)?;
    let ext = extension(source)?;
    let bytes: Arc<[u8]> = Arc::from(read_limited(source)?);
    let clip = decode_bytes(Arc::clone(&bytes), ext, source)?;
    store(type_id, ext, &bytes, None, clip, data_dir)
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
    let bytes: Arc<[u8]> = Arc::from(bytes);
    let clip = decode_bytes(Arc::clone(&bytes), ext, &label)?;
    store(type_id, ext, &bytes, Some(&shown), clip, data_dir)
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

/// Writes an accepted sound's copy (and the user's name for it, if known).
fn store(
    type_id: &str,
    ext: &'static str,
    bytes: &[u8],
    name: Option<&str>,
    clip: Clip,
    data_dir: &Path,
) -> Result<ImportedSound, SoundError> {
    let dir = sounds_dir(data_dir);
    create_private_dir(&dir)?;
    let path = dir.join(format!("{type_id}.{ext}"));
    write_replacing(&dir, &path, bytes)?;
    // The type's file in another format, if any, is replaced by this one.
    for other in EXTENSIONS.iter().filter(|e| **e != ext) {
        remove_file(&dir.join(format!("{type_id}.{other}")))?;
    }
    let names = name_file(&dir, type_id);
    match name {
        Some(name) => write_replacing(&dir, &names, name.as_bytes())?,
        // A name kept for the type's previous file would be wrong now.
        None => remove_file(&names)?,
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

/// Reads and decodes a sound file with the same checks as [`import`]: how
/// the player loads the copies when it starts.
pub fn load(path: &Path) -> Result<Clip, SoundError> {
    let ext = extension(path)?;
    let bytes = read_limited(path)?;
    decode_bytes(Arc::from(bytes), ext, path)
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

/// Reads the whole file, refusing one over [`MAX_FILE_BYTES`] before
/// reading it (and if it grows while being read).
fn read_limited(path: &Path) -> Result<Vec<u8>, SoundError> {
    let io = |source| SoundError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(SoundError::TooBig {
            path: path.to_owned(),
            size,
        });
    }
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
        E::UnrecognizedFormat => "its format is not one rodio knows".into(),
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
