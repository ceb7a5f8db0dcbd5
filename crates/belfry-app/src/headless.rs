//! The headless mode: the core with real toasts and melodies, no window, no
//! tray. For tiling window managers, servers and benchmarks.

use crate::cli::Cli;
use crate::{demo, logging};
use anyhow::{Context, bail};
use belfry_core::config::{DeviceConfig, Paths};
use belfry_core::engine::{Engine, EngineConfig};
use belfry_core::event::{ConnState, CoreEvent};
use belfry_core::net::{self, Api, ApiError};
use belfry_core::secret::Secret;
use belfry_core::sinks::{OnToastEvent, Player, Sinks, ToastEvent, Toaster};
use belfry_core::store::Store;
use belfry_os::Quiet;
use belfry_os::autostart::Autostart;
use belfry_os::browser;
use belfry_os::player::MelodyPlayer;
use belfry_os::quiet::DoNotDisturb;
use belfry_os::secrets;
use belfry_os::toast::{AppIdentity, Toasts};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The app icon toasts carry, written to the cache directory at start (an
/// installed app also has it in the icon theme, but a portable or
/// development run does not).
const ICON_PNG: &[u8] = include_bytes!("../../../icons/128x128.png");

/// What the OS tells the headless loop besides the core's own events.
enum FromOs {
    Toast(ToastEvent),
    Quiet(Option<String>),
}

/// Runs until SIGTERM or Ctrl-C.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = Paths::platform().context("while finding the app's directories")?;
    paths
        .create()
        .context("while creating the app's directories")?;
    let _log = logging::init(&paths.log_dir, cli.verbose).context("while setting up the log")?;
    let config_file = paths.config_file();
    let mut cfg = DeviceConfig::load(&config_file).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "using default settings");
        DeviceConfig::default()
    });

    if let Some(on) = cli.start_at_login {
        return start_at_login(on, &mut cfg, &config_file);
    }

    let demo_instance = if cli.demo {
        let every = Duration::from_millis(cli.demo_every_ms.max(100));
        Some(demo::start(&paths.data_dir.join("demo-instance.db"), every).await?)
    } else {
        None
    };
    let (address, login) = match &demo_instance {
        Some(i) => (i.url.clone(), demo::DEMO_LOGIN.0.to_owned()),
        None => {
            let Some(address) = cli.instance.clone().or_else(|| cfg.instance.clone()) else {
                bail!("no instance address: pass --instance https://your-helpdesk (or --demo)");
            };
            let Some(login) = cli.login.clone().or_else(|| cfg.login.clone()) else {
                bail!("no login: pass --login NAME");
            };
            (address, login)
        }
    };
    let base = net::instance_url(&address, cli.allow_insecure || cfg.allow_insecure)?;
    let extra_ca = cli.extra_ca.clone().or_else(|| cfg.extra_ca.clone());
    let tls = net::tls_config(extra_ca.as_deref())?;
    if cli.sign_out {
        return sign_out(&base, &tls, &login).await;
    }
    match Api::info(&base, &tls).await {
        Ok(info)
            if !info
                .protocol_versions
                .contains(&belfry_proto::PROTOCOL_VERSION) =>
        {
            bail!(
                "{base} speaks protocol versions {:?}; this Belfry speaks {}: update the app or the instance",
                info.protocol_versions,
                belfry_proto::PROTOCOL_VERSION
            )
        }
        Ok(_) => {}
        // Offline at start is not fatal: a saved sign-in starts on the cached inbox.
        Err(ApiError::Network(e)) => {
            tracing::warn!(error = %e, instance = %base, "the instance cannot be reached now")
        }
        Err(e) => return Err(e).with_context(|| format!("while reaching {base}")),
    }
    let api = if demo_instance.is_some() {
        let password = Secret::new(demo::DEMO_LOGIN.1);
        Api::login(&base, &tls, &login, &password)
            .await
            .with_context(|| format!("while signing in to the demo at {base}"))?
            .0
    } else {
        let api = sign_in(&base, &tls, &login).await?;
        cfg.instance = Some(base.to_string());
        cfg.login = Some(login.clone());
        if let Err(e) = cfg.save(&config_file) {
            tracing::warn!(error = %e, "could not save the settings");
        }
        api
    };
    tracing::info!(%login, instance = %base, "signed in");

    let store_path = paths.store_file(base.as_str(), &login);
    let store = std::fs::create_dir_all(&paths.data_dir)
        .map_err(anyhow::Error::from)
        .and_then(|()| Store::open(&store_path).map_err(anyhow::Error::from))
        .or_else(|e| {
            tracing::warn!(error = %e, path = %store_path.display(), "local inbox unavailable; keeping it in memory");
            Store::in_memory()
        })?;
    let (os_tx, mut from_os) = mpsc::unbounded_channel();
    let toast_tx = os_tx.clone();
    let on_toast: OnToastEvent = Arc::new(move |ev| {
        let _ = toast_tx.send(FromOs::Toast(ev));
    });
    // A missing notification service is reported once by the core; the
    // inbox and sounds go on, and toasts start when a service appears.
    let toaster: Arc<dyn Toaster> = Arc::new(Toasts::new(identity(&paths.cache_dir), on_toast));
    let player: Arc<dyn Player> = match MelodyPlayer::start(&cfg.sound) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            tracing::warn!(error = %e, "sounds are off");
            Arc::new(Quiet)
        }
    };
    let config = EngineConfig {
        retention: cfg.retention,
        ..EngineConfig::default()
    };
    let engine = Engine::start(config, store, api, tls, Sinks { toaster, player }).await;
    engine.pause_until(cfg.paused_until);
    if let Err(e) = DoNotDisturb::new().watch(move |q| {
        let _ = os_tx.send(FromOs::Quiet(q));
    }) {
        tracing::warn!(error = %e, "the OS's do-not-disturb will not be followed");
    }
    let mut events = engine.events();
    let remembered = demo_instance
        .is_none()
        .then(|| (base.to_string(), login.clone()));
    let logger = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(CoreEvent::State(ConnState::SignedOut)) => {
                    tracing::error!("signed out by the instance: run belfry again to sign in");
                    if let Some((instance, login)) = &remembered
                        && let Err(e) = secrets::delete(instance, login)
                    {
                        tracing::warn!(error = %e, "could not forget the token");
                    }
                }
                Ok(ev) => log_event(&ev),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(n, "log fell behind")
                }
                Err(_) => return,
            }
        }
    });
    let stop = wait_for_stop();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(msg) = from_os.recv() => match msg {
                FromOs::Quiet(q) => engine.set_os_quiet(q),
                FromOs::Toast(ev) => match engine.on_toast(ev).await {
                    Ok(Some(url)) => {
                        tracing::info!(%url, "opening");
                        if let Err(e) = browser::open(&url) {
                            tracing::warn!(error = %e, "could not open the link");
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "toast action"),
                },
            },
        }
    }
    tracing::info!("stopping");
    engine.shutdown().await;
    logger.abort();
    if let Some(i) = demo_instance {
        i.stop().await.context("while stopping the demo instance")?;
    }
    Ok(())
}

