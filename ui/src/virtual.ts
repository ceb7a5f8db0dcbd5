/**
 * A long list that stays fast: `VirtualList` keeps only the rows in view
 * (and a few beyond) in the DOM, reuses their elements, and is a listbox
 * with one tab stop that the arrow keys move; `Pager` loads the list from
 * the local store a page at a time, newest first.
 *
 * Rows are laid out by their heights, given by the caller (no measuring,
 * so it works the same without layout, as in tests). Elements are filled
 * by the caller's `update`, which must use DOM APIs and `textContent` only.
 */
import type { Backend } from "./backend";
import type { Notification, PageQuery } from "./types";

/** How a `VirtualList` makes and fills the rows of items of type `T`. */
export interface VirtualListOptions<T> {
  /** The row's identity. A row keeps its element, and the focus, while its
   * key stays in the list; keys must be unique. */
  key(item: T): string;
  /** The row's height in px. */
  height(item: T): number;
  /** The row's kind: elements are reused only between rows of one kind.
   * Default: one kind for all. */
  kind?(item: T): string;
  /** Makes an empty element for a row of `kind`. */
  create(kind: string): HTMLElement;
  /** Fills `el` to show `item`, the `index`th row. Called when a row comes
   * into view and after `setItems` or `refresh`, not on every scroll. */
  update(el: HTMLElement, item: T, index: number): void;
  /** Whether the row is an option that takes focus; others (headings) are
   * skipped by the keys and hidden from assistive technology's list.
   * Default: every row. */
  focusable?(item: T): boolean;
  /** The viewport's height in px. Default: the viewport's
   * `data-viewport-height`, else its `clientHeight`, else the window's. */
  viewportHeight?(): number;
  /** Rows kept beyond each edge of the viewport. Default 6. */
  overscan?: number;
  /** Called after a render that shows the end of the rows, or comes within
   * `loadAhead` px of it: the place to load the next page. Called again on
   * later renders, so the loader must ignore calls while it is loading. */
  onNearEnd?(): void;
  /** Default: twice the viewport's height. */
  loadAhead?: number;
}

interface Bound {
  key: string;
  kind: string;
  index: number;
  /** The `VirtualList.generation` it was filled in. */
  generation: number;
}

/**
 * A virtualized listbox over `viewport`, the scrolling element: it gets
 * role="listbox" and one child, a sizer as tall as all the rows, which
 * holds the rendered rows in list order, absolutely placed.
 *
 * Keys: Up/Down, Home/End and PageUp/PageDown move the focus between
 * focusable rows (role="option", roving tabindex, aria-selected on the tab
 * stop), scrolling as needed. Other keys are the caller's.
 */
export class VirtualList<T> {
  readonly viewport: HTMLElement;
  private readonly sizer: HTMLElement;
  private readonly opts: VirtualListOptions<T>;
  private rows: readonly T[] = [];
  /** offsets[i]: the top of row i; offsets[n]: the total height. */
  private offsets = new Float64Array(1);
  private generation = 0;
  /** The tab stop's key, or null for the first focusable row. */
  private focusKey: string | null = null;
  /** Where the tab stop was last found: where its search starts. */
  private focusAt = 0;
  private readonly bound = new Map<string, HTMLElement>();
  private readonly meta = new WeakMap<HTMLElement, Bound>();
  private readonly pool = new Map<string, HTMLElement[]>();
  private readonly observer: ResizeObserver | null = null;

  constructor(viewport: HTMLElement, options: VirtualListOptions<T>) {
    this.viewport = viewport;
    this.opts = options;
    const doc = viewport.ownerDocument;
    this.sizer = doc.createElement("div");
    this.sizer.className = "vlist__sizer";
    this.sizer.setAttribute("role", "none");
    viewport.setAttribute("role", "listbox");
    viewport.replaceChildren(this.sizer);
    viewport.addEventListener("scroll", () => this.onScroll(), { passive: true });
    viewport.addEventListener("keydown", (e) => this.onKey(e));
    viewport.addEventListener("focusin", (e) => this.onFocusIn(e));
    const RO = doc.defaultView?.ResizeObserver;
    if (RO !== undefined) {
      this.observer = new RO(() => this.render());
      this.observer.observe(viewport);
    }
  }

  /** The rows, as last set. */
  get items(): readonly T[] {
    return this.rows;
  }

  /** How many row elements are in the DOM. */
  get renderedCount(): number {
    return this.sizer.childElementCount;
  }

