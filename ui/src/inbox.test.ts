// @vitest-environment happy-dom
/** The inbox against a fake backend: what the operator sees and what the
 * buttons ask of the core. */
import type { UpdateInfo } from "./bindings/UpdateInfo";
import type { Pause } from "./bindings/Pause";
import { afterEach, describe, expect, it } from "vitest";
import type { Backend } from "./backend";
import type { Center } from "./bindings/Center";
import { plain } from "./dom";
import { chooseLocale, formatTime, setLocale } from "./i18n";
import { Inbox, dayLabel, matches, statusLine } from "./inbox";
import type { InboxOptions } from "./inbox";
import type { CoreEvent, Notification, PageQuery, Status } from "./types";

const NOW = new Date("2026-11-23T15:00:00Z");

function n(seq: number, title: string, extra: Partial<Notification> = {}): Notification {
  return {
    id: `n${seq}`,
    seq,
    type: "ticket_created",
    category: "events",
    title,
    body: `body ${seq}`,
    link: `/tickets/${seq}`,
    created_at: "2026-11-23T14:00:00Z",
    read_at: null,
    data: {},
    ...extra,
  };
}

const connected: Status = {
  connection: { state: "connected" },
  quiet: null,
  availability: null,
  unread: { total: 2, events: 2, system: 0 },
  problem: null,
  problems: [],
  account: "olga@https://help.example.com/",
  sign_in: null,
};

/** The store's text match, as far as these tests need it (the store's
 * own folding is tested in belfry-core). */
function storeMatches(n: Notification, text: string | null): boolean {
  // Like the store, it matches the text as a row shows it: without the
  // hidden characters (one set, belfry_proto::text::HIDDEN).
  const shown = (s: string) => plain(s).toLowerCase();
  const t = shown((text ?? "").trim());
  return t === "" || shown(n.title).includes(t) || shown(n.body).includes(t);
}

class Fake implements Backend {
  items: Notification[] = [];
  calls: string[] = [];
  queries: PageQuery[] = [];
  emit: (ev: CoreEvent) => void = () => {};
  status = async () => connected;
  page = async (q: PageQuery) => {
    this.queries.push(q);
    return this.items
      .filter((x) => matches(x, q) && storeMatches(x, q.text))
      .filter((x) => q.before === null || x.seq < q.before)
      .sort((a, b) => b.seq - a.seq)
      .slice(0, q.limit);
  };
  markRead = async (ids: string[]) => void this.calls.push(`read ${ids.join(",")}`);
  markAllRead = async () => void this.calls.push("read all");
  open = async (id: string) => void this.calls.push(`open ${id}`);
  retryNow = async () => void this.calls.push("retry");
  signIn = async (address: string, login: string) => void this.calls.push(`sign in ${login}@${address}`);
  signOut = async () => void this.calls.push("sign out");
  general = async () => ({ start_at_login: false, start_at_login_locked: false, version: "0.1.0" });
  setStartAtLogin = async (on: boolean) => ({ start_at_login: on, start_at_login_locked: false, version: "0.1.0" });
  shownView = async () => {};
  soundOutput = async () => ({ volume: 0.8, device: null, devices: ["Speakers"], custom: {} });
  setSoundOutput = async (volume: number, device: string | null) => ({ volume, device, devices: ["Speakers"], custom: {} });
  importSound = async () => this.soundOutput();
  removeSound = async () => this.soundOutput();
  openWebProfile = async () => {};
  pause = async (_choice: Pause) => {};
  startView = async () => null;
  center = async (): Promise<Center> => {
    throw "not signed in";
  };
  editPreferences = async (): Promise<Center> => {
    throw "not signed in";
  };
  sendTest = async () => {};
  previewMelody = async () => {};
  onNavigate = async () => () => {};
  onEvent = async (f: (ev: CoreEvent) => void) => {
    this.emit = f;
    return () => {};
  };
  onStatus = async () => () => {};
  updateInfo = async (): Promise<UpdateInfo> => ({
    off: null,
    channel: "stable",
    channel_locked: false,
    single_channel: false,
    last_checked: null,
    state: { kind: "idle" },
  });
  checkUpdates = async () => this.updateInfo();
  installUpdate = async () => this.updateInfo();
  setUpdateChannel = async () => this.updateInfo();
  restartToUpdate = async () => {};
  onUpdate = async () => () => {};
}

