// @vitest-environment happy-dom
/** The virtual list and the pager: a bounded DOM over a long list, the
 * right rows for the scroll position, pages asked for near the end and one
 * at a time, a steady view under live inserts, and the keys. happy-dom has
 * no layout, so the viewport's height is given and scroll events are sent
 * by hand. */
import { describe, expect, it } from "vitest";
import type { Notification, PageQuery } from "./types";
import { Pager, VirtualList } from "./virtual";

const ROW = 20;
const VIEW = 200; // ten rows in view

interface Item {
  id: string;
  heading?: boolean;
}

function items(n: number, from = 0): Item[] {
  return Array.from({ length: n }, (_, i) => ({ id: `i${from + i}` }));
}

function mount(options: { onNearEnd?: () => void; overscan?: number } = {}) {
  const viewport = document.createElement("div");
  document.body.replaceChildren(viewport);
  let created = 0;
  const list = new VirtualList<Item>(viewport, {
    key: (x) => x.id,
    kind: (x) => (x.heading ? "heading" : "item"),
    height: () => ROW,
    focusable: (x) => !x.heading,
    create: () => {
      created++;
      return document.createElement("div");
    },
    update: (el, x) => {
      el.textContent = x.id;
    },
    viewportHeight: () => VIEW,
    ...options,
  });
  const scrollTo = (y: number) => {
    viewport.scrollTop = y;
    viewport.dispatchEvent(new Event("scroll"));
  };
  const shown = () => [...viewport.querySelectorAll(".vlist__row")].map((e) => e.textContent);
  return { viewport, list, scrollTo, shown, created: () => created };
}

function key(target: Element, k: string) {
  target.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
}

function note(seq: number): Notification {
  return {
    id: `n${seq}`,
    seq,
    type: "ticket_created",
    category: "events",
    title: `Ticket ${seq}`,
    body: "",
    link: null,
    created_at: "2026-11-23T14:00:00Z",
    read_at: null,
    data: {},
  };
}

/** A store of `total` notifications, seq 1..total, served newest first. */
function store(total: number) {
  const queries: PageQuery[] = [];
  let hold: Promise<void> | null = null;
  const backend = {
    page: async (q: PageQuery): Promise<Notification[]> => {
      queries.push(q);
      if (hold !== null) await hold;
      const top = q.before === null ? total : q.before - 1;
      const n = Math.max(0, Math.min(q.limit, top));
      return Array.from({ length: n }, (_, k) => note(top - k));
    },
  };
  /** Holds every page until the returned function is called. */
  const gate = () => {
    let open = () => {};
    hold = new Promise((r) => (open = r));
    return () => {
      hold = null;
      open();
    };
  };
  return { backend, queries, gate };
}

