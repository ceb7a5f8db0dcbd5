/**
 * The Notification Center in the Settings view: Channels, Notification
 * types and Reminders, or the simplified toggles while the instance has the
 * Center off. Every change applies at once and is sent through the shell;
 * a refusal puts the control back with the reason next to it; offline,
 * changes are kept and marked "will sync"; a change made elsewhere (the web
 * profile, the admin) re-renders the open view with a short note.
 *
 * What is locked and why comes from the catalogue the backend builds from
 * the instance's policy, by the same rules the server enforces. A type's own sound file is this
 * computer's alone: the shell checks and keeps it, nothing is synced.
 */
import type { Backend } from "./backend";
import type { Center } from "./bindings/Center";
import type { ChannelInfo } from "./bindings/ChannelInfo";
import type { EditFailure } from "./bindings/EditFailure";
import type { FieldError } from "./bindings/FieldError";
import type { Preferences } from "./bindings/Preferences";
import type { Reason } from "./bindings/Reason";
import type { SoundOutput } from "./bindings/SoundOutput";
import type { TypeInfo } from "./bindings/TypeInfo";
import type { UiError } from "./bindings/UiError";
import { card, el } from "./dom";
import { userMessage } from "./errors";
import { GROUP_ICONS, icon } from "./icons";
import { type Key, locale, t } from "./i18n";

/** The channels a type row has a column for, in order. */
export function typeColumns(center: Center): ChannelInfo[] {
  return center.catalogue.channels.filter((c) => c.kind !== "bot" || c.enabled);
}

/** A title in the current language (English when missing). */
export function title(titles: { [key in string]?: string }, lang = locale()): string {
  const all = titles;
  return all[lang] ?? all["en"] ?? "";
}

/** Why a type row cannot be edited, if it cannot: the catalogue says it
 * (the policy's rule is the backend's, the same the server enforces). */
export function typeLock(_center: Center, type: TypeInfo): Reason | null {
  return type.lock;
}

/** Why a channel switch cannot be changed, if it cannot (the catalogue's). */
export function channelLock(center: Center, channel: string): Reason | null {
  return center.catalogue.channels.find((c) => c.id === channel)?.lock ?? null;
}

/** The reason in words, in the current language. */
export function reasonText(reason: Reason): string {
  const keys: Record<Reason, Key> = {
    bell_locked: "reason.bellLocked",
    mandatory_channel: "reason.mandatoryChannel",
    mandatory_type: "reason.mandatoryType",
    view_only: "reason.viewOnly",
    unavailable: "reason.unavailable",
    notification_center_off: "reason.centerOff",
    unknown_type: "reason.invalid",
    not_listed: "reason.invalid",
    unknown_channel: "reason.invalid",
    channel_not_enabled: "reason.channelNotEnabled",
    unknown_melody: "reason.invalid",
    out_of_range: "reason.outOfRange",
    duplicate: "reason.invalid",
    not_an_identifier: "reason.invalid",
  };
  return t(keys[reason]);
}

/** Switches `channel` on or off in a type's channel list. That the bell
 * comes and goes with the type is the core's rule (`follow_bell`), applied
 * to every edit the window sends. */
export function withChannel(channels: readonly string[], channel: string, on: boolean): string[] {
  const rest = channels.filter((c) => c !== channel);
  return on ? [...rest, channel] : rest;
}

/** What changed between two documents, in words, for the "changed elsewhere" note. */
export function changes(before: Center, after: Center): string[] {
  const out: string[] = [];
  const typeTitle = (id: string) => {
    const ty = after.catalogue.types.find((x) => x.id === id);
    return ty === undefined ? id : title(ty.titles);
  };
  const bp = before.document.policy;
  const ap = after.document.policy;
  for (const id of ap.mandatory_types.filter((x) => !bp.mandatory_types.includes(x))) {
    out.push(t("center.nowMandatory", { name: typeTitle(id) }));
  }
  for (const id of bp.mandatory_types.filter((x) => !ap.mandatory_types.includes(x))) {
    out.push(t("center.noLongerMandatory", { name: typeTitle(id) }));
  }
  if (bp.extended_settings !== ap.extended_settings) {
    out.push(ap.extended_settings ? t("center.extendedOn") : t("center.extendedOff"));
  }
  if (bp.notification_center !== ap.notification_center) out.push(t("center.modeChanged"));
  const b = before.document.preferences;
  const a = after.document.preferences;
  const changedTypes = Object.keys(a.types).filter(
    (id) => JSON.stringify(a.types[id]) !== JSON.stringify(b.types[id]),
  );
  if (changedTypes.length > 0) out.push(changedTypes.map(typeTitle).join(", "));
  if (JSON.stringify(a.channels) !== JSON.stringify(b.channels)) out.push(t("center.channelsChanged"));
  if (JSON.stringify(a.reminders) !== JSON.stringify(b.reminders)) out.push(t("center.remindersChanged"));
  if (a.receive !== b.receive) out.push(t("general.receive"));
  return out;
}