async function mounted(items: Notification[], options: InboxOptions = {}, fake = new Fake()) {
  fake.items = items;
  const root = document.createElement("main");
  document.body.replaceChildren(root);
  const inbox = new Inbox(root, fake, () => NOW, options);
  await inbox.start();
  return { fake, root, inbox };
}

afterEach(() => {
  setLocale("en");
  localStorage.clear();
});

const titles = (root: HTMLElement) =>
  [...root.querySelectorAll(".item__title")].map((e) => e.textContent);

describe("the inbox", () => {
  it("lists newest first with unread marked and the count shown", async () => {
    const { root } = await mounted([n(1, "first"), n(2, "second", { read_at: "2026-11-23T14:30:00Z" })]);
    expect(titles(root)).toEqual(["second", "first"]);
    expect(root.querySelectorAll(".item--unread").length).toBe(1);
    expect(root.querySelector("[data-testid=unread-count]")?.textContent).toBe("2");
    expect(root.querySelector(".inbox__day")?.textContent).toBe("Today");
  });

  it("shows hostile text as text", async () => {
    const { root } = await mounted([n(1, "<img src=x onerror=alert(1)>", { body: "<script>alert(2)</script>" })]);
    expect(root.querySelector("img")).toBeNull();
    expect(root.querySelector("script")).toBeNull();
    expect(titles(root)).toEqual(["<img src=x onerror=alert(1)>"]);
  });

  it("asks the core to open, mark read and mark all read", async () => {
    const { fake, root } = await mounted([n(1, "one")]);
    root.querySelector<HTMLButtonElement>(".item__open")?.click();
    root.querySelector<HTMLButtonElement>(".item__read")?.click();
    root.querySelector<HTMLButtonElement>("[data-testid=mark-all]")?.click();
    await Promise.resolve();
    expect(fake.calls).toEqual(["open n1", "read n1", "read all"]);
  });

  it("follows new notifications and reads made elsewhere without a reload", async () => {
    const { fake, root } = await mounted([n(1, "one")]);
    fake.emit({ event: "added", items: [n(2, "two"), n(3, "three")] });
    expect(titles(root)).toEqual(["three", "two", "one"]);
    fake.emit({ event: "read", ids: ["n3"] });
    expect(root.querySelectorAll(".item--unread").length).toBe(2);
    fake.emit({ event: "read_all", up_to_seq: 3 });
    expect(root.querySelectorAll(".item--unread").length).toBe(0);
  });

  it("while a search is shown, the store says which new notifications match it", async () => {
    const { fake, root } = await mounted([n(1, "payment failed")]);
    const search = root.querySelector<HTMLInputElement>(".inbox__search");
    if (search === null) throw new Error("no search");
    search.value = "payment";
    search.dispatchEvent(new Event("input"));
    await new Promise((r) => setTimeout(r, 0));
    expect(titles(root)).toEqual(["payment failed"]);
    // The store matches "pay\u200Bment" as shown ("payment"); a plain
    // substring test in the window would not.
    const hidden = n(2, "pay\u200Bment due");
    const other = n(3, "unrelated");
    fake.items.push(hidden, other);
    fake.queries = [];
    fake.emit({ event: "added", items: [hidden, other] });
    await new Promise((r) => setTimeout(r, 0));
    expect(fake.queries.map((q) => q.text)).toEqual(["payment"]);
    expect(titles(root)).toEqual(["payment due", "payment failed"]);
  });

  it("says once, a frame after the first rows are drawn, that they are on screen", async () => {
    const fake = new Fake();
    const said: number[] = [];
    const withPainted = Object.assign(fake, { painted: async (rows: number) => void said.push(rows) });
    const { root } = await mounted([n(1, "one"), n(2, "two")], { viewportHeight: () => 640 }, withPainted);
    expect(said).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(said).toHaveLength(1);
    expect(said[0]).toBeGreaterThanOrEqual(2);
    // A reload (a filter, a search) is not another opening.
    const search = root.querySelector<HTMLInputElement>(".inbox__search");
    if (search === null) throw new Error("no search");
    search.value = "one";
    search.dispatchEvent(new Event("input"));
    await new Promise((r) => setTimeout(r, 50));
    expect(said).toHaveLength(1);
  });

  it("filters by unread through the store", async () => {
    const { fake, root } = await mounted([n(1, "alpha"), n(2, "beta", { read_at: NOW.toISOString() })]);
    const [, unread] = root.querySelectorAll<HTMLButtonElement>(".seg__option");
    unread?.click();
    await new Promise((r) => setTimeout(r, 0));
    expect(titles(root)).toEqual(["alpha"]);
    expect(fake.queries[fake.queries.length - 1]?.unread).toBe(true);
  });
});

