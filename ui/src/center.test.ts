// @vitest-environment happy-dom
import type { UpdateInfo } from "./bindings/UpdateInfo";
import type { Pause } from "./bindings/Pause";
import { afterEach, describe, expect, it } from "vitest";
import type { Backend } from "./backend";
import type { Center } from "./bindings/Center";
import type { Reason } from "./bindings/Reason";
import type { Preferences } from "./bindings/Preferences";
import type { TypeInfo } from "./bindings/TypeInfo";
import type { UiError } from "./bindings/UiError";
import { CenterView, changes, withChannel } from "./center";
import { setLocale } from "./i18n";
import { Settings } from "./settings";

function type(id: string, group: TypeInfo["group"], en: string, extended = false): TypeInfo {
  return {
    id,
    group,
    category: "events",
    titles: { en, uk: `${en} (uk)` },
    default_channels: ["bell", "banner"],
    default_melody: "chime",
    extended,
    unavailable: false,
    listed: true,
    mandatory: false,
    critical: false,
    lock: null,
  };
}

const channel = (id: string, kind: "bell" | "banner" | "sound" | "browser" | "bot", en: string, enabled = true) => ({
  id,
  kind,
  titles: { en },
  enabled,
  linked: true,
  mandatory: false,
  lock: null as Reason | null,
});

/** The catalogue as the backend sends it: its locks from the policy
 * (belfry-proto's `Policy::type_lock` and `channel_lock`, tested there).
 * This fake backend keeps the policy in its document, so it says them too. */
function withLocks(c: Center): Center {
  const p = c.document.policy;
  for (const ty of c.catalogue.types) {
    ty.lock = p.unavailable_types.includes(ty.id)
      ? "unavailable"
      : p.mandatory_types.includes(ty.id)
        ? "mandatory_type"
        : ty.extended && !p.extended_settings
          ? "view_only"
          : null;
  }
  for (const ch of c.catalogue.channels) {
    ch.lock = ch.id === "bell" ? "bell_locked" : p.mandatory_channels.includes(ch.id) ? "mandatory_channel" : null;
  }
  return c;
}

function center(): Center {
  const types = {
    ticket_created: { channels: ["bell", "banner"], melody: "chime" },
    chat_created: { channels: ["bell", "banner"], melody: "ding" },
    sla_expired: { channels: ["bell", "banner"], melody: "alert" },
  };
  return {
    pending: false,
    document: {
      version: 1,
      links: {},
      policy: {
        notification_center: true,
        mandatory_channels: [],
        mandatory_types: [],
        extended_settings: false,
        unavailable_types: [],
        bot_channels: [],
      },
      preferences: {
        receive: true,
        channels: {
          bell: { enabled: true },
          banner: { enabled: true, duration_s: 6, max_simultaneous: 3, repeats: 0, repeat_interval_s: 60 },
          sound: { enabled: true },
          browser: { enabled: false },
          bots: {},
        },
        types,
        reminders: { status: { enabled: false, after_minutes: 15 } },
        simplified: {
          new_dialogue_sound: true,
          new_dialogue_popup: true,
          new_message_sound: true,
          new_message_popup: false,
        },
      },
    },
    catalogue: {
      groups: [
        { id: "creation", titles: { en: "Creation and messages" } },
        { id: "sla", titles: { en: "SLA" } },
      ],
      types: [
        type("ticket_created", "creation", "Ticket created"),
        type("chat_created", "creation", "Chat created"),
        type("sla_expired", "sla", "SLA breached", true),
      ],
      channels: [
        channel("bell", "bell", "Bell"),
        channel("banner", "banner", "Banner"),
        channel("sound", "sound", "Sound"),
        channel("browser", "browser", "Browser"),
        channel("telegram", "bot", "Telegram", false),
      ],
      melodies: ["chime", "ding", "alert", "bells"],
    },
  };
}

