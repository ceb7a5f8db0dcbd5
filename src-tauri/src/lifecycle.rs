//! The session's life in the window app: signed in at start with what was
//! saved, or from the sign-in form; run while the tray and the window
//! follow its events; ended by signing out, a revoked token or quitting.

use crate::shell::{Shell, Status};
use crate::ui_error::UiError;
use crate::window::open_inbox;
use crate::{CORE_EVENT, tray};
use belfry_app::cli::Cli;
use belfry_app::front::{Change, Front};
use belfry_app::session::{FromOs, Password, Session, SignInNeeded, Target};
use belfry_core::config::DeviceConfig;
use belfry_core::event::{ConnState, CoreEvent};
use std::sync::{Arc, PoisonError};
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// Signs in with what was saved (or the command line) and runs the core.
/// With nothing to sign in with, the window shows the sign-in form.
pub(crate) async fn start_session<R: Runtime>(app: AppHandle<R>, cli: Cli) {
    let shell = app.state::<Shell>();
    let _guard = shell.signing_in.lock().await;
    upgrade_old_sounds(&shell).await;
    let mut cfg = shell.config();
    let started =
        match Target::resolve(&cli, &shell.paths, &cfg, Some(belfry_app::demo::STARTER)).await {
            Ok(target) => Session::start(target, &shell.paths, &mut cfg, Password::NoPrompt).await,
            Err(e) => Err(e),
        };
    match started {
        Ok((session, from_os)) => run_session(&app, session, from_os, cfg).await,
        Err(e) => {
            let reason = if e.downcast_ref::<SignInNeeded>().is_some() {
                tracing::info!("not signed in yet");
                None
            } else {
                Some(UiError::of("signing in at start", &e))
            };
            show_signed_out(&app, reason);
        }
    }
}

/// Rewrites the own sounds an older Belfry kept in their chosen format as
/// the WAV copies the player reads (`belfry_os::sounds::upgrade_old`) and
/// keeps where they are now: this app links the decoders,
/// `belfry-headless` does not. One that cannot be
/// rewritten is logged and its melody plays, as for any unusable file.
async fn upgrade_old_sounds(shell: &Shell) {
    let custom = shell.config().sound.custom;
    let data_dir = shell.paths.data_dir.clone();
    let upgraded = tauri::async_runtime::spawn_blocking(move || {
        belfry_os::sounds::upgrade_old(&custom, &data_dir)
    })
    .await
    .unwrap_or_default();
    for (type_id, result) in upgraded {
        match result {
            Ok(path) => {
                tracing::info!(%type_id, "own sound rewritten as WAV");
                shell.save_config(|c| {
                    c.sound.custom.insert(type_id, path);
                });
            }
            Err(e) => {
                tracing::warn!(%type_id, error = %e, "own sound unusable; its melody plays instead")
            }
        }
    }
}

/// Signs in with what the user typed into the form.
pub(crate) async fn sign_in<R: Runtime>(
    app: &AppHandle<R>,
    address: &str,
    login: &str,
    password: belfry_core::secret::Secret,
) -> anyhow::Result<()> {
    let shell = app.state::<Shell>();
    let Ok(_guard) = shell.signing_in.try_lock() else {
        anyhow::bail!("already signing in");
    };
    if shell.session.read().await.is_some() {
        anyhow::bail!("already signed in");
    }
    let mut cfg = shell.config();
    // An address the organization enforces is used whatever the form sent.
    let address = match (&shell.managed.enforced.instance, address) {
        (Some(locked), _) => locked.clone(),
        (None, typed) => typed.to_owned(),
    };
    let target = Target::new(&address, login, cfg.allow_insecure, cfg.extra_ca.as_deref())?;
    let (session, from_os) =
        Session::start(target, &shell.paths, &mut cfg, Password::Given(password)).await?;
    run_session(app, session, from_os, cfg).await;
    Ok(())
}

/// Signs out: the token is revoked on the instance and removed from the
/// keyring; the window shows the sign-in form.
pub(crate) async fn sign_out<R: Runtime>(app: &AppHandle<R>) -> anyhow::Result<()> {
    let shell = app.state::<Shell>();
    let session = shell.session.write().await.take();
    let result = match session {
        Some(s) => s.sign_out().await,
        None => Ok(()),
    };
    show_signed_out(app, None);
    result
}

/// The status of a signed-out app, shown in the tray and the window.
fn show_signed_out<R: Runtime>(app: &AppHandle<R>, reason: Option<UiError>) {
    let shell = app.state::<Shell>();
    let form = shell.sign_in_form(reason);
    let status = shell.update(|s| {
        *s = Status {
            sign_in: Some(form),
            ..Status::default()
        };
    });
    tray::show(app, &status);
    let _ = app.emit("status", &status);
}

/// Makes `session` the app's: the tray and the window follow its events
/// until it stops.
async fn run_session<R: Runtime>(
    app: &AppHandle<R>,
    session: Session,
    mut from_os: tokio::sync::mpsc::UnboundedReceiver<FromOs>,
    cfg: DeviceConfig,
) {
    let shell = app.state::<Shell>();
    *shell.config.lock().unwrap_or_else(PoisonError::into_inner) = cfg;
    let session = Arc::new(session);
    // Listen before reading the state: the core has been connecting since
    // it started, and what it said before this would otherwise be lost
    // (the welcome's status was, until a test of the tray caught it).
    let mut events = session.engine.events();
    let status = shell.update(|s| {
        *s = Status {
            front: Front::of(&session.engine),
            account: Some(format!("{}@{}", session.login, session.base)),
            problem: None,
            sign_in: None,
        };
    });
    tray::show(app, &status);
    let _ = app.emit("status", &status);
    tray::show_recent(app, &session).await;
    *shell.session.write().await = Some(Arc::clone(&session));

    let os_session = Arc::clone(&session);
    let os_app = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(msg) = from_os.recv().await {
            // A summary toast's Open shows the inbox.
            if os_session.handle_os(msg).await {
                open_inbox(&os_app);
            }
        }
    });
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<Shell>();
        loop {
            let ev = match events.recv().await {
                Ok(ev) => ev,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(n, "the shell fell behind the core");
                    continue;
                }
                Err(_) => return,
            };
            match &ev {
                // Signed out or quitting: whoever stopped it shows what comes next.
                CoreEvent::State(ConnState::Stopped) => return,
                CoreEvent::State(ConnState::SignedOut) => {
                    session.on_core_event(&ev);
                    let ours = shell
                        .session
                        .write()
                        .await
                        .take_if(|s| Arc::ptr_eq(s, &session));
                    if let Some(s) = ours
                        && let Err(e) = s.stop().await
                    {
                        tracing::warn!(error = %e, "stopping");
                    }
                    show_signed_out(&app, Some(UiError::Revoked));
                    return;
                }
                _ => {}
            }
            session.on_core_event(&ev);
            let mut change = Change::Nothing;
            let status = shell.update(|s| change = s.front.apply(&ev));
            match change {
                Change::State => {
                    tray::show(&app, &status);
                    let _ = app.emit("status", &status);
                }
                Change::Items => tray::show_recent(&app, &session).await,
                Change::Nothing => {}
            }
            let _ = app.emit(CORE_EVENT, &ev);
        }
    });
}
