/**
 * The Settings view, in tabs: General (receive notifications, pause, start
 * at login, language, theme, the account with Sign out, the version), then the
 * Notification Center's Channels, Notification types and Reminders (or the
 * simplified Notifications tab while the instance has the Center off).
 */
import type { Backend } from "./backend";
import type { FieldError } from "./bindings/FieldError";
import type { General } from "./bindings/General";
import type { Pause } from "./bindings/Pause";
import type { UpdateChannel } from "./bindings/UpdateChannel";
import type { UpdateInfo } from "./bindings/UpdateInfo";
import type { Status } from "./types";
import { CenterView } from "./center";
import { card, el } from "./dom";
import { userMessage } from "./errors";
import { icon } from "./icons";
import { type Key, LOCALES, chooseLocale, formatTime, locale, localeLocked, manageLocale, t } from "./i18n";
import { THEMES, type ThemeChoice, chooseTheme, theme } from "./theme";

type Tab = "general" | "channels" | "types" | "reminders";

export class Settings {
  readonly element: HTMLElement;
  private readonly relabel: (() => void)[] = [];
  private readonly startAtLogin: HTMLInputElement;
  private readonly startNote: HTMLElement;
  private readonly error: HTMLElement;
  private readonly account: HTMLElement;
  private readonly version: HTMLElement;
  private readonly language: HTMLSelectElement;
  private readonly languageNote: HTMLElement;
  private readonly themeSelect: HTMLSelectElement;
  private readonly pauseState: HTMLElement;
  private readonly resume: HTMLButtonElement;
  private readonly channel: HTMLSelectElement;
  private readonly channelNote: HTMLElement;
  private readonly updateState: HTMLElement;
  private readonly updateChecked: HTMLElement;
  private readonly checkButton: HTMLButtonElement;
  private readonly installButton: HTMLButtonElement;
  private readonly restartButton: HTMLButtonElement;
  private updates: UpdateInfo | null = null;
  private status: Status | null = null;
  private general: General | null = null;
  private accountName: string | null = null;
  /** The Notification Center's panels. */
  readonly center: CenterView;
  private readonly tabs: { id: Tab; button: HTMLButtonElement; panel: HTMLElement }[] = [];
  private tab: Tab = "general";

