//! Updates, through the official updater plugin: checked at start and once
//! a day, offered in the tray and the General tab, and installed only when
//! the downloaded bytes verify against the update key (the plugin checks the
//! minisign signature, and the version signed into it, before it writes
//! anything).
//!
//! Where they come from, when to ask and where updating stands are
//! `belfry_app::updates`' ([`Updater`]), which the small tray shares; this
//! file is the full app's [`Installer`]: the plugin's check, download,
//! verification and install.

use crate::shell::Shell;
use belfry_app::menu::UpdateStep;
use belfry_app::updates::{
    self as shared, BuiltIn, Found, InstallError, Installer, Refusal, Source, Updater,
};
use belfry_core::config::UpdateChannel;
use std::sync::Arc;
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt};

pub use belfry_app::updates::UpdateInfo;

/// The event the General tab listens to: the new [`UpdateInfo`].
pub const UPDATE_EVENT: &str = "update";

/// Longest a download may take (a few megabytes on a slow office link).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The full app's installer: the official updater plugin.
pub struct Plugin<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> Plugin<R> {
    /// The updater for `source`, its TLS the app's own (the system's roots
    /// plus the organization's extra CA).
    fn updater(&self, source: &Source) -> Result<tauri_plugin_updater::Updater, String> {
        let extra_ca = self.app.state::<Shell>().config().extra_ca;
        let tls = belfry_core::net::tls_config(extra_ca.as_deref()).map_err(|e| e.to_string())?;
        self.app
            .updater_builder()
            .endpoints(vec![source.feed.clone()])
            .and_then(|b| {
                b.pubkey(source.pubkey.clone())
                    .timeout(shared::CHECK_TIMEOUT)
                    .configure_client(move |client| client.use_preconfigured_tls((*tls).clone()))
                    .build()
            })
            .map_err(|e| e.to_string())
    }
}

impl<R: Runtime> Installer for Plugin<R> {
    type Offer = Update;

    async fn check(&self, source: &Source) -> Result<Option<Found<Update>>, String> {
        let found = self
            .updater(source)?
            .check()
            .await
            .map_err(|e| e.to_string())?;
        Ok(found.map(|update| Found {
            version: update.version.clone(),
            notes: update.body.clone(),
            offer: update,
        }))
    }

    async fn install(&self, mut update: Update) -> Result<(), InstallError> {
        update.timeout = Some(DOWNLOAD_TIMEOUT);
        // `download` verifies the bytes against the key before handing them
        // over; `install` verifies them again before it writes anything.
        let result = match update.download(|_, _| {}, || {}).await {
            Ok(bytes) => {
                tracing::info!(version = %update.version, bytes = bytes.len(), "update downloaded and its signature verified");
                update.install(bytes)
            }
            Err(e) => Err(e),
        };
        result.map_err(|e| {
            if is_refusal(&e) {
                InstallError::Refused(e.to_string())
            } else {
                InstallError::Failed(e.to_string())
            }
        })
    }
}

/// Whether `e` says the download is not what the key signed.
fn is_refusal(e: &tauri_plugin_updater::Error) -> bool {
    use tauri_plugin_updater::Error as E;
    matches!(
        e,
        E::Minisign(_)
            | E::Base64(_)
            | E::SignatureUtf8(_)
            | E::SignedVersionMismatch { .. }
            | E::MissingSignedVersion
    )
}

/// The app's updates (managed by Tauri).
pub struct Updates<R: Runtime>(Arc<Updater<Plugin<R>>>);

fn updater<R: Runtime>(app: &AppHandle<R>) -> Arc<Updater<Plugin<R>>> {
    Arc::clone(&app.state::<Updates<R>>().0)
}

/// Sets up the updates and their schedule; call once, in `setup`.
/// `install_first`: the small tray's "Update to X…" handed over, so what
/// the first check finds is installed (verified as every install is)
/// without a second click.
pub fn init<R: Runtime>(app: &AppHandle<R>, install_first: bool) {
    let shell = app.state::<Shell>();
    // The built-in configuration: `plugins.updater`, with the release's
    // `--config` merged in by Tauri.
    let built_in = BuiltIn::from_updater(app.config().plugins.0.get("updater"));
    let told = app.clone();
    let updater = Arc::new(Updater::new(
        Plugin { app: app.clone() },
        &shell.managed,
        built_in,
        shell.config().update_channel,
        // Tells the tray and the window.
        move |info| {
            let _ = told.emit(UPDATE_EVENT, info);
            let status = told.state::<Shell>().status();
            crate::tray::show(&told, &status);
        },
    ));
    app.manage(Updates(Arc::clone(&updater)));
    tauri::async_runtime::spawn(updater.run(std::future::ready(()), install_first));
}

/// Asks the feed whether there is a newer version.
pub async fn check<R: Runtime>(app: &AppHandle<R>) -> UpdateInfo {
    updater(app).check().await
}

/// Downloads the offered update, verifies it and installs it. Nothing is
/// written unless the signature verifies.
pub async fn install<R: Runtime>(app: &AppHandle<R>) -> Result<UpdateInfo, Refusal> {
    updater(app).install().await
}

/// Switches the channel, saves the choice and checks it at once.
pub async fn set_channel<R: Runtime>(
    app: &AppHandle<R>,
    channel: UpdateChannel,
) -> Result<UpdateInfo, Refusal> {
    let updater = updater(app);
    updater.set_channel(channel)?;
    app.state::<Shell>()
        .save_config(|c| c.update_channel = channel);
    Ok(updater.check().await)
}

/// The current update state.
pub fn updates_info<R: Runtime>(app: &AppHandle<R>) -> UpdateInfo {
    updater(app).info()
}

/// What the tray shows about updates: a label and the step a click takes
/// (`None`: it only says).
pub fn tray_entry<R: Runtime>(app: &AppHandle<R>) -> Option<(String, Option<UpdateStep>)> {
    app.try_state::<Updates<R>>()?.0.tray_entry()
}

/// The tray's update items.
pub fn on_tray<R: Runtime>(app: &AppHandle<R>, step: UpdateStep) {
    match step {
        UpdateStep::Install => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = install(&app).await {
                    tracing::warn!(error = %e, "installing from the tray");
                }
            });
        }
        UpdateStep::Restart => app.request_restart(),
    }
}
