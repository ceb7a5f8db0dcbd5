//! The headless mode: the core with real toasts and melodies, no window, and
//! no GUI toolkit: a tray icon of its own where the desktop's panel shows
//! StatusNotifierItems (see [`crate::tray`]), a log either way. For tiling
//! window managers, servers, small machines and benchmarks.

use crate::cli::Cli;
use crate::demo::Starter;
use crate::hand_over::HandOver;
use crate::logging;
use crate::menu::Asked;
use crate::session::{self, Session, Target, effective_config};
use crate::start_at_login::{self, StartAtLoginError, Starts};
#[cfg(all(unix, not(target_os = "macos")))]
use crate::tray::Tray;
use crate::updates::{self, Build, HandOverInstaller, Updater};
use anyhow::{Context, bail};
use belfry_core::config::{DeviceConfig, Paths};
use belfry_core::event::{ConnState, CoreEvent};
use belfry_core::managed::Managed;
use std::process::ExitCode;
use std::sync::Arc;
#[cfg(not(all(unix, not(target_os = "macos"))))]
use tray::Tray;

/// The file name of the headless-only binary, which `belfry --headless`
/// hands over to when it is beside it (on Unix, where a process can
/// replace itself).
pub const BINARY: &str = crate::hand_over::SMALL_APP;

/// The whole headless process: a runtime of two workers, [`run`], and the
/// exit code with the error said on standard error. `demo` starts the demo
/// instance for `--demo` (`None` in a binary without one). The tray checks
/// for no updates: see [`main_with`].
pub fn main(demo: Option<Starter>) -> ExitCode {
    main_with(demo, None)
}

