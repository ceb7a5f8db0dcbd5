//! The small tray's installer: it asks the feed itself (reading the
//! answer only) and installs by handing the process over to the full app
//! with `--install-update`; the full app checks again, downloads, verifies
//! and installs. Nothing is downloaded in this process.

use super::{Found, InstallError, Installer, Source};
use semver::Version;
use std::path::PathBuf;
use std::sync::Arc;

/// Hands an update over to the full app at `full`.
pub struct HandOverInstaller {
    /// The full app's binary beside this one.
    pub full: PathBuf,
    /// The app's TLS (the system's roots plus the organization's extra CA).
    pub tls: Arc<rustls::ClientConfig>,
    /// This build's version.
    pub current: Version,
}

impl Installer for HandOverInstaller {
    type Offer = ();

    async fn check(&self, source: &Source) -> Result<Option<Found<()>>, String> {
        let newer = super::check(&source.feed, &self.tls, &self.current)
            .await
            .map_err(|e| e.to_string())?;
        Ok(newer.map(|v| Found {
            version: v.to_string(),
            notes: None,
            offer: (),
        }))
    }

    /// Replaces this process with the full app; returns only when it
    /// could not.
    async fn install(&self, (): ()) -> Result<(), InstallError> {
        tracing::info!("update asked for: the full app installs it");
        let err = crate::hand_over::HandOver::ToFullApp {
            install_update: true,
        }
        .exec(&self.full);
        Err(InstallError::Failed(format!(
            "could not start {}: {err}",
            self.full.display()
        )))
    }

    fn offer_label(&self, version: &str) -> String {
        format!("Update to {version}…")
    }
}