/** The last element of a list. */
const last = <T>(xs: readonly T[]): T | undefined => xs[xs.length - 1];

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("VirtualList", () => {
  it("keeps a bounded number of rows in the DOM over 100,000 items", () => {
    const { list, viewport, shown, created } = mount();
    list.setItems(items(100_000));
    expect(viewport.querySelectorAll(".vlist__row").length).toBeLessThan(60);
    expect(shown()[0]).toBe("i0");
    expect(viewport.firstElementChild?.getAttribute("style")).toContain(`height: ${100_000 * ROW}px`);
    expect(created()).toBeLessThan(60);
  });

  it("renders the rows at the scroll position, reusing elements, in list order", () => {
    const { list, scrollTo, shown, created, viewport } = mount({ overscan: 2 });
    list.setItems(items(100_000));
    scrollTo(50_000 * ROW + 5); // row 50,000 a little scrolled
    expect(shown()).toEqual(Array.from({ length: 2 + 11 + 2 }, (_, i) => `i${49_998 + i}`));
    const made = created();
    const row = viewport.querySelector<HTMLElement>(".vlist__row:nth-child(3)");
    expect(row?.style.transform).toBe(`translateY(${50_000 * ROW}px)`);
    scrollTo(50_003 * ROW);
    expect(shown()[0]).toBe("i50001");
    scrollTo(99_990 * ROW);
    expect(last(shown())).toBe("i99999");
    expect(created()).toBe(made);
  });

  it("shows text as text", () => {
    const { list, viewport } = mount();
    list.setItems([{ id: "<img src=x onerror=alert(1)>" }]);
    expect(viewport.querySelector("img")).toBeNull();
    expect(viewport.textContent).toBe("<img src=x onerror=alert(1)>");
  });

  it("keeps the view still when rows arrive above it, and shows them at the top", () => {
    const { list, viewport, scrollTo, shown } = mount({ overscan: 0 });
    list.setItems(items(1000, 100));
    scrollTo(300 * ROW + 7);
    const before = shown();
    list.setItems([...items(3, 0), ...items(1000, 100)]);
    expect(viewport.scrollTop).toBe(303 * ROW + 7);
    expect(shown()).toEqual(before);

    scrollTo(0);
    list.setItems([...items(5, 0), ...items(1000, 100)]);
    expect(viewport.scrollTop).toBe(0);
    expect(shown()[0]).toBe("i0");
  });

  it("keeps rows in list order when new ones come between", () => {
    const { list, shown } = mount();
    list.setItems([{ id: "c" }]);
    list.setItems([{ id: "a" }, { id: "b" }, { id: "c" }]);
    expect(shown()).toEqual(["a", "b", "c"]);
    list.setItems([{ id: "c" }, { id: "b" }, { id: "a" }]);
    expect(shown()).toEqual(["c", "b", "a"]);
  });

  it("calls for more near the end only", () => {
    let calls = 0;
    const { list, scrollTo } = mount({ onNearEnd: () => calls++ });
    list.setItems(items(1000));
    expect(calls).toBe(0);
    scrollTo(500 * ROW);
    expect(calls).toBe(0);
    scrollTo((1000 - 25) * ROW); // within two viewports of the end
    expect(calls).toBe(1);
  });

  it("is a listbox with one tab stop that the keys move, skipping headings", () => {
    const { list, viewport, scrollTo } = mount({ overscan: 1 });
    const rows: Item[] = [{ id: "h0", heading: true }, ...items(500)];
    list.setItems(rows);
    expect(viewport.getAttribute("role")).toBe("listbox");
    const stops = () => viewport.querySelectorAll('[tabindex="0"]');
    expect(stops().length).toBe(1);
    expect(stops()[0]?.textContent).toBe("i0");
    expect(viewport.querySelector(".vlist__row")?.getAttribute("role")).toBe("presentation");

    const first = stops()[0] as HTMLElement;
    first.focus();
    const active = () => document.activeElement?.textContent;
    key(first, "ArrowDown");
    expect(active()).toBe("i1");
    expect(document.activeElement?.getAttribute("aria-selected")).toBe("true");
    key(document.activeElement as Element, "ArrowUp");
    key(document.activeElement as Element, "ArrowUp"); // the heading is not a stop
    expect(active()).toBe("i0");
    expect(viewport.scrollTop).toBe(0);

    key(document.activeElement as Element, "PageDown");
    expect(active()).toBe("i10");
    expect(viewport.scrollTop).toBeGreaterThan(0);
    key(document.activeElement as Element, "End");
    expect(active()).toBe("i499");
    expect(viewport.scrollTop).toBe(501 * ROW - VIEW);
    expect(viewport.querySelectorAll(".vlist__row").length).toBeLessThan(20);
    key(document.activeElement as Element, "PageUp");
    expect(active()).toBe("i489");
    key(document.activeElement as Element, "Home");
    expect(active()).toBe("i0");
    expect(stops().length).toBe(1);

    // Scrolled away with the wheel, the focused row stays in the DOM.
    scrollTo(300 * ROW);
    expect(active()).toBe("i0");
    expect(stops()[0]).toBe(document.activeElement);
  });

  it("moves the focus to the row in its place when the focused row goes", () => {
    const { list } = mount();
    list.setItems(items(10));
    list.focusIndex(4);
    expect(document.activeElement?.textContent).toBe("i4");
    list.setItems(items(10).filter((x) => x.id !== "i4"));
    expect(document.activeElement?.textContent).toBe("i5");
  });

  it("lets Tab land on a row in view when the focus is elsewhere", () => {
    const { list, viewport, scrollTo } = mount();
    list.setItems(items(1000));
    scrollTo(400 * ROW + 5);
    expect(viewport.querySelector('[tabindex="0"]')?.textContent).toBe("i401");
  });
});