/// A working session for `login`: the token saved in the keyring if it
/// still works, else a password (BELFRY_PASSWORD or the terminal) and a new
/// token, saved for next time.
async fn sign_in(
    base: &url::Url,
    tls: &Arc<rustls::ClientConfig>,
    login: &str,
) -> anyhow::Result<Api> {
    let keyring = secrets::load(base.as_str(), login);
    match &keyring {
        Ok(Some(token)) => {
            let token = token.clone();
            let api = Api::new(base.clone(), token, tls)?;
            match api.me().await {
                Ok(_) => return Ok(api),
                Err(ApiError::Unauthorized) => {
                    tracing::info!("the saved sign-in expired; asking for the password");
                    let _ = secrets::delete(base.as_str(), login);
                }
                Err(ApiError::Network(e)) => {
                    tracing::warn!(error = %e, "starting offline with the saved sign-in");
                    return Ok(api);
                }
                Err(e) => return Err(e).with_context(|| format!("while reaching {base}")),
            }
        }
        Ok(None) => {}
        // Never a plaintext fallback: this run signs in with the password
        // and keeps the token in memory only.
        Err(e) => tracing::error!(
            error = %e,
            "the token cannot be kept: signing in for this run only (you will be asked again next time)"
        ),
    }
    let password = match std::env::var("BELFRY_PASSWORD") {
        Ok(p) => Secret::new(p),
        Err(_) => Secret::new(
            rpassword::prompt_password(format!("Password for {login} at {base}: "))
                .context("while reading the password")?,
        ),
    };
    let (api, _) = Api::login(base, tls, login, &password)
        .await
        .with_context(|| format!("while signing in to {base} as {login}"))?;
    if keyring.is_ok()
        && let Err(e) = secrets::save(base.as_str(), login, api.token())
    {
        tracing::error!(error = %e, "the token cannot be kept: signed in for this run only (you will be asked again next time)");
    }
    Ok(api)
}

