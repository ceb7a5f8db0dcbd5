//! The server's settings document as last seen, for starting offline.

use super::*;

impl Store {
    /// The server's settings document as last seen.
    pub fn settings(&self) -> Result<Option<SettingsDocument>> {
        let conn = self.lock();
        Self::meta(&conn, "settings")?
            .map(|v| serde_json::from_str(&v).map_err(StoreError::from))
            .transpose()
    }

    /// Stores the server's settings document.
    pub fn set_settings(&self, doc: &SettingsDocument) -> Result<()> {
        let conn = self.lock();
        Self::set_meta(&conn, "settings", &serde_json::to_string(doc)?)
    }
}
