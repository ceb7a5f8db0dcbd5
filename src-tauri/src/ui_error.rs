//! What a failed command tells the window: a kind, with the one or two
//! facts its sentence needs (a host, a scheme, a status), never an error
//! chain. The window words each kind in the user's language
//! (`ui/src/errors.ts`); the chain goes to the log.

use belfry_core::config::ConfigError;
use belfry_core::engine::EditError;
use belfry_core::links::LinkRefused;
use belfry_core::net::{ApiError, SetupError};
use belfry_core::store::StoreError;
use belfry_os::secrets::SecretError;
use belfry_os::sounds::SoundError;
use serde::Serialize;

/// A failed command, as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UiError {
    /// The command needs a session and there is none.
    NotSignedIn,
    /// The instance revoked this device's token.
    Revoked,
    /// A sign-in is already under way, or done.
    Busy,
    /// The helpdesk address is not an address.
    BadAddress,
    /// Plain http to another machine.
    InsecureAddress,
    /// No answer from the helpdesk (DNS, refused connection, timeout).
    Unreachable,
    /// The TLS handshake or the certificate failed.
    Tls,
    /// The helpdesk refused the login or the password.
    WrongPassword,
    /// The helpdesk refused the request for another reason.
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// The helpdesk speaks a protocol this Belfry does not.
    Incompatible,
    /// The system keyring is locked or did not answer.
    KeyringLocked,
    /// No system keyring runs, or it failed.
    NoKeyring,
    /// The notification has no link.
    NoLink,
    /// The link goes to another site.
    ForeignLink {
        /// Where it goes.
        host: String,
    },
    /// The link's scheme is never opened (`javascript:`, `file:`).
    LinkScheme {
        /// The scheme.
        scheme: String,
    },
    /// The link is malformed or carries credentials.
    BadLink,
    /// The notification is no longer in the local inbox.
    Gone,
    /// No browser could be started.
    NoBrowser,
    /// No audio output could be opened.
    NoAudioDevice,
    /// The organization decides this setting.
    Managed,
    /// The start-at-login entry could not be written.
    NoLoginItem,
    /// The chosen sound file is not of a type Belfry plays.
    SoundFileType {
        /// The file's name, as the user chose it.
        name: String,
    },
    /// The chosen sound file is over 10 MB.
    SoundTooBig {
        /// The file's name.
        name: String,
    },
    /// The chosen file does not decode as sound.
    NotSound {
        /// The file's name.
        name: String,
    },
    /// The chosen file holds no sound, or only silence.
    SilentSound {
        /// The file's name.
        name: String,
    },
    /// The chosen file ends before its header says it does.
    SoundTruncated {
        /// The file's name.
        name: String,
    },
    /// The chosen sound plays for more than 10 seconds.
    SoundTooLong {
        /// The file's name.
        name: String,
    },
    /// The disk is full: the change could not be saved on this computer.
    DiskFull,
    /// The change could not be written on this computer (a read-only or
    /// missing folder, a file in the way).
    NotSaved,
    /// There is no update to install (none was found, or it is installed).
    NoUpdate,
    /// This build follows one release channel only.
    OneChannel,
    /// Anything else: the window says it failed and that the log has why.
    Other,
}

impl UiError {
    /// Every kind, one of each (for the test that each has a sentence in
    /// every language).
    #[cfg(test)]
    pub fn every() -> Vec<UiError> {
        vec![
            UiError::NotSignedIn,
            UiError::Revoked,
            UiError::Busy,
            UiError::BadAddress,
            UiError::InsecureAddress,
            UiError::Unreachable,
            UiError::Tls,
            UiError::WrongPassword,
            UiError::Refused { status: 500 },
            UiError::Incompatible,
            UiError::KeyringLocked,
            UiError::NoKeyring,
            UiError::NoLink,
            UiError::ForeignLink {
                host: "example.com".into(),
            },
            UiError::LinkScheme {
                scheme: "javascript".into(),
            },
            UiError::BadLink,
            UiError::Gone,
            UiError::NoBrowser,
            UiError::NoAudioDevice,
            UiError::Managed,
            UiError::NoLoginItem,
            UiError::SoundFileType {
                name: "notes.txt".into(),
            },
            UiError::SoundTooBig {
                name: "long.wav".into(),
            },
            UiError::NotSound {
                name: "broken.mp3".into(),
            },
            UiError::SilentSound {
                name: "quiet.wav".into(),
            },
            UiError::SoundTruncated {
                name: "cut.ogg".into(),
            },
            UiError::SoundTooLong {
                name: "song.flac".into(),
            },
            UiError::DiskFull,
            UiError::NotSaved,
            UiError::NoUpdate,
            UiError::OneChannel,
            UiError::Other,
        ]
    }

