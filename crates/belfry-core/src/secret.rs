//! A bearer token that cannot leak by accident: `Debug` prints
//! `<redacted>` and it has no `Serialize`.

/// A secret string.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_does_not_show_the_token() {
        let s = super::Secret::new("blf_very_secret");
        assert_eq!(format!("{s:?}"), "<redacted>");
    }
}
