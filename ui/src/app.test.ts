// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from "vitest";
import { App } from "./app";
import type { Backend } from "./backend";
import type { Center } from "./bindings/Center";
import type { General } from "./bindings/General";
import type { Pause } from "./bindings/Pause";
import type { UpdateChannel } from "./bindings/UpdateChannel";
import type { UiError } from "./bindings/UiError";
import type { UpdateInfo } from "./bindings/UpdateInfo";
import { chooseLocale, locale, manageLocale, setLocale } from "./i18n";
import type { CoreEvent, Notification, PageQuery, Status } from "./types";

const NOW = new Date("2026-11-23T15:00:00Z");

const signedOut = (address: string | null, locked = false, reason: UiError | null = null): Status => ({
  connection: null,
  quiet: null,
  availability: null,
  unread: { total: 0, events: 0, system: 0 },
  problem: null,
  problems: [],
  account: null,
  sign_in: { address, login: "olga", address_locked: locked, reason },
});

const signedIn: Status = {
  connection: { state: "connected" },
  quiet: null,
  availability: null,
  unread: { total: 1, events: 1, system: 0 },
  problem: null,
  problems: [],
  account: "olga@https://help.example.com/",
  sign_in: null,
};

const item: Notification = {
  id: "n1",
  seq: 1,
  type: "ticket_created",
  category: "events",
  title: "Printer on fire",
  body: "Ticket #1",
  link: "https://help.example.com/tickets/1",
  created_at: "2026-11-23T14:00:00Z",
  read_at: null,
  data: {},
};

/** A shell that signs in when the password is "right". */
class Shell implements Backend {
  current: Status;
  calls: string[] = [];
  listeners: ((s: Status) => void)[] = [];
  constructor(first: Status) {
    this.current = first;
  }
  status = async () => this.current;
  page = async (q: PageQuery) => (this.current.account === null || q.before !== null ? [] : [item]);
  markRead = async () => {};
  markAllRead = async () => {};
  open = async () => {};
  retryNow = async () => {};
  signIn = async (address: string, login: string, password: string) => {
    this.calls.push(`sign in ${login} at ${address}`);
    if (password !== "right") throw { kind: "wrong_password" };
    this.set(signedIn);
  };
  signOut = async () => {
    this.calls.push("sign out");
    this.set(signedOut("https://help.example.com/"));
  };
  general = async (): Promise<General> => ({ ...this.generalNow });
  setStartAtLogin = async (on: boolean): Promise<General> => {
    this.calls.push(`start at login ${on}`);
    if (this.generalNow.start_at_login_locked) throw { kind: "managed" };
    this.generalNow = { ...this.generalNow, start_at_login: on };
    return { ...this.generalNow };
  };
  generalNow: General = { start_at_login: false, start_at_login_locked: false, version: "0.1.0" };
  firstView: string | null = null;
  center = async (): Promise<Center> => {
    throw "not signed in";
  };
  editPreferences = async (): Promise<Center> => {
    throw "not signed in";
  };
  sendTest = async () => {};
  previewMelody = async () => {};

