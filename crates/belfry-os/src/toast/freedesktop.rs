//! Toasts on Linux and the BSDs: the freedesktop notification service
//! (`org.freedesktop.Notifications`) on the session bus.
//!
//! Written against zbus (the D-Bus crate notify-rust itself uses) rather
//! than through notify-rust's handles, because notify-rust opens a new bus
//! connection for every toast and needs a thread blocked per toast to hear
//! its actions; daemons such as dunst address `ActionInvoked` to the
//! connection that sent the toast. Belfry keeps toasts up for hours,
//! replaces and closes them per item, and needs one listener for all of
//! them: so one connection sends every `Notify`, `CloseNotification` and
//! hears every signal.

use super::{
    ACTION_OPEN, ACTION_READ, ACTION_READY, AppIdentity, DEFAULT_ACTION, escape_markup, text,
};
use belfry_core::router::{Toast, ToastBody, ToastKey, Urgency};
use belfry_core::sinks::{OnToastEvent, SinkError, ToastEvent};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use zbus::Variant;

const BUS: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// `NotificationClosed` reasons (spec 1.2): 1 expired, 2 dismissed by the
/// user, 3 closed by a `CloseNotification` call, 4 undefined.
const CLOSED_BY_CALL: u32 = 3;

/// Which toast is which: the daemon's ids both ways, which daemon (its
/// unique bus name) answered last, and what the daemon can do.
struct Shown {
    by_key: HashMap<ToastKey, u32>,
    by_id: HashMap<u32, (ToastKey, Option<String>)>,
    service: Option<String>,
    caps: Caps,
    /// The daemon `caps` were read from; `None` once the name changed
    /// hands, so the next toast asks first. A daemon other than this one
    /// is asked before it is spoken to in the first one's terms.
    caps_from: Option<String>,
}

impl Shown {
    /// The service changed hands: the toasts the one before showed went
    /// with it. Returns their keys, except `keep`'s.
    fn all_gone(&mut self, keep: Option<&ToastKey>) -> Vec<ToastKey> {
        let gone = self
            .by_key
            .keys()
            .filter(|k| Some(*k) != keep)
            .cloned()
            .collect();
        self.by_key.clear();
        self.by_id.clear();
        gone
    }

    fn forget(&mut self, id: u32) -> Option<(ToastKey, Option<String>)> {
        let entry = self.by_id.remove(&id)?;
        if self.by_key.get(&entry.0) == Some(&id) {
            self.by_key.remove(&entry.0);
        }
        Some(entry)
    }
}

/// What the service can do, from `GetCapabilities`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Caps {
    /// It renders a markup subset in bodies: escape it.
    pub markup: bool,
    /// It renders markup in titles too (dunst's and mako's formats wrap
    /// the summary in markup): escape those as well. The specification
    /// makes the summary plain text, and the daemons that keep to it
    /// (GNOME Shell, Plasma, Xfce) would show an escaped title's `&lt;`.
    pub title_markup: bool,
    /// It shows action buttons.
    pub actions: bool,
    /// It keeps toasts in a list of its own once they leave the screen
    /// (GNOME, KDE, Xfce). Without it (dunst, mako) a toast is on screen
    /// until the service closes it, which it may not do while the user is
    /// away.
    pub persistence: bool,
}

/// Daemons known to show the summary as plain text, by the name
/// `GetServerInformation` gives; any other daemon that renders body markup
/// gets its titles escaped too (a literal `&lt;` is the safe mistake).
const PLAIN_TITLES: &[&str] = &[
    "gnome-shell",
    "Plasma",
    "Xfce Notify Daemon",
    "notification-daemon",
];

impl Caps {
    fn of(caps: &[String], server: Option<&str>) -> Self {
        let has = |c: &str| caps.iter().any(|x| x == c);
        let markup = has("body-markup");
        Self {
            markup,
            title_markup: markup && !server.is_some_and(|s| PLAIN_TITLES.contains(&s)),
            actions: has("actions"),
            persistence: has("persistence"),
        }
    }
}

