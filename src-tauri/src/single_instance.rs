//! One app per session on Linux: the first launch owns a name on the
//! session bus, a second one hands its command line to it there and exits.
//!
//! The same protocol as tauri-plugin-single-instance (name
//! `<identifier>.SingleInstance`, interface `org.SingleInstance.DBus`,
//! `ExecuteCallback(argv, cwd)`), on the zbus 6 the OS sinks already use.
//! The plugin's zbus 5 brought the `blocking` crate's thread pool, whose
//! idle thread never exits and wakes every 500 ms: two of the idle tray's
//! three wake-ups a second.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tauri::plugin::{Builder, TauriPlugin};
use tauri::{AppHandle, Manager, RunEvent, Runtime};

/// What runs in the first app when Belfry is launched again.
pub type OnLaunch<R> = dyn Fn(&AppHandle<R>) + Send + Sync + 'static;

/// The D-Bus interface the first app serves.
struct Launches<R: Runtime> {
    app: AppHandle<R>,
    on_launch: Arc<OnLaunch<R>>,
}

#[zbus::interface(name = "org.SingleInstance.DBus")]
impl<R: Runtime> Launches<R> {
    /// A later launch's command line and folder (not used: any launch
    /// brings the inbox forward).
    fn execute_callback(&self, _argv: Vec<String>, _cwd: String) {
        (self.on_launch)(&self.app);
    }
}

/// Keeps the name owned while the app runs, and the name.
struct Owned(zbus::Connection, String);

/// The plugin: register it first, so a second launch exits before
/// anything else is set up.
pub fn init<R: Runtime>(
    on_launch: impl Fn(&AppHandle<R>) + Send + Sync + 'static,
) -> TauriPlugin<R> {
    let on_launch: Arc<OnLaunch<R>> = Arc::new(on_launch);
    Builder::new("single-instance")
        .setup(move |app, _api| {
            let name = format!("{}.SingleInstance", app.config().identifier);
            let path = format!("/{}", name.replace('.', "/").replace('-', "_"));
            // A Belfry that is quitting still owns the name for a moment
            // and answers nothing: then this one waits for the name
            // instead of handing over to an app that is gone.
            let deadline = Instant::now() + QUITTING;
            loop {
                let launches = Launches {
                    app: app.clone(),
                    on_launch: Arc::clone(&on_launch),
                };
                match own(&name, &path, launches) {
                    Ok(connection) => {
                        app.manage(Owned(connection, name));
                        break;
                    }
                    Err(zbus::Error::NameTaken) => {
                        if hand_over(&name, &path) {
                            tracing::info!(
                                "Belfry is running already: its inbox is brought forward"
                            );
                            app.cleanup_before_exit();
                            std::process::exit(0);
                        }
                        if Instant::now() > deadline {
                            tracing::warn!(
                                "another Belfry holds the name but does not answer; starting anyway"
                            );
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    // No session bus: nothing to keep a second app from starting.
                    Err(error) => {
                        tracing::warn!(%error, "no single-instance name on the session bus");
                        break;
                    }
                }
            }
            Ok(())
        })
        .on_event(|app, event| {
            if let RunEvent::Exit = event
                && let Some(owned) = app.try_state::<Owned>()
            {
                // Freed at once for the next start, rather than when the
                // process is gone.
                let _ = zbus::block_on(owned.0.release_name(owned.1.as_str()));
            }
        })
        .build()
}

/// How long a new launch waits for a quitting Belfry to let go of the name.
const QUITTING: Duration = Duration::from_secs(5);

/// Owns `name` on the session bus and serves `launches` there.
fn own<R: Runtime>(
    name: &str,
    path: &str,
    launches: Launches<R>,
) -> zbus::Result<zbus::Connection> {
    zbus::block_on(async {
        zbus::connection::Builder::session()
            .name(name)
            .replace_existing_names(false)
            .allow_name_replacements(false)
            .serve_at(path, launches)
            .build()
            .await
    })
}

/// Tells the app owning `name` that it was launched again; false when it
/// did not answer (it is quitting).
fn hand_over(name: &str, path: &str) -> bool {
    let cwd = std::env::current_dir().unwrap_or_default();
    let argv: Vec<String> = std::env::args().collect();
    let sent = zbus::block_on(async {
        let bus = zbus::Connection::session().await?;
        bus.call_method(
            Some(name),
            path,
            Some("org.SingleInstance.DBus"),
            "ExecuteCallback",
            &(argv, cwd.to_string_lossy().into_owned()),
        )
        .await
    });
    match sent {
        Ok(_) => true,
        Err(error) => {
            tracing::info!(%error, "the running Belfry did not answer; it may be quitting");
            false
        }
    }
}