/** A shell whose server keeps the policy: a mandatory type's row cannot change. */
class Shell implements Backend {
  now = center();
  online = true;
  sent: Preferences[] = [];
  status = async () => {
    throw "unused";
  };
  page = async () => [];
  markRead = async () => {};
  markAllRead = async () => {};
  open = async () => {};
  retryNow = async () => {};
  signIn = async () => {};
  signOut = async () => {};
  general = async () => ({ start_at_login: false, start_at_login_locked: false, version: "0.1.0" });
  setStartAtLogin = async () => this.general();
  shownView = async () => {};
  /** This computer's own sound files, by type id: the file's name. */
  custom: Record<string, string> = {};
  imported: { typeId: string; name: string; bytes: Uint8Array }[] = [];
  /** What the next import is refused with, if anything. */
  refuseSound: UiError | null = null;
  /** What the next edit fails with (the local store), if anything. */
  failEdit: UiError | null = null;
  previews: string[] = [];
  tests: string[] = [];
  profileOpened = 0;
  soundOutput = async () => ({ volume: 0.8, device: null, devices: ["Speakers"], custom: { ...this.custom } });
  setSoundOutput = async (volume: number, device: string | null) => ({
    volume,
    device,
    devices: ["Speakers"],
    custom: { ...this.custom },
  });
  importSound = async (typeId: string, name: string, bytes: Uint8Array) => {
    this.imported.push({ typeId, name, bytes });
    if (this.refuseSound !== null) throw this.refuseSound;
    this.custom[typeId] = name;
    return this.soundOutput();
  };
  removeSound = async (typeId: string) => {
    delete this.custom[typeId];
    return this.soundOutput();
  };
  openWebProfile = async () => {
    this.profileOpened++;
  };
  pause = async (_choice: Pause) => {};
  startView = async () => null;
  onNavigate = async () => () => {};
  onEvent = async () => () => {};
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
  sendTest = async (channel: string) => {
    this.tests.push(channel);
  };
  previewMelody = async (melody: string) => {
    this.previews.push(melody);
  };
  center = async () => withLocks(structuredClone(this.now));
  editPreferences = async (next: Preferences) => {
    this.sent.push(next);
    if (this.failEdit !== null) throw { kind: "failed", error: this.failEdit };
    for (const id of this.now.document.policy.mandatory_types) {
      if (JSON.stringify(next.types[id]) !== JSON.stringify(this.now.document.preferences.types[id])) {
        throw {
          kind: "refused",
          fields: [
            {
              path: `preferences.types.${id}.channels`,
              reason: "mandatory_type",
              message: "your administrator made this notification type mandatory",
            },
          ],
        };
      }
    }
    this.now = { ...this.now, pending: !this.online, document: { ...this.now.document, preferences: next } };
    return withLocks(structuredClone(this.now));
  };
}

async function mount(shell = new Shell()) {
  const view = new CenterView(document, shell);
  document.body.replaceChildren(view.sync, view.panels.channels, view.panels.types, view.panels.reminders);
  await view.load();
  return { shell, view };
}

function box(name: string): HTMLInputElement {
  const found = document.querySelector<HTMLInputElement>(`input[name="${name}"]`);
  if (found === null) throw new Error(`no ${name}`);
  return found;
}

function select(name: string): HTMLSelectElement {
  const found = document.querySelector<HTMLSelectElement>(`select[name="${name}"]`);
  if (found === null) throw new Error(`no ${name}`);
  return found;
}

async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

function toggle(input: HTMLInputElement) {
  input.checked = !input.checked;
  input.dispatchEvent(new Event("change"));
}

afterEach(() => setLocale("en"));