/// Writes or removes the login entry that starts headless Belfry, and
/// keeps the choice in the settings.
fn start_at_login(on: bool, cfg: &mut DeviceConfig, config_file: &Path) -> anyhow::Result<()> {
    let entry = Autostart::for_this_app(&["--headless"])?;
    entry.set(on)?;
    cfg.autostart = on;
    cfg.save(config_file)
        .context("while saving the start-at-login choice")?;
    if on {
        tracing::info!("Belfry will start at login (headless)");
    } else {
        tracing::info!("Belfry will not start at login");
    }
    Ok(())
}

/// Revokes the saved token on the instance and forgets it.
async fn sign_out(
    base: &url::Url,
    tls: &Arc<rustls::ClientConfig>,
    login: &str,
) -> anyhow::Result<()> {
    match secrets::load(base.as_str(), login)? {
        Some(token) => {
            let api = Api::new(base.clone(), token, tls)?;
            if let Err(e) = api.logout().await {
                tracing::warn!(error = %e, "the instance did not confirm the sign-out; forgetting the token anyway");
            }
            secrets::delete(base.as_str(), login)?;
            tracing::info!(%login, instance = %base, "signed out");
        }
        None => tracing::info!(%login, instance = %base, "not signed in"),
    }
    Ok(())
}

/// Who the toasts come from, with the icon written where the daemon can read it.
fn identity(cache_dir: &Path) -> AppIdentity {
    let path = cache_dir.join("belfry.png");
    let icon = match std::fs::read(&path) {
        Ok(existing) if existing == ICON_PNG => Some(path),
        _ => std::fs::write(&path, ICON_PNG)
            .inspect_err(|e| tracing::debug!(error = %e, "no icon file for toasts"))
            .ok()
            .map(|()| path),
    };
    AppIdentity {
        name: "Belfry".into(),
        // The theme icon of an installed app when the file cannot be written.
        icon: icon.map_or_else(|| "belfry".into(), |p| p.display().to_string()),
        desktop_entry: "belfry".into(),
    }
}

fn log_event(ev: &CoreEvent) {
    match ev {
        CoreEvent::Added { items } => {
            for n in items {
                tracing::info!(r#type = %n.type_id, title = %n.title, "notification");
            }
        }
        // The core logged it already, as a warning.
        CoreEvent::Problem { message } => tracing::debug!(%message, "problem"),
        CoreEvent::Quiet(Some(why)) => tracing::info!(?why, "toasts and sounds held back"),
        CoreEvent::Quiet(None) => tracing::info!("toasts and sounds are back"),
        CoreEvent::Refused { fields } => tracing::warn!(?fields, "settings refused"),
        CoreEvent::Unread(u) => tracing::debug!(unread = u.total, "unread"),
        other => tracing::debug!(?other, "event"),
    }
}

/// Resolves on Ctrl-C, or SIGTERM where there is one.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "no SIGTERM handler");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
