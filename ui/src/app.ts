/**
 * The window: the sign-in form while the app is signed out, the inbox once
 * it is signed in, and the account line with Sign out. Which one shows
 * follows the shell's status, so a sign-out from the tray, or the instance
 * revoking the token, switches the window too. Settings (from the account
 * line or the tray's Settings item) replaces either until Back.
 */
import type { Backend } from "./backend";
import { el } from "./dom";
import { manageLocale, onLocaleChange, t } from "./i18n";
import { icon } from "./icons";
import { userMessage } from "./errors";
import { Inbox, type InboxOptions } from "./inbox";
import { Settings, accountLine } from "./settings";
import { startTheme } from "./theme";
import { SignIn } from "./signin";
import type { Status } from "./types";

export class App {
  private readonly inbox: Inbox;
  private readonly inboxHost: HTMLElement;
  private readonly signInHost: HTMLElement;
  private readonly account: HTMLElement;
  private readonly accountText: HTMLElement;
  private readonly signOut: HTMLButtonElement;
  private readonly openSettings: HTMLButtonElement;
  private readonly settingsHost: HTMLElement;
  private readonly settings: Settings;
  private signIn: SignIn | null = null;
  private view: "main" | "settings" = "main";
  private status: Status | null = null;
  /** The view last reported to the shell. */
  private shown = "";
  /** Whether the inbox shows a signed-in session. */
  private signedIn = false;

  constructor(
    root: HTMLElement,
    private readonly backend: Backend,
    now: () => Date = () => new Date(),
    options: InboxOptions = {},
  ) {
    const doc = root.ownerDocument;
    this.signInHost = el(doc, "section", "app__signin");
    this.inboxHost = el(doc, "section", "app__inbox");
    this.account = el(doc, "div", "app__account");
    this.accountText = el(doc, "span", "app__account-text");
    this.signOut = el(doc, "button", "button button--flat app__sign-out");
    this.signOut.type = "button";
    this.signOut.setAttribute("data-testid", "sign-out");
    this.signOut.addEventListener("click", () => {
      this.signOut.disabled = true;
      this.backend
        .signOut()
        .catch((e: unknown) => {
          this.accountText.textContent = userMessage(e);
        })
        .finally(() => {
          this.signOut.disabled = false;
        });
    });
    this.openSettings = el(doc, "button", "button button--icon app__settings");
    this.openSettings.type = "button";
    this.openSettings.append(icon(doc, "settings"));
    this.openSettings.setAttribute("data-testid", "open-settings");
    this.openSettings.addEventListener("click", () => this.navigate("settings"));
    this.account.append(this.accountText, this.signOut);
    this.settingsHost = el(doc, "section", "app__settings-view");
    this.settingsHost.hidden = true;
    const storage = options.storage !== undefined ? options.storage : (doc.defaultView?.localStorage ?? null);
    startTheme(doc, storage);
    this.settings = new Settings(doc, backend, storage, () => this.navigate("main"));
    this.settingsHost.append(this.settings.element);
    root.replaceChildren(this.signInHost, this.inboxHost, this.settingsHost);
    root.classList.add("app");
    this.inbox = new Inbox(this.inboxHost, backend, now, options);
    // Settings at the header's end, the account in the bottom bar.
    this.inbox.actions.append(this.openSettings);
    this.inbox.footer.append(this.account);
    onLocaleChange(() => this.relabel());
    this.relabel();
  }

  /** Shows what the status says and follows it. */
  async start(): Promise<void> {
    // The organization's language first, so the window opens in it.
    await this.backend
      .general()
      .then((g) => manageLocale(g.language ?? null))
      .catch(() => {
        // Without it the window keeps the user's or the system's language.
      });
    await this.backend.onStatus((s) => void this.show(s));
    await this.backend.onNavigate((v) => this.navigate(v === "settings" ? "settings" : "main"));
    await this.backend.onUpdate((u) => this.settings.setUpdates(u));
    // A change from the web profile or the admin shows in an open Settings view.
    await this.backend.onEvent((ev) => {
      if (ev.event === "settings" && this.view === "settings") void this.settings.onSettingsChanged();
      // Refused by the instance once it synced: said where the edit was made.
      if (ev.event === "refused") this.settings.onRefused(ev.fields);
    });
    const first = await this.backend.status();
    // The inbox loads its first page itself when already signed in.
    this.signedIn = first.account !== null;
    await this.inbox.start();
    await this.show(first);
    if ((await this.backend.startView()) === "settings") this.navigate("settings");
  }

  /** Shows Settings or goes back to the sign-in form or the inbox. */
  navigate(view: "main" | "settings"): void {
    this.view = view;
    if (view === "settings") void this.settings.load();
    if (this.status !== null) void this.show(this.status);
  }

  private relabel(): void {
    this.signOut.textContent = t("account.signOut");
    this.openSettings.title = t("account.settings");
    this.openSettings.setAttribute("aria-label", t("account.settings"));
    if (this.status !== null) this.accountText.textContent = accountLine(this.status.account);
    this.signIn?.render();
    this.settings.render();
  }

  private async show(s: Status): Promise<void> {
    this.status = s;
    const shown = this.view === "settings" ? "settings" : s.sign_in !== null ? "sign-in" : "inbox";
    if (shown !== this.shown) {
      this.shown = shown;
      this.backend.shownView(shown).catch(() => {});
    }
    this.settings.setStatus(s);
    this.settingsHost.hidden = this.view !== "settings";
    if (this.view === "settings") {
      this.signInHost.hidden = true;
      this.inboxHost.hidden = true;
      this.account.hidden = true;
      if (s.sign_in !== null) {
        this.signedIn = false;
        this.signIn = null;
        this.signInHost.replaceChildren();
      }
      return;
    }
    if (s.sign_in !== null) {
      if (this.signIn === null) {
        this.signIn = new SignIn(this.signInHost.ownerDocument, this.backend, s.sign_in);
        this.signInHost.replaceChildren(this.signIn.element);
        this.signIn.focus();
      }
      this.signInHost.hidden = false;
      this.inboxHost.hidden = true;
      this.account.hidden = true;
      this.signedIn = false;
      return;
    }
    this.signIn = null;
    this.signInHost.replaceChildren();
    this.signInHost.hidden = true;
    this.inboxHost.hidden = false;
    this.accountText.textContent = accountLine(s.account);
    this.accountText.title = s.account ?? "";
    this.account.hidden = s.account === null;
    if (!this.signedIn && s.account !== null) {
      this.signedIn = true;
      // A new session (maybe another account): its inbox from the top.
      await this.inbox.reload();
    }
  }
}

