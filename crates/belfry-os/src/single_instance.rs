//! One Belfry per session on Linux and the BSDs: the running app owns a
//! name on the session bus; a later launch calls it there (the running app
//! then brings its inbox forward) and exits.
//!
//! The protocol of tauri-plugin-single-instance (name
//! `<identifier>.SingleInstance`, interface `org.SingleInstance.DBus`,
//! `ExecuteCallback(argv, cwd)`), so the desktop shell and the small tray
//! (which has no Tauri) answer each other. Written on the zbus 6 the OS
//! sinks already use: the plugin's zbus 5 brought the `blocking` crate's
//! thread pool, whose idle thread never exits and wakes every 500 ms.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// The app's bus name (the Tauri identifier's).
pub const NAME: &str = "app.belfry.desktop.SingleInstance";
const PATH: &str = "/app/belfry/desktop/SingleInstance";
const INTERFACE: &str = "org.SingleInstance.DBus";

/// How long a new launch waits for a quitting Belfry to let go of the name.
pub const QUITTING: Duration = Duration::from_secs(5);

/// What runs in the first app when Belfry is launched again.
pub type OnLaunch = Arc<dyn Fn() + Send + Sync>;

struct Launches(OnLaunch);

#[zbus::interface(name = "org.SingleInstance.DBus", introspection_docs = false)]
impl Launches {
    /// A later launch's command line and folder (not used: any launch
    /// brings the inbox forward).
    fn execute_callback(&self, _argv: Vec<String>, _cwd: String) {
        (self.0)();
    }
}

/// How claiming the name ended.
pub enum Claim {
    /// This is the one app: the name is held while this lives.
    Owned(Held),
    /// Another Belfry runs and was told of this launch: exit.
    HandedOver,
    /// No session bus (or it refused): nothing keeps a second app from
    /// starting.
    NoBus(String),
    /// Another Belfry holds the name and has answered nothing for
    /// [`QUITTING`]: start anyway.
    Unanswered,
}

/// Owns the name, or tells the Belfry that owns it; a Belfry that is
/// quitting still owns the name for a moment and answers nothing, so then
/// this waits for the name instead of handing over to an app that is gone.
pub fn claim(on_launch: OnLaunch) -> Claim {
    let deadline = Instant::now() + QUITTING;
    loop {
        let owned = zbus::block_on(async {
            zbus::connection::Builder::session()
                .name(NAME)
                .replace_existing_names(false)
                .allow_name_replacements(false)
                .serve_at(PATH, Launches(Arc::clone(&on_launch)))
                .build()
                .await
        });
        match owned {
            Ok(connection) => return Claim::Owned(Held(connection)),
            Err(zbus::Error::NameTaken) => {
                if hand_over() {
                    return Claim::HandedOver;
                }
                if Instant::now() > deadline {
                    return Claim::Unanswered;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => return Claim::NoBus(error.to_string()),
        }
    }
}

/// The name, held: its connection also serves later launches.
pub struct Held(zbus::Connection);

impl Held {
    /// Lets go of the name at once (rather than when the process is gone).
    pub fn release(&self) {
        let _ = zbus::block_on(self.0.release_name(NAME));
    }
}

/// Tells the app owning the name that Belfry was launched again; false
/// when it did not answer (it is quitting).
fn hand_over() -> bool {
    let cwd = std::env::current_dir().unwrap_or_default();
    let argv: Vec<String> = std::env::args().collect();
    let sent = zbus::block_on(async {
        let bus = zbus::Connection::session().await?;
        bus.call_method(
            Some(NAME),
            PATH,
            Some(INTERFACE),
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