/// The freedesktop toaster.
pub(super) struct Freedesktop {
    conn: zbus::Connection,
    app: AppIdentity,
    shown: Arc<Mutex<Shown>>,
    on_event: OnToastEvent,
}

fn bus_error(what: &str, e: &zbus::Error) -> SinkError {
    SinkError(format!("notification service: {what}: {e}"))
}

/// Asks `service` (the well-known name, or one daemon's unique name) what
/// it can do; returns that and the unique name that answered.
async fn capabilities(
    conn: &zbus::Connection,
    service: &str,
) -> Result<(Caps, Option<String>), SinkError> {
    let reply = conn
        .call_method(Some(service), PATH, Some(BUS), "GetCapabilities", &())
        .await
        .map_err(|e| bus_error("no notification service", &e))?;
    let caps: Vec<String> = reply
        .body()
        .deserialize()
        .map_err(|e| bus_error("capabilities", &e))?;
    let from = reply.header().sender().map(|s| s.to_string());
    // Which daemon it is, for how it treats titles; one that does not say
    // is treated as rendering markup there.
    let server = match conn
        .call_method(Some(service), PATH, Some(BUS), "GetServerInformation", &())
        .await
    {
        Ok(reply) => reply
            .body()
            .deserialize::<(String, String, String, String)>()
            .ok()
            .map(|(name, ..)| name),
        Err(_) => None,
    };
    Ok((Caps::of(&caps, server.as_deref()), from))
}