type Tab = "channels" | "types" | "reminders";

/** The largest own sound file the shell accepts (`sounds::MAX_FILE_BYTES`). */
const MAX_SOUND_BYTES = 10 * 1024 * 1024;

export class CenterView {
  /** The Channels, Notification types and Reminders panels (or Notifications, simplified). */
  readonly panels: Record<Tab, HTMLElement>;
  /** The master switch, shown in General. */
  readonly receive: HTMLElement;
  /** The sync line: saving, will sync, changed elsewhere. */
  readonly sync: HTMLElement;
  private center: Center | null = null;
  private output: SoundOutput | null = null;
  private refused = new Map<string, string>();
  private editing = 0;
  private search = "";
  private note = "";
  /** The last failure (a `UiError`), worded when shown so that it follows
   * the language; `null` once what it said has passed. */
  private failure: unknown = null;
  /** Why a type's own sound file was refused, by type id: shown next to its picker. */
  private soundErrors = new Map<string, unknown>();

  constructor(
    private readonly doc: Document,
    private readonly backend: Backend,
  ) {
    this.panels = {
      channels: el(doc, "div", "center__panel"),
      types: el(doc, "div", "center__panel"),
      reminders: el(doc, "div", "center__panel"),
    };
    this.receive = el(doc, "div", "center__receive");
    this.sync = el(doc, "p", "center__sync");
    this.sync.setAttribute("role", "status");
    this.sync.setAttribute("data-testid", "center-sync");
  }

  /** The last failure as a sentence in the window's language, or "". */
  private get error(): string {
    return this.failure === null ? "" : userMessage(this.failure);
  }

  /** A synced edit the instance refused after it was made here (its policy
   * changed meanwhile): each control goes back, with its reason. */
  onRefused(fields: readonly FieldError[]): void {
    for (const f of fields) this.refused.set(f.path, reasonText(f.reason));
    this.render();
  }

  /** Whether the instance has the Notification Center off (simplified mode). */
  get simplified(): boolean {
    return this.center !== null && !this.center.document.policy.notification_center;
  }

  /** Loads the document from the shell. */
  async load(): Promise<void> {
    try {
      this.center = await this.backend.center();
      this.failure = null;
    } catch (e) {
      this.failure = e;
    }
    this.render();
    // Listing the audio devices can take a moment: the rest shows first.
    this.output = await this.backend.soundOutput().catch(() => null);
    this.render();
  }

  /** This device's volume and output device (not synced). */
  private outputControls(off: string | null): HTMLElement[] {
    const o = this.output;
    if (o === null) return [];
    const doc = this.doc;
    const volumeRow = el(doc, "label", "center__label");
    const volume = el(doc, "input", "center__volume");
    volume.type = "range";
    volume.name = "volume";
    volume.min = "0";
    volume.max = "100";
    volume.value = String(Math.round(o.volume * 100));
    volumeRow.append(el(doc, "span", "", t("center.volume")), volume);
    const deviceRow = el(doc, "label", "center__label");
    const device = el(doc, "select", "center__device");
    device.name = "output-device";
    const system = el(doc, "option", "", t("center.systemDevice"));
    system.value = "";
    device.append(system);
    const names = o.device !== null && !o.devices.includes(o.device) ? [...o.devices, o.device] : o.devices;
    for (const d of names) {
      const opt = el(doc, "option", "", d);
      opt.value = d;
      device.append(opt);
    }
    device.value = o.device ?? "";
    deviceRow.append(el(doc, "span", "", t("center.device")), device);
    const save = () => {
      this.backend
        .setSoundOutput(Number(volume.value) / 100, device.value === "" ? null : device.value)
        .then((next) => {
          this.output = next;
          // Saved: a message about an earlier save no longer holds.
          this.failure = null;
          this.renderSync();
        })
        .catch((e: unknown) => {
          this.failure = e;
          this.renderSync();
        });
    };
    volume.addEventListener("change", save);
    device.addEventListener("change", save);
    volume.disabled = off !== null;
    device.disabled = off !== null;
    const rows = [volumeRow, deviceRow].map((label) => {
      const row = el(doc, "div", "center__row");
      row.append(label);
      return row;
    });
    if (off !== null) {
      volume.title = off;
      device.title = off;
    }
    return rows;
  }

