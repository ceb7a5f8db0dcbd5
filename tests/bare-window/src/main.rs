//! The floors of the benchmarks' open-window figure (`tests/src/bin/bench/
//! footprint.rs`), measured in the same run as Belfry's window:
//!
//! - `bare-window` (or `tauri`): Tauri 2's hello-world, one window with a
//!   static page, every setting left as Tauri makes it;
//! - `bare-window tauri-without-gl`: the same with WebKit's hardware
//!   acceleration off, as Belfry's inbox window has it;
//! - `bare-window webkit` (Linux): no Tauri at all, one GTK window holding
//!   one WebKitGTK webview with hardware acceleration off and the same page:
//!   the least any app whose window is a WebKitGTK webview maps;
//! - `bare-window first-paint`: the floor of "Open inbox" (`tests/src/bin/
//!   bench/open.rs`): the hello-world, hardware acceleration off, prints
//!   `painted` when its page is first on screen (the page says so a frame
//!   after it is drawn, as Belfry's inbox does), then closes its window and
//!   opens a new one [`REOPENS`] times, printing `reopened <ms>` for each:
//!   from asking for the window to its page on screen.
//!
//! A fixture, not a product: it exists so the table can say how much of the
//! window's memory is WebKit's before Belfry adds anything.

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

/// New windows the first-paint mode opens after its first.
const REOPENS: usize = 13;

/// The page every mode shows.
#[cfg(target_os = "linux")]
const PAGE: &str = include_str!("../dist/index.html");

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "tauri".into());
    let ran = match mode.as_str() {
        "tauri" => tauri_window(false),
        "tauri-without-gl" => tauri_window(true),
        "first-paint" => first_paint(),
        "webkit" => webkit_window(),
        other => Err(format!(
            "unknown mode {other:?} (tauri, tauri-without-gl or webkit)"
        )),
    };
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bare-window: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The hello-world: Tauri's builder with its defaults and the configured
/// window; `without_gl` as Belfry's inbox sets it.
fn tauri_window(without_gl: bool) -> Result<(), String> {
    tauri::Builder::default()
        .setup(move |app| {
            if without_gl {
                use tauri::Manager as _;
                if let Some(window) = app.get_webview_window("main") {
                    no_hardware_acceleration(&window)?;
                }
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .map_err(|e| e.to_string())
}

#[cfg(target_os = "linux")]
fn no_hardware_acceleration(window: &tauri::WebviewWindow) -> tauri::Result<()> {
    window.with_webview(|webview| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt as _, WebViewExt as _};
        if let Some(settings) = webview.inner().settings() {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    })
}

#[cfg(not(target_os = "linux"))]
fn no_hardware_acceleration(_: &tauri::WebviewWindow) -> tauri::Result<()> {
    Ok(())
}

/// The first-paint mode's state: when the window now opening was asked
/// for (none for the first, which opens with the process), and how many
/// were opened.
#[derive(Default)]
struct Opening(Mutex<(Option<Instant>, usize)>);

/// The page is on screen (its script says so): print it, then close the
/// window and open the next.
#[tauri::command]
async fn painted(app: tauri::AppHandle, window: tauri::WebviewWindow) -> Result<(), String> {
    use std::io::Write as _;
    use tauri::Manager as _;
    let Some(opening) = app.try_state::<Opening>() else {
        // The memory modes load the same page: nothing to say there.
        return Ok(());
    };
    let mut o = opening.0.lock().map_err(|e| e.to_string())?;
    let line = match o.0.take() {
        None => "painted".to_owned(),
        Some(asked) => format!("reopened {:.3}", asked.elapsed().as_secs_f64() * 1e3),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    if o.1 >= REOPENS {
        return Ok(());
    }
    o.1 += 1;
    window.destroy().map_err(|e| e.to_string())?;
    o.0 = Some(Instant::now());
    let label = format!("w{}", o.1);
    drop(o);
    let next =
        tauri::WebviewWindowBuilder::new(&app, label, tauri::WebviewUrl::App("index.html".into()))
            .title("bare-window")
            .inner_size(420.0, 640.0)
            .build()
            .map_err(|e| e.to_string())?;
    no_hardware_acceleration(&next).map_err(|e| e.to_string())
}

/// The floor of "Open inbox": see the module's doc.
fn first_paint() -> Result<(), String> {
    tauri::Builder::default()
        .manage(Opening::default())
        .invoke_handler(tauri::generate_handler![painted])
        .setup(|app| {
            use tauri::Manager as _;
            if let Some(window) = app.get_webview_window("main") {
                no_hardware_acceleration(&window)?;
            }
            Ok(())
        })
        // Closing the last window does not end it: the next one opens.
        .build(tauri::generate_context!())
        .map_err(|e| e.to_string())?
        .run(|_, event| {
            if let tauri::RunEvent::ExitRequested {
                api, code: None, ..
            } = event
            {
                api.prevent_exit();
            }
        });
    Ok(())
}

/// One GTK window, one WebKitGTK webview, no Tauri.
#[cfg(target_os = "linux")]
fn webkit_window() -> Result<(), String> {
    use gtk::prelude::*;
    use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt as _, WebViewExt};
    gtk::init().map_err(|e| e.to_string())?;
    let window = gtk::Window::new(gtk::WindowType::Toplevel);
    window.set_title("bare-window");
    window.set_default_size(800, 600);
    let webview = webkit2gtk::WebView::new();
    if let Some(settings) = WebViewExt::settings(&webview) {
        settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
    }
    webview.load_html(PAGE, None);
    window.add(&webview);
    window.connect_destroy(|_| gtk::main_quit());
    window.show_all();
    gtk::main();
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn webkit_window() -> Result<(), String> {
    Err("the webkit mode is WebKitGTK's, on Linux only".into())
}