  constructor(
    doc: Document,
    private readonly backend: Backend,
    private readonly storage: Storage | null,
    back: () => void,
  ) {
    this.element = el(doc, "section", "settings");
    const header = el(doc, "header", "settings__header");
    const backButton = el(doc, "button", "settings__back");
    backButton.type = "button";
    backButton.setAttribute("data-testid", "settings-back");
    backButton.addEventListener("click", back);
    const backText = el(doc, "span", "");
    backButton.append(icon(doc, "back"), backText);
    const title = el(doc, "h1", "settings__title");
    header.append(backButton, title);
    this.label(() => {
      backText.textContent = t("settings.back");
      title.textContent = t("settings.title");
    });

    // The tab is General: its first group needs no title of its own.
    const general = el(doc, "div", "settings__group");

    const startRow = el(doc, "label", "settings__row");
    this.startAtLogin = el(doc, "input", "settings__check");
    this.startAtLogin.type = "checkbox";
    this.startAtLogin.name = "start-at-login";
    const startText = el(doc, "span", "settings__text");
    startRow.append(this.startAtLogin, startText);
    this.startNote = el(doc, "p", "settings__note");
    this.startAtLogin.addEventListener("change", () => void this.setStartAtLogin(this.startAtLogin.checked));

    const langRow = el(doc, "label", "settings__row settings__row--select");
    const langText = el(doc, "span", "settings__text");
    this.language = el(doc, "select", "settings__language");
    this.language.name = "language";
    for (const l of LOCALES) {
      const o = el(doc, "option", "", l.name);
      o.value = l.code;
      o.lang = l.code;
      this.language.append(o);
    }
    this.language.addEventListener("change", () => {
      const l = LOCALES.find((x) => x.code === this.language.value)?.code;
      if (l !== undefined) chooseLocale(l, this.storage);
    });
    langRow.append(langText, this.language);
    this.languageNote = el(doc, "p", "settings__note settings__language-note");

    const themeRow = el(doc, "label", "settings__row settings__row--select");
    const themeText = el(doc, "span", "settings__text");
    this.themeSelect = el(doc, "select", "settings__theme");
    this.themeSelect.name = "theme";
    const themeNames: Record<ThemeChoice, Key> = {
      system: "settings.themeSystem",
      light: "settings.themeLight",
      dark: "settings.themeDark",
    };
    const themeOptions = THEMES.map((c) => {
      const o = el(doc, "option", "");
      o.value = c;
      this.themeSelect.append(o);
      return [c, o] as const;
    });
    this.themeSelect.addEventListener("change", () => {
      const c = THEMES.find((x) => x === this.themeSelect.value);
      if (c !== undefined) chooseTheme(doc, c, this.storage);
    });
    themeRow.append(themeText, this.themeSelect);

    // Pause: the tray's choices, and Resume while paused.
    const pauseRow = el(doc, "div", "settings__row settings__pause");
    const pauseText = el(doc, "span", "settings__text");
    const pauseButtons = (["half_hour", "hour", "tomorrow"] as const).map((choice) => {
      const b = el(doc, "button", "settings__pause-choice");
      b.type = "button";
      b.setAttribute("data-pause", choice);
      b.addEventListener("click", () => void this.pause(choice));
      return [choice, b] as const;
    });
    this.resume = el(doc, "button", "settings__resume");
    this.resume.type = "button";
    this.resume.setAttribute("data-pause", "resume");
    this.resume.addEventListener("click", () => void this.pause("resume"));
    this.pauseState = el(doc, "p", "settings__pause-state");
    this.pauseState.setAttribute("aria-live", "polite");
    pauseRow.append(pauseText, ...pauseButtons.map(([, b]) => b), this.resume);
    const pauseNames: Record<"half_hour" | "hour" | "tomorrow", Key> = {
      half_hour: "settings.pause30",
      hour: "settings.pause60",
      tomorrow: "settings.pauseTomorrow",
    };

    this.label(() => {
      startText.textContent = t("settings.startAtLogin");
      langText.textContent = t("settings.language");
      this.language.value = locale();
      // Enforced by the organization: locked, and the note says why.
      this.language.disabled = localeLocked();
      this.languageNote.textContent = localeLocked() ? t("language.managed") : "";
      this.languageNote.hidden = !localeLocked();
      themeText.textContent = t("settings.theme");
      for (const [c, o] of themeOptions) o.textContent = t(themeNames[c]);
      this.themeSelect.value = theme();
      pauseText.textContent = t("settings.pause");
      for (const [c, b] of pauseButtons) b.textContent = t(pauseNames[c]);
      this.resume.textContent = t("settings.resume");
    });
    general.append(pauseRow, this.pauseState, startRow, this.startNote, langRow, this.languageNote, themeRow);

    const accountGroup = el(doc, "fieldset", "settings__group");
    const accountLegend = el(doc, "legend", "settings__legend");
    this.account = el(doc, "p", "settings__account");
    const signOut = el(doc, "button", "settings__sign-out");
    signOut.type = "button";
    signOut.addEventListener("click", () => {
      this.backend
        .signOut()
        .then(back)
        .catch((e: unknown) => (this.error.textContent = userMessage(e)));
    });
    this.label(() => {
      accountLegend.textContent = t("settings.account");
      signOut.textContent = t("account.signOut");
    });
    accountGroup.append(accountLegend, this.account, signOut);

    // Updates: the version, the channel, where updating stands, and the
    // one action that fits (check, install, restart).
    const updatesGroup = el(doc, "fieldset", "settings__group settings__updates");
    const updatesLegend = el(doc, "legend", "settings__legend");
    this.version = el(doc, "p", "settings__version");
    const channelRow = el(doc, "label", "settings__row settings__row--select");
    const channelText = el(doc, "span", "settings__text");
    this.channel = el(doc, "select", "settings__channel");
    this.channel.name = "update-channel";
    const channelOptions = (["stable", "beta"] as const).map((c) => {
      const o = el(doc, "option", "");
      o.value = c;
      this.channel.append(o);
      return [c, o] as const;
    });
    this.channel.addEventListener("change", () => {
      const c = (["stable", "beta"] as const).find((x) => x === this.channel.value);
      if (c !== undefined) void this.setChannel(c);
    });
    channelRow.append(channelText, this.channel);
    this.channelNote = el(doc, "p", "settings__note");
    this.updateState = el(doc, "p", "settings__update-state");
    this.updateState.setAttribute("aria-live", "polite");
    this.updateChecked = el(doc, "p", "settings__note");
    const actions = el(doc, "div", "settings__row settings__update-actions");
    const action = (cls: string, f: () => Promise<unknown>) => {
      const b = el(doc, "button", cls);
      b.type = "button";
      b.addEventListener("click", () => void this.updateAction(f));
      actions.append(b);
      return b;
    };
    this.checkButton = action("settings__update-check", () => this.backend.checkUpdates());
    this.installButton = action("settings__update-install", () => this.backend.installUpdate());
    this.restartButton = action("settings__update-restart", () => this.backend.restartToUpdate());
    this.label(() => {
      updatesLegend.textContent = t("updates.title");
      channelText.textContent = t("updates.channel");
      for (const [c, o] of channelOptions) o.textContent = t(c === "stable" ? "updates.stable" : "updates.beta");
      this.checkButton.textContent = t("updates.check");
      this.restartButton.textContent = t("updates.restart");
    });
    updatesGroup.append(
      updatesLegend,
      this.version,
      channelRow,
      this.channelNote,
      this.updateState,
      this.updateChecked,
      actions,
    );

    const more = el(doc, "p", "settings__note");
    this.label(() => (more.textContent = t("settings.chatSystem")));
    this.error = el(doc, "p", "settings__error");
    this.error.setAttribute("role", "alert");

    this.center = new CenterView(doc, backend);
    general.insertBefore(this.center.receive, startRow);
    const generalPanel = el(doc, "div", "settings__panel");
    // The web profile with the account it belongs to.
    accountGroup.append(more, this.center.webProfileButton());
    generalPanel.append(card(general), card(accountGroup), card(updatesGroup), this.error);
    const tabList = el(doc, "div", "settings__tabs");
    tabList.setAttribute("role", "tablist");
    const panels: [Tab, HTMLElement][] = [
      ["general", generalPanel],
      ["channels", this.center.panels.channels],
      ["types", this.center.panels.types],
      ["reminders", this.center.panels.reminders],
    ];
    for (const [id, panel] of panels) {
      const button = el(doc, "button", "settings__tab");
      button.type = "button";
      button.setAttribute("role", "tab");
      button.setAttribute("data-tab", id);
      button.id = `settings-tab-${id}`;
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", button.id);
      button.addEventListener("click", () => this.show(id));
      button.addEventListener("keydown", (e) => {
        const i = this.tabs.findIndex((x) => x.id === id);
        const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
        if (step === 0) return;
        const visible = this.tabs.filter((x) => !x.button.hidden);
        const at = visible.findIndex((x) => x.id === id);
        const next = visible[(at + step + visible.length) % visible.length];
        if (i >= 0 && next !== undefined) {
          this.show(next.id);
          next.button.focus();
        }
      });
      tabList.append(button);
      this.tabs.push({ id, button, panel });
    }
    this.element.append(header, tabList, this.center.sync, ...panels.map(([, p]) => p));
    this.show("general");
  }

