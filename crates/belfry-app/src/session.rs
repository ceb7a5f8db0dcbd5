//! One signed-in session of the core, as both front ends run it: the
//! instance and login resolved, the token from the keyring (or a password),
//! the local store, the real toasts and melodies, the OS's do-not-disturb,
//! and what the user does with a toast. Headless and the tray differ only in
//! what they show.

use crate::cli::Cli;
use crate::demo;
use anyhow::{Context, bail};
use belfry_core::config::{DeviceConfig, Paths};
use belfry_core::engine::{Engine, EngineConfig};
use belfry_core::event::{ConnState, CoreEvent};
use belfry_core::managed::Managed;
use belfry_core::net::{self, Api, ApiError};
use belfry_core::secret::Secret;
use belfry_core::sinks::{OnToastEvent, Player, Sinks, ToastEvent, Toaster};
use belfry_core::store::Store;
use belfry_os::Quiet;
use belfry_os::browser;
use belfry_os::player::MelodyPlayer;
use belfry_os::quiet::DoNotDisturb;
use belfry_os::secrets;
use belfry_os::toast::{AppIdentity, Toasts};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use url::Url;

/// The app icon toasts carry, written to the cache directory at start (an
/// installed app also has it in the icon theme, but a portable or
/// development run does not).
const ICON_PNG: &[u8] = include_bytes!("../../../icons/128x128.png");

/// What the OS tells the session besides the core's own events.
#[derive(Debug)]
pub enum FromOs {
    /// The user acted on a toast.
    Toast(ToastEvent),
    /// The OS's do-not-disturb changed (`Some(why)` while on).
    Quiet(Option<String>),
}

/// Nothing to sign in with yet: no address or login, or no saved sign-in and
/// no password. The tray app shows its sign-in form for this; the terminal
/// says what to pass.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SignInNeeded(pub String);

/// Where the password comes from when the saved sign-in does not work.
pub enum Password {
    /// `BELFRY_PASSWORD`, else a prompt on the terminal (headless).
    Terminal,
    /// `BELFRY_PASSWORD`, else [`SignInNeeded`] (the tray app at start).
    NoPrompt,
    /// Typed into the sign-in form.
    Given(Secret),
}

/// Where to sign in: the instance, the login and how to reach it.
pub struct Target {
    /// The instance's address.
    pub base: Url,
    /// The login.
    pub login: String,
    /// TLS with the admin's extra CA, if any.
    pub tls: Arc<rustls::ClientConfig>,
    /// The embedded demo instance, when running the demo.
    pub demo: Option<demo::Demo>,
}

impl Target {
    /// Resolves the target from the command line and the saved settings,
    /// starting the demo instance for `--demo` with `demo` (`None` in a
    /// binary without one).
    pub async fn resolve(
        cli: &Cli,
        paths: &Paths,
        cfg: &DeviceConfig,
        demo: Option<demo::Starter>,
    ) -> anyhow::Result<Self> {
        let demo = match (cli.demo, demo) {
            (false, _) => None,
            (true, Some(start)) => {
                let every = Duration::from_millis(cli.demo_every_ms.max(100));
                Some(start(paths.data_dir.join("demo-instance.db"), every).await?)
            }
            (true, None) => bail!(
                "this binary has no demo instance: run `belfry --headless --demo` (or `belfry --demo`)"
            ),
        };
        let (address, login) = match &demo {
            Some(i) => (i.url().to_owned(), demo::DEMO_LOGIN.0.to_owned()),
            None => {
                let Some(address) = cli.instance.clone().or_else(|| cfg.instance.clone()) else {
                    return Err(SignInNeeded(
                        "no instance address: pass --instance https://your-helpdesk (or --demo)"
                            .into(),
                    )
                    .into());
                };
                let Some(login) = cli.login.clone().or_else(|| cfg.login.clone()) else {
                    return Err(SignInNeeded("no login: pass --login NAME".into()).into());
                };
                (address, login)
            }
        };
        let mut target = Self::new(
            &address,
            &login,
            cli.allow_insecure || cfg.allow_insecure,
            cli.extra_ca.as_deref().or(cfg.extra_ca.as_deref()),
        )?;
        target.demo = demo;
        Ok(target)
    }

    /// The target for an address and login as a user typed them.
    pub fn new(
        address: &str,
        login: &str,
        allow_insecure: bool,
        extra_ca: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let login = login.trim();
        if login.is_empty() {
            bail!("enter your login");
        }
        let base = net::instance_url(address.trim(), allow_insecure)?;
        let tls = net::tls_config(extra_ca)?;
        Ok(Self {
            base,
            login: login.to_owned(),
            tls,
            demo: None,
        })
    }