/// [`main`] in a build that knows its version and built-in update feed
/// (`build`): its tray offers a newer version, handing over to the full
/// app to install it.
pub fn main_with(demo: Option<Starter>, build: Option<Build>) -> ExitCode {
    // Before any thread: the headless app and the small tray idle all day.
    belfry_os::memory::frugal();
    let cli = Cli::from_env();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("belfry: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, demo, build.as_ref())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("belfry: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs until SIGTERM or Ctrl-C.
pub async fn run(cli: Cli, demo: Option<Starter>, build: Option<&Build>) -> anyhow::Result<()> {
    let paths = Paths::platform().context("while finding the app's directories")?;
    // A directory that cannot be made (a read-only or full disk) is said
    // once the log is up; the app goes on (the inbox then lives in memory).
    let created = paths.create();
    let _log = logging::init(&paths.log_dir, cli.verbose).context("while setting up the log")?;
    if let Err(e) = created {
        tracing::warn!(error = %e, "the app's directories cannot be made; going on without them");
    }
    let config_file = paths.config_file();
    let fresh_install = !config_file.exists();
    let mut cfg = effective_config(&config_file);
    let managed = session::managed();
    // The organization's start at login holds here as in the full app: on
    // many machines the small tray at login, or headless, is the only
    // Belfry that ever runs.
    // A new entry starts what this run is: headless, or the tray (whose
    // small form this binary is at login).
    let starts = if cli.headless {
        Starts::Headless
    } else {
        Starts::Tray
    };
    start_at_login::apply_organizations(&managed, fresh_install, starts);
    if let Some(on) = cli.start_at_login {
        return match start_at_login::set(&managed, on, starts, &mut cfg, &config_file) {
            Ok(()) => {
                match (on, starts) {
                    (true, Starts::Headless) => {
                        tracing::info!("Belfry will start at login (headless)")
                    }
                    (true, Starts::Tray) => {
                        tracing::info!("Belfry will start at login (in the tray)")
                    }
                    (false, _) => tracing::info!("Belfry will not start at login"),
                }
                Ok(())
            }
            Err(e @ StartAtLoginError::Locked { .. }) => {
                bail!("{e}: --start-at-login cannot change it")
            }
            Err(e) => Err(e.into()),
        };
    }
    let stop = wait_for_stop();
    let target = Target::resolve(&cli, &paths, &cfg, demo).await?;
    if cli.sign_out {
        session::sign_out(&target.base, &target.tls, &target.login).await?;
        return target.stop_demo().await;
    }
    // Started at login by the full app as its small tray (not headless at
    // login, which is `--headless --autostarted`): nobody is at a
    // terminal, and a sign-in that no longer works needs the full app's
    // sign-in form.
    let small_tray = cli.autostarted && !cli.headless;
    let password = if small_tray {
        session::Password::NoPrompt
    } else {
        session::Password::Terminal
    };
    // The small tray is the one Belfry of the session, as the full app is:
    // a later launch opens the inbox (handing over to the full app).
    let (launch_tx, mut launches) = tokio::sync::mpsc::unbounded_channel::<()>();
    let _name = if small_tray {
        match claim_the_session(launch_tx).await {
            Some(name) => Some(name),
            None => return Ok(()),
        }
    } else {
        None
    };
    let (session, mut from_os) = match Session::start(target, &paths, &mut cfg, password).await {
        Ok(started) => started,
        Err(e) if small_tray => {
            tracing::warn!(error = format!("{e:#}"), "the saved sign-in does not work");
            let to = HandOver::ToFullApp {
                install_update: false,
            };
            if let Some(full) = to.binary() {
                let err = to.exec(&full);
                return Err(err).context("while handing the sign-in to the full app");
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let mut events = session.engine.events();
    let mut tray = Tray::start(&paths, &session).await;
    let mut updates = if tray.is_some() {
        watch_updates(build, &managed, &cfg, &session)
    } else {
        None
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(msg) = from_os.recv() => {
                session.handle_os(msg).await;
            }
            Some(id) = next_click(&mut tray) => {
                let Some(t) = tray.as_mut() else { continue };
                match t.on_click(&id, &session, &mut cfg, &config_file).await {
                    Some(Asked::Quit) => break,
                    Some(Asked::Open) => {
                        t.settle().await;
                        open_inbox(&session, false).await?
                    }
                    Some(Asked::Update) => {
                        t.settle().await;
                        install_update(&session, updates.as_ref().map(|(u, _)| u)).await?
                    }
                    None => {}
                }
            }
            Some(()) = next_update(&mut updates) => {
                if let (Some(t), Some((updater, _))) = (tray.as_mut(), &updates) {
                    t.show_update(updater.tray_entry()).await;
                }
            }
            Some(()) = launches.recv() => open_inbox(&session, false).await?,
            ev = events.recv() => match ev {
                Ok(ev) => {
                    session.on_core_event(&ev);
                    if let Some(t) = tray.as_mut() {
                        t.on_event(&ev, &session).await;
                    }
                    log_event(&ev);
                    // Signed out elsewhere: the sign-in form is the full app's.
                    if small_tray && matches!(ev, CoreEvent::State(ConnState::SignedOut)) {
                        open_inbox(&session, false).await?;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(n, "log fell behind")
                }
                Err(_) => break,
            },
        }
    }
    tracing::info!("stopping");
    session.stop().await
}

/// The small tray's updates: its [`Updater`] and the channel that says
/// when its state changed.
type SmallTrayUpdates = (
    Arc<Updater<HandOverInstaller>>,
    tokio::sync::mpsc::UnboundedReceiver<()>,
);

/// Starts the tray's update checks (the shared [`Updater`] with the
/// [`HandOverInstaller`]: the full app installs) when this build knows
/// its feed, the organization has not turned them off, and the full app is
/// beside this binary to install what is offered. The first check waits
/// for the connection.
fn watch_updates(
    build: Option<&Build>,
    managed: &Managed,
    cfg: &DeviceConfig,
    session: &Session,
) -> Option<SmallTrayUpdates> {
    let build = build?;
    if let Err(why) = updates::source(managed, &build.built_in, cfg.update_channel) {
        tracing::info!(%why, "updates are off");
        return None;
    }
    let Some(full) = (HandOver::ToFullApp {
        install_update: true,
    })
    .binary() else {
        tracing::info!("no update checks: no full app beside this one to install them");
        return None;
    };
    let current = semver::Version::parse(build.version)
        .inspect_err(|e| tracing::warn!(error = %e, version = build.version, "no update checks: this build's version is not semver"))
        .ok()?;
    // The feed over the app's own TLS: the system's roots plus the
    // organization's extra CA, as the full app's updater uses.
    let tls = belfry_core::net::tls_config(cfg.extra_ca.as_deref())
        .inspect_err(|e| tracing::warn!(error = %e, "no update checks"))
        .ok()?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let updater = Arc::new(Updater::new(
        HandOverInstaller { full, tls, current },
        managed,
        build.built_in.clone(),
        cfg.update_channel,
        move |_| {
            let _ = tx.send(());
        },
    ));
    tokio::spawn(Arc::clone(&updater).run(updates::once_connected(session.engine.state()), false));
    Some((updater, rx))
}

/// The next change of the update state; never, without update checks.
async fn next_update(updates: &mut Option<SmallTrayUpdates>) -> Option<()> {
    match updates {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// "Update to X…": the full app installs it, handed over (it checks again
/// and verifies); returns only the error when it could not be handed over.
async fn install_update(
    session: &Session,
    updater: Option<&Arc<Updater<HandOverInstaller>>>,
) -> anyhow::Result<()> {
    let Some(updater) = updater else {
        return open_inbox(session, true).await;
    };
    tracing::info!("stopping to hand over");
    session.stop().await?;
    let info = updater.install().await?;
    match info.state {
        updates::UpdateState::InstallFailed { message, .. } => bail!("{message}"),
        state => bail!("the update was not handed over ({state:?})"),
    }
}

fn log_event(ev: &CoreEvent) {
    match ev {
        CoreEvent::State(ConnState::SignedOut) => {
            tracing::error!("signed out by the instance: run belfry again to sign in")
        }
        CoreEvent::Added { items } => {
            for n in items {
                tracing::info!(r#type = %n.type_id, title = %n.title, "notification");
            }
        }
        // The core logged it already, as a warning.
        CoreEvent::Problem { message, .. } => tracing::debug!(%message, "problem"),
        CoreEvent::Quiet { quiet: Some(why) } => {
            tracing::info!(?why, "toasts and sounds held back")
        }
        CoreEvent::Quiet { quiet: None } => tracing::info!("toasts and sounds are back"),
        CoreEvent::Refused { fields } => tracing::warn!(?fields, "settings refused"),
        CoreEvent::Unread(u) => tracing::debug!(unread = u.total, "unread"),
        CoreEvent::Status(s) => {
            tracing::info!(status = ?s.status, since = ?s.since, "availability")
        }
        other => tracing::debug!(?other, "event"),
    }
}

/// Opens the inbox: hands the process over to the full app (returning
/// only its error), or without one opens the instance's web app.
/// `install_update`: the full app opens on Settings and installs the
/// update its check finds.
async fn open_inbox(session: &Session, install_update: bool) -> anyhow::Result<()> {
    let to = HandOver::ToFullApp { install_update };
    match to.binary() {
        Some(full) => {
            tracing::info!("stopping to hand over");
            session.stop().await?;
            let err = to.exec(&full);
            Err(err).with_context(|| format!("while opening the inbox in {}", full.display()))
        }
        None => {
            if let Err(e) = session.open_web_profile() {
                tracing::warn!(error = format!("{e:#}"), "opening the web app");
            }
            Ok(())
        }
    }
}

/// Owns the session's single-instance name, whose launches arrive on
/// `launches`; `None` when a running Belfry took this launch (then exit).
#[cfg(all(unix, not(target_os = "macos")))]
async fn claim_the_session(
    launches: tokio::sync::mpsc::UnboundedSender<()>,
) -> Option<Option<belfry_os::single_instance::Held>> {
    use belfry_os::single_instance::{self, Claim};
    let on_launch: single_instance::OnLaunch = std::sync::Arc::new(move || {
        let _ = launches.send(());
    });
    let claim = tokio::task::spawn_blocking(move || single_instance::claim(on_launch)).await;
    match claim {
        Ok(Claim::Owned(held)) => Some(Some(held)),
        Ok(Claim::HandedOver) => {
            tracing::info!("Belfry is running already: its inbox is brought forward");
            None
        }
        Ok(Claim::Unanswered) => {
            tracing::warn!("another Belfry holds the name but does not answer; starting anyway");
            Some(None)
        }
        Ok(Claim::NoBus(error)) => {
            tracing::warn!(%error, "no single-instance name on the session bus");
            Some(None)
        }
        Err(_) => Some(None),
    }
}

/// Elsewhere the small tray does not run (the tray is the desktop shell's).
#[cfg(not(all(unix, not(target_os = "macos"))))]
async fn claim_the_session(_: tokio::sync::mpsc::UnboundedSender<()>) -> Option<Option<()>> {
    Some(None)
}

/// The next click in the tray's menu; never, without a tray.
async fn next_click(tray: &mut Option<Tray>) -> Option<String> {
    match tray {
        Some(t) => t.click().await,
        None => std::future::pending().await,
    }
}

/// Where the panel shows no StatusNotifierItems (Windows, macOS), headless
/// has no tray: its tray is the desktop shell's.
#[cfg(not(all(unix, not(target_os = "macos"))))]
mod tray {
    use crate::menu::{Asked, UpdateStep};
    use crate::session::Session;
    use belfry_core::config::{DeviceConfig, Paths};
    use belfry_core::event::CoreEvent;
    use std::path::Path;

    /// Never made.
    pub enum Tray {}

    impl Tray {
        pub async fn start(_: &Paths, _: &Session) -> Option<Self> {
            None
        }
        pub async fn click(&mut self) -> Option<String> {
            match *self {}
        }
        pub async fn on_event(&mut self, _: &CoreEvent, _: &Session) {
            match *self {}
        }
        pub async fn show_update(&mut self, _: Option<(String, Option<UpdateStep>)>) {
            match *self {}
        }
        pub async fn settle(&self) {
            match *self {}
        }
        pub async fn on_click(
            &mut self,
            _: &str,
            _: &Session,
            _: &mut DeviceConfig,
            _: &Path,
        ) -> Option<Asked> {
            match *self {}
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM. SIGTERM is taken over when this is
/// called, not when the future is first polled: a SIGTERM that came while
/// the session was still starting would otherwise end the process
/// unhandled (without stopping the session).
#[cfg(unix)]
fn wait_for_stop() -> impl std::future::Future<Output = ()> {
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .inspect_err(|e| tracing::warn!(error = %e, "no SIGTERM handler"))
        .ok();
    async move {
        match term {
            Some(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// Resolves on Ctrl-C (there is no SIGTERM).
#[cfg(not(unix))]
async fn wait_for_stop() {
    let _ = tokio::signal::ctrl_c().await;
}
