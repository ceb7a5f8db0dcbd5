//! Windows's own OS parts, as the Windows pass runs them under Wine
//! (`cargo xtask windows`): each test names the Windows behaviour it covers.
//! What Wine cannot run (WinRT toasts, WebView2, the installers) is listed
//! in `docs/platforms.md`.

// Windows only: on Linux the same parts are the rig's (os_sinks, core_sync).
#![cfg(windows)]
// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_core::config::Paths;
use belfry_core::managed::{Language, Managed};
use belfry_core::secret::Secret;
use belfry_os::autostart::{AUTOSTARTED, Autostart};
use belfry_os::secrets;
use std::path::Path;
use std::process::Command;

/// Runs Windows's `reg.exe` (Wine's, under Wine) and returns what it printed.
fn reg(args: &[&str]) -> (bool, String) {
    let out = Command::new("reg")
        .args(args)
        .output()
        .expect("reg.exe runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Credential Manager (keyring's Windows backend, `CredWriteW` /
/// `CredReadW` / `CredDeleteW`): the token is saved, read back, kept apart
/// per instance and login, and forgotten at sign-out.
#[test]
fn the_token_lives_in_credential_manager_per_instance_and_login() {
    let instance = "https://help.example.com/";
    let token = Secret::new("tok-3f9a");
    assert!(secrets::load(instance, "olga").unwrap().is_none());
    secrets::save(instance, "olga", &token).unwrap();
    secrets::save("https://other.example.com", "olga", &Secret::new("other")).unwrap();
    let back = secrets::load("https://help.example.com", "olga")
        .unwrap()
        .expect("saved");
    assert_eq!(
        back.expose(),
        "tok-3f9a",
        "the trailing slash names the same entry"
    );
    assert!(secrets::load(instance, "ivan").unwrap().is_none());
    secrets::delete(instance, "olga").unwrap();
    assert!(secrets::load(instance, "olga").unwrap().is_none());
    assert_eq!(
        secrets::load("https://other.example.com", "olga")
            .unwrap()
            .expect("the other instance's entry stays")
            .expose(),
        "other"
    );
    secrets::delete("https://other.example.com", "olga").unwrap();
    // Forgetting what is not there is no error (a second sign-out).
    secrets::delete(instance, "olga").unwrap();
}

/// The managed configuration in the registry, as Group Policy writes it
/// (`docs/admin.md`): `HKLM\Software\Policies\Belfry` enforced, its
/// `Recommended` subkey defaults; a value of the wrong type is an error
/// naming it. One test, because the keys are the machine's.
#[test]
fn policy_keys_in_the_registry_are_the_managed_configuration() {
    const POLICY: &str = r"HKLM\Software\Policies\Belfry";
    const RECOMMENDED: &str = r"HKLM\Software\Policies\Belfry\Recommended";
    let _ = reg(&["delete", POLICY, "/f"]);
    // The variable would point the app at a file instead of the registry.
    assert!(std::env::var_os("BELFRY_MANAGED_CONFIG").is_none());
    assert_eq!(Managed::load_platform().unwrap(), Managed::default());

    for (key, name, kind, value) in [
        (POLICY, "Instance", "REG_SZ", "https://help.example.com"),
        (POLICY, "Updates", "REG_DWORD", "0"),
        (RECOMMENDED, "Language", "REG_SZ", "uk"),
        (RECOMMENDED, "Autostart", "REG_DWORD", "1"),
    ] {
        let (ok, out) = reg(&["add", key, "/v", name, "/t", kind, "/d", value, "/f"]);
        assert!(ok, "reg add {key} {name}: {out}");
    }
    let m = Managed::load_platform().unwrap();
    assert_eq!(
        m.enforced.instance.as_deref(),
        Some("https://help.example.com")
    );
    assert_eq!(m.enforced.updates, Some(false));
    assert_eq!(m.defaults.language, Some(Language::Uk));
    assert_eq!(m.defaults.autostart, Some(true));
    assert_eq!(m.enforced.autostart, None);

    // An admin's typo: Autostart as text. The app must say which value.
    let (ok, _) = reg(&[
        "add",
        POLICY,
        "/v",
        "Autostart",
        "/t",
        "REG_SZ",
        "/d",
        "yes",
        "/f",
    ]);
    assert!(ok);
    let err = Managed::load_platform().expect_err("a string where a DWORD belongs");
    assert!(err.to_string().contains("Autostart"), "{err}");
    let (ok, _) = reg(&["delete", POLICY, "/f"]);
    assert!(ok);
    assert_eq!(Managed::load_platform().unwrap(), Managed::default());
}

/// Start at login: the `Run` key under HKCU names this program with
/// `--autostarted`, and turning it off removes it.
#[test]
fn start_at_login_is_the_run_key() {
    const RUN: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";
    let entry = Autostart::for_this_app(&["--headless"]).unwrap();
    entry.set(true).unwrap();
    assert!(entry.is_enabled().unwrap());
    let (ok, out) = reg(&["query", RUN, "/v", belfry_os::autostart::NAME]);
    assert!(ok, "the Run value is there: {out}");
    let exe = std::env::current_exe().unwrap();
    let exe_name = exe.file_name().unwrap().to_string_lossy().into_owned();
    assert!(out.contains(&exe_name), "it starts this program: {out}");
    assert!(out.contains(AUTOSTARTED), "in the tray, no window: {out}");
    assert!(out.contains("--headless"), "{out}");
    entry.set(false).unwrap();
    assert!(!entry.is_enabled().unwrap());
    let (ok, _) = reg(&["query", RUN, "/v", belfry_os::autostart::NAME]);
    assert!(!ok, "the Run value is gone");
}

/// The platform's folders: the settings roam with the user (`%APPDATA%`);
/// the inbox, sound copies, logs and cache stay on the machine
/// (`%LOCALAPPDATA%`), out of a domain's roaming profile; paths are
/// Windows paths; and saving the settings again replaces the file in
/// place (a rename over an existing file, which Windows refuses where
/// Unix allows it, unless asked to replace).
#[test]
fn files_go_to_appdata_and_are_replaced_in_place() {
    let appdata = std::env::var_os("APPDATA").expect("Windows sets APPDATA");
    let local = std::env::var_os("LOCALAPPDATA").expect("Windows sets LOCALAPPDATA");
    let paths = Paths::platform().unwrap();
    assert!(
        paths.config_dir.starts_with(Path::new(&appdata)),
        "{:?} under {appdata:?}",
        paths.config_dir
    );
    assert!(
        paths.log_dir.starts_with(Path::new(&local)),
        "{:?} under {local:?}",
        paths.log_dir
    );
    assert!(paths.cache_dir.starts_with(Path::new(&local)));
    assert!(
        paths.data_dir.starts_with(Path::new(&local)),
        "the inbox does not roam: {:?}",
        paths.data_dir
    );
    paths.create().unwrap();
    let store = paths.store_file("https://help.example.com", "olga");
    assert!(store.starts_with(&paths.data_dir));
    assert!(
        !store.to_string_lossy().contains('/'),
        "a Windows path: {store:?}"
    );
    // The inbox opens there: a file name Windows takes (no ':' or other
    // character NTFS refuses, whatever the instance's address holds).
    let inbox = belfry_core::store::Store::open(&store).unwrap();
    assert_eq!(inbox.unread().unwrap().total, 0);
    assert!(store.is_file(), "{store:?}");

    // Settings saved twice: the second save replaces the first in place.
    let mut cfg = belfry_core::config::DeviceConfig::default();
    cfg.sound.volume = 0.25;
    cfg.save(&paths.config_file()).unwrap();
    cfg.sound.volume = 0.75;
    cfg.save(&paths.config_file()).unwrap();
    let back = belfry_core::config::DeviceConfig::load(&paths.config_file()).unwrap();
    assert!((back.sound.volume - 0.75).abs() < f32::EPSILON);
}