  /**
   * Replaces the rows. Rows whose keys stay keep their elements and focus.
   * Scrolled down, the first visible row stays where it is on the screen
   * when rows are added or removed above it; at the top, new rows show.
   * When the tab stop's row is gone, the row now in its place takes it.
   * `reset` scrolls to the top and moves the tab stop to the first row.
   */
  setItems(items: readonly T[], options: { reset?: boolean } = {}): void {
    const old = this.rows;
    const top = this.viewport.scrollTop;
    let anchor: { key: string; at: number; delta: number } | null = null;
    if (!options.reset && top > 0 && old.length > 0) {
      const at = this.indexAt(top);
      anchor = { key: this.keyAt(old, at), at, delta: top - this.offsetOf(at) };
    }
    const oldFocus = this.focusKey === null ? -1 : this.find(old, this.focusKey, this.focusAt);
    const hadFocus = this.hasFocus();

    this.rows = items;
    this.layout();
    this.generation++;
    if (options.reset) {
      this.focusKey = null;
      this.focusAt = 0;
      this.setScrollTop(0);
    } else {
      if (anchor !== null) {
        const j = this.find(items, anchor.key, anchor.at);
        if (j >= 0) this.setScrollTop(this.offsetOf(j) + anchor.delta);
      }
      if (this.focusKey !== null) {
        const j = this.find(items, this.focusKey, Math.max(oldFocus, 0));
        if (j >= 0) {
          this.focusAt = j;
        } else {
          const from = Math.min(Math.max(oldFocus, 0), items.length - 1);
          let k = from < 0 ? -1 : this.nextFocusable(from, 1);
          if (k < 0 && from >= 0) k = this.nextFocusable(from, -1);
          this.focusKey = k < 0 ? null : this.keyAt(items, k);
          this.focusAt = Math.max(k, 0);
        }
      }
    }
    this.render();
    if (hadFocus && !this.hasFocus()) this.focusTabStop();
  }

  /** Fills the rendered rows again (the locale or the day changed). */
  refresh(): void {
    this.generation++;
    this.render();
  }

  /** The row with the tab stop, or null when no row can take focus. */
  focused(): T | null {
    const i = this.tabStop();
    return i < 0 ? null : (this.rows[i] ?? null);
  }

  /** The row `el` (a row element or inside one) shows, or null. */
  itemOf(el: EventTarget | null): T | null {
    const row = this.rowElement(el);
    if (row === null) return null;
    const m = this.meta.get(row);
    return m === undefined ? null : (this.rows[m.index] ?? null);
  }

  /** Whether `el` is a row element itself (not something inside one). */
  isRow(el: EventTarget | null): boolean {
    return el !== null && this.rowElement(el) === el;
  }

  /** Moves the tab stop and the focus to row `index`, scrolling it into view. */
  focusIndex(index: number): void {
    const item = this.rows[index];
    if (item === undefined) return;
    this.focusKey = this.opts.key(item);
    this.focusAt = index;
    this.scrollToIndex(index);
    this.render();
    this.focusTabStop();
  }

  /** Scrolls as little as needed to show row `index` whole, with the
   * heading just above it when it is the first row under one. */
  scrollToIndex(index: number): void {
    const item = this.rows[index];
    if (item === undefined) return;
    let top = this.offsetOf(index);
    const bottom = this.offsetOf(index + 1);
    const above = this.rows[index - 1];
    if (above !== undefined && !this.isFocusable(above)) top = this.offsetOf(index - 1);
    const st = this.viewport.scrollTop;
    const vh = this.viewportHeight();
    if (top < st) this.setScrollTop(top);
    else if (bottom > st + vh) this.setScrollTop(Math.min(top, bottom - vh));
  }

