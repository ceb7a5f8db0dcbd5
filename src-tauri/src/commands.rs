//! The commands the inbox window may call. Each forwards to the core; none
//! decides anything. Every error reaches the UI as a [`UiError`] kind the
//! window words in the user's language (the chain goes to the log), or,
//! for a Settings edit, as an [`EditFailure`] that holds one.

use crate::shell::{Shell, Status};
use crate::ui_error::UiError;
use belfry_app::start_at_login::{self, StartAtLoginError, Starts};
use belfry_core::engine::EditError;
use belfry_core::managed::ManagedLanguage;
use belfry_core::store::Filter;
use belfry_proto::catalogue::{Catalogue, Category};
use belfry_proto::inbox::Notification;
use belfry_proto::settings::{FieldError, Preferences, SettingsDocument};
use serde::{Deserialize, Serialize};
use std::sync::PoisonError;
use tauri::{AppHandle, Manager, State};

/// Longest page the UI may ask for.
const MAX_PAGE: u32 = 500;

/// A page of the local inbox, newest first.
#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PageQuery {
    /// Only unread.
    #[serde(default)]
    unread: bool,
    /// Only the events or the system section.
    category: Option<Category>,
    /// Text in the title or body.
    text: Option<String>,
    /// Only older than this sequence (the last one of the previous page).
    before: Option<u64>,
    /// Page size.
    limit: u32,
}

/// What the tray and the status line show.
#[tauri::command]
pub fn status(shell: State<'_, Shell>) -> Status {
    shell.status()
}

/// A page of the inbox from the local store.
#[tauri::command]
pub async fn inbox_page(
    shell: State<'_, Shell>,
    query: PageQuery,
) -> Result<Vec<Notification>, UiError> {
    let session = signed_in(&shell).await?;
    let filter = Filter {
        unread: query.unread,
        category: query.category,
        text: query.text.filter(|t| !t.trim().is_empty()),
        before: query.before,
        limit: query.limit.clamp(1, MAX_PAGE),
    };
    let store = session.engine.store().clone();
    tauri::async_runtime::spawn_blocking(move || store.page(&filter))
        .await
        .map_err(|e| UiError::of("reading the inbox", &e.into()))?
        .map_err(|e| UiError::of("reading the inbox", &e.into()))
}

/// The session, or [`UiError::NotSignedIn`].
async fn signed_in(
    shell: &State<'_, Shell>,
) -> Result<std::sync::Arc<belfry_app::session::Session>, UiError> {
    shell.session().await.map_err(|_| UiError::NotSignedIn)
}

/// Marks these read (synced through the outbox).
#[tauri::command]
pub async fn mark_read(shell: State<'_, Shell>, ids: Vec<String>) -> Result<(), UiError> {
    let session = signed_in(&shell).await?;
    session
        .engine
        .mark_read(ids)
        .await
        .map(|_| ())
        .map_err(|e| UiError::of("marking read", &e.into()))
}

/// Marks everything read.
#[tauri::command]
pub async fn mark_all_read(shell: State<'_, Shell>) -> Result<(), UiError> {
    let session = signed_in(&shell).await?;
    session
        .engine
        .mark_all_read()
        .await
        .map(|_| ())
        .map_err(|e| UiError::of("marking all read", &e.into()))
}

/// Opens an item on the instance (only links on its origin) and marks it
/// read.
#[tauri::command]
pub async fn open_item(shell: State<'_, Shell>, id: String) -> Result<(), UiError> {
    let session = signed_in(&shell).await?;
    session
        .open_item(&id)
        .await
        .map(|_| ())
        .map_err(|e| UiError::of("opening a notification", &e))
}

/// Reconnects now instead of waiting for the next attempt.
#[tauri::command]
pub async fn retry_now(shell: State<'_, Shell>) -> Result<(), UiError> {
    signed_in(&shell).await?.engine.retry_now();
    Ok(())
}

/// Signs in with what the user typed; the password is used once and never
/// kept (the instance's token goes to the keyring).
#[tauri::command]
pub async fn sign_in(
    app: AppHandle,
    address: String,
    login: String,
    password: String,
) -> Result<(), UiError> {
    let password = belfry_core::secret::Secret::new(password);
    crate::lifecycle::sign_in(&app, &address, &login, password)
        .await
        .map_err(|e| UiError::of("signing in", &e))
}