  /** Shows tab `id`. */
  show(id: Tab): void {
    this.tab = id;
    for (const x of this.tabs) {
      const on = x.id === id;
      x.button.setAttribute("aria-selected", String(on));
      x.button.tabIndex = on ? 0 : -1;
      x.panel.hidden = !on;
    }
  }

  /** Loads the current values. */
  async load(): Promise<void> {
    try {
      this.showGeneral(await this.backend.general());
      this.error.textContent = "";
    } catch (e) {
      this.error.textContent = userMessage(e);
    }
    try {
      this.updates = await this.backend.updateInfo();
    } catch (e) {
      this.error.textContent = userMessage(e);
    }
    await this.center.load();
    this.render();
  }

  /** The shell's update state changed (a check or an install). */
  setUpdates(u: UpdateInfo): void {
    this.updates = u;
    this.renderUpdates();
  }

  /** The document changed (elsewhere, or the server answered): the Center
   * shows it, and the tabs follow a Center the instance turned on or off. */
  async onSettingsChanged(): Promise<void> {
    await this.center.onSettingsChanged();
    this.render();
  }

  /** The instance refused a synced edit made here: the controls say why. */
  onRefused(fields: readonly FieldError[]): void {
    this.center.onRefused(fields);
  }

  /** Follows the shell's status: the account line and whether it is quiet. */
  setStatus(s: Status): void {
    this.status = s;
    this.accountName = s.account;
    this.render();
  }

  /** Puts the texts in the current language. */
  render(): void {
    for (const f of this.relabel) f();
    const names: Record<Tab, Key> = {
      general: "settings.tabGeneral",
      channels: this.center.simplified ? "settings.tabSimple" : "settings.tabChannels",
      types: "settings.tabTypes",
      reminders: "settings.tabReminders",
    };
    for (const x of this.tabs) {
      x.button.textContent = t(names[x.id]);
      // Simplified mode has no type table.
      x.button.hidden = x.id === "types" && this.center.simplified;
    }
    if (this.tabs.find((x) => x.id === this.tab)?.button.hidden === true) this.show("general");
    this.center.render();
    this.renderPause();
    this.renderUpdates();
    this.account.textContent =
      this.accountName === null ? "" : t("settings.signedInAs", { account: accountLine(this.accountName) });
    if (this.general !== null) {
      this.startNote.textContent = this.general.start_at_login_locked
        ? t("settings.managed")
        : t("settings.startAtLoginNote");
      this.version.textContent = t("settings.version", { version: this.general.version });
    }
  }