  /** Renders the rows in view, plus the overscan and the tab stop's row. */
  render(): void {
    const n = this.rows.length;
    const top = this.viewport.scrollTop;
    const vh = this.viewportHeight();
    const overscan = this.opts.overscan ?? 6;
    const wanted: number[] = [];
    if (n > 0) {
      const start = Math.max(0, this.indexAt(top) - overscan);
      const end = Math.min(n, this.indexAt(top + Math.max(vh, 1) - 1) + 1 + overscan);
      const stop = this.tabStop();
      if (stop >= 0 && stop < start) wanted.push(stop);
      for (let i = start; i < end; i++) wanted.push(i);
      if (stop >= end) wanted.push(stop);
    }

    // Keep the elements of rows still wanted; free the rest.
    const keep = new Map<string, HTMLElement>();
    for (const i of wanted) {
      const item = this.rows[i] as T;
      const key = this.opts.key(item);
      const el = this.bound.get(key);
      if (el !== undefined && this.meta.get(el)?.kind === this.kindOf(item)) {
        keep.set(key, el);
        this.bound.delete(key);
      }
    }
    for (const el of this.bound.values()) {
      el.remove();
      const kind = this.meta.get(el)?.kind ?? "";
      const free = this.pool.get(kind) ?? [];
      free.push(el);
      this.pool.set(kind, free);
    }
    this.bound.clear();

    // Fill, place, and put each in list order after the one before it.
    const stopKey = this.tabStopKey();
    const order: HTMLElement[] = [];
    let prev: HTMLElement | null = null;
    for (const i of wanted) {
      const item = this.rows[i] as T;
      const key = this.opts.key(item);
      const kind = this.kindOf(item);
      let el = keep.get(key);
      if (el === undefined) el = this.pool.get(kind)?.pop() ?? this.make(kind);
      const m = this.meta.get(el) ?? { key: "", kind, index: -1, generation: -1 };
      if (m.key !== key || m.generation !== this.generation) {
        this.opts.update(el, item, i);
        if (this.isFocusable(item)) {
          el.setAttribute("role", "option");
        } else {
          el.setAttribute("role", "presentation");
          el.removeAttribute("tabindex");
          el.removeAttribute("aria-selected");
        }
      }
      if (m.index !== i || m.key !== key) {
        el.style.transform = `translateY(${this.offsetOf(i)}px)`;
        el.style.height = `${this.offsetOf(i + 1) - this.offsetOf(i)}px`;
      }
      if (this.isFocusable(item)) {
        const isStop = key === stopKey;
        const tabIndex = isStop ? 0 : -1;
        if (el.tabIndex !== tabIndex || !el.hasAttribute("tabindex")) el.tabIndex = tabIndex;
        const selected = String(isStop);
        if (el.getAttribute("aria-selected") !== selected) el.setAttribute("aria-selected", selected);
      }
      this.meta.set(el, { key, kind, index: i, generation: this.generation });
      if (el.parentNode !== this.sizer) {
        this.sizer.insertBefore(el, prev === null ? this.sizer.firstChild : prev.nextSibling);
      }
      this.bound.set(key, el);
      order.push(el);
      prev = el;
    }
    this.fixOrder(order);

    const ahead = this.opts.loadAhead ?? 2 * vh;
    if (this.opts.onNearEnd !== undefined && this.offsetOf(n) - (top + vh) <= ahead) this.opts.onNearEnd();
  }

  /** Stops following the viewport's size. */
  destroy(): void {
    this.observer?.disconnect();
  }

  // ---- layout

  private layout(): void {
    const n = this.rows.length;
    const offsets = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = (offsets[i] as number) + this.opts.height(this.rows[i] as T);
    this.offsets = offsets;
    this.sizer.style.height = `${offsets[n] as number}px`;
  }

  private offsetOf(i: number): number {
    return this.offsets[Math.max(0, Math.min(i, this.rows.length))] as number;
  }

