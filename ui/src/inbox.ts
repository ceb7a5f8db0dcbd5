/**
 * The bell inbox: newest first, grouped by day, unread marked; filters,
 * search, mark read, mark all read, open; live from the core's events; a
 * status line; English or Ukrainian; driven by mouse or keyboard. The list
 * is virtual (only the rows in view are in the DOM) and loads from the
 * store page by page as it scrolls. Built with DOM APIs and `textContent`
 * only (never `innerHTML`), so a notification's text can never become
 * markup.
 */
import type { Backend } from "./backend";
import { el, plain } from "./dom";
import { problemMessage, userMessage } from "./errors";
import { formatDate, formatFull, formatTime, locale, onLocaleChange, relativeTime, startLocale, t } from "./i18n";
import type { Key } from "./i18n";
import { GROUP_ICONS, icon, setIcon } from "./icons";
import type { TypeInfo } from "./bindings/TypeInfo";
import type { Category, CoreEvent, Notification, Status } from "./types";
import { Pager, VirtualList } from "./virtual";

/** Rows fetched per page from the local store. */
export const PAGE = 100;

/** A row's height, and a day heading's, in rem (rows cannot grow: the
 * list places them by height). */
const ITEM_REM = 4;
const DAY_REM = 2;

export interface View {
  unread: boolean;
  category: Category | null;
  text: string;
}

/** What the inbox takes from its surroundings; the defaults are the
 * window's. Tests set them, as happy-dom has no layout. */
export interface InboxOptions {
  /** Rows per page from the store. Default `PAGE`. */
  pageSize?: number;
  /** The list's visible height in px. Default: measured. */
  viewportHeight?: () => number;
  /** Where the language choice is kept. Default `localStorage`. */
  storage?: Storage | null;
  /** The system's languages, best first. Default `navigator.languages`. */
  languages?: readonly string[];
}

/** The status line for a status, at `now`, in the current locale. */
export function statusLine(s: Status, now: Date): { text: string; retry: boolean } {
  const c = s.connection;
  let text: string;
  let retry = false;
  if (c === null) {
    text = s.problem === null ? t("status.starting") : t("status.signedOutProblem", { problem: s.problem });
  } else {
    switch (c.state) {
      case "connecting":
        text = t("status.connecting");
        break;
      case "connected":
        text = t("status.connected");
        break;
      case "reconnecting": {
        const secs = Math.max(0, Math.round((Date.parse(c.next_attempt) - now.getTime()) / 1000));
        text = t("status.reconnecting", { secs });
        retry = true;
        break;
      }
      case "offline":
        text = t("status.offline");
        retry = true;
        break;
      case "signed_out":
        text = t("status.signedOut");
        break;
      case "incompatible":
        text = t("status.incompatible", { reason: c.reason });
        break;
      case "stopped":
        text = t("status.stopped");
        break;
    }
  }
  if (s.quiet?.reason === "paused") {
    text += t("status.paused", { time: formatTime(new Date(s.quiet.until)) });
  } else if (s.quiet?.reason === "do_not_disturb") {
    text += t("status.quiet", { source: s.quiet.source });
  }
  // The newest of what is wrong while the app goes on (the disk is full,
  // no sound device); the core takes it back once it works again.
  const last = s.problems[s.problems.length - 1];
  if (last !== undefined) {
    // A sentence for what failed, never the error chain (that is in the log).
    const problem = problemMessage(last.what);
    const more = s.problems.length - 1;
    text += more === 0 ? t("status.problem", { problem }) : t("status.problems", { problem, more });
  }
  return { text, retry };
}

/** A local calendar day as a number, 20261123. */
function dayNumber(d: Date): number {
  return d.getFullYear() * 10_000 + (d.getMonth() + 1) * 100 + d.getDate();
}

/** The day heading for a timestamp: Today, Yesterday, or the date, in the
 * current locale. */
export function dayLabel(iso: string, now: Date): string {
  const d = new Date(iso);
  const start = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((start(now) - start(d)) / 86_400_000);
  if (days === 0) return t("day.today");
  if (days === 1) return t("day.yesterday");
  const text = formatDate(
    d,
    d.getFullYear() === now.getFullYear()
      ? { weekday: "long", day: "numeric", month: "long" }
      : { day: "numeric", month: "long", year: "numeric" },
  );
  return text.charAt(0).toLocaleUpperCase(locale()) + text.slice(1);
}

