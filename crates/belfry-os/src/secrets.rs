//! The token in the OS secret store (Secret Service on Linux, Keychain on
//! macOS, Credential Manager on Windows), one entry per instance and login,
//! and nowhere else.
//!
//! There is no plaintext fallback: when the store is missing, locked or
//! does not answer, the caller signs in for this run only and says so.

use belfry_core::secret::Secret;
use std::sync::mpsc;
use std::time::Duration;

/// The service name entries are filed under.
pub const SERVICE: &str = "app.belfry.desktop";

/// How long a keyring call may take. A locked Secret Service collection
/// asks the desktop to prompt for the keyring password; with no prompter
/// (a bare session, a remote shell) the call would wait forever.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The secret store could not be used. Each says what the user can do.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No secret store runs in this session.
    #[error(
        "no system keyring is running (on Linux: a Secret Service such as GNOME Keyring or KWallet): {0}"
    )]
    Missing(String),
    /// The store is there but locked, or refused this app.
    #[error(
        "the system keyring is locked or refused access; unlock it and start Belfry again: {0}"
    )]
    Locked(String),
    /// The store did not answer, most often a locked keyring waiting on an
    /// unlock prompt that cannot be shown.
    #[error("the system keyring did not answer within {} s; is it locked?", .0.as_secs())]
    TimedOut(Duration),
    /// Anything else the store reported.
    #[error("the system keyring failed: {0}")]
    Failed(String),
}

impl From<keyring::Error> for SecretError {
    fn from(e: keyring::Error) -> Self {
        match e {
            keyring::Error::NoStorageAccess(inner) => {
                let text = inner.to_string();
                // D-Bus names the missing service; anything else is access.
                if text.contains("ServiceUnknown")
                    || text.contains("not provided by any .service")
                    || text.contains("was not provided")
                {
                    Self::Missing(text)
                } else {
                    Self::Locked(text)
                }
            }
            keyring::Error::PlatformFailure(inner) => {
                let text = inner.to_string();
                if text.contains("ServiceUnknown") || text.contains("not provided by any .service")
                {
                    Self::Missing(text)
                } else {
                    Self::Failed(text)
                }
            }
            other => Self::Failed(other.to_string()),
        }
    }
}

/// Runs a keyring call on its own thread and gives up after [`TIMEOUT`]
/// (the thread is left to finish on its own; it holds no lock of ours).
fn bounded<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, SecretError> + Send + 'static,
) -> Result<T, SecretError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("belfry-keyring".into())
        .spawn(move || {
            let _ = tx.send(call());
        })
        .map_err(|e| SecretError::Failed(e.to_string()))?;
    match rx.recv_timeout(TIMEOUT) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(SecretError::TimedOut(TIMEOUT)),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(SecretError::Failed("the keyring call stopped".into()))
        }
    }
}

fn entry(instance: &str, login: &str) -> Result<keyring::Entry, SecretError> {
    Ok(keyring::Entry::new(
        SERVICE,
        &format!("{login}@{}", instance.trim_end_matches('/')),
    )?)
}

/// Saves the token for `login` at `instance`.
pub fn save(instance: &str, login: &str, token: &Secret) -> Result<(), SecretError> {
    let entry = entry(instance, login)?;
    let token = token.clone();
    bounded(move || Ok(entry.set_password(token.expose())?))
}

/// The saved token, or `None` when there is none.
pub fn load(instance: &str, login: &str) -> Result<Option<Secret>, SecretError> {
    let entry = entry(instance, login)?;
    bounded(move || match entry.get_password() {
        Ok(t) => Ok(Some(Secret::new(t))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(e.into()),
    })
}

/// Forgets the token (sign-out); no entry is fine.
pub fn delete(instance: &str, login: &str) -> Result<(), SecretError> {
    let entry = entry(instance, login)?;
    bounded(move || match entry.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(e.into()),
    })
}
