/**
 * What the window says when something fails: a plain sentence in the
 * user's language for each kind of error the shell sends (`UiError`), and
 * for each of the app's running problems (the status bar's). Never the
 * error chain: that is in the log.
 */
import type { UiError } from "./bindings/UiError";
import { type Key, t } from "./i18n";

/** Each kind's sentence. A `Record` over the binding's kinds: a kind the
 * shell adds without a sentence here does not compile. */
export const ERROR_KEYS: Readonly<Record<UiError["kind"], Key>> = {
  not_signed_in: "error.notSignedIn",
  revoked: "error.revoked",
  busy: "error.busy",
  bad_address: "error.badAddress",
  insecure_address: "error.insecureAddress",
  unreachable: "error.unreachable",
  tls: "error.tls",
  wrong_password: "error.wrongPassword",
  refused: "error.refused",
  incompatible: "error.incompatible",
  keyring_locked: "error.keyringLocked",
  no_keyring: "error.noKeyring",
  no_link: "error.noLink",
  foreign_link: "error.foreignLink",
  link_scheme: "error.linkScheme",
  bad_link: "error.badLink",
  gone: "error.gone",
  no_browser: "error.noBrowser",
  no_audio_device: "error.noAudioDevice",
  managed: "error.managed",
  no_login_item: "error.noLoginItem",
  sound_file_type: "error.soundFileType",
  sound_too_big: "error.soundTooBig",
  not_sound: "error.notSound",
  silent_sound: "error.silentSound",
  sound_truncated: "error.soundTruncated",
  sound_too_long: "error.soundTooLong",
  disk_full: "error.diskFull",
  not_saved: "error.notSaved",
  no_update: "error.noUpdate",
  one_channel: "error.oneChannel",
  other: "error.other",
};

function isUiError(e: unknown): e is UiError {
  return typeof e === "object" && e !== null && typeof (e as { kind?: unknown }).kind === "string" && (e as { kind: string }).kind in ERROR_KEYS;
}

/** The sentence for a failed command: a `UiError` in the current language;
 * text (the commands that still send text) as it is. */
export function userMessage(e: unknown): string {
  if (isUiError(e)) {
    const vars: Record<string, string | number> = {};
    if (e.kind === "refused") vars["status"] = String(e.status);
    if (e.kind === "foreign_link") vars["host"] = e.host;
    if (e.kind === "link_scheme") vars["scheme"] = e.scheme;
    // A sound file the user chose, by the name they know it by.
    if ("name" in e) vars["name"] = e.name;
    return t(ERROR_KEYS[e.kind], vars);
  }
  if (typeof e === "string") return e;
  if (e instanceof Error) return e.message;
  if (typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string") {
    return (e as { message: string }).message;
  }
  return t("error.other");
}

/** The running problems the core reports, by what failed. */
export const PROBLEM_KEYS: Readonly<Record<string, Key>> = {
  "showing notifications": "problem.toasts",
  "playing sounds": "problem.sound",
  "storing notifications": "problem.disk",
  "storing the inbox": "problem.disk",
  "reading settings": "problem.settings",
};

/** A running problem as a sentence (unknown ones: that part of the app
 * does not work, and the log says why). */
export function problemMessage(what: string): string {
  const key = PROBLEM_KEYS[what];
  return key === undefined ? t("problem.other") : t(key);
}

/** An address as typed, with the scheme completed: `help.example.com` →
 * `https://help.example.com`. */
export function completeAddress(typed: string): string {
  const a = typed.trim();
  if (a === "" || /^[a-z][a-z0-9+.-]*:\/\//i.test(a)) return a;
  return `https://${a.replace(/^\/+/, "")}`;
}