describe("statusLine", () => {
  it("counts down to the next attempt and offers a retry", () => {
    const s: Status = {
      ...connected,
      connection: { state: "reconnecting", next_attempt: "2026-11-23T15:00:07Z", attempt: 2 },
    };
    expect(statusLine(s, NOW)).toEqual({ text: "Reconnecting in 7 s", retry: true });
  });

  it("says why it is quiet", () => {
    const s: Status = { ...connected, quiet: { reason: "do_not_disturb", source: "dunst is paused" } };
    expect(statusLine(s, NOW).text).toBe("Connected · quiet: dunst is paused");
  });

  it("says what is wrong while it goes on, newest first, until it works again", () => {
    const disk = { what: "storing notifications", message: "storing notifications: disk full" };
    const sound = { what: "playing sounds", message: "playing sounds: no device" };
    // A sentence for what failed, not the error chain.
    expect(statusLine({ ...connected, problems: [disk] }, NOW).text).toBe(
      "Connected · New notifications cannot be saved on this computer. Check the free disk space.",
    );
    expect(statusLine({ ...connected, problems: [disk, sound] }, NOW).text).toBe(
      "Connected · Melodies cannot play: no audio device is available. (and 1 more)",
    );
    expect(statusLine(connected, NOW).text).toBe("Connected");
  });

  it("says signed out with the reason", () => {
    const s: Status = { ...connected, connection: null, problem: "no login" };
    expect(statusLine(s, NOW).text).toBe("Signed out: no login");
  });
});

describe("dayLabel", () => {
  it("names today and yesterday", () => {
    expect(dayLabel("2026-11-23T09:00:00Z", NOW)).toBe("Today");
    expect(dayLabel("2026-11-22T12:00:00Z", NOW)).toBe("Yesterday");
  });
});

/** The last element of a list. */
const last = <T>(xs: readonly T[]): T | undefined => xs[xs.length - 1];

const flush = () => new Promise((r) => setTimeout(r, 0));
/** Rows are 4rem and headings 2rem, at happy-dom's 16px. */
const ROW = 64;
const DAY = 32;

function scroll(root: HTMLElement, y: number) {
  const list = root.querySelector<HTMLElement>(".inbox__list");
  if (list === null) throw new Error("no list");
  list.scrollTop = y;
  list.dispatchEvent(new Event("scroll"));
  return list;
}

function press(k: string, target: Element | null = document.activeElement) {
  target?.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
}

/** Scrolls the list to its end, as far as a browser would let it. */
function scrollToEnd(root: HTMLElement, viewport: number) {
  const sizer = root.querySelector<HTMLElement>(".inbox__list > *");
  return scroll(root, parseFloat(sizer?.style.height ?? "0") - viewport);
}

const focusedId = () => document.activeElement?.getAttribute("data-id");