  /** Where updating stands, and the one button that fits. */
  private renderUpdates(): void {
    const u = this.updates;
    const off = u?.off ?? null;
    const state = u?.state ?? { kind: "idle" };
    this.channel.value = u?.channel ?? "stable";
    this.channel.disabled = u === null || off !== null || u.channel_locked || u.single_channel;
    this.channelNote.textContent =
      u?.channel_locked === true
        ? t("updates.channelLocked")
        : u?.single_channel === true && off === null
          ? t("updates.singleChannel")
          : "";
    this.checkButton.hidden = off !== null || ["checking", "installing", "installed"].includes(state.kind);
    this.installButton.hidden = !(state.kind === "available" || state.kind === "install_failed");
    this.restartButton.hidden = state.kind !== "installed";
    if (state.kind === "available" || state.kind === "install_failed")
      this.installButton.textContent = t("updates.install", { version: state.version });
    this.updateChecked.textContent =
      u?.last_checked == null ? "" : t("updates.lastChecked", { time: formatTime(new Date(u.last_checked)) });
    if (off !== null) {
      this.updateState.textContent =
        off.reason === "organization"
          ? t("updates.offOrganization")
          : off.reason === "no_key"
            ? t("updates.offNoKey")
            : off.reason === "no_feed"
              ? t("updates.offNoFeed")
              : t("updates.offBadFeed", { message: off.message });
      return;
    }
    switch (state.kind) {
      case "idle":
        this.updateState.textContent = t("updates.idle");
        break;
      case "checking":
        this.updateState.textContent = t("updates.checking");
        break;
      case "up_to_date":
        this.updateState.textContent = t("updates.upToDate");
        break;
      case "available":
        this.updateState.textContent = t("updates.available", { version: state.version });
        break;
      case "installing":
        this.updateState.textContent = t("updates.installing", { version: state.version });
        break;
      case "installed":
        this.updateState.textContent = t("updates.installed", { version: state.version });
        break;
      case "refused":
        this.updateState.textContent = t("updates.refused", { version: state.version, reason: state.reason });
        break;
      case "check_failed":
        this.updateState.textContent = t("updates.checkFailed", { message: state.message });
        break;
      case "install_failed":
        this.updateState.textContent = t("updates.installFailed", {
          version: state.version,
          message: state.message,
        });
        break;
    }
  }

  private async updateAction(f: () => Promise<unknown>): Promise<void> {
    try {
      const u = await f();
      if (u !== undefined && u !== null) this.setUpdates(u as UpdateInfo);
      this.error.textContent = "";
    } catch (e) {
      this.error.textContent = userMessage(e);
    }
  }

  private async setChannel(channel: UpdateChannel): Promise<void> {
    try {
      this.setUpdates(await this.backend.setUpdateChannel(channel));
      this.error.textContent = "";
    } catch (e) {
      // The control goes back to what holds, with the reason next to it.
      this.error.textContent = userMessage(e);
      this.renderUpdates();
    }
  }

  /** "Paused until 14:30" with Resume, or why the OS keeps it quiet. */
  private renderPause(): void {
    const quiet = this.status?.quiet ?? null;
    const paused = quiet?.reason === "paused";
    this.resume.hidden = !paused;
    if (quiet === null) this.pauseState.textContent = t("settings.notPaused");
    else if (quiet.reason === "paused")
      this.pauseState.textContent = t("settings.pausedUntil", { time: formatTime(new Date(quiet.until)) });
    else this.pauseState.textContent = t("settings.quietOs", { source: quiet.source });
  }

  private async pause(choice: Pause): Promise<void> {
    try {
      await this.backend.pause(choice);
      this.error.textContent = "";
    } catch (e) {
      this.error.textContent = userMessage(e);
    }
  }

  private label(f: () => void): void {
    f();
    this.relabel.push(f);
  }

  private showGeneral(g: General): void {
    this.general = g;
    this.startAtLogin.checked = g.start_at_login;
    this.startAtLogin.disabled = g.start_at_login_locked;
    // The General values carry the organization's language too.
    manageLocale(g.language ?? null);
    this.render();
  }

  private async setStartAtLogin(on: boolean): Promise<void> {
    try {
      this.showGeneral(await this.backend.setStartAtLogin(on));
      this.error.textContent = "";
    } catch (e) {
      // The control goes back to what holds, with the reason next to it.
      this.error.textContent = userMessage(e);
      if (this.general !== null) this.startAtLogin.checked = this.general.start_at_login;
    }
  }
}

/** The account as the window names it: the login and the helpdesk's
 * host ("olga on help.example.com"), from the shell's `login@address`. */
export function accountLine(account: string | null): string {
  if (account === null) return "";
  const m = /^(.*)@([a-z][a-z0-9+.-]*:\/\/.*)$/i.exec(account);
  if (m === null) return account;
  try {
    const host = new URL(m[2] ?? "").host;
    return host === "" ? account : t("account.line", { login: m[1] ?? "", host });
  } catch {
    return account;
  }
}