describe("the notification types", () => {
  it("lists the types by group and sends one change, keeping the rest", async () => {
    const { shell } = await mount();
    const rows = [...document.querySelectorAll("tr.center__type")].map((r) => r.getAttribute("data-type"));
    expect(rows).toEqual(["ticket_created", "chat_created", "sla_expired"]);
    toggle(box("type-chat_created-banner"));
    await settle();
    expect(shell.sent).toHaveLength(1);
    expect(shell.sent[0]?.types["chat_created"]?.channels).toEqual(["bell"]);
    expect(shell.sent[0]?.types["ticket_created"]?.channels).toEqual(["bell", "banner"]);
    expect(box("type-chat_created-banner").checked).toBe(false);
  });

  it("picks a melody per type, and for a whole group", async () => {
    const { shell } = await mount();
    const m = select("melody-ticket_created");
    m.value = "bells";
    m.dispatchEvent(new Event("change"));
    await settle();
    expect(shell.now.document.preferences.types["ticket_created"]?.melody).toBe("bells");
    const bulk = select("bulk-melody-creation");
    bulk.value = "alert";
    bulk.dispatchEvent(new Event("change"));
    await settle();
    const types = shell.now.document.preferences.types;
    expect([types["ticket_created"]?.melody, types["chat_created"]?.melody]).toEqual(["alert", "alert"]);
  });

  it("shows SLA rows view-only while extended settings are off, editable when on", async () => {
    const shell = new Shell();
    await mount(shell);
    expect(box("type-sla_expired-banner").disabled).toBe(true);
    expect(document.querySelector("tr[data-type=sla_expired] .center__lock")?.textContent).toContain("View only");
    expect(document.querySelector(".center__panel")?.textContent).not.toBeNull();
    shell.now.document.policy.extended_settings = true;
    const { view } = await mount(shell);
    await view.onSettingsChanged();
    expect(box("type-sla_expired-banner").disabled).toBe(false);
  });

  it("locks a mandatory type as soon as the admin's change arrives, and says what changed", async () => {
    const shell = new Shell();
    shell.now.document.policy.extended_settings = true;
    const { view } = await mount(shell);
    expect(box("type-sla_expired-banner").disabled).toBe(false);
    shell.now = structuredClone(shell.now);
    shell.now.document.policy.mandatory_types = ["sla_expired"];
    await view.onSettingsChanged();
    expect(box("type-sla_expired-banner").disabled).toBe(true);
    expect(box("type-sla_expired-bell").disabled).toBe(true);
    expect(document.querySelector("[data-testid=center-sync]")?.textContent).toContain("SLA breached is now mandatory");
  });

  it("puts a refused control back with the reason next to it", async () => {
    const shell = new Shell();
    shell.now.document.policy.extended_settings = true;
    await mount(shell);
    // The window had not heard of the new rule yet; the server has.
    shell.now.document.policy.mandatory_types = ["sla_expired"];
    toggle(box("type-sla_expired-banner"));
    await settle();
    expect(box("type-sla_expired-banner").checked).toBe(true);
    expect(document.querySelector("tr[data-type=sla_expired] .center__refused")?.textContent).toBe(
      "Your administrator made this notification mandatory.",
    );
  });

  it("marks changes made offline as waiting to sync", async () => {
    const shell = new Shell();
    shell.online = false;
    await mount(shell);
    toggle(box("type-ticket_created-banner"));
    await settle();
    expect(document.querySelector("[data-testid=center-sync]")?.textContent).toContain("will sync");
  });

  it("says why an edit failed in the sync line, and no longer once an edit goes through", async () => {
    const shell = new Shell();
    shell.failEdit = { kind: "disk_full" };
    await mount(shell);
    const was = box("type-ticket_created-banner").checked;
    toggle(box("type-ticket_created-banner"));
    await settle();
    const sync = () => document.querySelector("[data-testid=center-sync]")?.textContent ?? "";
    expect(sync()).toContain("The disk is full, so the change was not saved on this computer.");
    // The control went back.
    expect(box("type-ticket_created-banner").checked).toBe(was);
    setLocale("uk");
    toggle(box("type-ticket_created-banner"));
    await settle();
    expect(sync()).toContain("Диск заповнений");
    setLocale("en");
    shell.failEdit = null;
    toggle(box("type-ticket_created-banner"));
    await settle();
    expect(sync()).not.toContain("disk");
  });

  it("puts back a synced edit the instance refused later, with the reason next to it", async () => {
    const { view } = await mount();
    view.onRefused([
      { path: "preferences.types.ticket_created.channels", reason: "mandatory_type", message: "mandatory" },
    ]);
    const row = document.querySelector("tr[data-type=ticket_created]");
    expect(row?.querySelector(".center__refused")?.textContent).toBe("Your administrator made this notification mandatory.");
  });

  it("searches by name", async () => {
    await mount();
    const search = document.querySelector<HTMLInputElement>("input[name=type-search]");
    if (search === null) throw new Error("no search");
    search.value = "chat";
    search.dispatchEvent(new Event("input"));
    const rows = [...document.querySelectorAll("tr.center__type")].map((r) => r.getAttribute("data-type"));
    expect(rows).toEqual(["chat_created"]);
  });

  it("sends the switch the user flipped (the core applies the bell rule)", () => {
    expect(withChannel([], "sound", true)).toEqual(["sound"]);
    expect(withChannel(["bell", "sound"], "bell", false)).toEqual(["sound"]);
    expect(withChannel(["bell", "banner"], "banner", false)).toEqual(["bell"]);
  });

  it("describes nothing when nothing changed", () => {
    expect(changes(center(), center())).toEqual([]);
  });
});