describe("a large history", () => {
  it("keeps the DOM small with 100,000 notifications, loading pages from the last seq near the end", async () => {
    const total = 100_000;
    const fake = new Fake();
    // The store, newest first: one a minute, so about seventy days.
    fake.page = async (q: PageQuery) => {
      fake.queries.push(q);
      const top = q.before === null ? total : q.before - 1;
      return Array.from({ length: Math.max(0, Math.min(q.limit, top)) }, (_, k) => {
        const seq = top - k;
        return n(seq, `Ticket ${seq}`, { created_at: new Date(NOW.getTime() - (total - seq) * 60_000).toISOString() });
      });
    };
    const { root } = await mounted([], { pageSize: 10_000, viewportHeight: () => 640 }, fake);
    expect(fake.queries.length).toBe(1);
    expect(titles(root)[0]).toBe("Ticket 100000");

    for (let page = 2; page <= 11; page++) {
      scrollToEnd(root, 640);
      scrollToEnd(root, 640); // a second scroll while the page loads asks for nothing
      expect(fake.queries.length).toBe(page);
      expect(fake.queries[page - 1]?.before).toBe(total - (page - 1) * 10_000 + 1);
      await flush();
      expect(root.querySelectorAll(".inbox__list [data-id]").length).toBeLessThan(60);
    }
    expect(last(fake.queries)?.before).toBe(1);
    expect(last(titles(root))).toBe("Ticket 1");
    scrollToEnd(root, 640);
    expect(fake.queries.length).toBe(11); // the store is exhausted

    scroll(root, 0);
    expect(titles(root)[0]).toBe("Ticket 100000");
    expect(root.querySelectorAll(".inbox__list > * > *").length).toBeLessThan(60);
  });

  it("keeps the view still when a notification arrives while scrolled down", async () => {
    const items = Array.from({ length: 200 }, (_, i) => n(i + 1, `t${i + 1}`));
    const { fake, root } = await mounted(items, { pageSize: 500, viewportHeight: () => 320 });
    const list = scroll(root, DAY + 50 * ROW);
    const before = titles(root);
    fake.emit({ event: "added", items: [n(201, "new")] });
    expect(list.scrollTop).toBe(DAY + 51 * ROW);
    expect(titles(root)).toEqual(before);

    scroll(root, 0);
    fake.emit({ event: "added", items: [n(202, "newer")] });
    expect(list.scrollTop).toBe(0);
    expect(titles(root)[0]).toBe("newer");
  });
});