/// Signs out: revokes the token on the instance and removes it from the
/// keyring.
#[tauri::command]
pub async fn sign_out(app: AppHandle) -> Result<(), UiError> {
    crate::lifecycle::sign_out(&app)
        .await
        .map_err(|e| UiError::of("signing out", &e))
}

/// Pauses toasts and melodies or resumes them, as the tray menu does.
#[tauri::command]
pub async fn pause(app: AppHandle, choice: crate::Pause) -> Result<(), UiError> {
    let shell = app.state::<Shell>();
    // The only way it fails: no session to pause.
    let session = shell.session().await.map_err(|_| UiError::NotSignedIn)?;
    shell
        .act(belfry_app::menu::MenuId::Pause(choice), &session)
        .await;
    Ok(())
}

/// The Settings window's General tab, as far as it is the device's.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct General {
    /// Belfry starts (in the tray, without a window) when the user logs in.
    pub start_at_login: bool,
    /// The organization decides start at login.
    pub start_at_login_locked: bool,
    /// The organization's language for the window, if it sets one: a
    /// default (until the user picks one) or enforced (the selects lock).
    /// Optional in TypeScript: absent is the same as none.
    #[cfg_attr(test, ts(optional = nullable))]
    pub language: Option<ManagedLanguage>,
    /// The app's version.
    pub version: String,
}

fn general_now(shell: &Shell) -> General {
    General {
        start_at_login: start_at_login::is_on(shell.config().autostart),
        start_at_login_locked: shell.managed.autostart_locked(),
        language: shell.managed.language(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// The General tab's values.
#[tauri::command]
pub fn general(shell: State<'_, Shell>) -> General {
    general_now(&shell)
}

/// Turns start at login on or off, unless the organization decides it.
#[tauri::command]
pub fn set_start_at_login(shell: State<'_, Shell>, on: bool) -> Result<General, UiError> {
    {
        // The login entry starts the tray app, window closed.
        let mut cfg = shell.config.lock().unwrap_or_else(PoisonError::into_inner);
        start_at_login::set(
            &shell.managed,
            on,
            Starts::Tray,
            &mut cfg,
            &shell.paths.config_file(),
        )
        .map_err(|e| match e {
            StartAtLoginError::Locked { .. } => UiError::Managed,
            e => UiError::of("setting start at login", &e.into()),
        })?;
    }
    Ok(general_now(&shell))
}

/// The view a new window starts on (`"settings"` when opened from the
/// tray's Settings item); `None` is the inbox.
#[tauri::command]
pub fn start_view(shell: State<'_, Shell>) -> Option<String> {
    shell
        .start_view
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .map(str::to_owned)
}

/// The Notification Center as the Settings window shows it: the effective
/// document (the server's plus edits on their way), the catalogue built
/// from it, and whether edits are still waiting for the server.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Center {
    /// Policy, link state and preferences.
    pub document: SettingsDocument,
    /// Types, groups, channels and melodies with this instance's flags.
    pub catalogue: Catalogue,
    /// Edits are kept here and will sync when the instance is reachable.
    pub pending: bool,
}

/// Why an edit did not apply.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EditFailure {
    /// The instance's policy does not allow it: each control goes back,
    /// with its reason.
    Refused {
        /// Per field.
        fields: Vec<FieldError>,
    },
    /// Something else went wrong (the local store, a full disk).
    Failed {
        /// What the window says.
        error: UiError,
    },
}

async fn center_of(session: &belfry_app::session::Session) -> Center {
    let document = session.engine.settings();
    let pending = session.engine.settings_pending().await.unwrap_or(false);
    Center {
        catalogue: document.catalogue(),
        document,
        pending,
    }
}

/// The Notification Center now.
#[tauri::command]
pub async fn center(shell: State<'_, Shell>) -> Result<Center, UiError> {
    let session = signed_in(&shell).await?;
    Ok(center_of(&session).await)
}

/// Applies an edit of the preferences at once and queues it for the
/// server.
#[tauri::command]
pub async fn edit_preferences(
    shell: State<'_, Shell>,
    preferences: Preferences,
) -> Result<Center, EditFailure> {
    let session = signed_in(&shell)
        .await
        .map_err(|error| EditFailure::Failed { error })?;
    match session.engine.edit_settings(preferences).await {
        Ok(_) => Ok(center_of(&session).await),
        Err(EditError::Refused(fields)) => Err(EditFailure::Refused { fields }),
        Err(e) => Err(EditFailure::Failed {
            error: UiError::of("saving a settings edit", &e.into()),
        }),
    }
}

/// Asks the instance for its test notification on `channel`.
#[tauri::command]
pub async fn send_test(shell: State<'_, Shell>, channel: String) -> Result<(), UiError> {
    let session = signed_in(&shell).await?;
    session
        .engine
        .send_test(&channel)
        .await
        .map_err(|e| UiError::of("sending a test", &e.into()))
}

/// Plays a melody now (the preview button).
#[tauri::command]
pub async fn preview_melody(shell: State<'_, Shell>, melody: String) -> Result<(), UiError> {
    let session = signed_in(&shell).await?;
    session
        .preview_melody(&melody)
        .map_err(|e| UiError::of("playing a melody", &e))
}

/// Which view the window shows (`"inbox"`, `"settings"`, `"sign-in"`): toasts
/// are held back only while the inbox itself is in front of the user.
#[tauri::command]
pub async fn shown_view(app: AppHandle, view: String) {
    app.state::<Shell>()
        .update_focus(|f| f.elsewhere = view != "inbox");
    crate::focus::follow_focus(&app).await;
}

/// Set (to anything) for the benchmark's "Open inbox" figure: the window
/// closes itself once its first rows are painted, so that the next "Open
/// inbox" opens a new one (docs/benchmarks.md).
pub const BENCH_OPENS: &str = "BELFRY_BENCH_OPENS";

/// The window's first rows are on screen: the window says so once per
/// opening, after the frame that drew them. The log line is what the
/// benchmark times "Open inbox" to.
#[tauri::command]
pub fn inbox_painted(app: AppHandle, rows: u32) {
    tracing::info!(rows, "inbox painted");
    if std::env::var_os(BENCH_OPENS).is_some()
        && let Some(window) = app.get_webview_window(crate::MAIN_WINDOW)
        && let Err(error) = window.close()
    {
        tracing::warn!(%error, "could not close the window for the next opening");
    }
}

/// Sound output on this device (not synced: each computer has its own).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SoundOutput {
    /// 0.0–1.0.
    pub volume: f32,
    /// The chosen device; the system default when `None`.
    pub device: Option<String>,
    /// The devices the system lists now.
    pub devices: Vec<String>,
    /// The user's own sound per type id, by the file name they chose it by
    /// (this computer's only, like the rest of this struct).
    pub custom: std::collections::BTreeMap<String, String>,
}

