//! The headless mode: the core with real toasts and melodies, no window, no
//! tray. For tiling window managers, servers and benchmarks.

use crate::cli::Cli;
use crate::{demo, logging};
use anyhow::{Context, bail};
use belfry_core::config::{DeviceConfig, Paths};
use belfry_core::engine::{Engine, EngineConfig};
use belfry_core::event::CoreEvent;
use belfry_core::net::{self, Api};
use belfry_core::secret::Secret;
use belfry_core::sinks::{Player, Sinks, Toaster};
use belfry_core::store::Store;
use belfry_os::Quiet;
use belfry_os::player::MelodyPlayer;
use belfry_os::toast::DesktopToaster;
use std::sync::Arc;
use std::time::Duration;

/// Runs until SIGTERM or Ctrl-C.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = Paths::platform().context("while finding the app's directories")?;
    let _log = logging::init(&paths.log_dir, cli.verbose).context("while setting up the log")?;
    let config_file = paths.config_file();
    let mut cfg = DeviceConfig::load(&config_file).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "using default settings");
        DeviceConfig::default()
    });

    let demo_instance = if cli.demo {
        let every = Duration::from_millis(cli.demo_every_ms.max(100));
        Some(demo::start(&paths.data_dir.join("demo-instance.db"), every).await?)
    } else {
        None
    };
    let (address, login, password) = match &demo_instance {
        Some(i) => (
            i.url.clone(),
            demo::DEMO_LOGIN.0.to_owned(),
            Secret::new(demo::DEMO_LOGIN.1),
        ),
        None => {
            let Some(address) = cli.instance.clone().or_else(|| cfg.instance.clone()) else {
                bail!("no instance address: pass --instance https://your-helpdesk (or --demo)");
            };
            let Some(login) = cli.login.clone().or_else(|| cfg.login.clone()) else {
                bail!("no login: pass --login NAME");
            };
            let password = match std::env::var("BELFRY_PASSWORD") {
                Ok(p) => Secret::new(p),
                Err(_) => Secret::new(
                    rpassword::prompt_password(format!("Password for {login} at {address}: "))
                        .context("while reading the password")?,
                ),
            };
            (address, login, password)
        }
    };
    let base = net::instance_url(&address, cli.allow_insecure || cfg.allow_insecure)?;
    let extra_ca = cli.extra_ca.clone().or_else(|| cfg.extra_ca.clone());
    let tls = net::tls_config(extra_ca.as_deref())?;
    let info = Api::info(&base, &tls)
        .await
        .with_context(|| format!("while reaching {base}"))?;
    if !info
        .protocol_versions
        .contains(&belfry_proto::PROTOCOL_VERSION)
    {
        bail!(
            "{base} speaks protocol versions {:?}; this Belfry speaks {}: update the app or the instance",
            info.protocol_versions,
            belfry_proto::PROTOCOL_VERSION
        );
    }
    let (api, who) = Api::login(&base, &tls, &login, &password)
        .await
        .with_context(|| format!("while signing in to {base} as {login}"))?;
    drop(password);
    tracing::info!(login = %who.operator.login, instance = %base, "signed in");
    if demo_instance.is_none() {
        cfg.instance = Some(base.to_string());
        cfg.login = Some(login.clone());
        if let Err(e) = cfg.save(&config_file) {
            tracing::warn!(error = %e, "could not save the settings");
        }
    }

    let store_path = paths.store_file(base.as_str(), &login);
    let store = std::fs::create_dir_all(&paths.data_dir)
        .map_err(anyhow::Error::from)
        .and_then(|()| Store::open(&store_path).map_err(anyhow::Error::from))
        .or_else(|e| {
            tracing::warn!(error = %e, path = %store_path.display(), "local inbox unavailable; keeping it in memory");
            Store::in_memory()
        })?;
    let toaster: Arc<dyn Toaster> = match DesktopToaster::connect("Belfry", None) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            tracing::warn!(error = %e, "toasts are off; the inbox and sounds go on");
            Arc::new(Quiet)
        }
    };
    let player: Arc<dyn Player> = match MelodyPlayer::start(cfg.sound.volume) {
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
    let mut events = engine.events();
    let logger = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(ev) => log_event(&ev),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(n, "log fell behind")
                }
                Err(_) => return,
            }
        }
    });
    wait_for_stop().await;
    tracing::info!("stopping");
    engine.shutdown().await;
    logger.abort();
    if let Some(i) = demo_instance {
        i.stop().await.context("while stopping the demo instance")?;
    }
    Ok(())
}

fn log_event(ev: &CoreEvent) {
    match ev {
        CoreEvent::Added { items } => {
            for n in items {
                tracing::info!(r#type = %n.type_id, title = %n.title, "notification");
            }
        }
        CoreEvent::Problem { message } => tracing::warn!(%message, "problem"),
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
