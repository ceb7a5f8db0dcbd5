//! Passwords (argon2id) and bearer tokens (random, stored as SHA-256), and
//! the extractors that turn an `Authorization` header into a session.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Session;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use belfry_proto::api::Role;
use sha2::{Digest, Sha256};

/// Prefix of every token, so a leaked one is easy to spot in a scan.
const TOKEN_PREFIX: &str = "blf_";

/// Errors of the crypto helpers.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The OS random source failed.
    #[error("random source: {0}")]
    Random(String),
    /// Hashing failed.
    #[error("password hash: {0}")]
    Hash(String),
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| CryptoError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| CryptoError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::Hash(e.to_string()))
}

/// Checks a password against a stored hash. A malformed hash is a mismatch.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new token and the hash to store.
pub fn new_token() -> Result<(String, Vec<u8>), CryptoError> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| CryptoError::Random(e.to_string()))?;
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The bearer token of a request, if it has one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Looks up the session of a request; 401 when there is none.
pub async fn authenticate(state: &AppState, parts: &Parts) -> Result<Session, ApiError> {
    let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
    let hash = token_hash(token);
    state
        .db(move |s| s.session(&hash))
        .await?
        .ok_or(ApiError::Unauthorized)
}

/// Extractor: any signed-in account.
pub struct Auth(pub Session);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(state, parts).await.map(Auth)
    }
}

/// Extractor: a signed-in admin; 403 for other accounts.
pub struct Admin(pub Session);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = authenticate(state, parts).await?;
        if session.operator.role != Role::Admin {
            return Err(ApiError::Forbidden);
        }
        Ok(Admin(session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip_and_differ() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(h, hash_password("correct horse").unwrap());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token().unwrap();
        let (b, _) = new_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(ha, token_hash(&a));
        assert_eq!(ha.len(), 32);
    }
}