  /** The core says the effective settings changed: show them, and say so
   * when the change did not come from this window. */
  async onSettingsChanged(): Promise<void> {
    if (this.center === null) return this.load();
    const before = this.center;
    let after: Center;
    try {
      after = await this.backend.center();
    } catch {
      return;
    }
    if (this.editing === 0) {
      const what = changes(before, after);
      if (what.length > 0) this.note = t("center.changedElsewhere", { what: what.join("; ") });
    }
    this.center = after;
    this.render();
  }

  /** Applies `change` to a copy of the preferences and sends it. */
  private async edit(change: (p: Preferences) => void): Promise<void> {
    if (this.center === null) return;
    const before = this.center;
    const next = structuredClone(before.document.preferences);
    change(next);
    // At once locally; the shell's answer confirms or puts it back.
    this.center = { ...before, document: { ...before.document, preferences: next } };
    this.refused.clear();
    this.note = "";
    // A new edit: what the last one's failure said has passed.
    this.failure = null;
    this.editing++;
    this.render();
    try {
      this.center = await this.backend.editPreferences(next);
    } catch (e) {
      this.center = before;
      const failure = e as Partial<EditFailure> | null;
      if (failure?.kind === "refused" && failure.fields !== undefined) {
        for (const f of failure.fields) this.refused.set(f.path, reasonText(f.reason));
      } else if (failure?.kind === "failed" && failure.error !== undefined) {
        this.failure = failure.error;
      } else {
        this.failure = e;
      }
    } finally {
      this.editing--;
      this.render();
    }
  }

  /** Renders every panel from the current document. */
  render(): void {
    this.renderSync();
    const c = this.center;
    if (c === null) {
      for (const p of Object.values(this.panels)) p.replaceChildren(el(this.doc, "p", "center__error", this.error));
      this.receive.replaceChildren();
      return;
    }
    this.renderReceive(c);
    if (!c.document.policy.notification_center) {
      this.renderSimplified(c);
      this.panels.types.replaceChildren();
    } else {
      this.renderChannels(c);
      this.renderTypes(c);
    }
    this.renderReminders(c);
  }

  private renderSync(): void {
    const parts: string[] = [];
    if (this.error !== "") parts.push(this.error);
    if (this.editing > 0) parts.push(t("center.saving"));
    else if (this.center?.pending === true) parts.push(t("center.willSync"));
    if (this.note !== "") parts.push(this.note);
    this.sync.textContent = parts.join(" · ");
    this.sync.classList.toggle("center__sync--pending", this.center?.pending === true);
  }

  /** A checkbox row with its label, lock and refusal. */
  private check(
    name: string,
    label: string,
    checked: boolean,
    lock: Reason | null,
    path: string,
    onChange: (on: boolean) => void,
  ): HTMLElement {
    const row = el(this.doc, "div", "center__row");
    const wrap = el(this.doc, "label", "center__label");
    const box = el(this.doc, "input", "center__check");
    box.type = "checkbox";
    box.name = name;
    box.checked = checked;
    box.disabled = lock !== null;
    box.addEventListener("change", () => onChange(box.checked));
    wrap.append(box, el(this.doc, "span", "", label));
    row.append(wrap);
    this.explain(row, lock, path);
    return row;
  }

