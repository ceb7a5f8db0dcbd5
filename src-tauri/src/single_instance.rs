//! One app per session on Linux: the first launch owns a name on the
//! session bus, a second one hands its command line to it there and exits
//! (`belfry_os::single_instance`, which the small tray shares, so the two
//! answer each other). This is the Tauri plugin around it.

use belfry_os::single_instance::{self, Claim};
use std::sync::Arc;
use tauri::plugin::{Builder, TauriPlugin};
use tauri::{AppHandle, Manager, RunEvent, Runtime};

/// Keeps the name owned while the app runs.
struct Owned(single_instance::Held);

/// The plugin: register it first, so a second launch exits before
/// anything else is set up. `on_launch` runs in the first app when Belfry
/// is launched again.
pub fn init<R: Runtime>(
    on_launch: impl Fn(&AppHandle<R>) + Send + Sync + 'static,
) -> TauriPlugin<R> {
    let on_launch = Arc::new(on_launch);
    Builder::new("single-instance")
        .setup(move |app, _api| {
            let handle = app.clone();
            let on_launch = Arc::clone(&on_launch);
            match single_instance::claim(Arc::new(move || on_launch(&handle))) {
                Claim::Owned(held) => {
                    app.manage(Owned(held));
                }
                Claim::HandedOver => {
                    tracing::info!("Belfry is running already: its inbox is brought forward");
                    app.cleanup_before_exit();
                    std::process::exit(0);
                }
                Claim::Unanswered => {
                    tracing::warn!(
                        "another Belfry holds the name but does not answer; starting anyway"
                    )
                }
                // No session bus: nothing to keep a second app from starting.
                Claim::NoBus(error) => {
                    tracing::warn!(%error, "no single-instance name on the session bus")
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
                owned.0.release();
            }
        })
        .build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_name_is_the_apps_identifier() {
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
        let identifier = conf["identifier"].as_str().unwrap();
        assert_eq!(
            belfry_os::single_instance::NAME,
            format!("{identifier}.SingleInstance")
        );
    }
}
