//! A tray menu as plain data: what each line says and the id a click on it
//! reports. Built once by the app's menu for every tray, then drawn by
//! whichever tray the platform has: the StatusNotifierItem server in
//! `tray` (Linux and the BSDs) or the desktop shell's Tauri tray
//! (every platform). Compiled everywhere, so the menu's rules are checked on
//! Windows and macOS too; only the D-Bus server stays Linux-only.

/// What a tray reports when the icon itself is clicked (not an entry).
pub const ACTIVATE: &str = "activate";

/// One entry of the tray's menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A line that does something when clicked (its `id` is reported), or,
    /// not `enabled`, a line that only says something.
    Item {
        /// Reported when clicked.
        id: String,
        /// What it says, in plain text (a tray escapes its own markers, such as
        /// dbusmenu's `_`).
        label: String,
        /// Clickable.
        enabled: bool,
    },
    /// A line with a check mark.
    Check {
        /// Reported when clicked.
        id: String,
        /// What it says.
        label: String,
        /// Checked.
        checked: bool,
    },
    /// A line between groups.
    Separator,
    /// A line that opens more.
    Submenu {
        /// What it says.
        label: String,
        /// What it opens.
        entries: Vec<Entry>,
    },
}