  shownView = async () => {};
  soundOutput = async () => ({ volume: 0.8, device: null, devices: ["Speakers"], custom: {} });
  setSoundOutput = async (volume: number, device: string | null) => ({ volume, device, devices: ["Speakers"], custom: {} });
  importSound = async () => this.soundOutput();
  removeSound = async () => this.soundOutput();
  openWebProfile = async () => {};
  pause = async (choice: Pause) => {
    this.calls.push(`pause ${choice}`);
    const until = "2026-11-23T15:30:00Z";
    this.set({ ...this.current, quiet: choice === "resume" ? null : { reason: "paused", until } });
  };
  updates: UpdateInfo = { off: null, channel: "stable", channel_locked: false,
    single_channel: false, last_checked: null, state: { kind: "idle" } };
  /** What the feed offers, and whether its signature verifies. */
  feed: { version: string; signed: boolean } | null = null;
  updateListeners: ((u: UpdateInfo) => void)[] = [];
  private setUpdates(u: Partial<UpdateInfo>): UpdateInfo {
    this.updates = { ...this.updates, ...u };
    for (const f of this.updateListeners) f(this.updates);
    return { ...this.updates };
  }
  updateInfo = async () => ({ ...this.updates });
  checkUpdates = async () => {
    this.calls.push("check updates");
    const f = this.feed;
    return this.setUpdates({
      last_checked: NOW.toISOString(),
      state: f === null ? { kind: "up_to_date" } : { kind: "available", version: f.version, notes: null },
    });
  };
  installUpdate = async () => {
    this.calls.push("install update");
    const f = this.feed;
    if (f === null) throw "there is no update to install";
    return this.setUpdates({
      state: f.signed
        ? { kind: "installed", version: f.version }
        : { kind: "refused", version: f.version, reason: "Invalid signature" },
    });
  };
  setUpdateChannel = async (channel: UpdateChannel) => {
    this.calls.push(`channel ${channel}`);
    if (this.updates.channel_locked) throw "your organization sets the update feed";
    this.setUpdates({ channel });
    return this.checkUpdates();
  };
  restartToUpdate = async () => void this.calls.push("restart");
  onUpdate = async (f: (u: UpdateInfo) => void) => {
    this.updateListeners.push(f);
    return () => {};
  };
  startView = async () => this.firstView;
  navigateTo: (view: string) => void = () => {};
  onNavigate = async (f: (view: string) => void) => {
    this.navigateTo = f;
    return () => {};
  };
  onEvent = async (_f: (ev: CoreEvent) => void) => () => {};
  onStatus = async (f: (s: Status) => void) => {
    this.listeners.push(f);
    return () => {};
  };
  set(s: Status) {
    this.current = s;
    for (const f of this.listeners) f(s);
  }
}

async function mount(shell: Shell, storage: Storage | null = null) {
  const root = document.createElement("main");
  document.body.replaceChildren(root);
  const app = new App(root, shell, () => NOW, { storage, languages: ["en"], viewportHeight: () => 400 });
  await app.start();
  return root;
}

const $ = <T extends Element>(root: Element, css: string) => {
  const found = root.querySelector<T>(css);
  if (found === null) throw new Error(`no ${css}`);
  return found;
};

async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

function type(input: HTMLInputElement, value: string) {
  input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

/** A Storage over `map`, as the window's localStorage. */
function memoryStorage(map: Map<string, string>): Storage {
  return {
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, v),
    removeItem: (k: string) => void map.delete(k),
    clear: () => map.clear(),
    key: () => null,
    length: 0,
  } as Storage;
}

afterEach(() => {
  manageLocale(null);
  setLocale("en");
});

