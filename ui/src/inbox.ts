/**
 * The bell inbox: newest first, grouped by day, unread marked; filters,
 * search, mark read, mark all read, open; live from the core's events; a
 * status line. Built with DOM APIs and `textContent` only (never
 * `innerHTML`), so a notification's text can never become markup.
 */
import type { Backend } from "./backend";
import type { Category, CoreEvent, Notification, Status } from "./types";

/** Rows fetched per page from the local store. */
export const PAGE = 100;

export interface View {
  unread: boolean;
  category: Category | null;
  text: string;
}

/** The status line for a status, at `now`. */
export function statusLine(s: Status, now: Date): { text: string; retry: boolean } {
  const c = s.connection;
  let text: string;
  let retry = false;
  if (c === null) {
    text = s.problem === null ? "Starting…" : `Signed out: ${s.problem}`;
  } else {
    switch (c.state) {
      case "connecting":
        text = "Connecting…";
        break;
      case "connected":
        text = "Connected";
        break;
      case "reconnecting": {
        const secs = Math.max(0, Math.round((Date.parse(c.next_attempt) - now.getTime()) / 1000));
        text = `Reconnecting in ${secs} s`;
        retry = true;
        break;
      }
      case "offline":
        text = "Offline — showing saved notifications";
        retry = true;
        break;
      case "signed_out":
        text = "Signed out — sign in again";
        break;
      case "incompatible":
        text = `This instance is not supported: ${c.reason}`;
        break;
      case "stopped":
        text = "Stopped";
        break;
    }
  }
  if (s.quiet?.reason === "paused") {
    text += ` · paused until ${new Date(s.quiet.until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
  } else if (s.quiet?.reason === "do_not_disturb") {
    text += ` · quiet: ${s.quiet.source}`;
  }
  return { text, retry };
}

/** The day heading for a timestamp: Today, Yesterday, or the date. */
export function dayLabel(iso: string, now: Date): string {
  const d = new Date(iso);
  const start = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((start(now) - start(d)) / 86_400_000);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  return d.toLocaleDateString([], { year: "numeric", month: "long", day: "numeric" });
}

/** Whether `n` belongs in `view`. */
export function matches(n: Notification, view: View): boolean {
  if (view.unread && n.read_at !== null) return false;
  if (view.category !== null && n.category !== view.category) return false;
  const t = view.text.trim().toLowerCase();
  return t === "" || n.title.toLowerCase().includes(t) || n.body.toLowerCase().includes(t);
}

function el<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The inbox window's contents. */
export class Inbox {
  private items: Notification[] = [];
  private view: View = { unread: false, category: null, text: "" };
  private status: Status | null = null;
  private exhausted = false;
  private loading = false;
  private readonly doc: Document;
  private readonly statusText: HTMLElement;
  private readonly retry: HTMLButtonElement;
  private readonly count: HTMLElement;
  private readonly list: HTMLElement;
  private readonly error: HTMLElement;

  constructor(
    root: HTMLElement,
    private readonly backend: Backend,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.doc = root.ownerDocument;
    const doc = this.doc;
    const header = el(doc, "header", "inbox__header");
    const title = el(doc, "h1", "inbox__title", "Notifications");
    this.count = el(doc, "span", "inbox__count");
    this.count.setAttribute("data-testid", "unread-count");
    title.append(" ", this.count);
    const markAll = el(doc, "button", "inbox__mark-all", "Mark all read");
    markAll.type = "button";
    markAll.setAttribute("data-testid", "mark-all");
    markAll.addEventListener("click", () => void this.act(() => this.backend.markAllRead()));
    header.append(title, markAll);

    const filters = el(doc, "nav", "inbox__filters");
    filters.setAttribute("aria-label", "Filters");
    const seg = (name: string, options: [string, () => void][]) => {
      const group = el(doc, "div", "seg");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", name);
      const buttons = options.map(([label, pick], i) => {
        const b = el(doc, "button", "seg__option", label);
        b.type = "button";
        b.setAttribute("aria-pressed", String(i === 0));
        b.addEventListener("click", () => {
          for (const o of buttons) o.setAttribute("aria-pressed", String(o === b));
          pick();
          void this.reload();
        });
        return b;
      });
      group.append(...buttons);
      return group;
    };
    filters.append(
      seg("Read state", [
        ["All", () => (this.view.unread = false)],
        ["Unread", () => (this.view.unread = true)],
      ]),
      seg("Section", [
        ["All", () => (this.view.category = null)],
        ["Events", () => (this.view.category = "events")],
        ["System", () => (this.view.category = "system")],
      ]),
    );
    const search = el(doc, "input", "inbox__search");
    search.type = "search";
    search.placeholder = "Search";
    search.setAttribute("aria-label", "Search notifications");
    search.addEventListener("input", () => {
      this.view.text = search.value;
      void this.reload();
    });
    filters.append(search);

    this.list = el(doc, "section", "inbox__list");
    this.list.setAttribute("aria-label", "Notifications");
    this.list.addEventListener("scroll", () => {
      const l = this.list;
      if (l.scrollTop + l.clientHeight > l.scrollHeight - 400) void this.more();
    });
    this.error = el(doc, "p", "inbox__error");
    this.error.setAttribute("role", "alert");

    const footer = el(doc, "footer", "inbox__status");
    this.statusText = el(doc, "span", "inbox__status-text");
    this.statusText.setAttribute("data-testid", "status");
    this.statusText.setAttribute("role", "status");
    this.retry = el(doc, "button", "inbox__retry", "Retry now");
    this.retry.type = "button";
    this.retry.hidden = true;
    this.retry.addEventListener("click", () => void this.act(() => this.backend.retryNow()));
    footer.append(this.statusText, this.retry);

    root.replaceChildren(header, filters, this.error, this.list, footer);
    root.className = "inbox";
  }

  /** Loads the first page and the status, and follows the core's events. */
  async start(): Promise<void> {
    await this.backend.onEvent((ev) => this.onEvent(ev));
    await this.backend.onStatus((s) => this.showStatus(s));
    this.showStatus(await this.backend.status());
    await this.reload();
    // The countdown in "Reconnecting in N s".
    setInterval(() => this.status && this.showStatus(this.status), 1000);
  }

  private async act(f: () => Promise<void>): Promise<void> {
    try {
      await f();
      this.error.textContent = "";
    } catch (e) {
      this.error.textContent = String(e);
    }
  }

  private showStatus(s: Status): void {
    this.status = s;
    const line = statusLine(s, this.now());
    this.statusText.textContent = line.text;
    this.retry.hidden = !line.retry;
    this.count.textContent = s.unread.total > 0 ? String(s.unread.total) : "";
    this.doc.title = s.unread.total > 0 ? `Belfry (${s.unread.total})` : "Belfry";
  }

  /** Reloads from the first page for the current view. */
  async reload(): Promise<void> {
    this.items = [];
    this.exhausted = false;
    await this.more();
  }

  private async more(): Promise<void> {
    if (this.loading || this.exhausted) return;
    this.loading = true;
    try {
      const last = this.items[this.items.length - 1];
      const page = await this.backend.page({
        unread: this.view.unread,
        category: this.view.category,
        text: this.view.text.trim() === "" ? null : this.view.text,
        before: last === undefined ? null : last.seq,
        limit: PAGE,
      });
      this.items.push(...page);
      this.exhausted = page.length < PAGE;
      this.render();
    } catch (e) {
      this.error.textContent = String(e);
    } finally {
      this.loading = false;
    }
  }

  private onEvent(ev: CoreEvent): void {
    switch (ev.event) {
      case "added": {
        const known = new Set(this.items.map((n) => n.id));
        const fresh = ev.items.filter((n) => !known.has(n.id) && matches(n, this.view));
        if (fresh.length === 0) return;
        this.items = [...fresh.reverse(), ...this.items].sort((a, b) => b.seq - a.seq);
        break;
      }
      case "read": {
        const ids = new Set(ev.ids);
        const at = this.now().toISOString();
        for (const n of this.items) if (ids.has(n.id) && n.read_at === null) n.read_at = at;
        break;
      }
      case "read_all": {
        const at = this.now().toISOString();
        for (const n of this.items) if (n.seq <= ev.up_to_seq && n.read_at === null) n.read_at = at;
        break;
      }
      default:
        return;
    }
    if (this.view.unread) this.items = this.items.filter((n) => n.read_at === null);
    this.render();
  }

  private render(): void {
    const doc = this.doc;
    const now = this.now();
    const nodes: HTMLElement[] = [];
    let day = "";
    for (const n of this.items) {
      const label = dayLabel(n.created_at, now);
      if (label !== day) {
        day = label;
        nodes.push(el(doc, "h2", "inbox__day", label));
      }
      nodes.push(this.row(n));
    }
    if (nodes.length === 0) {
      nodes.push(el(doc, "p", "inbox__empty", this.view.unread ? "No unread notifications" : "No notifications"));
    }
    this.list.replaceChildren(...nodes);
  }

  private row(n: Notification): HTMLElement {
    const doc = this.doc;
    const unread = n.read_at === null;
    const row = el(doc, "article", unread ? "item item--unread" : "item");
    row.setAttribute("data-id", n.id);
    const open = el(doc, "button", "item__open");
    open.type = "button";
    open.title = "Open on the instance";
    const time = new Date(n.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    open.append(
      el(doc, "span", "item__title", n.title),
      el(doc, "span", "item__body", n.body),
      el(doc, "span", "item__time", time),
    );
    open.addEventListener("click", () => void this.act(() => this.backend.open(n.id)));
    row.append(open);
    if (unread) {
      const read = el(doc, "button", "item__read", "Mark read");
      read.type = "button";
      read.setAttribute("aria-label", `Mark read: ${n.title}`);
      read.addEventListener("click", () => void this.act(() => this.backend.markRead([n.id])));
      row.append(read);
    }
    return row;
  }
}