describe("the keyboard", () => {
  const thirty = () => Array.from({ length: 30 }, (_, i) => n(i + 1, `t${i + 1}`));

  it("moves through the list with one tab stop and a visible place", async () => {
    const { root } = await mounted(thirty(), { viewportHeight: () => 5 * ROW });
    const stops = () => root.querySelectorAll('.inbox__list [tabindex="0"]');
    expect(root.querySelector(".inbox__list")?.getAttribute("role")).toBe("listbox");
    expect(stops().length).toBe(1);
    const first = stops()[0] as HTMLElement;
    expect(first.getAttribute("role")).toBe("option");
    first.focus();
    expect(focusedId()).toBe("n30");
    press("ArrowDown");
    press("ArrowDown");
    expect(focusedId()).toBe("n28");
    press("ArrowUp");
    expect(focusedId()).toBe("n29");
    press("End");
    expect(focusedId()).toBe("n1");
    expect(root.querySelector<HTMLElement>(".inbox__list")?.scrollTop).toBe(DAY + 30 * ROW - 5 * ROW);
    press("Home");
    expect(focusedId()).toBe("n30");
    press("PageDown");
    expect(focusedId()).toBe("n25");
    press("PageUp");
    expect(focusedId()).toBe("n30");
    expect(stops().length).toBe(1);
    expect(document.activeElement?.getAttribute("aria-selected")).toBe("true");
    // The exact time for screen readers; the row shows it relative, with the exact time on hover.
    const time = root.querySelector<HTMLTimeElement>(".item__time");
    expect(document.activeElement?.getAttribute("aria-label")).toBe(
      `Unread: t30, ${time?.textContent}. body 30. Today, ${formatTime(new Date(time?.dateTime ?? ""))}`,
    );
    expect(time?.textContent).toMatch(/ago$|^Just now$|:/);
    expect(time?.title).not.toBe("");
  });

  it("opens with Enter and marks read with Space or R", async () => {
    const { fake, root } = await mounted(thirty());
    (root.querySelector('.inbox__list [tabindex="0"]') as HTMLElement).focus();
    press("ArrowDown");
    press("Enter");
    press(" ");
    press("r");
    await flush();
    expect(fake.calls).toEqual(["open n29", "read n29", "read n29"]);
  });

  it("keeps the place when the focused row leaves the unread view", async () => {
    const { fake, root } = await mounted(thirty());
    const [, unread] = root.querySelectorAll<HTMLButtonElement>(".seg__option");
    unread?.click();
    await flush();
    (root.querySelector('.inbox__list [tabindex="0"]') as HTMLElement).focus();
    press("ArrowDown");
    press("r");
    fake.emit({ event: "read", ids: ["n29"] });
    expect(focusedId()).toBe("n28");
  });

  it("goes to the search with / and clears it with Escape", async () => {
    const { fake, root } = await mounted(thirty());
    const search = root.querySelector<HTMLInputElement>(".inbox__search");
    press("/", document.body);
    expect(document.activeElement).toBe(search);
    if (search === null) throw new Error("no search");
    search.value = "t1";
    search.dispatchEvent(new Event("input"));
    await flush();
    expect(last(fake.queries)?.text).toBe("t1");
    expect(titles(root)).toContain("t17");
    expect(titles(root)).not.toContain("t22");
    press("Escape", search);
    await flush();
    expect(search.value).toBe("");
    expect(last(fake.queries)?.text).toBeNull();
    expect(titles(root)).toContain("t22");
    // In the search box, "/" is a slash.
    const typed = new KeyboardEvent("keydown", { key: "/", bubbles: true, cancelable: true });
    search.dispatchEvent(typed);
    expect(typed.defaultPrevented).toBe(false);
  });
});

describe("the languages", () => {
  const reconnecting: Status = {
    ...connected,
    connection: { state: "reconnecting", next_attempt: "2026-11-23T15:00:07Z", attempt: 2 },
  };

  it("switch to Ukrainian (chosen in Settings), re-rendering everything, and keep the choice", async () => {
    const fake = new Fake();
    fake.status = async () => reconnecting;
    const { root } = await mounted([n(1, "one")], {}, fake);
    expect(root.querySelector("[data-testid=status]")?.textContent).toBe("Reconnecting in 7 s");
    expect(document.documentElement.lang).toBe("en");

    // The language is chosen in Settings only: no picker in the inbox.
    expect(root.querySelector("select")).toBeNull();
    chooseLocale("uk", window.localStorage);

    const text = (css: string) => root.querySelector(css)?.textContent;
    expect(document.documentElement.lang).toBe("uk");
    expect(text(".inbox__title-text")).toBe("Сповіщення");
    expect(text(".inbox__title .visually-hidden")).toBe("2 непрочитані");
    expect(text("[data-testid=mark-all]")).toBe("Прочитати все");
    expect([...root.querySelectorAll(".seg__option")].map((b) => b.textContent)).toEqual([
      "Усі",
      "Непрочитані",
      "Усі",
      "Події",
      "Системні",
    ]);
    expect(root.querySelector(".inbox__filters")?.getAttribute("aria-label")).toBe("Фільтри");
    expect(root.querySelector<HTMLInputElement>(".inbox__search")?.placeholder).toBe("Пошук");
    expect(text("[data-testid=status]")).toBe("Повторне підключення через 7 с");
    expect(text(".inbox__retry")).toBe("Повторити зараз");
    expect(text(".inbox__day")).toBe("Сьогодні");
    expect(root.querySelector(".item__read")?.getAttribute("title")).toBe("Прочитано");
    expect(root.querySelector(".inbox__list")?.getAttribute("aria-label")).toBe("Сповіщення");
    expect(titles(root)).toEqual(["one"]);

    // Opened again: still Ukrainian, though the system is English.
    const again = await mounted([n(1, "one")], { languages: ["en-US"] });
    expect(again.root.querySelector(".inbox__title-text")?.textContent).toBe("Сповіщення");
  });

  it("follow a Ukrainian system", async () => {
    const { root } = await mounted([], { languages: ["uk-UA"], storage: null });
    expect(root.querySelector(".inbox__title-text")?.textContent).toBe("Сповіщення");
    expect(root.querySelector(".inbox__empty-title")?.textContent).toBe("Сповіщень поки немає");
    expect(statusLine(connected, NOW).text).toBe("Підключено");
    expect(dayLabel("2026-11-22T12:00:00Z", NOW)).toBe("Вчора");
  });
});