  /** The row at `y` px from the top (clamped to the rows). */
  private indexAt(y: number): number {
    let lo = 0;
    let hi = this.rows.length - 1;
    if (hi < 0) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.offsets[mid] as number) <= y) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private viewportHeight(): number {
    if (this.opts.viewportHeight !== undefined) return this.opts.viewportHeight();
    const attr = Number(this.viewport.dataset["viewportHeight"]);
    if (attr > 0) return attr;
    if (this.viewport.clientHeight > 0) return this.viewport.clientHeight;
    return this.viewport.ownerDocument.defaultView?.innerHeight ?? 600;
  }

  private setScrollTop(y: number): void {
    const max = Math.max(0, this.offsetOf(this.rows.length) - this.viewportHeight());
    this.viewport.scrollTop = Math.max(0, Math.min(y, max));
  }

  // ---- rows

  private kindOf(item: T): string {
    return this.opts.kind?.(item) ?? "";
  }

  private isFocusable(item: T): boolean {
    return this.opts.focusable?.(item) ?? true;
  }

  private keyAt(rows: readonly T[], i: number): string {
    return this.opts.key(rows[i] as T);
  }

  private make(kind: string): HTMLElement {
    const el = this.opts.create(kind);
    el.classList.add("vlist__row");
    return el;
  }

  /** The index of `key` in `rows`, searched outwards from `near` (rows
   * move a little at a time), or -1. */
  private find(rows: readonly T[], key: string, near: number): number {
    const n = rows.length;
    const from = Math.max(0, Math.min(near, n - 1));
    for (let d = 0; d < n; d++) {
      const a = from + d;
      const b = from - d;
      if (a >= n && b < 0) break;
      if (a < n && this.opts.key(rows[a] as T) === key) return a;
      if (d > 0 && b >= 0 && this.opts.key(rows[b] as T) === key) return b;
    }
    return -1;
  }

  /** The first focusable row from `from` going `dir`, or -1. */
  private nextFocusable(from: number, dir: 1 | -1): number {
    for (let i = from; i >= 0 && i < this.rows.length; i += dir) {
      if (this.isFocusable(this.rows[i] as T)) return i;
    }
    return -1;
  }

  /** The index of the tab stop's row, or -1. */
  private tabStop(): number {
    if (this.focusKey !== null) {
      const i = this.find(this.rows, this.focusKey, this.focusAt);
      if (i >= 0) {
        this.focusAt = i;
        return i;
      }
    }
    return this.nextFocusable(0, 1);
  }

  private tabStopKey(): string | null {
    const i = this.tabStop();
    return i < 0 ? null : this.keyAt(this.rows, i);
  }

  private rowElement(target: EventTarget | null): HTMLElement | null {
    let node = target instanceof Node ? target : null;
    while (node !== null && node.parentNode !== this.sizer) node = node.parentNode;
    return node as HTMLElement | null;
  }

  /** Puts the rows in list order if keys changed places (rare: rows keep
   * their relative order as the list grows). Moving a node drops its
   * focus, so the focus is put back. */
  private fixOrder(order: HTMLElement[]): void {
    let child = this.sizer.firstElementChild;
    let sorted = true;
    for (const el of order) {
      if (child !== el) {
        sorted = false;
        break;
      }
      child = child.nextElementSibling;
    }
    if (sorted) return;
    const active = this.viewport.ownerDocument.activeElement;
    this.sizer.append(...order);
    if (active instanceof HTMLElement && this.sizer.contains(active) && active !== this.viewport.ownerDocument.activeElement) {
      active.focus({ preventScroll: true });
    }
  }

  // ---- focus and keys

  private hasFocus(): boolean {
    const a = this.viewport.ownerDocument.activeElement;
    return a !== null && this.sizer.contains(a);
  }

  private focusTabStop(): void {
    const key = this.tabStopKey();
    const el = key === null ? undefined : this.bound.get(key);
    el?.focus({ preventScroll: true });
  }

  private onScroll(): void {
    // Not in the list: the tab stop follows the view, so Tab lands on a
    // row the user can see.
    if (!this.hasFocus() && this.rows.length > 0) {
      const first = this.indexAt(this.viewport.scrollTop);
      const firstWhole = this.offsetOf(first) < this.viewport.scrollTop ? first + 1 : first;
      const i = this.nextFocusable(Math.min(firstWhole, this.rows.length - 1), 1);
      if (i >= 0) {
        this.focusKey = this.keyAt(this.rows, i);
        this.focusAt = i;
      }
    }
    this.render();
  }

  private onFocusIn(e: FocusEvent): void {
    const row = this.rowElement(e.target);
    const m = row === null ? undefined : this.meta.get(row);
    const item = m === undefined ? undefined : this.rows[m.index];
    if (m === undefined || item === undefined || !this.isFocusable(item) || m.key === this.focusKey) return;
    this.focusKey = m.key;
    this.focusAt = m.index;
    this.render();
  }

  private onKey(e: KeyboardEvent): void {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || this.rowElement(e.target) === null) return;
    const from = this.tabStop();
    if (from < 0) return;
    const n = this.rows.length;
    const vh = this.viewportHeight();
    let to: number;
    switch (e.key) {
      case "ArrowDown":
        to = this.nextFocusable(from + 1, 1);
        break;
      case "ArrowUp":
        to = this.nextFocusable(from - 1, -1);
        break;
      case "Home":
        to = this.nextFocusable(0, 1);
        break;
      case "End":
        to = this.nextFocusable(n - 1, -1);
        break;
      case "PageDown": {
        const j = Math.max(this.indexAt(this.offsetOf(from) + vh), from + 1);
        to = this.nextFocusable(Math.min(j, n - 1), 1);
        if (to < 0) to = this.nextFocusable(n - 1, -1);
        break;
      }
      case "PageUp": {
        const j = Math.min(this.indexAt(Math.max(0, this.offsetOf(from) - vh)), from - 1);
        to = this.nextFocusable(Math.max(j, 0), -1);
        if (to < 0) to = this.nextFocusable(0, 1);
        break;
      }
      default:
        return;
    }
    e.preventDefault();
    this.focusIndex(to < 0 ? from : to);
  }
}