    /// Stops the demo instance, if there is one.
    pub async fn stop_demo(self) -> anyhow::Result<()> {
        match self.demo {
            Some(i) => i.stop().await,
            None => Ok(()),
        }
    }
}

/// A running session.
pub struct Session {
    /// The core.
    pub engine: Engine,
    /// The instance signed in to.
    pub base: Url,
    /// The login signed in as.
    pub login: String,
    tls: Arc<rustls::ClientConfig>,
    /// The melody player, for previews from Settings (`None` when sounds are off).
    melodies: Option<Arc<MelodyPlayer>>,
    demo: std::sync::Mutex<Option<demo::Demo>>,
}

impl Session {
    /// Signs in to `target` and starts the core with the real sinks.
    /// Returns the session and what the OS reports (toast actions, the OS's
    /// do-not-disturb), for [`Session::handle_os`].
    pub async fn start(
        target: Target,
        paths: &Paths,
        cfg: &mut DeviceConfig,
        password: Password,
    ) -> anyhow::Result<(Self, mpsc::UnboundedReceiver<FromOs>)> {
        let Target {
            base,
            login,
            tls,
            demo,
        } = target;
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
        let api = if demo.is_some() {
            let password = Secret::new(demo::DEMO_LOGIN.1);
            Api::login(&base, &tls, &login, &password)
                .await
                .with_context(|| format!("while signing in to the demo at {base}"))?
                .0
        } else {
            let api = sign_in(&base, &tls, &login, password).await?;
            cfg.instance = Some(base.to_string());
            cfg.login = Some(login.clone());
            if let Err(e) = cfg.save(&paths.config_file()) {
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
        let (os_tx, from_os) = mpsc::unbounded_channel();
        let toast_tx = os_tx.clone();
        let on_toast: OnToastEvent = Arc::new(move |ev| {
            let _ = toast_tx.send(FromOs::Toast(ev));
        });
        // A missing notification service is reported once by the core; the
        // inbox and sounds go on, and toasts start when a service appears.
        let toaster: Arc<dyn Toaster> = Arc::new(Toasts::new(identity(&paths.cache_dir), on_toast));
        let melodies = match MelodyPlayer::start(&cfg.sound) {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                tracing::warn!(error = %e, "sounds are off");
                None
            }
        };
        let player: Arc<dyn Player> = match &melodies {
            Some(p) => Arc::clone(p) as Arc<dyn Player>,
            None => Arc::new(Quiet),
        };
        let config = EngineConfig {
            retention: cfg.retention,
            after_release: Some(belfry_os::memory::give_back),
            ..EngineConfig::default()
        };
        let engine = Engine::start(
            config,
            store,
            api,
            Arc::clone(&tls),
            Sinks { toaster, player },
        )
        .await;
        engine.pause_until(cfg.paused_until);
        DoNotDisturb::new().watch(move |q| {
            let _ = os_tx.send(FromOs::Quiet(q));
        });
        let session = Self {
            engine,
            base,
            login,
            tls,
            melodies,
            demo: std::sync::Mutex::new(demo),
        };
        Ok((session, from_os))
    }

    /// Acts on what the OS reported: follows its do-not-disturb; opens a
    /// toast's item in the browser (only on the instance's origin) or marks
    /// it read. Returns `true` when a summary toast asked for the inbox.
    pub async fn handle_os(&self, msg: FromOs) -> bool {
        match msg {
            FromOs::Quiet(q) => self.engine.set_os_quiet(q),
            FromOs::Toast(ev) => {
                let summary = matches!(ev, ToastEvent::Open(_, None));
                match self.engine.on_toast(ev).await {
                    Ok(Some(url)) => {
                        tracing::info!(%url, "opening");
                        if let Err(e) = browser::open(&url) {
                            tracing::warn!(error = %e, "could not open the link");
                        }
                    }
                    Ok(None) => return summary,
                    Err(e) => tracing::warn!(error = %e, "toast action"),
                }
            }
        }
        false
    }

    /// Opens an item from the inbox: the browser gets its link when it is on
    /// the instance's origin; it is marked read either way.
    pub async fn open_item(&self, id: &str) -> anyhow::Result<Url> {
        let url = self.engine.open_item(id).await?;
        browser::open(&url).with_context(|| format!("while opening {url}"))?;
        Ok(url)
    }

    /// What the session does with the core's own events: when the instance
    /// signed the app out, the saved token is forgotten.
    pub fn on_core_event(&self, ev: &CoreEvent) {
        if let CoreEvent::State(ConnState::SignedOut) = ev
            && !self.is_demo()
            && let Err(e) = secrets::delete(self.base.as_str(), &self.login)
        {
            tracing::warn!(error = %e, "could not forget the token");
        }
    }

    /// Plays `melody` now, as the Settings window's preview button does:
    /// it tries a missing audio device again at once and says why there is
    /// no sound.
    pub fn preview_melody(&self, melody: &str) -> anyhow::Result<()> {
        let Some(player) = &self.melodies else {
            bail!("sounds are off: no audio output could be opened");
        };
        player
            .preview(&belfry_core::sinks::Sound {
                melody: melody.to_owned(),
                type_id: None,
            })
            .map_err(anyhow::Error::from)
    }

    /// Applies a new volume and output device to the melodies now.
    pub fn set_sound_output(&self, volume: f32, device: Option<String>) {
        if let Some(player) = &self.melodies {
            player.set_volume(volume);
            player.set_device(device);
        }
    }

    /// Plays the user's own sound for `type_id` from now on (from
    /// [`belfry_os::sounds::import_named`]), or its melody again (`None`).
    pub fn set_custom_sound(&self, type_id: &str, clip: Option<belfry_os::player::Clip>) {
        if let Some(player) = &self.melodies {
            match clip {
                Some(clip) => player.set_custom(type_id, clip),
                None => player.remove_custom(type_id),
            }
        }
    }

    /// Opens the instance's web app (its own origin) in the browser, where
    /// the operator links bot channels under Profile → Notifications.
    pub fn open_web_profile(&self) -> anyhow::Result<()> {
        browser::open(&self.base).with_context(|| format!("while opening {}", self.base))
    }

    /// Whether this is the demo's session (its sign-in is not kept).
    pub fn is_demo(&self) -> bool {
        self.demo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    /// Stops the core (and the demo instance). Shared by every front end
    /// task, so it takes `&self`; a second call does nothing more.
    pub async fn stop(&self) -> anyhow::Result<()> {
        self.engine.shutdown().await;
        let demo = self
            .demo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match demo {
            Some(i) => i.stop().await,
            None => Ok(()),
        }
    }

    /// Signs out: stops the core, revokes the token on the instance and
    /// removes it from the keyring.
    pub async fn sign_out(&self) -> anyhow::Result<()> {
        let demo = self.is_demo();
        self.stop().await?;
        if demo {
            return Ok(());
        }
        sign_out(&self.base, &self.tls, &self.login).await
    }
}

/// A working session for `login`: the token saved in the keyring if it
/// still works, else a password (see [`Password`]) and a new token, saved
/// for next time.
pub async fn sign_in(
    base: &url::Url,
    tls: &Arc<rustls::ClientConfig>,
    login: &str,
    password: Password,
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
    let password = match (password, std::env::var("BELFRY_PASSWORD")) {
        (Password::Given(p), _) => p,
        (_, Ok(p)) => Secret::new(p),
        (Password::Terminal, Err(_)) => Secret::new(
            rpassword::prompt_password(format!("Password for {login} at {base}: "))
                .context("while reading the password")?,
        ),
        (Password::NoPrompt, Err(_)) => {
            return Err(SignInNeeded(format!("sign in to {base} as {login}")).into());
        }
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

/// Revokes the saved token on the instance and forgets it.
pub async fn sign_out(
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

/// The user's settings with the organization's managed values applied. A
/// broken managed file is logged and shown, never silently fatal: the app
/// still runs on the user's own settings.
pub fn effective_config(config_file: &Path) -> DeviceConfig {
    let cfg = DeviceConfig::load(config_file).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "using default settings");
        DeviceConfig::default()
    });
    managed().apply(&cfg)
}

/// This machine's managed configuration (none when it cannot be read, with
/// the reason logged).
pub fn managed() -> Managed {
    Managed::load_platform().unwrap_or_else(|e| {
        tracing::error!(error = %e, "the organization's settings cannot be read; ignoring them");
        Managed::default()
    })
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
        // The packaged desktop file is Belfry.desktop (Tauri names it after
        // productName): the hint must match it for the desktop's per-app settings.
        desktop_entry: "Belfry".into(),
    }
}