    /// The kind for a failure `e` of `what` (logged with its whole chain).
    pub fn of(what: &str, e: &anyhow::Error) -> UiError {
        let kind = classify(e);
        tracing::warn!(error = format!("{e:#}"), ?kind, "{what} failed");
        kind
    }
}

/// The kind of `e`, from the first error in its chain that says.
fn classify(e: &anyhow::Error) -> UiError {
    for cause in e.chain() {
        // What failed to be saved comes before any I/O error it holds: a
        // missing folder there is not a missing browser.
        if let Some(s) = cause.downcast_ref::<SoundError>() {
            return sound(s);
        }
        if let Some(c) = cause.downcast_ref::<ConfigError>() {
            return match c {
                ConfigError::Io { source, .. } => saving(source),
                _ => UiError::NotSaved,
            };
        }
        if let Some(EditError::Store(s)) = cause.downcast_ref::<EditError>() {
            return store(s);
        }
        if let Some(s) = cause.downcast_ref::<StoreError>() {
            return store(s);
        }
        if let Some(s) = cause.downcast_ref::<SetupError>() {
            return match s {
                SetupError::Url(_) | SetupError::Scheme => UiError::BadAddress,
                SetupError::Insecure => UiError::InsecureAddress,
                SetupError::Ca { .. } | SetupError::Tls(_) => UiError::Tls,
            };
        }
        if let Some(a) = cause.downcast_ref::<ApiError>() {
            return match a {
                ApiError::Unauthorized => UiError::WrongPassword,
                ApiError::Refused { status: 401, .. } => UiError::WrongPassword,
                ApiError::Refused { status, .. } => UiError::Refused { status: *status },
                ApiError::Network(m) => network(m),
                _ => UiError::Incompatible,
            };
        }
        if let Some(s) = cause.downcast_ref::<SecretError>() {
            return match s {
                SecretError::Locked(_) | SecretError::TimedOut(_) => UiError::KeyringLocked,
                SecretError::Missing(_) | SecretError::Failed(_) => UiError::NoKeyring,
            };
        }
        if let Some(l) = cause.downcast_ref::<LinkRefused>() {
            return link(l);
        }
        if let Some(o) = cause.downcast_ref::<belfry_core::engine::OpenError>() {
            return match o {
                belfry_core::engine::OpenError::Refused(l) => link(l),
                belfry_core::engine::OpenError::Unknown(_) => UiError::Gone,
                belfry_core::engine::OpenError::Store(_) => UiError::Other,
            };
        }
        if cause
            .downcast_ref::<belfry_app::session::SignInNeeded>()
            .is_some()
        {
            return UiError::WrongPassword;
        }
        if cause
            .downcast_ref::<belfry_os::autostart::AutostartError>()
            .is_some()
        {
            return UiError::NoLoginItem;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::NotFound
        {
            return UiError::NoBrowser;
        }
    }
    let text = format!("{e:#}");
    if text.starts_with("already signing in") || text.starts_with("already signed in") {
        UiError::Busy
    } else if text.contains("protocol versions") {
        UiError::Incompatible
    } else if text.contains("no audio output") {
        UiError::NoAudioDevice
    } else {
        UiError::Other
    }
}

/// A network failure's kind from its message (reqwest reports TLS and
/// connection failures only as text).
fn network(message: &str) -> UiError {
    let m = message.to_ascii_lowercase();
    if ["certificate", "tls", "ssl", "handshake"]
        .iter()
        .any(|w| m.contains(w))
    {
        UiError::Tls
    } else {
        UiError::Unreachable
    }
}

/// A refused or unsaved sound file, named as the user chose it.
fn sound(s: &SoundError) -> UiError {
    let name = |path: &std::path::Path| {
        path.file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy()
            .into_owned()
    };
    match s {
        SoundError::UnsupportedType(p) => UiError::SoundFileType { name: name(p) },
        SoundError::TooBig { path, .. } => UiError::SoundTooBig { name: name(path) },
        SoundError::NotSound { path, .. } | SoundError::OldCopy(path) => {
            UiError::NotSound { name: name(path) }
        }
        SoundError::Empty(p) | SoundError::Silent(p) => UiError::SilentSound { name: name(p) },
        SoundError::Truncated { path, .. } => UiError::SoundTruncated { name: name(path) },
        SoundError::TooLong { path, .. } => UiError::SoundTooLong { name: name(path) },
        SoundError::Io { source, .. } => saving(source),
        SoundError::BadTypeId(_) => UiError::Other,
    }
}

/// A write that failed: the disk is full, or the place cannot be written.
fn saving(e: &std::io::Error) -> UiError {
    match e.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => UiError::DiskFull,
        _ => UiError::NotSaved,
    }
}