describe("Pager", () => {
  it("loads 100,000 notifications page by page, each from the last seq", async () => {
    const { backend, queries } = store(100_000);
    let pages = 0;
    const pager = new Pager(backend, {
      limit: 1000,
      filter: () => ({ unread: false, category: null, text: null }),
      onPage: () => pages++,
      onError: (e) => {
        throw e;
      },
    });
    while (!pager.exhausted) await pager.more();
    expect(pager.items.length).toBe(100_000);
    expect(pages).toBe(101); // the last one is empty: the store had exactly 100 pages
    expect(queries[1]?.before).toBe(99_001);
    expect(pager.items[99_999]?.seq).toBe(1);

    const { list, viewport, scrollTo, shown } = mount();
    list.setItems(pager.items.map((n) => ({ id: n.id })));
    expect(viewport.querySelectorAll(".vlist__row").length).toBeLessThan(60);
    scrollTo(75_000 * ROW);
    expect(shown()).toContain("n25000");
  });

  it("asks for the next page near the end, and not twice at once", async () => {
    const { backend, queries, gate } = store(100_000);
    let pager: Pager | null = null;
    const { list, scrollTo } = mount({ onNearEnd: () => void pager?.more() });
    const show = (p: Pager) => list.setItems(p.items.map((n) => ({ id: n.id })));
    const p = new Pager(backend, {
      limit: 100,
      filter: () => ({ unread: false, category: null, text: null }),
      onPage: () => show(p),
      onError: (e) => {
        throw e;
      },
    });
    pager = p;
    await p.more();
    expect(queries.length).toBe(1); // 100 rows, seen from the top: not near the end

    const open = gate();
    scrollTo(80 * ROW);
    expect(queries.length).toBe(2);
    expect(queries[1]?.before).toBe(99_901);
    expect(p.loading).toBe(true);
    scrollTo(85 * ROW);
    scrollTo(90 * ROW);
    expect(queries.length).toBe(2);
    open();
    await flush();
    expect(p.items.length).toBe(200);
    expect(p.items[100]?.seq).toBe(99_900);
    expect(queries.length).toBe(2); // the new end is far again
  });

  it("drops a page of a view that was left", async () => {
    const { backend, gate } = store(50);
    const pager = new Pager(backend, {
      limit: 10,
      filter: () => ({ unread: false, category: null, text: null }),
      onPage: () => {},
      onError: () => {},
    });
    const open = gate();
    const stale = pager.more();
    pager.reset();
    open();
    await stale;
    expect(pager.items.length).toBe(0);
    await pager.more();
    expect(pager.items.map((n) => n.seq).slice(0, 2)).toEqual([50, 49]);
  });

  it("adds live notifications at the top, once", async () => {
    const { backend } = store(5);
    const pager = new Pager(backend, {
      limit: 10,
      filter: () => ({ unread: false, category: null, text: null }),
      onPage: () => {},
      onError: () => {},
    });
    await pager.more();
    expect(pager.insert([note(7), note(6), note(5)])).toBe(2);
    expect(pager.items.map((n) => n.seq)).toEqual([7, 6, 5, 4, 3, 2, 1]);
  });

  it("reports a failed page and tries again on the next call", async () => {
    let fail = true;
    const errors: unknown[] = [];
    const pager = new Pager(
      {
        page: async () => {
          if (fail) throw new Error("store locked");
          return [note(1)];
        },
      },
      { limit: 10, filter: () => ({ unread: false, category: null, text: null }), onPage: () => {}, onError: (e) => errors.push(e) },
    );
    await pager.more();
    expect(String(errors[0])).toContain("store locked");
    expect(pager.loading).toBe(false);
    fail = false;
    await pager.more();
    expect(pager.items.length).toBe(1);
  });
});