describe("the window", () => {
  it("asks to sign in, prefilled, and shows the inbox once signed in", async () => {
    const shell = new Shell(signedOut("https://help.example.com/"));
    const root = await mount(shell);
    const form = $<HTMLFormElement>(root, "form.signin");
    expect($<HTMLElement>(root, ".app__inbox").hidden).toBe(true);
    expect($<HTMLInputElement>(form, "input[name=address]").value).toBe("https://help.example.com/");
    expect($<HTMLInputElement>(form, "input[name=login]").value).toBe("olga");
    expect(document.activeElement).toBe($(form, "input[name=password]"));

    type($<HTMLInputElement>(form, "input[name=password]"), "wrong");
    form.requestSubmit();
    await settle();
    // A sentence, not the error chain.
    expect($(form, ".signin__error").textContent).toBe("The login or password is wrong. Check them and try again.");
    expect($<HTMLInputElement>(form, "input[name=password]").value).toBe("");

    type($<HTMLInputElement>(form, "input[name=password]"), "right");
    // Typing again: the message no longer holds, and goes.
    expect($(form, ".signin__error").textContent).toBe("");
    form.requestSubmit();
    await settle();
    expect(root.querySelector("form.signin")).toBeNull();
    expect($<HTMLElement>(root, ".app__inbox").hidden).toBe(false);
    // The helpdesk by its host, not a raw `login@url`.
    expect($(root, ".app__account-text").textContent).toBe("olga on help.example.com");
    expect([...root.querySelectorAll(".item__title")].map((e) => e.textContent)).toEqual(["Printer on fire"]);
  });

  it("says what is missing instead of sending an empty form", async () => {
    const shell = new Shell(signedOut(null));
    const root = await mount(shell);
    const form = $<HTMLFormElement>(root, "form.signin");
    expect(document.activeElement).toBe($(form, "input[name=address]"));
    form.requestSubmit();
    await settle();
    expect($(form, ".signin__error").textContent).toBe("Enter the helpdesk address.");
    expect(shell.calls).toEqual([]);
  });

  it("keeps an address the organization locked, and says so", async () => {
    const root = await mount(new Shell(signedOut("https://help.corp.example/", true)));
    const address = $<HTMLInputElement>(root, "input[name=address]");
    expect(address.readOnly).toBe(true);
    expect($(root, ".signin__note").textContent).toBe("Your organization has set the helpdesk address.");
  });

  it("shows why the last sign-in ended", async () => {
    const root = await mount(
      new Shell(signedOut("https://help.example.com/", false, { kind: "revoked" })),
    );
    expect($(root, ".signin__error").textContent).toBe("The helpdesk signed this device out. Sign in again.");
  });

  it("signs out from the account line and goes back to the form", async () => {
    const shell = new Shell(signedIn);
    const root = await mount(shell);
    expect(root.querySelector("form.signin")).toBeNull();
    $<HTMLButtonElement>(root, "[data-testid=sign-out]").click();
    await settle();
    expect(shell.calls).toEqual(["sign out"]);
    expect(root.querySelector("form.signin")).not.toBeNull();
    expect($<HTMLElement>(root, ".app__inbox").hidden).toBe(true);
  });

  it("puts the form in Ukrainian when the language changes", async () => {
    const root = await mount(new Shell(signedOut(null)));
    setLocale("uk");
    expect($(root, ".signin__title").textContent).toBe("Вхід до служби підтримки");
    expect($(root, ".signin__submit").textContent).toBe("Увійти");
  });

  it("opens Settings from the account line, turns start at login on, and goes back", async () => {
    const shell = new Shell(signedIn);
    const root = await mount(shell);
    $<HTMLButtonElement>(root, "[data-testid=open-settings]").click();
    await settle();
    expect($<HTMLElement>(root, ".app__settings-view").hidden).toBe(false);
    expect($<HTMLElement>(root, ".app__inbox").hidden).toBe(true);
    expect($(root, ".settings__account").textContent).toBe("Signed in as olga on help.example.com");
    expect($(root, ".settings__version").textContent).toBe("Belfry 0.1.0");
    const box = $<HTMLInputElement>(root, "input[name=start-at-login]");
    expect(box.checked).toBe(false);
    box.click();
    await settle();
    expect(shell.calls).toEqual(["start at login true"]);
    expect(box.checked).toBe(true);
    $<HTMLButtonElement>(root, "[data-testid=settings-back]").click();
    expect($<HTMLElement>(root, ".app__settings-view").hidden).toBe(true);
    expect($<HTMLElement>(root, ".app__inbox").hidden).toBe(false);
  });

  it("checks for an update in General, installs it once verified, and offers the restart", async () => {
    const shell = new Shell(signedIn);
    shell.firstView = "settings";
    const root = await mount(shell);
    await settle();
    const state = () => $(root, ".settings__update-state").textContent;
    const visible = (sel: string) => !$<HTMLElement>(root, sel).hidden;
    expect(state()).toBe("Belfry checks for updates when it starts and once a day.");
    expect(visible(".settings__update-install")).toBe(false);

    shell.feed = { version: "0.2.0", signed: true };
    $<HTMLButtonElement>(root, ".settings__update-check").click();
    await settle();
    expect(state()).toBe("Belfry 0.2.0 is available.");
    expect($(root, ".settings__update-install").textContent).toBe("Install 0.2.0");
    $<HTMLButtonElement>(root, ".settings__update-install").click();
    await settle();
    expect(state()).toBe("Belfry 0.2.0 is installed: restart to use it.");
    expect(visible(".settings__update-restart")).toBe(true);
    expect(visible(".settings__update-check")).toBe(false);
    $<HTMLButtonElement>(root, ".settings__update-restart").click();
    await settle();
    expect(shell.calls).toEqual(["check updates", "install update", "restart"]);
  });

  it("says an update was refused when its signature does not verify, and follows the tray's check", async () => {
    const shell = new Shell(signedIn);
    shell.firstView = "settings";
    const root = await mount(shell);
    await settle();
    // The daily check runs in the shell: the open window hears of it.
    shell.feed = { version: "0.2.0", signed: false };
    await shell.checkUpdates();
    expect($(root, ".settings__update-state").textContent).toBe("Belfry 0.2.0 is available.");
    $<HTMLButtonElement>(root, ".settings__update-install").click();
    await settle();
    expect($(root, ".settings__update-state").textContent).toBe(
      "Belfry 0.2.0 was not installed: its signature does not verify. Your Belfry stays as it is.",
    );
    expect($<HTMLElement>(root, ".settings__update-restart").hidden).toBe(true);
  });

  it("says a failed check in a sentence, not the network error", async () => {
    const shell = new Shell(signedIn);
    shell.firstView = "settings";
    const root = await mount(shell);
    await settle();
    const failed: UpdateInfo = {
      ...shell.updates,
      state: { kind: "check_failed", message: "network: error sending request for url (https://x/): dns error" },
    };
    for (const f of shell.updateListeners) f(failed);
    const said = $(root, ".settings__update-state").textContent ?? "";
    expect(said).toBe("Could not check for updates. Belfry tries again within the hour; its log says why.");
    expect(said).not.toContain("dns");
  });

  it("switches the update channel, unless the organization sets the feed or turned updates off", async () => {
    const shell = new Shell(signedIn);
    shell.firstView = "settings";
    const root = await mount(shell);
    await settle();
    const select = $<HTMLSelectElement>(root, "select[name=update-channel]");
    expect(select.value).toBe("stable");
    select.value = "beta";
    select.dispatchEvent(new Event("change"));
    await settle();
    expect(shell.calls).toEqual(["channel beta", "check updates"]);
    expect(select.value).toBe("beta");

    shell.updates = { ...shell.updates, channel_locked: true };
    shell.navigateTo("settings");
    await settle();
    expect(select.disabled).toBe(true);
    expect(root.querySelector(".settings__updates")?.textContent).toContain(
      "Your organization sets where updates come from.",
    );

    shell.updates = { ...shell.updates, off: { reason: "organization" } };
    shell.navigateTo("settings");
    await settle();
    expect($(root, ".settings__update-state").textContent).toBe(
      "Your organization turned updates off: it deploys new versions itself.",
    );
    expect($<HTMLElement>(root, ".settings__update-check").hidden).toBe(true);
  });

  it("shows a setting the organization manages as locked", async () => {
    const shell = new Shell(signedIn);
    shell.generalNow = { start_at_login: true, start_at_login_locked: true, version: "0.1.0" };
    shell.firstView = "settings";
    const root = await mount(shell);
    await settle();
    const box = $<HTMLInputElement>(root, "input[name=start-at-login]");
    expect(box.checked).toBe(true);
    expect(box.disabled).toBe(true);
    expect(root.querySelector(".settings__note")?.textContent).toBe("Your organization manages this setting.");
  });

  it("switches language from Settings, remembered for the next window", async () => {
    const storage = new Map<string, string>();
    const fakeStorage = memoryStorage(storage);
    const shell = new Shell(signedIn);
    const root = await mount(shell, fakeStorage);
    shell.navigateTo("settings");
    await settle();
    const select = $<HTMLSelectElement>(root, "select[name=language]");
    select.value = "uk";
    select.dispatchEvent(new Event("change"));
    expect($(root, ".settings__title").textContent).toBe("Налаштування");
    expect([...storage.values()]).toContain("uk");
  });

  it("opens in the organization's default language until the user chooses another", async () => {
    const storage = new Map<string, string>();
    const fakeStorage = memoryStorage(storage);
    const shell = new Shell(signedIn);
    shell.generalNow = { ...shell.generalNow, language: { language: "uk", enforced: false } };
    let root = await mount(shell, fakeStorage);
    expect($(root, ".inbox__title-text").textContent).toBe("Сповіщення");
    shell.navigateTo("settings");
    await settle();
    const picker = $<HTMLSelectElement>(root, "select[name=language]");
    expect([picker.value, picker.disabled]).toEqual(["uk", false]);
    picker.value = "en";
    picker.dispatchEvent(new Event("change"));
    shell.navigateTo("main");
    await settle();
    expect($(root, ".inbox__title-text").textContent).toBe("Notifications");
    expect(storage.get("belfry.locale")).toBe("en");
    // The next window keeps the user's choice over the default.
    root = await mount(shell, fakeStorage);
    expect($(root, ".inbox__title-text").textContent).toBe("Notifications");
    shell.navigateTo("settings");
    await settle();
    const select = $<HTMLSelectElement>(root, "select[name=language]");
    expect([select.value, select.disabled]).toEqual(["en", false]);
    expect($<HTMLElement>(root, ".settings__language-note").hidden).toBe(true);
  });

  it("uses an enforced language whatever the user chose, with the selects locked", async () => {
    const storage = new Map([["belfry.locale", "en"]]);
    const fakeStorage = memoryStorage(storage);
    const shell = new Shell(signedIn);
    shell.generalNow = { ...shell.generalNow, language: { language: "uk", enforced: true } };
    const root = await mount(shell, fakeStorage);
    expect($(root, ".inbox__title-text").textContent).toBe("Сповіщення");
    // The language is in Settings only.
    expect(root.querySelector("select.inbox__lang")).toBeNull();
    shell.navigateTo("settings");
    await settle();
    expect($(root, ".settings__title").textContent).toBe("Налаштування");
    const select = $<HTMLSelectElement>(root, "select[name=language]");
    expect([select.value, select.disabled]).toEqual(["uk", true]);
    const note = $<HTMLElement>(root, ".settings__language-note");
    expect([note.hidden, note.textContent]).toEqual([false, "Мову цього вікна встановлює ваша організація."]);
    // A choice that still reaches the window changes nothing, and is not kept.
    chooseLocale("en", fakeStorage);
    expect(locale()).toBe("uk");
    expect(storage.get("belfry.locale")).toBe("en");
    expect(select.value).toBe("uk");
  });

  it("pauses from General, says until when, and resumes", async () => {
    const shell = new Shell(signedIn);
    shell.firstView = "settings";
    const root = await mount(shell);
    await settle();
    const state = $(root, ".settings__pause-state");
    const resume = $<HTMLButtonElement>(root, "[data-pause=resume]");
    expect(state.textContent).toContain("Toasts and melodies are on");
    expect(resume.hidden).toBe(true);
    $<HTMLButtonElement>(root, "[data-pause=half_hour]").click();
    await settle();
    expect(shell.calls).toEqual(["pause half_hour"]);
    expect(state.textContent).toMatch(/^Paused until (3:30 PM|15:30)/);
    expect(resume.hidden).toBe(false);
    resume.click();
    await settle();
    expect(shell.calls).toEqual(["pause half_hour", "pause resume"]);
    expect(resume.hidden).toBe(true);
    // The desktop's do-not-disturb is not the app's pause: nothing to resume here.
    shell.set({ ...signedIn, quiet: { reason: "do_not_disturb", source: "dunst is paused" } });
    await settle();
    expect(state.textContent).toContain("dunst is paused");
    expect(resume.hidden).toBe(true);
  });

  it("switches the theme from Settings, remembered, and follows the desktop by default", async () => {
    const storage = new Map<string, string>();
    const fakeStorage = memoryStorage(storage);
    const shell = new Shell(signedIn);
    shell.firstView = "settings";
    const root = await mount(shell, fakeStorage);
    await settle();
    const select = $<HTMLSelectElement>(root, "select[name=theme]");
    expect(select.value).toBe("system");
    expect(document.documentElement.dataset.theme).toBe("light");
    select.value = "dark";
    select.dispatchEvent(new Event("change"));
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(storage.get("belfry.theme")).toBe("dark");
    // The next window starts dark.
    const again = await mount(new Shell(signedIn), fakeStorage);
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect($<HTMLSelectElement>(again, "select[name=theme]").value).toBe("dark");
    select.value = "system";
    select.dispatchEvent(new Event("change"));
  });
});