async fn sound_output_now(shell: &Shell) -> SoundOutput {
    let cfg = shell.config();
    // Listing asks the sound server and can take a moment.
    let devices = tauri::async_runtime::spawn_blocking(belfry_os::player::list_output_devices)
        .await
        .unwrap_or_default();
    let data_dir = &shell.paths.data_dir;
    let custom = cfg
        .sound
        .custom
        .iter()
        .map(|(type_id, path)| {
            let name = belfry_os::sounds::chosen_name(type_id, data_dir).unwrap_or_else(|| {
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            (type_id.clone(), name)
        })
        .collect();
    SoundOutput {
        volume: cfg.sound.volume,
        device: cfg.sound.output_device,
        devices,
        custom,
    }
}

/// This device's sound output.
#[tauri::command]
pub async fn sound_output(shell: State<'_, Shell>) -> Result<SoundOutput, UiError> {
    // Never fails; an async command that borrows its state returns a Result.
    Ok(sound_output_now(&shell).await)
}

/// Changes this device's settings and saves them, as `Shell::save_config`
/// does, but says when the file could not be written (a full disk), so the
/// window can say so where the change was made. The change stays in effect
/// for this run either way.
fn save_device_config(
    shell: &Shell,
    what: &str,
    f: impl FnOnce(&mut belfry_core::config::DeviceConfig),
) -> Result<(), UiError> {
    let mut cfg = shell.config.lock().unwrap_or_else(PoisonError::into_inner);
    f(&mut cfg);
    cfg.save(&shell.paths.config_file())
        .map_err(|e| UiError::of(what, &e.into()))
}

/// Sets this device's volume and output device, saved and applied at once.
#[tauri::command]
pub async fn set_sound_output(
    shell: State<'_, Shell>,
    volume: f32,
    device: Option<String>,
) -> Result<SoundOutput, UiError> {
    // The window's slider sends 0–1; anything else is a bug, kept at the
    // volume the device has.
    let volume = if volume.is_finite() {
        volume.clamp(0.0, 1.0)
    } else {
        tracing::warn!(volume, "the window sent a volume that is not a number");
        return Err(UiError::Other);
    };
    let device = device.filter(|d| !d.is_empty());
    let saved = save_device_config(&shell, "saving the sound output", |c| {
        c.sound.volume = volume;
        c.sound.output_device.clone_from(&device);
    });
    if let Ok(session) = shell.session().await {
        session.set_sound_output(volume, device);
    }
    saved?;
    Ok(sound_output_now(&shell).await)
}

/// Opens the instance's web app, where bot channels are linked.
#[tauri::command]
pub async fn open_web_profile(shell: State<'_, Shell>) -> Result<(), UiError> {
    signed_in(&shell)
        .await?
        .open_web_profile()
        .map_err(|e| UiError::of("opening the web profile", &e))
}

/// Where updating stands, for the General tab.
#[tauri::command]
pub fn update_info(app: AppHandle) -> crate::updates::UpdateInfo {
    crate::updates::updates_info(&app)
}

/// Asks the update feed now.
#[tauri::command]
pub async fn check_updates(app: AppHandle) -> crate::updates::UpdateInfo {
    crate::updates::check(&app).await
}

/// Downloads, verifies and installs the offered update. A failed download
/// or a refused signature is in the returned state; an error means there
/// was nothing to install.
#[tauri::command]
pub async fn install_update(app: AppHandle) -> Result<crate::updates::UpdateInfo, UiError> {
    crate::updates::install(&app).await.map_err(|error| {
        tracing::warn!(%error, "installing an update");
        UiError::NoUpdate
    })
}

/// Follows stable or beta releases.
#[tauri::command]
pub async fn set_update_channel(
    app: AppHandle,
    channel: belfry_core::config::UpdateChannel,
) -> Result<crate::updates::UpdateInfo, UiError> {
    use belfry_app::updates::Refusal;
    crate::updates::set_channel(&app, channel)
        .await
        .map_err(|refusal| match refusal {
            Refusal::ChannelLocked => UiError::Managed,
            Refusal::SingleChannel => UiError::OneChannel,
            Refusal::NothingToInstall => UiError::Other,
        })
}

/// Restarts into the installed update.
#[tauri::command]
pub fn restart_to_update(app: AppHandle) {
    tracing::info!("restarting into the installed update");
    app.request_restart();
}

/// Takes in the user's own sound file for `type_id` (the bytes the window
/// read from the file the user picked): checked, copied into the data
/// directory, played for the type from now on and saved in this device's
/// settings (never synced). A refusal says why, naming the file.
#[tauri::command]
pub async fn import_sound(
    shell: State<'_, Shell>,
    type_id: String,
    name: String,
    bytes: Vec<u8>,
) -> Result<SoundOutput, UiError> {
    const WHAT: &str = "taking in a sound file";
    let data_dir = shell.paths.data_dir.clone();
    let imported = tauri::async_runtime::spawn_blocking(move || {
        belfry_os::sounds::import_named(&type_id, &name, &bytes, &data_dir)
    })
    .await
    .map_err(|e| UiError::of(WHAT, &e.into()))?
    .map_err(|e| UiError::of(WHAT, &e.into()))?;
    if let Ok(session) = shell.session().await {
        session.set_custom_sound(&imported.type_id, Some(imported.clip));
    }
    tracing::info!(type_id = %imported.type_id, "own sound chosen");
    save_device_config(&shell, WHAT, |c| {
        c.sound.custom.insert(imported.type_id, imported.path);
    })?;
    Ok(sound_output_now(&shell).await)
}

/// Forgets the user's own sound for `type_id`: its melody plays again.
#[tauri::command]
pub async fn remove_sound(
    shell: State<'_, Shell>,
    type_id: String,
) -> Result<SoundOutput, UiError> {
    const WHAT: &str = "removing a sound file";
    belfry_os::sounds::remove(&type_id, &shell.paths.data_dir)
        .map_err(|e| UiError::of(WHAT, &e.into()))?;
    if let Ok(session) = shell.session().await {
        session.set_custom_sound(&type_id, None);
    }
    save_device_config(&shell, WHAT, |c| {
        c.sound.custom.remove(&type_id);
    })?;
    Ok(sound_output_now(&shell).await)
}
