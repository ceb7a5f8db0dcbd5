//! The default browser. Only URLs that passed `belfry_core::links::check`
//! (the instance's own origin) come here; the Tauri shell uses the opener
//! plugin, which wraps the same `open` crate.

use belfry_core::sinks::SinkError;
use url::Url;

/// Opens `url` in the user's browser (`xdg-open` on Linux, which honours
/// `$BROWSER`; `open` on macOS; the shell on Windows).
pub fn open(url: &Url) -> Result<(), SinkError> {
    open::that_detached(url.as_str()).map_err(|e| SinkError(format!("opening the browser: {e}")))
}