/** What a page asks the store for, apart from where it starts and its size. */
export type PageFilter = Omit<PageQuery, "before" | "limit">;

/** How a `Pager` asks for pages and says what came. */
export interface PagerOptions {
  /** Rows per page. */
  limit: number;
  /** The current view's filter, read for each page. */
  filter(): PageFilter;
  /** After each page of the current view arrives (even an empty one). */
  onPage(): void;
  /** When a page cannot be loaded; the next `more()` tries again. */
  onError(e: unknown): void;
}

/**
 * Notifications of one view, newest first, loaded from the store a page at
 * a time (`before` = the last loaded `seq`), one page at a time, plus the
 * live ones as they come.
 */
export class Pager {
  private list: Notification[] = [];
  private readonly byId = new Map<string, Notification>();
  private done = false;
  private pending: Promise<void> | null = null;
  private generation = 0;

  constructor(
    private readonly backend: Pick<Backend, "page">,
    private readonly opts: PagerOptions,
  ) {}

  /** The loaded notifications, newest first. */
  get items(): readonly Notification[] {
    return this.list;
  }

  /** Whether the store has nothing older to give. */
  get exhausted(): boolean {
    return this.done;
  }

  /** Whether a page is on its way. */
  get loading(): boolean {
    return this.pending !== null;
  }

  /** The loaded notification `id`, to change in place. */
  get(id: string): Notification | undefined {
    return this.byId.get(id);
  }

  /** Forgets everything for a new view; a page still on its way for the
   * old one is dropped when it comes. */
  reset(): void {
    this.generation++;
    this.list = [];
    this.byId.clear();
    this.done = false;
    this.pending = null;
  }

  /** Loads the next page, unless one is on its way (then it is that one's
   * promise) or there is none. Never rejects: errors go to `onError`. */
  more(): Promise<void> {
    if (this.pending !== null) return this.pending;
    if (this.done) return Promise.resolve();
    const generation = this.generation;
    const last = this.list[this.list.length - 1];
    const query: PageQuery = { ...this.opts.filter(), before: last?.seq ?? null, limit: this.opts.limit };
    const p = this.backend.page(query).then(
      (page) => {
        if (generation !== this.generation) return;
        this.pending = null;
        this.done = page.length < this.opts.limit;
        for (const n of page) {
          if (this.byId.has(n.id)) continue;
          this.byId.set(n.id, n);
          this.list.push(n);
        }
        this.opts.onPage();
      },
      (e: unknown) => {
        if (generation !== this.generation) return;
        this.pending = null;
        this.opts.onError(e);
      },
    );
    this.pending = p;
    return p;
  }

  /** Adds live notifications in `seq` order; ones already here, and ones
   * older than the last loaded while older pages are still to come (they
   * come with them), are left out. Returns how many were added. */
  insert(fresh: readonly Notification[]): number {
    const last = this.list[this.list.length - 1];
    const add = fresh
      .filter((n) => !this.byId.has(n.id) && (this.done || last === undefined || n.seq > last.seq))
      .sort((a, b) => b.seq - a.seq);
    const unique = add.filter((n, i) => add.findIndex((m) => m.id === n.id) === i);
    if (unique.length === 0) return 0;
    for (const n of unique) this.byId.set(n.id, n);
    const first = this.list[0];
    const oldest = unique[unique.length - 1] as Notification;
    if (first === undefined || oldest.seq > first.seq) {
      this.list = [...unique, ...this.list];
    } else {
      this.list = [...unique, ...this.list].sort((a, b) => b.seq - a.seq);
    }
    return unique.length;
  }

  /** Keeps only the notifications `keep` says yes to. Returns how many went. */
  retain(keep: (n: Notification) => boolean): number {
    const before = this.list.length;
    this.list = this.list.filter((n) => {
      if (keep(n)) return true;
      this.byId.delete(n.id);
      return false;
    });
    return before - this.list.length;
  }
}