describe("the channels", () => {
  it("keeps the bell on and locked, and edits the banner's knobs", async () => {
    const { shell } = await mount();
    expect(box("channel-bell").checked).toBe(true);
    expect(box("channel-bell").disabled).toBe(true);
    const duration = box("banner-duration");
    duration.value = "99";
    duration.dispatchEvent(new Event("change"));
    await settle();
    expect(shell.now.document.preferences.channels.banner.duration_s).toBe(60);
    expect(document.querySelector("input[name=channel-telegram]")).toBeNull();
  });

  it("disables a channel's knobs while it is off, and says why", async () => {
    const shell = new Shell();
    shell.now.document.preferences.channels.banner.enabled = false;
    shell.now.document.preferences.channels.sound.enabled = false;
    shell.now.document.preferences.reminders.status.enabled = false;
    await mount(shell);
    expect(box("reminder-minutes").disabled).toBe(true);
    for (const name of ["banner-duration", "banner-max", "banner-repeats", "volume"]) {
      expect([name, box(name).disabled]).toEqual([name, true]);
    }
    expect(select("output-device").disabled).toBe(true);
    const notes = [...document.querySelectorAll("[data-testid=channel-off]")].map((e) => e.textContent);
    expect(notes).toHaveLength(3);
    expect(notes[0]).toMatch(/is off: turn it on/);
    // Turned on: editable again, the note gone.
    box("channel-banner").click();
    await settle();
    expect(box("banner-duration").disabled).toBe(false);
    expect(document.querySelectorAll("[data-testid=channel-off]")).toHaveLength(2);
  });

  it("sets this computer's volume and output device, apart from the synced settings", async () => {
    const shell = new Shell();
    const calls: [number, string | null][] = [];
    shell.setSoundOutput = async (volume: number, device: string | null) => {
      calls.push([volume, device]);
      return { volume, device, devices: ["Speakers"], custom: {} };
    };
    await mount(shell);
    const volume = box("volume");
    expect(volume.value).toBe("80");
    volume.value = "35";
    volume.dispatchEvent(new Event("change"));
    const device = select("output-device");
    device.value = "Speakers";
    device.dispatchEvent(new Event("change"));
    await settle();
    expect(calls).toEqual([
      [0.35, null],
      [0.35, "Speakers"],
    ]);
    expect(shell.sent).toEqual([]);
  });

  it("shows the simplified toggles while the instance has the Center off", async () => {
    const shell = new Shell();
    shell.now.document.policy.notification_center = false;
    const settings = new Settings(document, shell, null, () => {});
    document.body.replaceChildren(settings.element);
    await settings.load();
    const tabs = [...document.querySelectorAll<HTMLButtonElement>(".settings__tab")]
      .filter((b) => !b.hidden)
      .map((b) => b.textContent);
    expect(tabs).toEqual(["General", "Notifications", "Reminders"]);
    toggle(box("simple-new_message_popup"));
    await settle();
    expect(shell.now.document.preferences.simplified.new_message_popup).toBe(true);
    expect(document.querySelector("tr.center__type")).toBeNull();
  });

  it("swaps the type table for the simplified tab when the instance turns the Center off live", async () => {
    const shell = new Shell();
    const settings = new Settings(document, shell, null, () => {});
    document.body.replaceChildren(settings.element);
    await settings.load();
    settings.show("types");
    const visible = () =>
      [...document.querySelectorAll<HTMLButtonElement>(".settings__tab")].filter((b) => !b.hidden).map((b) => b.textContent);
    expect(visible()).toEqual(["General", "Channels", "Notification types", "Reminders"]);
    shell.now.document.policy.notification_center = false;
    await settings.onSettingsChanged();
    expect(visible()).toEqual(["General", "Notifications", "Reminders"]);
    // The hidden tab was in front: General takes its place.
    expect(document.querySelector(".settings__tab[aria-selected=true]")?.textContent).toBe("General");
  });
});

