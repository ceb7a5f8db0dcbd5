// @vitest-environment happy-dom
/** The inbox against a fake backend: what the operator sees and what the
 * buttons ask of the core. */
import { describe, expect, it } from "vitest";
import type { Backend } from "./backend";
import { Inbox, dayLabel, matches, statusLine } from "./inbox";
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
  unread: { total: 2, events: 2, system: 0 },
  problem: null,
  account: "olga@https://help.example.com/",
};

class Fake implements Backend {
  items: Notification[] = [];
  calls: string[] = [];
  queries: PageQuery[] = [];
  emit: (ev: CoreEvent) => void = () => {};
  status = async () => connected;
  page = async (q: PageQuery) => {
    this.queries.push(q);
    return this.items
      .filter((x) => matches(x, { unread: q.unread, category: q.category, text: q.text ?? "" }))
      .filter((x) => q.before === null || x.seq < q.before)
      .sort((a, b) => b.seq - a.seq)
      .slice(0, q.limit);
  };
  markRead = async (ids: string[]) => void this.calls.push(`read ${ids.join(",")}`);
  markAllRead = async () => void this.calls.push("read all");
  open = async (id: string) => void this.calls.push(`open ${id}`);
  retryNow = async () => void this.calls.push("retry");
  onEvent = async (f: (ev: CoreEvent) => void) => {
    this.emit = f;
    return () => {};
  };
  onStatus = async () => () => {};
}

async function mounted(items: Notification[]) {
  const fake = new Fake();
  fake.items = items;
  const root = document.createElement("main");
  document.body.replaceChildren(root);
  const inbox = new Inbox(root, fake, () => NOW);
  await inbox.start();
  return { fake, root };
}

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