  /** The lock reason or the refusal, next to a control. */
  private explain(row: HTMLElement, lock: Reason | null, path: string): void {
    const refused = this.refused.get(path);
    if (refused !== undefined) {
      const r = el(this.doc, "span", "center__refused", refused);
      r.setAttribute("role", "alert");
      row.append(r);
    } else if (lock !== null) {
      row.append(lockNote(this.doc, reasonText(lock)));
    }
  }

  private number(
    name: string,
    label: string,
    value: number,
    min: number,
    max: number,
    path: string,
    onChange: (n: number) => void,
    off: string | null = null,
  ): HTMLElement {
    const row = el(this.doc, "div", "center__row");
    const wrap = el(this.doc, "label", "center__label");
    const input = el(this.doc, "input", "center__number");
    input.type = "number";
    input.name = name;
    // A knob of a channel that is off: kept, shown, not editable, and why.
    input.disabled = off !== null;
    input.min = String(min);
    input.max = String(max);
    input.value = String(value);
    input.addEventListener("change", () => {
      const n = Math.round(Number(input.value));
      if (Number.isFinite(n)) onChange(Math.min(max, Math.max(min, n)));
    });
    wrap.append(el(this.doc, "span", "", label), input);
    row.append(wrap);
    this.explain(row, null, path);
    if (off !== null) input.title = off;
    return row;
  }

  /** Why a channel's knobs are disabled (it is off), or nothing. */
  private offNote(off: string | null): HTMLElement[] {
    if (off === null) return [];
    const note = el(this.doc, "p", "settings__note center__off", off);
    note.setAttribute("data-testid", "channel-off");
    return [note];
  }

  private testButton(channel: string): HTMLButtonElement {
    const b = el(this.doc, "button", "center__test", t("center.sendTest"));
    b.type = "button";
    b.setAttribute("data-channel", channel);
    b.addEventListener("click", () => {
      this.backend
        .sendTest(channel)
        .then(() => {
          this.note = t("center.testSent");
          this.renderSync();
        })
        .catch((e: unknown) => {
          this.failure = e;
          this.renderSync();
        });
    });
    return b;
  }

  /** Opens the instance's web app, where bot channels are linked. */
  webProfileButton(): HTMLButtonElement {
    const b = el(this.doc, "button", "center__test", t("center.openProfile"));
    b.type = "button";
    b.setAttribute("data-testid", "open-web-profile");
    b.addEventListener("click", () => {
      this.backend.openWebProfile().catch((e: unknown) => {
        this.failure = e;
        this.renderSync();
      });
    });
    return b;
  }

  private renderReceive(c: Center): void {
    this.receive.replaceChildren(
      this.check("receive", t("general.receive"), c.document.preferences.receive, null, "preferences.receive", (on) =>
        void this.edit((p) => (p.receive = on)),
      ),
      el(this.doc, "p", "settings__note", t("general.receiveNote")),
    );
  }