/** Whether `n` belongs in `view` by its read state and category. Whether
 * it matches the search is the store's to say (its folding of every
 * script, and of the characters a row does not show): see
 * `Inbox.insertMatching`. */
export function matches(n: Pick<Notification, "read_at" | "category">, view: Omit<View, "text">): boolean {
  if (view.unread && n.read_at !== null) return false;
  return view.category === null || n.category === view.category;
}

/** A row of the list: a day's heading, or a notification (`pos`: its
 * place among the notifications, from 1). */
type Row = { kind: "day"; key: string; iso: string } | { kind: "item"; key: string; n: Notification; pos: number };

const days = new WeakMap<Notification, number>();

/** The notifications as rows, a heading before each day's first. */
function rowsOf(items: readonly Notification[]): Row[] {
  const rows: Row[] = [];
  let day = -1;
  let pos = 0;
  for (const n of items) {
    let d = days.get(n);
    if (d === undefined) {
      d = dayNumber(new Date(n.created_at));
      days.set(n, d);
    }
    if (d !== day) {
      day = d;
      rows.push({ kind: "day", key: `d:${d}`, iso: n.created_at });
    }
    rows.push({ kind: "item", key: `n:${n.id}`, n, pos: ++pos });
  }
  return rows;
}

/** The parts of a notification's row element. */
interface ItemParts {
  open: HTMLElement;
  kind: HTMLElement;
  icon: SVGSVGElement;
  title: HTMLElement;
  ref: HTMLElement;
  body: HTMLElement;
  time: HTMLTimeElement;
  read: HTMLElement;
}

/** The ticket or chat a notification is about, as a short label
 * ("Ticket 42"), or "" when its data names neither. */
export function referenceLabel(n: Notification): string {
  const id = (key: string): string | null => {
    const v = n.data[key];
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
    if (typeof v === "string" && v.trim() !== "") return plain(v).trim().slice(0, 24);
    return null;
  };
  const ticket = id("ticket_id");
  if (ticket !== null) return t("item.ticket", { id: ticket });
  const chat = id("chat_id");
  return chat === null ? "" : t("item.chat", { id: chat });
}

/** Whether keys typed at `target` are text (so "/" is a slash there). */
function typing(target: EventTarget | null): boolean {
  const e = target as HTMLElement | null;
  if (e === null || typeof e.tagName !== "string") return false;
  return e.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(e.tagName);
}

let instances = 0;