/** Picks `file` in the row's "Your own file…" input, as the system's dialog does. */
function pickFile(typeId: string, file: File) {
  const input = box(`own-${typeId}`);
  Object.defineProperty(input, "files", { value: [file], configurable: true });
  input.dispatchEvent(new Event("change"));
}

function melodyCell(typeId: string): HTMLElement {
  const cell = document.querySelector<HTMLElement>(`tr[data-melody-of=${typeId}] .center__melody`);
  if (cell === null) throw new Error(`no melody cell for ${typeId}`);
  return cell;
}

function button(selector: string): HTMLButtonElement {
  const found = document.querySelector<HTMLButtonElement>(selector);
  if (found === null) throw new Error(`no ${selector}`);
  return found;
}

describe("your own sound file", () => {
  it("sends the chosen file's bytes and name, shows the name, and removes it again", async () => {
    const { shell, view } = await mount();
    const input = box("own-ticket_created");
    expect(input.type).toBe("file");
    expect(input.accept).toBe("audio/*");
    expect(input.closest("label")?.textContent).toBe("Your own file…");
    expect(input.closest("label")?.title).toContain("not synced");
    expect(view.panels.types.textContent).toContain("on this computer only: it stays here and is not synced");
    pickFile("ticket_created", new File([new Uint8Array([82, 73, 70, 70])], "Ping.wav", { type: "audio/wav" }));
    await settle();
    expect(shell.imported).toHaveLength(1);
    expect(shell.imported[0]?.typeId).toBe("ticket_created");
    expect(shell.imported[0]?.name).toBe("Ping.wav");
    expect([...(shell.imported[0]?.bytes ?? [])]).toEqual([82, 73, 70, 70]);
    // This computer plays the file: its name shows in place of the melody.
    expect(melodyCell("ticket_created").textContent).toContain("Ping.wav");
    expect(melodyCell("ticket_created").textContent).toContain("not synced");
    expect(document.querySelector("select[name=melody-ticket_created]")).toBeNull();
    // The synced preferences are untouched: the file is this device's.
    expect(shell.sent).toEqual([]);

    button("button[name=own-remove-ticket_created]").click();
    await settle();
    expect(shell.custom).toEqual({});
    expect(select("melody-ticket_created").value).toBe("chime");
    expect(melodyCell("ticket_created").textContent).not.toContain("Ping.wav");
  });

  it("shows why a file was refused next to its picker, in the window's language, until a file is taken", async () => {
    const shell = new Shell();
    shell.refuseSound = { kind: "sound_too_long", name: "song.wav" };
    const { view } = await mount(shell);
    pickFile("chat_created", new File([new Uint8Array([1, 2, 3])], "song.wav"));
    await settle();
    const alert = () => melodyCell("chat_created").querySelector("[role=alert]");
    expect(alert()?.textContent).toBe("The sound in song.wav plays for more than 10 seconds. Choose a shorter sound.");
    expect(melodyCell("ticket_created").querySelector("[role=alert]")).toBeNull();
    expect(select("melody-chat_created").value).toBe("ding");
    setLocale("uk");
    view.render();
    expect(alert()?.textContent).toBe("Звук song.wav триває довше за 10 секунд. Виберіть коротший звук.");
    setLocale("en");
    shell.refuseSound = null;
    pickFile("chat_created", new File([new Uint8Array([1, 2, 3])], "short.wav"));
    await settle();
    expect(alert()).toBeNull();
  });

  it("says a full disk where the sound was chosen", async () => {
    const shell = new Shell();
    shell.refuseSound = { kind: "disk_full" };
    await mount(shell);
    pickFile("chat_created", new File([new Uint8Array([1, 2, 3])], "ok.wav"));
    await settle();
    expect(melodyCell("chat_created").querySelector("[role=alert]")?.textContent).toContain("The disk is full");
  });

  it("refuses a file over 10 MB without sending it", async () => {
    const { shell } = await mount();
    pickFile("chat_created", new File([new Uint8Array(10 * 1024 * 1024 + 1)], "huge.wav"));
    await settle();
    expect(shell.imported).toEqual([]);
    expect(melodyCell("chat_created").querySelector("[role=alert]")?.textContent).toBe(
      "The file huge.wav is larger than 10 MB. Choose a smaller sound file.",
    );
  });

  it("shows a file chosen earlier, and no picker on a locked row", async () => {
    const shell = new Shell();
    shell.custom = { chat_created: "Мій дзвін.ogg" };
    await mount(shell);
    expect(melodyCell("chat_created").textContent).toContain("Мій дзвін.ogg");
    // SLA rows are view-only here (extended settings off).
    expect(box("own-sla_expired").disabled).toBe(true);
  });
});