  private renderChannels(c: Center): void {
    const ch = c.document.preferences.channels;
    const doc = this.doc;
    const items: HTMLElement[] = [];
    const channelTitle = (id: string) => {
      const info = c.catalogue.channels.find((x) => x.id === id);
      return info === undefined ? id : title(info.titles);
    };
    // The bell's test is a row in the inbox; it cannot be switched off.
    const bell = el(doc, "fieldset", "center__group");
    bell.append(
      el(doc, "legend", "center__legend", channelTitle("bell")),
      this.check("channel-bell", t("center.on"), true, "bell_locked", "preferences.channels.bell.enabled", () => {}),
      this.testButton("bell"),
    );
    items.push(bell);

    const banner = el(doc, "fieldset", "center__group");
    banner.append(el(doc, "legend", "center__legend", channelTitle("banner")));
    const bannerOff = ch.banner.enabled ? null : t("center.channelOff", { channel: channelTitle("banner") });
    banner.append(
      this.check("channel-banner", t("center.on"), ch.banner.enabled, channelLock(c, "banner"), "preferences.channels.banner.enabled", (on) =>
        void this.edit((p) => (p.channels.banner.enabled = on)),
      ),
      ...this.offNote(bannerOff),
      this.number("banner-duration", t("center.duration"), ch.banner.duration_s, 1, 60, "preferences.channels.banner.duration_s", (n) =>
        void this.edit((p) => (p.channels.banner.duration_s = n)),
        bannerOff,
      ),
      this.number("banner-max", t("center.maxSimultaneous"), ch.banner.max_simultaneous, 1, 10, "preferences.channels.banner.max_simultaneous", (n) =>
        void this.edit((p) => (p.channels.banner.max_simultaneous = n)),
        bannerOff,
      ),
      this.number("banner-repeats", t("center.repeats"), ch.banner.repeats, 0, 5, "preferences.channels.banner.repeats", (n) =>
        void this.edit((p) => (p.channels.banner.repeats = n)),
        bannerOff,
      ),
      this.testButton("banner"),
    );
    items.push(banner);

    const soundOff = ch.sound.enabled ? null : t("center.channelOff", { channel: channelTitle("sound") });
    const sound = el(doc, "fieldset", "center__group");
    sound.append(
      el(doc, "legend", "center__legend", channelTitle("sound")),
      this.check("channel-sound", t("center.on"), ch.sound.enabled, channelLock(c, "sound"), "preferences.channels.sound.enabled", (on) =>
        void this.edit((p) => (p.channels.sound.enabled = on)),
      ),
      ...this.offNote(soundOff),
      ...this.outputControls(soundOff),
      el(doc, "p", "settings__note", t("center.soundDevice")),
      this.testButton("sound"),
    );
    items.push(sound);

    const browser = el(doc, "fieldset", "center__group");
    browser.append(
      el(doc, "legend", "center__legend", channelTitle("browser")),
      this.check("channel-browser", t("center.on"), ch.browser.enabled, channelLock(c, "browser"), "preferences.channels.browser.enabled", (on) =>
        void this.edit((p) => (p.channels.browser.enabled = on)),
      ),
      el(doc, "p", "settings__note", t("center.browserNote")),
      // The instance sends it to the browser; the desktop shows nothing.
      this.testButton("browser"),
    );
    items.push(browser);

    for (const bot of c.catalogue.channels.filter((x) => x.kind === "bot" && x.enabled)) {
      const g = el(doc, "fieldset", "center__group");
      const on = ch.bots[bot.id]?.enabled ?? false;
      g.append(
        el(doc, "legend", "center__legend", title(bot.titles)),
        this.check(`channel-${bot.id}`, t("center.on"), on, channelLock(c, bot.id), `preferences.channels.bots.${bot.id}.enabled`, (v) =>
          void this.edit((p) => (p.channels.bots[bot.id] = { enabled: v })),
        ),
        el(doc, "p", "settings__note", bot.linked ? t("center.linked") : t("center.notLinked")),
      );
      if (bot.linked) g.append(this.testButton(bot.id));
      else g.append(this.webProfileButton());
      items.push(g);
    }
    this.panels.channels.replaceChildren(...items.map(card));
  }