describe("a row", () => {
  const catalogue = {
    document: {},
    pending: false,
    catalogue: {
      groups: [],
      channels: [],
      melodies: [],
      types: [
        { id: "ticket_created", group: "creation", critical: false },
        { id: "sla_expired", group: "sla", critical: true },
      ],
    },
  } as unknown as Center;

  it("shows its type's icon, its ticket or chat, a relative time, and sets critical types apart", async () => {
    const fake = new Fake();
    fake.center = async () => catalogue;
    const { root } = await mounted(
      [
        n(1, "Breach", { type: "sla_expired", data: { ticket_id: 42 }, created_at: "2026-11-23T14:57:00Z" }),
        n(2, "New chat", { type: "chat_created", data: { chat_id: "17" }, created_at: "2026-11-23T14:59:40Z", read_at: "2026-11-23T14:59:50Z" }),
      ],
      {},
      fake,
    );
    await new Promise((r) => setTimeout(r, 0));
    const rows = [...root.querySelectorAll<HTMLElement>(".item")];
    const by = (title: string) => rows.find((r) => r.querySelector(".item__title")?.textContent === title);
    const breach = by("Breach");
    const chat = by("New chat");
    expect(breach?.querySelector("svg")?.getAttribute("data-icon")).toBe("sla");
    expect(breach?.classList.contains("item--critical")).toBe(true);
    expect(breach?.getAttribute("aria-label")).toMatch(/^Important: Unread: Breach, 3 min ago\. Ticket 42: body 1\. Today, /);
    expect(breach?.querySelector(".item__ref")?.textContent).toBe("Ticket 42");
    expect(breach?.querySelector(".item__time")?.textContent).toBe("3 min ago");
    // A type the catalogue does not list: the generic icon, not critical.
    expect(chat?.querySelector("svg")?.getAttribute("data-icon")).toBe("other");
    expect(chat?.classList.contains("item--critical")).toBe(false);
    expect(chat?.querySelector(".item__ref")?.textContent).toBe("Chat 17");
    expect(chat?.querySelector(".item__time")?.textContent).toBe("Just now");
    // One unread mark, which is the Mark read button; a read row has none.
    expect(breach?.querySelectorAll(".item__read")).toHaveLength(1);
    expect(chat?.querySelector(".item__read")).toBeNull();
    // Glyphs are SVG: no emoji or symbol characters in the rows' chrome.
    expect(root.querySelector(".inbox__header")?.textContent).not.toMatch(/[\u2190-\u2BFF\u{1F300}-\u{1FAFF}]/u);
  });

  it("says when a search matches nothing, and what to do", async () => {
    const { root } = await mounted([n(1, "one")]);
    const search = root.querySelector<HTMLInputElement>(".inbox__search");
    if (search === null) throw new Error("no search");
    search.value = "zebra";
    search.dispatchEvent(new Event("input"));
    await new Promise((r) => setTimeout(r, 0));
    expect(root.querySelector(".inbox__empty-title")?.textContent).toBe("Nothing matches “zebra”");
  });
});
