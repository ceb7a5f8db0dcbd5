//! A tray icon without a GUI toolkit: a StatusNotifierItem
//! (`org.kde.StatusNotifierItem`) and its menu (`com.canonical.dbusmenu`)
//! on the session bus, which is all a Linux panel sees of any tray icon.
//! The headless mode shows its state, the last unread, pause and quit
//! with it at the cost of a D-Bus object, where the desktop shell's tray
//! (libappindicator through Tauri) needs GTK in the process.
//!
//! Written here on the zbus the toasts already use rather than with the
//! `ksni` crate: ksni is built on zbus 5, a second D-Bus stack of about a
//! megabyte in a process whose budget is 8 MB.
//!
//! The icon is named, not sent: the caller writes its PNGs to a directory
//! and gives it as `IconThemePath`, as libappindicator does.

use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use zbus::object_server::SignalEmitter;
use zbus::{OwnedObjectPath, OwnedVariant, Variant};

use crate::menu::Entry;

const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const WATCHER_PATH: &str = "/StatusNotifierWatcher";
const ITEM_PATH: &str = "/StatusNotifierItem";
const MENU_PATH: &str = "/MenuBar";

/// Why there is no tray icon.
#[derive(Debug, thiserror::Error)]
pub enum TrayError {
    /// No session bus to put it on.
    #[error("no session bus: {0}")]
    NoBus(String),
    /// Nothing on the bus shows tray icons (no StatusNotifierWatcher).
    #[error("no tray on this desktop (nothing owns {WATCHER})")]
    NoHost,
    /// The bus refused a call.
    #[error("tray: {what}: {error}")]
    Bus {
        /// What was being done.
        what: &'static str,
        /// The bus's error.
        error: String,
    },
}

/// How the icon looks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Look {
    /// The icon: a file name without `.png` in `icon_dir`, or a theme icon.
    pub icon_name: String,
    /// Where `icon_name`'s PNG is (empty: the icon theme's).
    pub icon_dir: String,
    /// The item's title (some panels show it beside the icon).
    pub title: String,
    /// The tooltip's text.
    pub tooltip: String,
}

/// What is clicked: the entry's id, or `"activate"` for the icon itself.
pub type OnClick = Arc<dyn Fn(String) + Send + Sync>;

pub use crate::menu::ACTIVATE;

/// The menu as laid out for dbusmenu: each entry gets a number, in order,
/// from 1 (0 is the root).
#[derive(Default)]
struct Shown {
    look: Look,
    menu: Vec<Entry>,
    revision: u32,
}

type Props = HashMap<String, OwnedVariant>;

/// A dbusmenu layout node, `(ia{sv}av)`: id, properties, children.
type Layout = (i32, Props, Vec<OwnedVariant>);

fn variant<'a>(v: impl Into<Variant<'a>>) -> OwnedVariant {
    // Only values holding file descriptors fail to convert; none here.
    OwnedVariant::try_from(v.into()).unwrap_or_else(|_| OwnedVariant::from(0i32))
}

/// A label as dbusmenu takes it: the entries hold plain text, and dbusmenu
/// reads a single `_` as a mnemonic marker ("SLA_breach" would show as
/// "SLAbreach" with an underlined b), so each one is doubled.
fn label(text: &str) -> OwnedVariant {
    variant(text.replace('_', "__").as_str())
}

fn props(e: &Entry) -> Props {
    let mut p = Props::new();
    match e {
        Entry::Item { label, enabled, .. } => {
            p.insert("label".into(), self::label(label));
            if !enabled {
                p.insert("enabled".into(), variant(false));
            }
        }
        Entry::Check { label, checked, .. } => {
            p.insert("label".into(), self::label(label));
            p.insert("toggle-type".into(), variant("checkmark"));
            p.insert("toggle-state".into(), variant(i32::from(*checked)));
        }
        Entry::Separator => {
            p.insert("type".into(), variant("separator"));
        }
        Entry::Submenu { label, .. } => {
            p.insert("label".into(), self::label(label));
            p.insert("children-display".into(), variant("submenu"));
        }
    }
    p
}