describe("the bulk row for every type", () => {
  it("turns a channel on for every editable type and leaves locked rows alone", async () => {
    const { shell } = await mount();
    const rows = [...document.querySelectorAll("tr.center__group-row")].map((r) => r.getAttribute("data-group"));
    expect(rows).toEqual(["all", "creation", "sla"]);
    expect(document.querySelector("input[name=bulk-all-bell]")).toBeNull();
    const sound = box("bulk-all-sound");
    expect(sound.checked).toBe(false);
    expect(sound.getAttribute("aria-label")).toBe("Sound for every notification");
    toggle(sound);
    await settle();
    expect(shell.sent).toHaveLength(1);
    const types = shell.now.document.preferences.types;
    expect(types["ticket_created"]?.channels).toEqual(["bell", "banner", "sound"]);
    expect(types["chat_created"]?.channels).toEqual(["bell", "banner", "sound"]);
    // View-only (extended settings off): skipped.
    expect(types["sla_expired"]?.channels).toEqual(["bell", "banner"]);
    expect(box("bulk-all-sound").checked).toBe(true);
    toggle(box("bulk-all-banner"));
    await settle();
    expect(shell.now.document.preferences.types["ticket_created"]?.channels).toEqual(["bell", "sound"]);
    expect(shell.now.document.preferences.types["sla_expired"]?.channels).toEqual(["bell", "banner"]);
  });
});

