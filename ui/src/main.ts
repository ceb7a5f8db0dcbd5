/**
 * Belfry's front end: the bell inbox in the app window.
 *
 * The page is built with DOM APIs and `textContent` only (never
 * `innerHTML`), so nothing shown can be interpreted as markup.
 */
import "./style.css";
import bellUrl from "../../icons/belfry.svg";
import { inTauri, tauriBackend } from "./backend";
import { App } from "./app";
import { el } from "./dom";

/** The product name shown to operators. */
export const APP_NAME = "Belfry";

/**
 * The title line: the name and the version, e.g. `Belfry 0.1.0`.
 *
 * A leading `v` on the version is dropped (`v0.1.0` → `0.1.0`), and with no
 * version the line is the name alone.
 */
export function titleLine(name: string, version: string): string {
  const v = version.trim().replace(/^v(?=\d)/, "");
  const n = name.trim();
  return v === "" ? n : `${n} ${v}`;
}

/** Renders the starting page into `root`, replacing what it held. */
export function renderStartPage(root: HTMLElement, version: string): void {
  const doc = root.ownerDocument;
  const title = titleLine(APP_NAME, version);
  doc.title = title;

  const bell = el(doc, "img", "start__bell");
  bell.src = bellUrl;
  bell.alt = "";
  bell.width = 96;
  bell.height = 96;

  root.replaceChildren(
    bell,
    el(doc, "h1", "start__name", APP_NAME),
    el(doc, "p", "start__tagline", "Every ticket, chat and SLA event, the moment it happens."),
    el(doc, "p", "start__status", "Your inbox will appear here."),
    el(doc, "p", "start__version", title),
  );
  root.classList.add("start");
}

/** Shows the sign-in form or the inbox in the Tauri window; elsewhere (a browser preview of the
 * build) the starting page. */
async function boot(root: HTMLElement): Promise<void> {
  if (!inTauri()) {
    renderStartPage(root, __BELFRY_VERSION__);
    return;
  }
  const app = new App(root, await tauriBackend());
  await app.start();
}

const root = typeof document === "undefined" ? null : document.getElementById("app");
if (root !== null) {
  boot(root).catch((e: unknown) => {
    root.textContent = `Belfry could not start its window: ${String(e)}`;
  });
}