/// A node of the laid-out menu: its number, entry and children.
struct Node<'a> {
    id: i32,
    entry: Option<&'a Entry>,
    children: Vec<Node<'a>>,
}

fn lay_out<'a>(entries: &'a [Entry], next: &mut i32) -> Vec<Node<'a>> {
    entries
        .iter()
        .map(|e| {
            let id = *next;
            *next += 1;
            let children = match e {
                Entry::Submenu { entries, .. } => lay_out(entries, next),
                _ => Vec::new(),
            };
            Node {
                id,
                entry: Some(e),
                children,
            }
        })
        .collect()
}

fn root(menu: &[Entry]) -> Node<'_> {
    let mut next = 1;
    Node {
        id: 0,
        entry: None,
        children: lay_out(menu, &mut next),
    }
}

impl Node<'_> {
    fn find(&self, id: i32) -> Option<&Self> {
        if self.id == id {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(id))
    }

    fn props(&self) -> Props {
        match self.entry {
            Some(e) => props(e),
            None => {
                let mut p = Props::new();
                p.insert("children-display".into(), variant("submenu"));
                p
            }
        }
    }

    /// `(ia{sv}av)`, children down to `depth` levels (-1: all).
    fn layout(&self, depth: i32) -> Layout {
        let children = if depth == 0 {
            Vec::new()
        } else {
            self.children
                .iter()
                .map(|c| variant(c.layout(depth - 1)))
                .collect()
        };
        (self.id, self.props(), children)
    }

    /// The id a click on it reports, if it does something.
    fn action(&self) -> Option<&str> {
        match self.entry? {
            Entry::Item {
                id, enabled: true, ..
            }
            | Entry::Check { id, .. } => Some(id),
            _ => None,
        }
    }
}

fn no_item(id: i32) -> zbus::fdo::Error {
    zbus::fdo::Error::InvalidArgs(format!("id {id} does not refer to a menu item"))
}

struct Item {
    shown: Arc<Mutex<Shown>>,
    on_click: OnClick,
    id: String,
}

impl Item {
    fn look(&self) -> Look {
        self.shown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .look
            .clone()
    }
}

type Pixmaps = Vec<(i32, i32, Vec<u8>)>;

