//! The `belfry-headless` binary: the headless mode alone, without the
//! desktop toolkit. `belfry --headless` hands over to it when it sits
//! beside `belfry` (the packages install both), so a headless Belfry never
//! maps GTK and WebKitGTK. It needs no `--headless` flag of its own.

use belfry_app::updates::{Build, BuiltIn};
use std::process::ExitCode;

fn main() -> ExitCode {
    // The update feed and key this release carries, for the tray's update
    // notice. Read here, at compile time, from the same sources
    // `tauri::generate_context!` reads for `belfry`: the crate's
    // tauri.conf.json with the release's `tauri build --config` merged
    // over it (the Tauri CLI hands that to the compiler as `TAURI_CONFIG`,
    // which rustc tracks, so a changed one rebuilds this). A build script
    // would do the same with more code; taking `tauri-utils` here would
    // link what this binary exists to leave out.
    let built_in = BuiltIn::from_tauri_conf(
        include_str!("../../../src-tauri/tauri.conf.json"),
        option_env!("TAURI_CONFIG"),
    );
    let build = Build {
        // The app's version is the workspace's, as `belfry`'s is
        // (tauri.conf.json sets none).
        version: env!("CARGO_PKG_VERSION"),
        built_in,
    };
    // No demo instance here (this package does not turn on belfry-app's
    // `demo`): `belfry --headless --demo` has it.
    belfry_app::headless::main_with(None, Some(build))
}
