//! Build script: lets tauri-build read tauri.conf.json (the hello-world's
//! one window).

fn main() {
    tauri_build::build();
}