describe("every control", () => {
  it("shows a mandatory channel on and locked with the reason", async () => {
    const shell = new Shell();
    shell.now.document.policy.mandatory_channels = ["banner"];
    await mount(shell);
    const banner = box("channel-banner");
    expect(banner.checked).toBe(true);
    expect(banner.disabled).toBe(true);
    expect(banner.closest(".center__row")?.querySelector(".center__lock")?.textContent).toBe(
      "Your administrator made this channel mandatory.",
    );
    expect(box("type-ticket_created-banner").disabled).toBe(true);
    expect(document.querySelector("input[name=bulk-all-banner]")).toBeNull();
    expect(document.querySelector("input[name=bulk-creation-banner]")).toBeNull();
  });

  it("sends the master switch", async () => {
    const shell = new Shell();
    const view = new CenterView(document, shell);
    document.body.replaceChildren(view.receive, view.sync);
    await view.load();
    toggle(box("receive"));
    await settle();
    expect(shell.sent).toHaveLength(1);
    expect(shell.sent[0]?.receive).toBe(false);
    expect(box("receive").checked).toBe(false);
  });

  it("sends the browser channel", async () => {
    const { shell } = await mount();
    expect(box("channel-browser").checked).toBe(false);
    toggle(box("channel-browser"));
    await settle();
    expect(shell.sent[0]?.channels.browser.enabled).toBe(true);
    expect(shell.sent[0]?.channels.banner.enabled).toBe(true);
  });

  it("switches a channel for a whole group", async () => {
    const shell = new Shell();
    shell.now.document.policy.extended_settings = true;
    await mount(shell);
    toggle(box("bulk-creation-sound"));
    await settle();
    const types = shell.now.document.preferences.types;
    expect(types["ticket_created"]?.channels).toEqual(["bell", "banner", "sound"]);
    expect(types["chat_created"]?.channels).toEqual(["bell", "banner", "sound"]);
    expect(types["sla_expired"]?.channels).toEqual(["bell", "banner"]);
  });

  it("previews the melody the row shows", async () => {
    const { shell } = await mount();
    const m = select("melody-chat_created");
    m.value = "bells";
    button("tr[data-melody-of=chat_created] .center__preview").click();
    await settle();
    expect(shell.previews).toEqual(["bells"]);
  });

  it("asks the instance for a test on each of its channels", async () => {
    const { shell } = await mount();
    button("button[data-channel=banner]").click();
    await settle();
    expect(shell.tests).toEqual(["banner"]);
    expect(document.querySelector("[data-testid=center-sync]")?.textContent).toContain("Test sent");
    for (const channel of ["bell", "sound", "browser"]) {
      button(`button[data-channel=${channel}]`).click();
      await settle();
    }
    expect(shell.tests).toEqual(["banner", "bell", "sound", "browser"]);
  });

  it("opens the web profile from the System messages note", async () => {
    const shell = new Shell();
    const settings = new Settings(document, shell, null, () => {});
    document.body.replaceChildren(settings.element);
    await settings.load();
    const note = [...document.querySelectorAll(".settings__note")].find((p) =>
      p.textContent?.includes("System messages in chats"),
    );
    expect(note).toBeDefined();
    const open = note?.nextElementSibling;
    expect(open?.getAttribute("data-testid")).toBe("open-web-profile");
    (open as HTMLButtonElement).click();
    await settle();
    expect(shell.profileOpened).toBe(1);
  });

  it("offers a test on a linked bot channel, and the web profile on one not linked", async () => {
    const shell = new Shell();
    shell.now.catalogue.channels = [
      ...shell.now.catalogue.channels.filter((c) => c.kind !== "bot"),
      { ...channel("telegram", "bot", "Telegram"), linked: true },
      { ...channel("viber", "bot", "Viber"), linked: false },
    ];
    shell.now.document.preferences.channels.bots = { telegram: { enabled: true } };
    await mount(shell);
    const legend = (name: string) =>
      [...document.querySelectorAll<HTMLElement>(".center__group")].find(
        (g) => g.querySelector("legend")?.textContent === name,
      );
    const telegram = legend("Telegram");
    expect(telegram?.textContent).toContain("Linked in your web profile.");
    expect(box("channel-telegram").checked).toBe(true);
    telegram?.querySelector<HTMLButtonElement>("button[data-channel=telegram]")?.click();
    await settle();
    expect(shell.tests).toEqual(["telegram"]);

    const viber = legend("Viber");
    expect(viber?.textContent).toContain("Not linked: link it in your web profile first.");
    expect(viber?.querySelector("button[data-channel]")).toBeNull();
    viber?.querySelector<HTMLButtonElement>("[data-testid=open-web-profile]")?.click();
    await settle();
    expect(shell.profileOpened).toBe(1);
    // Enabled bots get a column in the type table.
    expect(box("type-ticket_created-viber").checked).toBe(false);
  });

  it("shows a temporarily unavailable type disabled with the notice, and says so above the table", async () => {
    await mount();
    expect(document.querySelector("[data-testid=types-unavailable]")).toBeNull();
    const shell = new Shell();
    shell.now.document.policy.unavailable_types = ["chat_created"];
    await mount(shell);
    const row = document.querySelector("tr[data-type=chat_created]");
    expect(row?.classList.contains("center__type--locked")).toBe(true);
    expect(row?.querySelector(".center__lock")?.textContent).toBe("Temporarily unavailable on this instance.");
    expect(box("type-chat_created-banner").disabled).toBe(true);
    expect(select("melody-chat_created").disabled).toBe(true);
    const notice = document.querySelector("[data-testid=types-unavailable]");
    expect(notice?.textContent).toContain("temporarily unavailable");
    // It comes first on the tab, above the search.
    expect(notice?.parentElement?.firstElementChild).toBe(notice);
  });

  it("names the type the operator changed in the web profile", async () => {
    const shell = new Shell();
    const { view } = await mount(shell);
    shell.now = structuredClone(shell.now);
    const prefs = shell.now.document.preferences;
    prefs.types["chat_created"] = { channels: ["bell"], melody: "ding" };
    await view.onSettingsChanged();
    expect(document.querySelector("[data-testid=center-sync]")?.textContent).toBe(
      "Changed in the web profile or by your administrator: Chat created",
    );
    expect(box("type-chat_created-banner").checked).toBe(false);
  });
});
