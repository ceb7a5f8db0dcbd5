//! The token in the OS secret store (Secret Service on Linux, Keychain on
//! macOS, Credential Manager on Windows), one entry per instance and login,
//! and nowhere else.

use belfry_core::secret::Secret;

/// The service name entries are filed under.
pub const SERVICE: &str = "app.belfry.desktop";

/// The secret store could not be used.
#[derive(Debug, thiserror::Error)]
#[error("the system keyring: {0}")]
pub struct SecretError(String);

fn entry(instance: &str, login: &str) -> Result<keyring::Entry, SecretError> {
    keyring::Entry::new(
        SERVICE,
        &format!("{login}@{}", instance.trim_end_matches('/')),
    )
    .map_err(|e| SecretError(e.to_string()))
}

/// Saves the token for `login` at `instance`.
pub fn save(instance: &str, login: &str, token: &Secret) -> Result<(), SecretError> {
    entry(instance, login)?
        .set_password(token.expose())
        .map_err(|e| SecretError(e.to_string()))
}

/// The saved token, or `None` when there is none.
pub fn load(instance: &str, login: &str) -> Result<Option<Secret>, SecretError> {
    match entry(instance, login)?.get_password() {
        Ok(t) => Ok(Some(Secret::new(t))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(SecretError(e.to_string())),
    }
}

/// Forgets the token (sign-out); no entry is fine.
pub fn delete(instance: &str, login: &str) -> Result<(), SecretError> {
    match entry(instance, login)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(SecretError(e.to_string())),
    }
}