  private renderTypes(c: Center): void {
    const doc = this.doc;
    const columns = typeColumns(c);
    const prefs = c.document.preferences;
    const search = el(doc, "input", "center__search");
    search.type = "search";
    search.name = "type-search";
    search.placeholder = t("center.searchTypes");
    search.setAttribute("aria-label", t("center.searchTypes"));
    search.value = this.search;
    search.addEventListener("input", () => {
      this.search = search.value;
      this.renderTypes(c);
      const again = this.panels.types.querySelector<HTMLInputElement>("input[name=type-search]");
      again?.focus();
      again?.setSelectionRange(again.value.length, again.value.length);
    });

    const table = el(doc, "table", "center__types");
    const head = el(doc, "tr", "center__head");
    head.append(el(doc, "th", "", t("center.type")));
    // The melody sits under each type, not in a column of its own: the
    // table then fits the window's default 420 px without scrolling.
    for (const col of columns) head.append(el(doc, "th", "", title(col.titles)));
    table.append(el(doc, "thead", ""), el(doc, "tbody", ""));
    table.tHead?.append(head);
    const body = table.tBodies[0];
    const needle = this.search.trim().toLowerCase();
    const visible = c.catalogue.types.filter(
      (ty) => ty.listed && ty.id in prefs.types && (needle === "" || title(ty.titles).toLowerCase().includes(needle)),
    );
    // The table-wide row: a bulk switch per channel over every row shown
    // that can be edited (locked rows are left as they are).
    const allEditable = visible.filter((ty) => typeLock(c, ty) === null);
    if (allEditable.length > 0 && body !== undefined) {
      const all = el(doc, "tr", "center__group-row center__all-row");
      all.setAttribute("data-group", "all");
      all.append(el(doc, "th", "", t("center.allTypes")));
      for (const col of columns) {
        const cell = el(doc, "td", "");
        const box = this.bulkBox(c, col, allEditable, `bulk-all-${col.id}`, t("center.bulkAll", { channel: title(col.titles) }));
        if (box !== null) cell.append(box);
        all.append(cell);
      }
      body.append(all);
    }
    for (const group of c.catalogue.groups) {
      const rows = visible.filter((ty) => ty.group === group.id);
      if (rows.length === 0 || body === undefined) continue;
      const editable = rows.filter((ty) => typeLock(c, ty) === null);
      // The group's row: its name, a bulk switch per channel, a bulk melody.
      const gr = el(doc, "tr", "center__group-row");
      gr.setAttribute("data-group", group.id);
      const groupName = el(doc, "th", "center__group-name");
      groupName.append(icon(doc, GROUP_ICONS[group.id]), el(doc, "span", "", title(group.titles)));
      gr.append(groupName);
      const bulkMelody = el(doc, "div", "center__melody");
      for (const col of columns) {
        const cell = el(doc, "td", "");
        const label = t("center.bulkChannel", { channel: title(col.titles), group: title(group.titles) });
        const box = this.bulkBox(c, col, editable, `bulk-${group.id}-${col.id}`, label);
        if (box !== null) cell.append(box);
        gr.append(cell);
      }
      if (editable.length > 0) {
        const sel = this.melodySelect(c, `bulk-melody-${group.id}`, "", true);
        sel.setAttribute("aria-label", t("center.bulkMelody", { group: title(group.titles) }));
        sel.addEventListener("change", () => {
          if (sel.value === "") return;
          void this.edit((p) => {
            for (const ty of editable) {
              const tp = p.types[ty.id];
              if (tp !== undefined) tp.melody = sel.value;
            }
          });
        });
        bulkMelody.append(sel);
        groupName.append(bulkMelody);
      }
      body.append(gr);

      for (const ty of rows) body.append(...this.typeRows(c, ty, columns));
    }
    const children: HTMLElement[] = [];
    // As the web profile's page says it, once, above the table.
    if (c.catalogue.types.some((ty) => ty.listed && typeLock(c, ty) === "unavailable")) {
      const notice = el(doc, "p", "settings__note center__unavailable", t("center.unavailableNote"));
      notice.setAttribute("data-testid", "types-unavailable");
      children.push(notice);
    }
    children.push(search);
    if (!c.document.policy.extended_settings) {
      children.push(el(doc, "p", "settings__note", t("center.extendedNote")));
    }
    // Wide on a narrow window: the table scrolls sideways, not the page.
    const wrap = el(doc, "div", "center__table-wrap");
    wrap.append(table);
    children.push(wrap);
    if (visible.length === 0) children.push(el(doc, "p", "settings__note", t("center.noTypes")));
    if (this.output !== null) children.push(el(doc, "p", "settings__note", t("center.ownFileNote")));
    this.panels.types.replaceChildren(...children);
  }

  /** A bulk switch for channel `col` over `types` (none for the bell, a
   * locked channel, or no editable row). */
  private bulkBox(c: Center, col: ChannelInfo, types: TypeInfo[], name: string, label: string): HTMLInputElement | null {
    if (col.id === "bell" || channelLock(c, col.id) !== null || types.length === 0) return null;
    const prefs = c.document.preferences;
    const box = el(this.doc, "input", "center__bulk");
    box.type = "checkbox";
    box.name = name;
    box.checked = types.every((ty) => prefs.types[ty.id]?.channels.includes(col.id) ?? false);
    box.setAttribute("aria-label", label);
    box.addEventListener("change", () => {
      void this.edit((p) => {
        for (const ty of types) {
          const tp = p.types[ty.id];
          // A type that is off stays off: a bulk switch changes channels, not the type.
          if (tp !== undefined && tp.channels.length > 0) tp.channels = withChannel(tp.channels, col.id, box.checked);
        }
      });
    });
    return box;
  }