/// The local store's failure: a full disk is said as such.
fn store(s: &StoreError) -> UiError {
    if s.disk_full() {
        UiError::DiskFull
    } else {
        UiError::Other
    }
}

fn link(l: &LinkRefused) -> UiError {
    match l {
        LinkRefused::None => UiError::NoLink,
        LinkRefused::Origin(host) => UiError::ForeignLink { host: host.clone() },
        LinkRefused::Scheme(scheme) => UiError::LinkScheme {
            scheme: scheme.clone(),
        },
        LinkRefused::Malformed(_) | LinkRefused::Credentials => UiError::BadLink,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_told_apart_by_kind_not_by_their_text() {
        let e = |x: anyhow::Error| classify(&x.context("while signing in to x as y"));
        assert_eq!(
            e(SetupError::Url(url::ParseError::RelativeUrlWithoutBase).into()),
            UiError::BadAddress
        );
        assert_eq!(e(ApiError::Unauthorized.into()), UiError::WrongPassword);
        assert_eq!(
            e(ApiError::Network(
                "error sending request: dns error: failed to lookup address".into()
            )
            .into()),
            UiError::Unreachable
        );
        assert_eq!(
            e(ApiError::Network("invalid peer certificate: UnknownIssuer".into()).into()),
            UiError::Tls
        );
        assert_eq!(
            e(SecretError::TimedOut(std::time::Duration::from_secs(5)).into()),
            UiError::KeyringLocked
        );
        assert_eq!(e(LinkRefused::None.into()), UiError::NoLink);
        assert_eq!(
            e(LinkRefused::Origin("evil.example".into()).into()),
            UiError::ForeignLink {
                host: "evil.example".into()
            }
        );
        assert_eq!(
            e(anyhow::anyhow!(
                "sounds are off: no audio output could be opened"
            )),
            UiError::NoAudioDevice
        );
        assert_eq!(e(anyhow::anyhow!("something odd")), UiError::Other);
    }

    #[test]
    fn a_refused_sound_file_is_named_and_a_full_disk_said_as_such() {
        let e = |x: anyhow::Error| classify(&x.context("while taking in a sound file"));
        assert_eq!(
            e(SoundError::UnsupportedType("notes.txt".into()).into()),
            UiError::SoundFileType {
                name: "notes.txt".into()
            }
        );
        assert_eq!(
            e(SoundError::TooLong {
                path: "song.flac".into(),
                secs: 200.0
            }
            .into()),
            UiError::SoundTooLong {
                name: "song.flac".into()
            }
        );
        assert_eq!(
            e(SoundError::Silent("quiet.wav".into()).into()),
            UiError::SilentSound {
                name: "quiet.wav".into()
            }
        );
        let full = || std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(
            e(SoundError::Io {
                path: "/data/sounds/x.wav".into(),
                source: full()
            }
            .into()),
            UiError::DiskFull
        );
        // A missing folder while saving is not a missing browser.
        assert_eq!(
            e(ConfigError::Io {
                path: "/config/belfry.toml".into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound)
            }
            .into()),
            UiError::NotSaved
        );
        let sqlite_full = StoreError::Sqlite(rusqlite_full());
        assert_eq!(e(EditError::Store(sqlite_full).into()), UiError::DiskFull);
    }

    /// SQLite's "database or disk is full", as the store reports it.
    fn rusqlite_full() -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None)
    }

    /// The window's sentences: one per kind in every language, checked by
    /// the UI's test against this list (ui/src/errors.test.ts reads it).
    #[test]
    fn every_kind_is_listed_for_the_window() {
        let kinds: Vec<String> = UiError::every()
            .iter()
            .map(|k| {
                serde_json::to_value(k).expect("serializes")["kind"]
                    .as_str()
                    .expect("a kind")
                    .to_owned()
            })
            .collect();
        let listed = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings/UiError.ts"),
        )
        .expect("the binding");
        for k in &kinds {
            assert!(
                listed.contains(&format!("\"{k}\"")),
                "{k} not in UiError.ts"
            );
        }
    }
}
