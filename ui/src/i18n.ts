/**
 * The window's language: English or Ukrainian. The organization's enforced
 * language if it sets one, else the user's choice (kept in localStorage),
 * else the organization's default, else the system's. `t(key, vars)` gives a string of the
 * current locale; dates, times and numbers are formatted with `Intl` in it.
 * Every string is for `textContent`: filled-in values are never parsed.
 */
import { en } from "./locales/en";
import { uk } from "./locales/uk";

/** The languages the window speaks. */
export type Locale = "en" | "uk";

/** A message with plural forms, picked by `Intl.PluralRules` on `{count}`. */
export type Plural = { readonly other: string } & {
  readonly [K in Exclude<Intl.LDMLPluralRule, "other">]?: string;
};

/** The forms every Ukrainian plural needs (1, 2–4, 5–20, fractions). */
export type UkrainianPlural = { readonly one: string; readonly few: string; readonly many: string; readonly other: string };

/** One dictionary entry. */
export type Message = string | Plural;

/** A message key: the English dictionary's. */
export type Key = keyof typeof en;

/** A whole dictionary: exactly the English keys, plurals where English has them. */
export type Messages<P extends Plural = Plural> = {
  readonly [K in Key]: (typeof en)[K] extends string ? string : P;
};

/** The languages offered in the window, each named in itself. */
export const LOCALES: readonly { code: Locale; name: string }[] = [
  { code: "en", name: "English" },
  { code: "uk", name: "Українська" },
];

/** Where the user's choice is kept in localStorage. */
export const STORAGE_KEY = "belfry.locale";

const dictionaries: Record<Locale, Messages> = { en, uk };

let current: Locale = "en";
let system: readonly string[] = [];
let store: Storage | null = null;
/** The user's choice in this window, also when storage could not keep it. */
let chosen: Locale | null = null;
let managed: ManagedLocale | null = null;
const listeners = new Set<(l: Locale) => void>();
const formats = new Map<string, unknown>();

function isLocale(s: unknown): s is Locale {
  return s === "en" || s === "uk";
}

/** The primary language subtag of a tag, lower case: "uk" for "uk_UA". */
function primary(tag: string): string {
  return tag.toLowerCase().split(/[-_]/)[0] ?? "";
}

/** The locale for a list of BCP 47 tags such as `navigator.languages`:
 * the first one the window speaks ("uk" for any uk*, "en" for any en*),
 * and English when none is. */
export function detectLocale(languages: readonly string[]): Locale {
  for (const tag of languages) {
    const p = primary(tag);
    if (isLocale(p)) return p;
  }
  return "en";
}

/** The current locale. */
export function locale(): Locale {
  return current;
}

/** Switches the locale (not saved: see `chooseLocale`), sets the page's
 * `lang`, and tells the listeners if it changed (or always, with `tell`). */
export function setLocale(l: Locale, tell = false): void {
  if (typeof document !== "undefined") document.documentElement.lang = l;
  if (l === current && !tell) return;
  current = l;
  for (const f of [...listeners]) f(l);
}

/** Calls `f` after every change of locale, until the returned function is called. */
export function onLocaleChange(f: (l: Locale) => void): () => void {
  listeners.add(f);
  return () => void listeners.delete(f);
}

/** The organization's language, as the shell says it (`General.language`):
 * a default is used until the user picks a language in the window; an
 * enforced one always, and the window's language cannot be changed. */
export type ManagedLocale = { readonly language: Locale; readonly enforced: boolean };

/** The user's choice kept in `storage`, if any. */
function saved(storage: Storage | null): Locale | null {
  try {
    const s = storage?.getItem(STORAGE_KEY) ?? null;
    return isLocale(s) ? s : null;
  } catch {
    // Storage can be unavailable: no choice kept, then.
    return null;
  }
}

/** The locale that applies now. */
function resolve(): Locale {
  if (managed?.enforced === true) return managed.language;
  return chosen ?? saved(store) ?? managed?.language ?? detectLocale(system);
}

/** Starts in the organization's enforced language, or else the one the
 * user chose before (in `storage`), or else the organization's default,
 * or else the system's (`languages`, which also give regional formats
 * such as en-GB). */