  /** A type's row (its name and a switch per channel) and the row under it
   * with its melody, the preview and the own file, which then have the
   * table's whole width: the table fits the window's default 420 px. */
  private typeRows(c: Center, ty: TypeInfo, columns: ChannelInfo[]): HTMLTableRowElement[] {
    const doc = this.doc;
    const prefs = c.document.preferences.types[ty.id];
    const lock = typeLock(c, ty);
    const tr = el(doc, "tr", "center__type");
    tr.setAttribute("data-type", ty.id);
    if (lock !== null) tr.classList.add("center__type--locked");
    const name = el(doc, "th", "center__type-name");
    name.scope = "row";
    name.append(el(doc, "span", "", title(ty.titles)));
    const path = `preferences.types.${ty.id}`;
    const refused = this.refused.get(`${path}.channels`) ?? this.refused.get(`${path}.melody`) ?? this.refused.get(path);
    if (refused !== undefined) {
      const r = el(doc, "span", "center__refused", refused);
      r.setAttribute("role", "alert");
      name.append(r);
    } else if (lock !== null) {
      name.append(lockNote(doc, reasonText(lock)));
    }
    tr.append(name);
    const channels = prefs?.channels ?? [];
    for (const col of columns) {
      const cell = el(doc, "td", "");
      const box = el(doc, "input", "center__check");
      box.type = "checkbox";
      box.name = `type-${ty.id}-${col.id}`;
      box.checked = channels.includes(col.id);
      box.setAttribute("aria-label", `${title(ty.titles)}: ${title(col.titles)}`);
      box.disabled = lock !== null || (col.id !== "bell" && channelLock(c, col.id) !== null);
      box.addEventListener("change", () => {
        void this.edit((p) => {
          const tp = p.types[ty.id];
          if (tp !== undefined) tp.channels = withChannel(tp.channels, col.id, box.checked);
        });
      });
      cell.append(box);
      tr.append(cell);
    }
    const melodyCell = el(doc, "div", "center__melody");
    const sel = this.melodySelect(c, `melody-${ty.id}`, prefs?.melody ?? ty.default_melody, false);
    sel.disabled = lock !== null;
    sel.setAttribute("aria-label", `${title(ty.titles)}: ${t("center.melody")}`);
    sel.addEventListener("change", () => {
      void this.edit((p) => {
        const tp = p.types[ty.id];
        if (tp !== undefined) tp.melody = sel.value;
      });
    });
    const play = el(doc, "button", "center__preview");
    play.append(icon(doc, "play"));
    play.type = "button";
    play.title = t("center.preview");
    play.setAttribute("aria-label", t("center.preview"));
    play.addEventListener("click", () => {
      this.backend.previewMelody(sel.value).catch((e: unknown) => {
        this.failure = e;
        this.renderSync();
      });
    });
    const own = this.output?.custom[ty.id];
    if (own !== undefined) {
      // This computer plays the file; the synced melody is for the others.
      melodyCell.append(el(doc, "span", "center__own-name", t("center.ownFileSet", { name: own })), this.removeOwnButton(ty));
    } else {
      melodyCell.append(sel, play);
      if (this.output !== null) melodyCell.append(this.ownFilePicker(ty, lock));
    }
    const soundRefused = this.soundErrors.get(ty.id);
    if (soundRefused !== undefined) {
      const r = el(doc, "span", "center__refused", userMessage(soundRefused));
      r.setAttribute("role", "alert");
      melodyCell.append(r);
    }
    const under = el(doc, "tr", "center__melody-row");
    under.setAttribute("data-melody-of", ty.id);
    const cell = el(doc, "td", "");
    cell.colSpan = columns.length + 1;
    cell.append(melodyCell);
    under.append(cell);
    return [tr, under];
  }

  /** "Your own file…": a file input inside a label styled as a button, so the
   * system's file dialog opens from a real click. */
  private ownFilePicker(ty: TypeInfo, lock: Reason | null): HTMLElement {
    const doc = this.doc;
    const label = el(doc, "label", "center__own", t("center.ownFileChoose"));
    label.title = t("center.ownFileNote");
    const input = el(doc, "input", "center__own-input");
    input.type = "file";
    input.accept = "audio/*";
    input.name = `own-${ty.id}`;
    input.disabled = lock !== null;
    input.setAttribute("aria-label", t("center.ownFileLabel", { type: title(ty.titles) }));
    input.addEventListener("change", () => {
      const file = input.files?.[0];
      if (file !== undefined) void this.importOwn(ty.id, file);
    });
    label.append(input);
    return label;
  }

