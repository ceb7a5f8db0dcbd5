/**
 * The inbox window's English text: the reference dictionary. Every other
 * locale must have exactly these keys (`Messages` in ../i18n checks it).
 *
 * `{name}` is filled in by `t(key, { name })`; an entry with plural forms
 * is picked by `Intl.PluralRules` on `{count}`.
 */
import type { Message } from "../i18n";

export const en = {
  "inbox.title": "Notifications",
  "inbox.unread": { one: "{count} unread", other: "{count} unread" },
  "inbox.markAll": "Mark all read",
  "inbox.language": "Language",
  "inbox.filters": "Filters",
  "filter.readState": "Read state",
  "filter.all": "All",
  "filter.unread": "Unread",
  "filter.section": "Section",
  "filter.events": "Events",
  "filter.system": "System",
  "search.placeholder": "Search",
  "search.label": "Search notifications",
  "list.label": "Notifications",
  "list.keys": "Up and Down arrows move between notifications, Enter opens one, Space or R marks it read, / goes to the search, Escape clears it.",
  "list.empty": "No notifications",
  "list.emptyUnread": "No unread notifications",
  "day.today": "Today",
  "day.yesterday": "Yesterday",
  "item.open": "Open on the instance",
  "item.markRead": "Mark read",
  "item.markReadLabel": "Mark read: {title}",
  "item.label": "{title}. {body}. {day}, {time}",
  "item.labelUnread": "Unread: {title}. {body}. {day}, {time}",
  "status.retry": "Retry now",
  "status.starting": "Starting…",
  "status.signedOutProblem": "Signed out: {problem}",
  "status.connecting": "Connecting…",
  "status.connected": "Connected",
  "status.reconnecting": "Reconnecting in {secs} s",
  "status.offline": "Offline — showing saved notifications",
  "status.signedOut": "Signed out — sign in again",
  "status.incompatible": "This instance is not supported: {reason}",
  "status.stopped": "Stopped",
  "status.paused": " · paused until {time}",
  "status.quiet": " · quiet: {source}",
  "signin.title": "Sign in to your helpdesk",
  "signin.note": "Belfry keeps a token in your system keyring; your password is sent once and never stored.",
  "signin.locked": "Your organization has set the helpdesk address.",
  "signin.address": "Helpdesk address",
  "signin.login": "Login",
  "signin.password": "Password",
  "signin.submit": "Sign in",
  "signin.busy": "Signing in…",
  "signin.needAddress": "Enter the helpdesk address.",
  "signin.needLogin": "Enter your login.",
  "signin.needPassword": "Enter your password.",
  "account.signOut": "Sign out",
} as const satisfies Record<string, Message>;