export function startLocale(storage: Storage | null, languages: readonly string[]): Locale {
  system = languages;
  store = storage;
  chosen = null;
  const l = resolve();
  setLocale(l);
  return l;
}

/** Takes the organization's language (`null`: it sets none) and switches
 * to what then applies; the listeners hear of it even when the language
 * stays, since the selects lock or unlock. A language the window does not
 * speak is ignored. */
export function manageLocale(m: { readonly language: string; readonly enforced: boolean } | null): Locale {
  const next = m !== null && isLocale(m.language) ? { language: m.language, enforced: m.enforced } : null;
  const changed = next?.language !== managed?.language || next?.enforced !== managed?.enforced;
  managed = next;
  setLocale(resolve(), changed);
  return current;
}

/** Whether the organization enforces the language: the selects are locked. */
export function localeLocked(): boolean {
  return managed?.enforced === true;
}

/** The user's choice: switches to `l` and keeps it in `storage`. Nothing
 * changes while the organization enforces the language. */
export function chooseLocale(l: Locale, storage: Storage | null): void {
  if (localeLocked()) {
    setLocale(current, true); // puts a select that moved back
    return;
  }
  chosen = l;
  try {
    storage?.setItem(STORAGE_KEY, l);
  } catch {
    // Not kept (private mode, full storage): still switch for this window.
  }
  setLocale(l);
}

/** The tag for `Intl`: the system's own variant of the current language
 * when it has one (en-GB, uk-UA), else the bare code. */
function intlTag(): string {
  const tag = system.find((x) => primary(x) === current);
  return tag === undefined ? current : tag.replace(/_/g, "-").replace(/\..*$/, "");
}

function cached<F>(kind: string, options: object, make: (tag: string) => F): F {
  const tag = intlTag();
  const id = `${kind}|${tag}|${JSON.stringify(options)}`;
  let f = formats.get(id) as F | undefined;
  if (f === undefined) {
    try {
      f = make(tag);
    } catch {
      f = make(current); // a system tag Intl does not accept
    }
    formats.set(id, f);
  }
  return f;
}

/** `n` as a number in the current locale (1,234 / 1 234). */
export function formatNumber(n: number): string {
  return cached("n", {}, (tag) => new Intl.NumberFormat(tag)).format(n);
}

/** A time of day in the current locale (2:05 PM / 14:05). */
export function formatTime(d: Date): string {
  const o = { hour: "numeric", minute: "2-digit" } as const;
  return cached("t", o, (tag) => new Intl.DateTimeFormat(tag, o)).format(d);
}

/** A date in the current locale, with the options given. */
export function formatDate(d: Date, options: Intl.DateTimeFormatOptions): string {
  return cached("d", options, (tag) => new Intl.DateTimeFormat(tag, options)).format(d);
}

/** The message `key` in the current locale with `{name}`s filled from
 * `vars` (numbers formatted for the locale); a plural picks its form by
 * `vars.count`. Falls back to English for a key a dictionary lacks at run
 * time, and leaves an unknown `{name}` as it is. */
export function t(key: Key, vars: Readonly<Record<string, string | number>> = {}): string {
  const m: Message = dictionaries[current][key] ?? en[key];
  let text: string;
  if (typeof m === "string") {
    text = m;
  } else {
    const count = Number(vars["count"] ?? 0);
    const rule = cached("p", {}, (tag) => new Intl.PluralRules(tag)).select(count);
    text = m[rule] ?? m.other;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = vars[name];
    if (v === undefined) return whole;
    return typeof v === "number" ? formatNumber(v) : v;
  });
}

/** How long ago `d` was at `now`, short: "Just now", "3 min ago", "2 h ago";
 * from six hours back (or another day) the time of day, as the list's day
 * headings say the day. */
export function relativeTime(d: Date, now: Date): string {
  const minutes = Math.floor((now.getTime() - d.getTime()) / 60_000);
  const sameDay = d.toDateString() === now.toDateString();
  if (minutes < 1) return t("time.now");
  if (minutes < 60) return t("time.minutes", { count: minutes });
  if (minutes < 360 && sameDay) return t("time.hours", { count: Math.floor(minutes / 60) });
  return formatTime(d);
}

/** A date and time in full, for a tooltip or a screen reader. */
export function formatFull(d: Date): string {
  return formatDate(d, { dateStyle: "full", timeStyle: "short" });
}