#[zbus::interface(name = "org.kde.StatusNotifierItem", introspection_docs = false)]
impl Item {
    #[zbus(property)]
    fn category(&self) -> &str {
        "Communications"
    }
    #[zbus(property)]
    fn id(&self) -> &str {
        &self.id
    }
    #[zbus(property)]
    fn title(&self) -> String {
        self.look().title
    }
    #[zbus(property)]
    fn status(&self) -> &str {
        "Active"
    }
    #[zbus(property)]
    fn window_id(&self) -> i32 {
        0
    }
    #[zbus(property)]
    fn icon_name(&self) -> String {
        self.look().icon_name
    }
    #[zbus(property)]
    fn icon_theme_path(&self) -> String {
        self.look().icon_dir
    }
    #[zbus(property)]
    fn icon_pixmap(&self) -> Pixmaps {
        Vec::new()
    }
    #[zbus(property)]
    fn overlay_icon_name(&self) -> &str {
        ""
    }
    #[zbus(property)]
    fn attention_icon_name(&self) -> &str {
        ""
    }
    #[zbus(property)]
    fn tool_tip(&self) -> (String, Pixmaps, String, String) {
        let look = self.look();
        (String::new(), Vec::new(), look.title, look.tooltip)
    }
    /// A left click reaches [`Item::activate`]; the menu is on the right.
    #[zbus(property)]
    fn item_is_menu(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn menu(&self) -> OwnedObjectPath {
        OwnedObjectPath::try_from(MENU_PATH).unwrap_or_default()
    }

    fn activate(&self, _x: i32, _y: i32) {
        (self.on_click)(ACTIVATE.to_owned());
    }
    fn secondary_activate(&self, _x: i32, _y: i32) {}
    fn context_menu(&self, _x: i32, _y: i32) {}
    fn scroll(&self, _delta: i32, _orientation: &str) {}

    #[zbus(signal)]
    async fn new_title(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
    #[zbus(signal)]
    async fn new_icon(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
    #[zbus(signal)]
    async fn new_tool_tip(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
}

struct DbusMenu {
    shown: Arc<Mutex<Shown>>,
    on_click: OnClick,
}

impl DbusMenu {
    fn with<T>(&self, f: impl FnOnce(u32, &Node<'_>) -> T) -> T {
        let shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        f(shown.revision, &root(&shown.menu))
    }

    fn on_event(&self, id: i32, event: &str) -> zbus::fdo::Result<()> {
        let action = self.with(|_, root| {
            root.find(id)
                .ok_or_else(|| no_item(id))
                .map(|n| n.action().map(str::to_owned))
        })?;
        if event == "clicked"
            && let Some(action) = action
        {
            (self.on_click)(action);
        }
        Ok(())
    }
}

#[zbus::interface(name = "com.canonical.dbusmenu", introspection_docs = false)]
impl DbusMenu {
    #[zbus(out_args("revision", "layout"))]
    fn get_layout(
        &self,
        parent: i32,
        depth: i32,
        _names: Vec<String>,
    ) -> zbus::fdo::Result<(u32, Layout)> {
        self.with(|revision, root| {
            let node = root.find(parent).ok_or_else(|| no_item(parent))?;
            Ok((revision, node.layout(depth)))
        })
    }

    fn get_group_properties(&self, ids: Vec<i32>, _names: Vec<String>) -> Vec<(i32, Props)> {
        self.with(|_, root| {
            ids.iter()
                .filter_map(|id| root.find(*id).map(|n| (*id, n.props())))
                .collect()
        })
    }

    fn get_property(&self, id: i32, name: &str) -> zbus::fdo::Result<OwnedVariant> {
        self.with(|_, root| {
            let node = root.find(id).ok_or_else(|| no_item(id))?;
            node.props()
                .remove(name)
                .ok_or_else(|| zbus::fdo::Error::InvalidArgs(format!("no property {name}")))
        })
    }

    fn event(
        &self,
        id: i32,
        event: &str,
        _data: OwnedVariant,
        _timestamp: u32,
    ) -> zbus::fdo::Result<()> {
        self.on_event(id, event)
    }

    fn event_group(&self, events: Vec<(i32, String, OwnedVariant, u32)>) -> Vec<i32> {
        events
            .into_iter()
            .filter(|(id, event, ..)| self.on_event(*id, event).is_err())
            .map(|(id, ..)| id)
            .collect()
    }

    fn about_to_show(&self, _id: i32) -> bool {
        false
    }

    fn about_to_show_group(&self, _ids: Vec<i32>) -> (Vec<i32>, Vec<i32>) {
        (Vec::new(), Vec::new())
    }

    #[zbus(property)]
    fn version(&self) -> u32 {
        3
    }
    #[zbus(property)]
    fn text_direction(&self) -> &str {
        "ltr"
    }
    #[zbus(property)]
    fn status(&self) -> &str {
        "normal"
    }
    #[zbus(property)]
    fn icon_theme_path(&self) -> Vec<String> {
        Vec::new()
    }

    #[zbus(signal)]
    async fn layout_updated(
        emitter: &SignalEmitter<'_>,
        revision: u32,
        parent: i32,
    ) -> zbus::Result<()>;
}

/// Whether the session bus has a panel that shows StatusNotifierItems
/// (blocking: asked before any runtime is up).
pub fn panel_present() -> Result<bool, TrayError> {
    zbus::block_on(async {
        let conn = zbus::Connection::session()
            .await
            .map_err(|e| TrayError::NoBus(e.to_string()))?;
        has_watcher(&conn).await
    })
}

async fn has_watcher(conn: &zbus::Connection) -> Result<bool, TrayError> {
    conn.call_method(
        Some("org.freedesktop.DBus"),
        "/org/freedesktop/DBus",
        Some("org.freedesktop.DBus"),
        "NameHasOwner",
        &(WATCHER,),
    )
    .await
    .and_then(|r| r.body().deserialize::<bool>())
    .map_err(bus("looking for the panel"))
}

/// The tray icon, registered with the panel for as long as it lives (and
/// again whenever the panel restarts).
pub struct StatusItem {
    conn: zbus::Connection,
    shown: Arc<Mutex<Shown>>,
}

impl StatusItem {
    /// Puts the icon on the session bus and registers it with the panel.
    /// `id` names the app to the panel; `on_click` hears the menu.
    pub async fn start(
        id: &str,
        look: Look,
        menu: Vec<Entry>,
        on_click: OnClick,
    ) -> Result<Self, TrayError> {
        let conn = zbus::Connection::session()
            .await
            .map_err(|e| TrayError::NoBus(e.to_string()))?;
        if !has_watcher(&conn).await? {
            return Err(TrayError::NoHost);
        }
        let shown = Arc::new(Mutex::new(Shown {
            look,
            menu,
            revision: 1,
        }));
        let item = Item {
            shown: Arc::clone(&shown),
            on_click: Arc::clone(&on_click),
            id: id.to_owned(),
        };
        let dbusmenu = DbusMenu {
            shown: Arc::clone(&shown),
            on_click,
        };
        let server = conn.object_server();
        let served = async {
            server.at(ITEM_PATH, item).await?;
            server.at(MENU_PATH, dbusmenu).await
        };
        served.await.map_err(bus("serving the icon"))?;
        let name = format!("org.kde.StatusNotifierItem-{}-1", std::process::id());
        conn.request_name(name.as_str())
            .await
            .map_err(bus("naming the icon"))?;
        register(&conn, &name).await?;
        let again = conn.clone();
        // The panel forgets the icon when it restarts: register again
        // whenever the watcher's name gets a new owner.
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .sender("org.freedesktop.DBus")
            .interface("org.freedesktop.DBus")
            .member("NameOwnerChanged")
            .add_arg(WATCHER)
            .build()
            .map_err(bus("watching the panel"))?;
        let stream = zbus::MessageStream::for_match_rule(rule, &conn, None)
            .await
            .map_err(bus("watching the panel"))?;
        std::thread::Builder::new()
            .name("belfry-tray".into())
            .spawn(move || zbus::block_on(reregister(stream, again, name)))
            .map_err(bus("watching the panel"))?;
        Ok(Self { conn, shown })
    }

    /// Returns once what this icon has sent so far (the reply to the
    /// panel's click among them) is out: a round trip to the bus daemon,
    /// which reads a connection's messages in order. A process about to
    /// replace itself (exec) calls it first, or the panel's click may get
    /// no reply.
    pub async fn settle(&self) {
        let pinged = self
            .conn
            .call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some("org.freedesktop.DBus.Peer"),
                "Ping",
                &(),
            )
            .await;
        if let Err(e) = pinged {
            tracing::debug!(error = %e, "tray settle");
        }
    }

    /// Shows `look` and `menu`, telling the panel what changed.
    pub async fn set(&self, look: Look, menu: Vec<Entry>) {
        let (look_changed, layout) = {
            let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
            let look_changed = shown.look != look;
            let menu_changed = shown.menu != menu;
            shown.look = look;
            shown.menu = menu;
            if menu_changed {
                shown.revision = shown.revision.wrapping_add(1);
            }
            (look_changed, menu_changed.then_some(shown.revision))
        };
        let sent = async {
            if look_changed {
                let item = SignalEmitter::new(&self.conn, ITEM_PATH)?;
                Item::new_icon(&item).await?;
                Item::new_tool_tip(&item).await?;
                Item::new_title(&item).await?;
            }
            if let Some(revision) = layout {
                let menu = SignalEmitter::new(&self.conn, MENU_PATH)?;
                DbusMenu::layout_updated(&menu, revision, 0).await?;
            }
            Ok::<_, zbus::Error>(())
        };
        if let Err(e) = sent.await {
            tracing::debug!(error = %e, "tray update");
        }
    }
}

async fn register(conn: &zbus::Connection, name: &str) -> Result<(), TrayError> {
    conn.call_method(
        Some(WATCHER),
        WATCHER_PATH,
        Some(WATCHER),
        "RegisterStatusNotifierItem",
        &(name,),
    )
    .await
    .map(drop)
    .map_err(bus("registering with the panel"))
}

fn bus<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> TrayError {
    move |e| TrayError::Bus {
        what,
        error: e.to_string(),
    }
}

async fn reregister(mut stream: zbus::MessageStream, conn: zbus::Connection, name: String) {
    while let Some(msg) = stream.next().await {
        let Ok(msg) = msg else { continue };
        let Ok((_, _, new_owner)) = msg.body().deserialize::<(String, String, String)>() else {
            continue;
        };
        if new_owner.is_empty() {
            tracing::info!("the panel's tray went away; waiting for it");
            continue;
        }
        // The new watcher owns its name before it serves its object: a
        // call at once can find nothing there yet.
        let mut last = None;
        for attempt in 0..10u64 {
            match register(&conn, &name).await {
                Ok(()) => {
                    tracing::info!("the panel's tray is back; icon registered again");
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
            std::thread::sleep(std::time::Duration::from_millis(100 * (attempt + 1)));
        }
        if let Some(e) = last {
            tracing::warn!(error = %e, "registering the tray icon again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> Entry {
        Entry::Item {
            id: id.into(),
            label: id.into(),
            enabled: true,
        }
    }

    #[test]
    fn entries_are_numbered_in_order_through_submenus() {
        let menu = vec![
            item("open"),
            Entry::Separator,
            Entry::Submenu {
                label: "Pause".into(),
                entries: vec![item("pause:30"), item("resume")],
            },
            item("quit"),
        ];
        let root = root(&menu);
        let ids: Vec<_> = [1, 3, 4, 5, 6]
            .iter()
            .map(|id| root.find(*id).and_then(Node::action))
            .collect();
        assert_eq!(
            ids,
            [
                Some("open"),
                None,
                Some("pause:30"),
                Some("resume"),
                Some("quit")
            ]
        );
        assert!(root.find(7).is_none());
        let (id, _, children) = root.layout(-1);
        assert_eq!((id, children.len()), (0, 4));
        let (_, _, shallow) = root.layout(0);
        assert!(shallow.is_empty());
    }

    #[test]
    fn a_disabled_line_reports_no_click() {
        let menu = vec![Entry::Item {
            id: "state".into(),
            label: "Connected".into(),
            enabled: false,
        }];
        let root = root(&menu);
        assert_eq!(root.find(1).and_then(Node::action), None);
        assert!(
            root.find(1)
                .is_some_and(|n| n.props().contains_key("enabled"))
        );
    }

    #[test]
    fn an_underscore_in_a_label_is_shown_as_one() {
        let menu = vec![Entry::Item {
            id: "item:1".into(),
            label: "SLA_breach & co".into(),
            enabled: true,
        }];
        let root = root(&menu);
        let label = root
            .find(1)
            .and_then(|n| n.props().get("label").cloned())
            .and_then(|v| String::try_from(v).ok());
        assert_eq!(label.as_deref(), Some("SLA__breach & co"));
    }
}