impl Freedesktop {
    pub async fn connect(app: AppIdentity, on_event: OnToastEvent) -> Result<Self, SinkError> {
        let conn = zbus::Connection::session()
            .await
            .map_err(|e| bus_error("no session bus", &e))?;
        let (caps, caps_from) = capabilities(&conn, BUS).await?;
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface(BUS)
            .path(PATH)
            .build()
            .map_err(|e| bus_error("signal rule", &e))?;
        let stream = zbus::MessageStream::for_match_rule(rule, &conn, None)
            .await
            .map_err(|e| bus_error("listening for actions", &e))?;
        // The daemon leaving or another taking its place, as it happens:
        // its toasts are gone, and the next one is asked what it can do.
        let owner_rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .sender("org.freedesktop.DBus")
            .interface("org.freedesktop.DBus")
            .member("NameOwnerChanged")
            .add_arg(BUS)
            .build()
            .map_err(|e| bus_error("signal rule", &e))?;
        let owners = zbus::MessageStream::for_match_rule(owner_rule, &conn, None)
            .await
            .map_err(|e| bus_error("watching the service", &e))?;
        let shown = Arc::new(Mutex::new(Shown {
            by_key: HashMap::new(),
            by_id: HashMap::new(),
            service: caps_from.clone(),
            caps,
            caps_from,
        }));
        let listener = listen(
            futures_util::stream::select(stream, owners),
            Arc::clone(&shown),
            Arc::clone(&on_event),
        );
        // A task on the app's runtime where there is one (the engine's
        // toast worker connects from it): a thread of its own costs a stack
        // and an allocator cache for a signal now and then.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(listener)),
            Err(_) => {
                std::thread::Builder::new()
                    .name("belfry-toast-events".into())
                    .spawn(move || zbus::block_on(listener))
                    .map_err(|e| SinkError(format!("starting the toast listener: {e}")))?;
            }
        }
        Ok(Self {
            conn,
            app,
            shown,
            on_event,
        })
    }

    /// What the service answering now can do.
    pub fn caps(&self) -> Caps {
        self.lock().caps
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shown> {
        self.shown.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub async fn show(&self, toast: &Toast) -> Result<(), SinkError> {
        let (mut caps, replaces, known) = {
            let shown = self.lock();
            let replaces = shown.by_key.get(&toast.key).copied().unwrap_or(0);
            (shown.caps, replaces, shown.caps_from.is_some())
        };
        // The name changed hands since the last toast: ask the new daemon.
        if !known {
            let (now, from) = capabilities(&self.conn, BUS).await?;
            tracing::info!(caps = ?now, "asked the notification service what it can do");
            let mut shown = self.lock();
            shown.caps = now;
            shown.caps_from = from;
            caps = now;
        }
        let (mut id, service) = self.notify(toast, caps, replaces).await?;
        // Another daemon answered than the one whose capabilities were read
        // (it took the name between its signal and this call): ask it, and
        // where it differs show the toast again in its terms, so text meant
        // for a plain-text daemon is never read as markup by this one.
        if let Some(name) = service.as_deref()
            && self.lock().caps_from.as_deref() != Some(name)
        {
            match capabilities(&self.conn, name).await {
                Ok((now, from)) => {
                    {
                        let mut shown = self.lock();
                        shown.caps = now;
                        shown.caps_from = from;
                    }
                    if (now.markup, now.title_markup, now.actions)
                        != (caps.markup, caps.title_markup, caps.actions)
                    {
                        id = self.notify(toast, now, id).await?.0;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the new notification service did not say what it can do")
                }
            }
        }
        let item = match &toast.body {
            ToastBody::Item(n) => Some(n.id.clone()),
            _ => None,
        };
        let mut shown = self.lock();
        // Another service answered: the one before went away (restarted,
        // crashed) and its toasts with it. The bus's signal says so too;
        // this is for a change that came between the signal and the call.
        // Report them closed, or the router would keep their places for a
        // service that keeps toasts until it closes them.
        let mut gone = Vec::new();
        if service.is_some() && shown.service.is_some() && shown.service != service {
            gone = shown.all_gone(Some(&toast.key));
        } else if replaces != 0 && replaces != id {
            shown.forget(replaces);
        }
        shown.service = service;
        shown.by_key.insert(toast.key.clone(), id);
        shown.by_id.insert(id, (toast.key.clone(), item));
        drop(shown);
        if !gone.is_empty() {
            tracing::info!(
                toasts = gone.len(),
                "the notification service changed hands: its toasts are gone"
            );
        }
        for key in gone {
            (self.on_event)(ToastEvent::Closed(key));
        }
        Ok(())
    }

    /// One `Notify` call in `caps`' terms; the id and the daemon that answered.
    async fn notify(
        &self,
        toast: &Toast,
        caps: Caps,
        replaces: u32,
    ) -> Result<(u32, Option<String>), SinkError> {
        let (title, body) = text(toast);
        let body = if caps.markup {
            escape_markup(&body)
        } else {
            body
        };
        let title = if caps.title_markup {
            escape_markup(&title)
        } else {
            title
        };
        let item = matches!(toast.body, ToastBody::Item(_));
        // Actions come in key/label pairs; "default" is a click on the toast.
        let reminder = toast.key == ToastKey::StatusReminder;
        let mut actions: Vec<&str> = vec![DEFAULT_ACTION, "Open"];
        if reminder {
            // The reminder has nothing to open: its one action sets the status.
            actions = vec![ACTION_READY, "Set ready"];
        } else if caps.actions {
            actions.extend([ACTION_OPEN, "Open"]);
            if item {
                actions.extend([ACTION_READ, "Mark read"]);
            }
        }
        let urgency: u8 = match toast.urgency {
            Urgency::Normal => 1,
            Urgency::Critical => 2,
        };
        let mut hints: HashMap<&str, Variant<'_>> = HashMap::new();
        hints.insert("urgency", Variant::U8(urgency));
        // Belfry plays the user's melody itself; the daemon stays silent.
        hints.insert("suppress-sound", Variant::Bool(true));
        hints.insert("category", Variant::Str("im.received".into()));
        hints.insert(
            "desktop-entry",
            Variant::Str(self.app.desktop_entry.as_str().into()),
        );
        let timeout = i32::try_from(toast.timeout.as_millis()).unwrap_or(i32::MAX);
        let reply = self
            .conn
            .call_method(
                Some(BUS),
                PATH,
                Some(BUS),
                "Notify",
                &(
                    self.app.name.as_str(),
                    replaces,
                    self.app.icon.as_str(),
                    title.as_str(),
                    body.as_str(),
                    actions,
                    hints,
                    timeout,
                ),
            )
            .await
            .map_err(|e| bus_error("showing a toast", &e))?;
        let id: u32 = reply
            .body()
            .deserialize()
            .map_err(|e| bus_error("toast id", &e))?;
        Ok((id, reply.header().sender().map(|s| s.to_string())))
    }

    pub async fn close(&self, key: &ToastKey) -> Result<(), SinkError> {
        let id = {
            let mut shown = self.lock();
            let Some(id) = shown.by_key.get(key).copied() else {
                return Ok(());
            };
            shown.forget(id);
            id
        };
        self.conn
            .call_method(Some(BUS), PATH, Some(BUS), "CloseNotification", &(id,))
            .await
            .map_err(|e| bus_error("closing a toast", &e))?;
        Ok(())
    }
}

/// Turns the service's signals into [`ToastEvent`]s, and follows the
/// service changing hands, until the bus goes away.
async fn listen(
    mut stream: impl futures_util::Stream<Item = zbus::Result<zbus::Message>> + Unpin,
    shown: Arc<Mutex<Shown>>,
    on_event: OnToastEvent,
) {
    let lock = || shown.lock().unwrap_or_else(PoisonError::into_inner);
    while let Some(msg) = stream.next().await {
        let Ok(msg) = msg else { continue };
        let header = msg.header();
        let Some(member) = header.member().map(|m| m.as_str().to_owned()) else {
            continue;
        };
        let event = match member.as_str() {
            "NameOwnerChanged" => {
                let Ok((_, old, new)) = msg.body().deserialize::<(String, String, String)>() else {
                    continue;
                };
                if !old.is_empty() {
                    let gone = {
                        let mut shown = lock();
                        shown.service = None;
                        shown.all_gone(None)
                    };
                    tracing::info!(
                        toasts = gone.len(),
                        "the notification service went away, and its toasts with it"
                    );
                    for key in gone {
                        on_event(ToastEvent::Closed(key));
                    }
                }
                // Asked before the next toast (see `show`), not here: a
                // call awaited in this loop would hold up the signals.
                let mut shown = lock();
                shown.caps_from = None;
                if !new.is_empty() {
                    tracing::info!("a notification service took the name");
                }
                continue;
            }
            "ActionInvoked" => {
                let Ok((id, action)) = msg.body().deserialize::<(u32, String)>() else {
                    continue;
                };
                let entry = lock().by_id.get(&id).cloned();
                let Some((key, item)) = entry else { continue };
                match (action.as_str(), item) {
                    (ACTION_READY, _) if key == ToastKey::StatusReminder => {
                        ToastEvent::SetReady(key)
                    }
                    (_, _) if key == ToastKey::StatusReminder => continue,
                    (DEFAULT_ACTION | ACTION_OPEN, item) => ToastEvent::Open(key, item),
                    (ACTION_READ, Some(item)) => ToastEvent::MarkRead(key, item),
                    _ => continue,
                }
            }
            "NotificationClosed" => {
                let Ok((id, reason)) = msg.body().deserialize::<(u32, u32)>() else {
                    continue;
                };
                let entry = lock().forget(id);
                match entry {
                    Some((key, _)) if reason != CLOSED_BY_CALL => ToastEvent::Closed(key),
                    _ => continue,
                }
            }
            _ => continue,
        };
        tracing::debug!(?event, "toast event");
        on_event(event);
    }
    tracing::warn!("the notification service's signals stopped; toast buttons no longer answer");
}
