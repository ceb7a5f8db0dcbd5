/**
 * The window's theme: the desktop's (light or dark, followed live) or the
 * user's choice, kept in localStorage like the language. The colours are
 * the stylesheet's; this only says which set applies, as `data-theme` on
 * the root element.
 */

/** What the user can choose. */
export type ThemeChoice = "system" | "light" | "dark";

/** The choices, in the order the General tab lists them. */
export const THEMES: readonly ThemeChoice[] = ["system", "light", "dark"];

const STORAGE_KEY = "belfry.theme";

let choice: ThemeChoice = "system";
let stopFollowing: (() => void) | null = null;

function isChoice(s: string | null): s is ThemeChoice {
  return s === "system" || s === "light" || s === "dark";
}

function apply(doc: Document, dark: boolean): void {
  const root = doc.documentElement;
  root.dataset.theme = dark ? "dark" : "light";
  root.style.colorScheme = dark ? "dark" : "light";
}

/** Applies `c` to `doc`; "system" follows the desktop's setting as it changes. */
export function setTheme(doc: Document, c: ThemeChoice): void {
  choice = c;
  stopFollowing?.();
  stopFollowing = null;
  const query = doc.defaultView?.matchMedia?.("(prefers-color-scheme: dark)") ?? null;
  if (c !== "system") {
    apply(doc, c === "dark");
    return;
  }
  apply(doc, query?.matches ?? false);
  if (query !== null) {
    const follow = (e: MediaQueryListEvent): void => apply(doc, e.matches);
    query.addEventListener("change", follow);
    stopFollowing = () => query.removeEventListener("change", follow);
  }
}

/** The current choice. */
export function theme(): ThemeChoice {
  return choice;
}

/** Starts on the choice saved in `storage`, else the desktop's. */
export function startTheme(doc: Document, storage: Storage | null): ThemeChoice {
  let saved: string | null = null;
  try {
    saved = storage?.getItem(STORAGE_KEY) ?? null;
  } catch {
    // Storage can be unavailable: follow the desktop.
  }
  setTheme(doc, isChoice(saved) ? saved : "system");
  return choice;
}

/** The user's choice: applies it and keeps it in `storage`. */
export function chooseTheme(doc: Document, c: ThemeChoice, storage: Storage | null): void {
  try {
    storage?.setItem(STORAGE_KEY, c);
  } catch {
    // Not kept: still applies to this window.
  }
  setTheme(doc, c);
}