/** The inbox window's contents. */
export class Inbox {
  private view: View = { unread: false, category: null, text: "" };
  private status: Status | null = null;
  private started = false;
  /** The next page starts a new view: show it from the top. */
  private fresh = false;
  private today: number;
  private readonly doc: Document;
  private readonly storage: Storage | null;
  private readonly pager: Pager;
  private readonly list: VirtualList<Row>;
  private readonly parts = new WeakMap<HTMLElement, ItemParts>();
  /** Sets the texts of the current locale on the fixed parts. */
  private readonly relabel: (() => void)[] = [];
  private readonly statusText: HTMLElement;
  private readonly retry: HTMLButtonElement;
  private readonly count: HTMLElement;
  private readonly countLabel: HTMLElement;
  private readonly search: HTMLInputElement;
  private readonly empty: HTMLElement;
  private readonly emptyTitle: HTMLElement;
  private readonly emptyHint: HTMLElement;
  private readonly error: HTMLElement;
  /** The catalogue's types by id (each row's icon and whether it is
   * critical); empty until the catalogue is loaded. */
  private types = new Map<string, TypeInfo>();
  private loadingTypes = false;
  /** The first rows were said to be on screen (`Backend.painted`). */
  private paintedSaid = false;
  /** The minute the rows' relative times were last written for. */
  private minute = 0;
  /** The header's end, where the window adds its own buttons. */
  readonly actions: HTMLElement;
  /** The bottom bar, where the window adds the account. */
  readonly footer: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly backend: Backend,
    private readonly now: () => Date = () => new Date(),
    options: InboxOptions = {},
  ) {
    this.doc = root.ownerDocument;
    const doc = this.doc;
    const win = doc.defaultView;
    this.storage = options.storage !== undefined ? options.storage : storageOf(win);
    startLocale(this.storage, options.languages ?? win?.navigator.languages ?? []);
    this.today = dayNumber(this.now());
    const id = `inbox-${++instances}`;

    const header = el(doc, "header", "inbox__header");
    const title = el(doc, "h1", "inbox__title");
    const titleText = el(doc, "span", "inbox__title-text");
    this.label(() => (titleText.textContent = t("inbox.title")));
    this.count = el(doc, "span", "inbox__count");
    this.count.setAttribute("data-testid", "unread-count");
    this.count.setAttribute("aria-hidden", "true");
    this.countLabel = el(doc, "span", "visually-hidden");
    title.append(titleText, " ", this.count, this.countLabel);

    const markAll = el(doc, "button", "button button--flat inbox__mark-all");
    markAll.type = "button";
    markAll.setAttribute("data-testid", "mark-all");
    const markAllText = el(doc, "span", "");
    markAll.append(icon(doc, "check"), markAllText);
    this.label(() => (markAllText.textContent = t("inbox.markAll")));
    markAll.addEventListener("click", () => void this.act(() => this.backend.markAllRead()));
    this.actions = el(doc, "div", "inbox__actions");
    this.actions.append(markAll);
    header.append(title, this.actions);

    const filters = el(doc, "nav", "inbox__filters");
    this.label(() => filters.setAttribute("aria-label", t("inbox.filters")));
    const seg = (name: Key, options: [Key, () => void][]) => {
      const group = el(doc, "div", "seg");
      group.setAttribute("role", "group");
      this.label(() => group.setAttribute("aria-label", t(name)));
      const buttons = options.map(([label, pick], i) => {
        const b = el(doc, "button", "seg__option");
        b.type = "button";
        this.label(() => (b.textContent = t(label)));
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
      seg("filter.readState", [
        ["filter.all", () => (this.view.unread = false)],
        ["filter.unread", () => (this.view.unread = true)],
      ]),
      seg("filter.section", [
        ["filter.all", () => (this.view.category = null)],
        ["filter.events", () => (this.view.category = "events")],
        ["filter.system", () => (this.view.category = "system")],
      ]),
    );
    const searchBox = el(doc, "div", "inbox__search-box");
    this.search = el(doc, "input", "inbox__search");
    this.search.type = "search";
    this.label(() => {
      this.search.placeholder = t("search.placeholder");
      this.search.setAttribute("aria-label", t("search.label"));
    });
    this.search.setAttribute("aria-keyshortcuts", "/");
    this.search.addEventListener("input", () => {
      this.view.text = this.search.value;
      void this.reload();
    });
    searchBox.append(icon(doc, "search", "icon inbox__search-icon"), this.search);
    filters.append(searchBox);

    this.error = el(doc, "p", "inbox__error");
    this.error.setAttribute("role", "alert");
    this.empty = el(doc, "div", "inbox__empty");
    this.empty.hidden = true;
    this.emptyTitle = el(doc, "p", "inbox__empty-title");
    this.emptyHint = el(doc, "p", "inbox__empty-hint");
    this.empty.append(icon(doc, "bell", "icon inbox__empty-icon"), this.emptyTitle, this.emptyHint);
    this.label(() => this.showEmpty());
    const keys = el(doc, "p", "visually-hidden");
    keys.id = `${id}-keys`;
    this.label(() => (keys.textContent = t("list.keys")));

    const viewport = el(doc, "div", "inbox__list");
    viewport.setAttribute("aria-describedby", keys.id);
    this.label(() => viewport.setAttribute("aria-label", t("list.label")));
    const rem = parseFloat(win?.getComputedStyle(doc.documentElement).fontSize ?? "") || 16;
    const opts = {
      key: (r: Row) => r.key,
      kind: (r: Row) => r.kind,
      height: (r: Row) => (r.kind === "day" ? DAY_REM : ITEM_REM) * rem,
      focusable: (r: Row) => r.kind === "item",
      create: (kind: string) => this.createRow(kind),
      update: (e: HTMLElement, r: Row) => this.updateRow(e, r),
      onNearEnd: () => {
        if (this.started) void this.pager.more();
      },
    };
    this.list = new VirtualList<Row>(
      viewport,
      options.viewportHeight === undefined ? opts : { ...opts, viewportHeight: options.viewportHeight },
    );
    viewport.addEventListener("click", (e) => this.onClick(e));
    viewport.addEventListener("keydown", (e) => this.onRowKey(e));
    doc.addEventListener("keydown", (e) => this.onWindowKey(e));

    this.pager = new Pager(this.backend, {
      limit: options.pageSize ?? PAGE,
      filter: () => ({
        unread: this.view.unread,
        category: this.view.category,
        text: this.view.text.trim() === "" ? null : this.view.text,
      }),
      onPage: () => {
        // A page came: what the last failure said no longer holds.
        this.error.textContent = "";
        const reset = this.fresh;
        this.fresh = false;
        this.show(reset);
        this.sayPainted();
      },
      onError: (e) => {
        this.error.textContent = userMessage(e);
      },
    });

    const footer = el(doc, "footer", "inbox__status");
    this.footer = footer;
    this.statusText = el(doc, "span", "inbox__status-text");
    this.statusText.setAttribute("data-testid", "status");
    this.statusText.setAttribute("role", "status");
    this.retry = el(doc, "button", "inbox__retry");
    this.retry.type = "button";
    this.retry.hidden = true;
    this.label(() => (this.retry.textContent = t("status.retry")));
    this.retry.addEventListener("click", () => void this.act(() => this.backend.retryNow()));
    footer.append(this.statusText, this.retry);

    root.replaceChildren(header, filters, this.error, keys, this.empty, viewport, footer);
    root.classList.add("inbox");

    onLocaleChange(() => {
      for (const f of this.relabel) f();
      if (this.status !== null) this.showStatus(this.status);
      this.list.refresh();
    });
  }

  /** Loads the first page and the status, and follows the core's events. */
  async start(): Promise<void> {
    await this.backend.onEvent((ev) => this.onEvent(ev));
    await this.backend.onStatus((s) => this.showStatus(s));
    this.showStatus(await this.backend.status());
    this.started = true;
    await this.reload();
    // The countdown in "Reconnecting in N s", "3 min ago" turning into
    // "4 min ago", and Today turning into Yesterday.
    this.minute = Math.floor(this.now().getTime() / 60_000);
    setInterval(() => {
      if (this.status !== null) this.showStatus(this.status);
      const now = this.now();
      const today = dayNumber(now);
      const minute = Math.floor(now.getTime() / 60_000);
      if (today !== this.today || minute !== this.minute) {
        this.today = today;
        this.minute = minute;
        this.list.refresh();
      }
    }, 1000);
  }

  /** Once the first rows are in the list: after the next frame is drawn
   * (a `requestAnimationFrame` runs just before it is painted, a task
   * queued from there just after), tell the shell, once. */
  private sayPainted(): void {
    const painted = this.backend.painted;
    // The rows in the DOM (day headings too): those in view, and a few more.
    const rows = this.list.renderedCount;
    if (this.paintedSaid || painted === undefined || this.pager.items.length === 0) return;
    this.paintedSaid = true;
    const win = this.doc.defaultView;
    const say = () => void painted.call(this.backend, rows).catch(() => {});
    if (win === null || typeof win.requestAnimationFrame !== "function") return say();
    win.requestAnimationFrame(() => win.setTimeout(say, 0));
  }

  /** Reloads from the first page for the current view. */
  async reload(): Promise<void> {
    if (this.types.size === 0) void this.loadTypes();
    this.pager.reset();
    this.fresh = true;
    await this.pager.more();
  }

  /** The catalogue's types, for the rows' icons; without them (signed
   * out, offline on a first run) rows show the generic icon. */
  private async loadTypes(): Promise<void> {
    if (this.loadingTypes) return;
    this.loadingTypes = true;
    try {
      const c = await this.backend.center();
      this.types = new Map(c.catalogue.types.map((ty) => [ty.id, ty]));
      this.list.refresh();
    } catch {
      // Tried again on the next reload, status or new notification.
    } finally {
      this.loadingTypes = false;
    }
  }

  private label(f: () => void): void {
    f();
    this.relabel.push(f);
  }

  private async act(f: () => Promise<void>): Promise<void> {
    try {
      this.error.textContent = "";
      await f();
    } catch (e) {
      this.error.textContent = userMessage(e);
    }
  }

  private showStatus(s: Status): void {
    this.status = s;
    if (this.types.size === 0 && this.started && s.connection?.state === "connected") void this.loadTypes();
    const line = statusLine(s, this.now());
    this.statusText.textContent = line.text;
    this.statusText.classList.toggle("inbox__status-text--problem", s.problems.length > 0);
    this.retry.hidden = !line.retry;
    const total = s.unread.total;
    this.count.textContent = total > 0 ? String(total) : "";
    this.countLabel.textContent = total > 0 ? t("inbox.unread", { count: total }) : "";
    this.count.title = this.countLabel.textContent;
    this.doc.title = total > 0 ? `Belfry (${total})` : "Belfry";
  }

  private onEvent(ev: CoreEvent): void {
    switch (ev.event) {
      case "added": {
        if (this.types.size === 0) void this.loadTypes();
        const fit = ev.items.filter((n) => matches(n, this.view));
        if (this.view.text.trim() !== "") {
          void this.insertMatching(fit);
          return;
        }
        if (this.pager.insert(fit) === 0) return;
        break;
      }
      case "read": {
        const at = this.now().toISOString();
        for (const id of ev.ids) {
          const n = this.pager.get(id);
          if (n !== undefined && n.read_at === null) n.read_at = at;
        }
        break;
      }
      case "read_all": {
        const at = this.now().toISOString();
        for (const n of this.pager.items) if (n.seq <= ev.up_to_seq && n.read_at === null) n.read_at = at;
        break;
      }
      default:
        return;
    }
    if (this.view.unread) this.pager.retain((n) => n.read_at === null);
    this.show(false);
  }

  /** New notifications while a search is shown: the store says which of
   * them match it (the same query as the list's pages), and those are
   * added. New ones are the newest stored, so the newest `items.length`
   * matches up to the last of them hold every one that matches. */
  private async insertMatching(items: Notification[]): Promise<void> {
    if (items.length === 0) return;
    const text = this.view.text;
    const newest = Math.max(...items.map((n) => n.seq));
    let found: Notification[];
    try {
      found = await this.backend.page({
        unread: this.view.unread,
        category: this.view.category,
        text,
        before: newest + 1,
        limit: items.length,
      });
    } catch {
      // The next reload (a new search, a reconnect) shows them.
      return;
    }
    // The search changed meanwhile: its own page load has them.
    if (this.view.text !== text) return;
    const ids = new Set(found.map((n) => n.id));
    if (this.pager.insert(items.filter((n) => ids.has(n.id))) === 0) return;
    if (this.view.unread) this.pager.retain((n) => n.read_at === null);
    this.show(false);
  }

  /** Shows the loaded notifications; `reset`: from the top. */
  private show(reset: boolean): void {
    this.list.setItems(rowsOf(this.pager.items), { reset });
    this.showEmpty();
    this.empty.hidden = this.pager.items.length > 0 || this.pager.loading;
  }

  /** The empty state: nothing yet, all read, or no match for the search. */
  private showEmpty(): void {
    const text = plain(this.view.text).trim();
    if (text !== "") {
      this.emptyTitle.textContent = t("list.noMatch", { text });
      this.emptyHint.textContent = t("list.noMatchHint");
    } else {
      this.emptyTitle.textContent = t(this.view.unread ? "list.emptyUnread" : "list.empty");
      this.emptyHint.textContent = t("list.emptyHint");
    }
  }

  private createRow(kind: string): HTMLElement {
    const doc = this.doc;
    if (kind === "day") {
      const day = el(doc, "div", "inbox__day");
      // Each option's label says its day; the heading is for the eye.
      day.setAttribute("aria-hidden", "true");
      return day;
    }
    const row = el(doc, "div", "item");
    const chip = el(doc, "span", "item__kind");
    const svg = icon(doc, "other");
    chip.append(svg);
    const open = el(doc, "div", "item__open");
    const title = el(doc, "span", "item__title");
    const time = el(doc, "time", "item__time");
    const line = el(doc, "span", "item__line");
    const ref = el(doc, "span", "item__ref");
    const body = el(doc, "span", "item__body");
    // Spaces between the parts (no box in a grid or flex) keep the words
    // apart for whatever reads the row's text.
    line.append(ref, " ", body);
    open.append(title, " ", time, " ", line);
    // The one unread mark, which a click also marks read. Not a button: a
    // control inside an option is nested-interactive for screen readers;
    // the keyboard marks read with Space or R (the list's hint says so),
    // and the option's name starts with "Unread".
    const read = el(doc, "span", "item__read");
    read.setAttribute("aria-hidden", "true");
    row.append(chip, open);
    this.parts.set(row, { open, kind: chip, icon: svg, title, ref, body, time, read });
    return row;
  }

  private updateRow(row: HTMLElement, r: Row): void {
    const now = this.now();
    if (r.kind === "day") {
      row.textContent = dayLabel(r.iso, now);
      return;
    }
    const p = this.parts.get(row);
    if (p === undefined) return;
    const n = r.n;
    const unread = n.read_at === null;
    const created = new Date(n.created_at);
    const info = this.types.get(n.type);
    const critical = info?.critical ?? false;
    row.classList.toggle("item--unread", unread);
    row.classList.toggle("item--critical", critical);
    row.setAttribute("data-id", n.id);
    row.setAttribute("data-group", info?.group ?? "other");
    setIcon(p.icon, GROUP_ICONS[info?.group ?? "other"]);
    const title = plain(n.title);
    const body = plain(n.body);
    p.title.textContent = title;
    p.body.textContent = body;
    const ref = referenceLabel(n);
    p.ref.textContent = ref;
    p.ref.hidden = ref === "";
    p.time.textContent = relativeTime(created, now);
    p.time.dateTime = n.created_at;
    p.time.title = formatFull(created);
    p.open.title = t("item.open");
    // The visible text in its order (title, time, reference, body), then the
    // day and the exact time: the name a screen reader says contains what
    // is on screen (WCAG 2.5.3).
    const vars = {
      title,
      ago: p.time.textContent,
      body: ref === "" ? body : `${ref}: ${body}`,
      day: dayLabel(n.created_at, now),
      time: formatTime(created),
    };
    const label = t(unread ? "item.labelUnread" : "item.label", vars);
    row.setAttribute("aria-label", critical ? `${t("item.critical")} ${label}` : label);
    row.setAttribute("aria-posinset", String(r.pos));
    row.setAttribute("aria-setsize", this.pager.exhausted ? String(this.pager.items.length) : "-1");
    if (unread) {
      p.read.title = t("item.markRead");
      if (p.read.parentNode !== row) row.append(p.read);
    } else {
      p.read.remove();
    }
  }

  private onClick(e: MouseEvent): void {
    const r = this.list.itemOf(e.target);
    const target = e.target as Element | null;
    if (r === null || r.kind !== "item" || typeof target?.closest !== "function") return;
    if (target.closest(".item__read") !== null) {
      void this.act(() => this.backend.markRead([r.n.id]));
    } else if (target.closest(".item__open") !== null) {
      void this.act(() => this.backend.open(r.n.id));
    }
  }

  /** Enter opens the focused notification; Space or R marks it read. */
  private onRowKey(e: KeyboardEvent): void {
    if (e.altKey || e.ctrlKey || e.metaKey || !this.list.isRow(e.target)) return;
    const r = this.list.itemOf(e.target);
    if (r === null || r.kind !== "item") return;
    // A message about the last row acted on is stale once the user moves on.
    this.error.textContent = "";
    const id = r.n.id;
    if (e.key === "Enter") {
      e.preventDefault();
      void this.act(() => this.backend.open(id));
    } else if (e.key === " " || e.key === "r" || e.key === "R") {
      e.preventDefault();
      if (r.n.read_at === null) void this.act(() => this.backend.markRead([id]));
    }
  }

  /** "/" goes to the search; Escape clears it (or the message above the list). */
  private onWindowKey(e: KeyboardEvent): void {
    if (!this.root.isConnected || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "/" && !typing(e.target)) {
      e.preventDefault();
      this.search.focus();
      this.search.select();
    } else if (e.key === "Escape" && this.error.textContent !== "") {
      e.preventDefault();
      this.error.textContent = "";
    } else if (e.key === "Escape" && this.search.value !== "" && (e.target === this.search || this.list.itemOf(e.target) !== null)) {
      e.preventDefault();
      this.search.value = "";
      this.view.text = "";
      void this.reload();
    }
  }
}

/** The window's localStorage, or null where it cannot be reached. */
function storageOf(win: Window | null): Storage | null {
  try {
    return win?.localStorage ?? null;
  } catch {
    return null;
  }
}
