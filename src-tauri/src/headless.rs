//! The `belfry-headless` binary: the headless mode alone, without the
//! desktop toolkit. `belfry --headless` hands over to it when it sits
//! beside `belfry` (the packages install both), so a headless Belfry never
//! maps GTK and WebKitGTK. It needs no `--headless` flag of its own.

use std::process::ExitCode;

fn main() -> ExitCode {
    // No demo instance here: `belfry --headless --demo` has it.
    belfry_app::headless::main(None)
}
