/**
 * The sign-in form: the instance address (prefilled from the last sign-in
 * or the organization's settings, and locked when the organization enforces
 * it), the login and the password. The shell checks the instance's protocol
 * version, signs in and keeps the token in the OS keyring; the password is
 * sent once and never stored here.
 */
import type { Backend } from "./backend";
import { el } from "./dom";
import { completeAddress, userMessage } from "./errors";
import { t } from "./i18n";
import type { SignInForm } from "./bindings/SignInForm";

export class SignIn {
  readonly element: HTMLFormElement;
  private readonly address: HTMLInputElement;
  private readonly login: HTMLInputElement;
  private readonly password: HTMLInputElement;
  private readonly submit: HTMLButtonElement;
  private readonly error: HTMLParagraphElement;
  private readonly heading: HTMLHeadingElement;
  private readonly note: HTMLParagraphElement;
  private readonly labels: { address: HTMLElement; login: HTMLElement; password: HTMLElement };
  /** The organization set the address. */
  private readonly locked: boolean;

  constructor(
    doc: Document,
    private readonly backend: Backend,
    form: SignInForm,
  ) {
    this.element = el(doc, "form", "signin");
    this.element.noValidate = true;
    this.heading = el(doc, "h1", "signin__title");
    this.note = el(doc, "p", "signin__note");
    const field = (name: string, type: string, autocomplete: string) => {
      const label = el(doc, "label", "signin__field");
      const caption = el(doc, "span", "signin__label");
      const input = el(doc, "input", "signin__input");
      input.name = name;
      input.type = type;
      input.autocomplete = autocomplete as AutoFill;
      input.required = true;
      label.append(caption, input);
      return { label, caption, input };
    };
    const address = field("address", "url", "url");
    const login = field("login", "text", "username");
    const password = field("password", "password", "current-password");
    this.address = address.input;
    this.login = login.input;
    this.password = password.input;
    this.labels = { address: address.caption, login: login.caption, password: password.caption };
    this.address.placeholder = "https://help.example.com";
    this.address.value = form.address ?? "";
    this.address.readOnly = form.address_locked;
    this.login.value = form.login ?? "";
    this.submit = el(doc, "button", "signin__submit");
    this.submit.type = "submit";
    this.error = el(doc, "p", "signin__error");
    this.error.setAttribute("role", "alert");
    this.error.textContent = form.reason === null ? "" : userMessage(form.reason);
    this.element.append(
      this.heading,
      this.note,
      address.label,
      login.label,
      password.label,
      this.submit,
      this.error,
    );
    // What the message said no longer holds once the user changes the form.
    this.element.addEventListener("input", () => (this.error.textContent = ""));
    this.element.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.send();
    });
    this.locked = form.address_locked;
    this.render();
  }

  /** Puts the texts in the current language. */
  render(): void {
    this.heading.textContent = t("signin.title");
    this.note.textContent = this.locked ? t("signin.locked") : t("signin.note");
    this.labels.address.textContent = t("signin.address");
    this.labels.login.textContent = t("signin.login");
    this.labels.password.textContent = t("signin.password");
    this.submit.textContent = this.submit.disabled ? t("signin.busy") : t("signin.submit");
  }

  /** Focuses the first empty field. */
  focus(): void {
    const first = [this.address, this.login, this.password].find((i) => i.value === "");
    (first ?? this.password).focus();
  }

  /** What is missing, in words, or null when the form can be sent. */
  private missing(): string | null {
    if (this.address.value.trim() === "") return t("signin.needAddress");
    if (this.login.value.trim() === "") return t("signin.needLogin");
    if (this.password.value === "") return t("signin.needPassword");
    return null;
  }

  private async send(): Promise<void> {
    const missing = this.missing();
    if (missing !== null) {
      this.error.textContent = missing;
      this.focus();
      return;
    }
    // `help.example.com` is `https://help.example.com`: completed, and shown so.
    if (!this.locked) this.address.value = completeAddress(this.address.value);
    this.submit.disabled = true;
    this.error.textContent = "";
    this.render();
    try {
      await this.backend.signIn(this.address.value.trim(), this.login.value.trim(), this.password.value);
      // The shell's status switches the window to the inbox.
    } catch (e) {
      this.error.textContent = userMessage(e);
      this.password.select();
    } finally {
      this.password.value = "";
      this.submit.disabled = false;
      this.render();
    }
  }
}