  private removeOwnButton(ty: TypeInfo): HTMLButtonElement {
    const b = el(this.doc, "button", "center__test", t("center.ownFileRemove"));
    b.type = "button";
    b.name = `own-remove-${ty.id}`;
    b.setAttribute("aria-label", t("center.ownFileRemoveLabel", { type: title(ty.titles) }));
    b.addEventListener("click", () => {
      this.backend
        .removeSound(ty.id)
        .then((next) => {
          this.output = next;
          this.soundErrors.delete(ty.id);
        })
        .catch((e: unknown) => this.soundErrors.set(ty.id, e))
        .finally(() => this.render());
    });
    return b;
  }

  /** Sends the picked file to the shell, which checks it and keeps a copy. */
  private async importOwn(typeId: string, file: File): Promise<void> {
    try {
      // Refused here before reading: 10 MB as JSON numbers is not worth sending.
      if (file.size > MAX_SOUND_BYTES) throw { kind: "sound_too_big", name: file.name } satisfies UiError;
      const bytes = new Uint8Array(await file.arrayBuffer());
      this.output = await this.backend.importSound(typeId, file.name, bytes);
      this.soundErrors.delete(typeId);
    } catch (e) {
      this.soundErrors.set(typeId, e);
    }
    this.render();
  }

  private melodySelect(c: Center, name: string, value: string, withPrompt: boolean): HTMLSelectElement {
    const sel = el(this.doc, "select", "center__melody-select");
    sel.name = name;
    if (withPrompt) {
      const o = el(this.doc, "option", "", t("center.setMelody"));
      o.value = "";
      sel.append(o);
    }
    for (const m of c.catalogue.melodies) {
      const o = el(this.doc, "option", "", m);
      o.value = m;
      sel.append(o);
    }
    sel.value = value;
    return sel;
  }

  private renderReminders(c: Center): void {
    const r = c.document.preferences.reminders.status;
    // The same card as every other tab's groups; the minutes wait for the switch.
    const group = el(this.doc, "div", "center__group");
    group.append(
      this.check("reminder", t("center.reminder"), r.enabled, null, "preferences.reminders.status.enabled", (on) =>
        void this.edit((p) => (p.reminders.status.enabled = on)),
      ),
      el(this.doc, "p", "settings__note", t("center.reminderNote")),
      ...this.offNote(r.enabled ? null : t("center.reminderOff")),
      this.number("reminder-minutes", t("center.reminderMinutes"), r.after_minutes, 1, 240, "preferences.reminders.status.after_minutes", (n) =>
        void this.edit((p) => (p.reminders.status.after_minutes = n)),
        r.enabled ? null : t("center.reminderOff"),
      ),
    );
    this.panels.reminders.replaceChildren(card(group));
  }

  /** The classic toggles while the instance has the Center off. */
  private renderSimplified(c: Center): void {
    const s = c.document.preferences.simplified;
    const doc = this.doc;
    const toggles: [keyof typeof s, Key][] = [
      ["new_dialogue_sound", "simple.dialogueSound"],
      ["new_dialogue_popup", "simple.dialoguePopup"],
      ["new_message_sound", "simple.messageSound"],
      ["new_message_popup", "simple.messagePopup"],
    ];
    const group = el(doc, "div", "center__group");
    group.append(
      ...toggles.map(([field, key]) =>
        this.check(`simple-${field}`, t(key), s[field], null, `preferences.simplified.${field}`, (on) =>
          void this.edit((p) => (p.simplified[field] = on)),
        ),
      ),
    );
    this.panels.channels.replaceChildren(el(doc, "p", "settings__note", t("simple.note")), card(group));
  }
}

/** A lock's reason with the lock icon (an SVG: no emoji font needed). */
function lockNote(doc: Document, reason: string): HTMLElement {
  const note = el(doc, "span", "center__lock");
  note.append(icon(doc, "lock"), el(doc, "span", "", reason));
  return note;
}
