// @vitest-environment happy-dom
/** The window's languages: detection, the user's choice kept, plurals,
 * filled-in values left as text, and dictionaries that agree. */
import { afterEach, describe, expect, it } from "vitest";
import {
  STORAGE_KEY,
  chooseLocale,
  detectLocale,
  locale,
  localeLocked,
  manageLocale,
  onLocaleChange,
  setLocale,
  startLocale,
  t,
} from "./i18n";
import { en } from "./locales/en";
import { uk } from "./locales/uk";

afterEach(() => {
  manageLocale(null);
  setLocale("en");
  localStorage.clear();
});

describe("detectLocale", () => {
  it("picks Ukrainian for any uk tag", () => {
    expect(detectLocale(["uk-UA"])).toBe("uk");
    expect(detectLocale(["uk"])).toBe("uk");
    expect(detectLocale(["UK_ua"])).toBe("uk");
    expect(detectLocale(["de-DE", "uk"])).toBe("uk");
  });

  it("otherwise English, and the first of the two the user ranks higher", () => {
    expect(detectLocale(["en-US", "en"])).toBe("en");
    expect(detectLocale(["fr-FR", "de"])).toBe("en");
    expect(detectLocale([])).toBe("en");
    expect(detectLocale(["en-GB", "uk-UA"])).toBe("en");
    expect(detectLocale(["ukr"])).toBe("en");
  });
});

describe("the locale", () => {
  it("follows the system until the user chooses, then keeps the choice", () => {
    expect(startLocale(localStorage, ["uk-UA", "en"])).toBe("uk");
    expect(document.documentElement.lang).toBe("uk");
    chooseLocale("en", localStorage);
    expect(localStorage.getItem(STORAGE_KEY)).toBe("en");
    expect(startLocale(localStorage, ["uk-UA"])).toBe("en");
    localStorage.setItem(STORAGE_KEY, "klingon");
    expect(startLocale(localStorage, ["uk-UA"])).toBe("uk");
    expect(startLocale(null, ["en-GB"])).toBe("en");
  });

  it("tells the listeners of a change, once", () => {
    const seen: string[] = [];
    const stop = onLocaleChange((l) => seen.push(l));
    setLocale("uk");
    setLocale("uk");
    stop();
    setLocale("en");
    expect(seen).toEqual(["uk"]);
    expect(locale()).toBe("en");
    expect(document.documentElement.lang).toBe("en");
  });
});

describe("the organization's language", () => {
  it("as a default, is used until the user chooses, and the choice wins after", () => {
    startLocale(localStorage, ["en-US"]);
    expect(manageLocale({ language: "uk", enforced: false })).toBe("uk");
    expect(localeLocked()).toBe(false);
    expect(startLocale(localStorage, ["en-US"])).toBe("uk");
    chooseLocale("en", localStorage);
    expect(locale()).toBe("en");
    expect(startLocale(localStorage, ["en-US"])).toBe("en");
    // The shell saying it again does not undo the user's choice.
    expect(manageLocale({ language: "uk", enforced: false })).toBe("en");
  });

  it("enforced, is always used and the user's choice is neither applied nor kept", () => {
    localStorage.setItem(STORAGE_KEY, "en");
    startLocale(localStorage, ["en-US"]);
    const seen: string[] = [];
    const stop = onLocaleChange((l) => seen.push(l));
    expect(manageLocale({ language: "uk", enforced: true })).toBe("uk");
    expect(localeLocked()).toBe(true);
    expect(startLocale(localStorage, ["en-US"])).toBe("uk");
    chooseLocale("en", localStorage);
    expect(locale()).toBe("uk");
    expect(localStorage.getItem(STORAGE_KEY)).toBe("en");
    // The lock lifted: the user's own choice is back.
    expect(manageLocale(null)).toBe("en");
    expect(localeLocked()).toBe(false);
    stop();
    expect(seen[0]).toBe("uk");
    expect(seen[seen.length - 1]).toBe("en");
  });

  it("locks the selects even when the language does not change, and ignores one it does not speak", () => {
    startLocale(null, ["uk-UA"]);
    const seen: string[] = [];
    const stop = onLocaleChange((l) => seen.push(l));
    manageLocale({ language: "uk", enforced: true });
    expect(seen).toEqual(["uk"]);
    manageLocale({ language: "uk", enforced: true });
    expect(seen).toEqual(["uk"]);
    stop();
    expect(manageLocale({ language: "de", enforced: true })).toBe("uk");
    expect(localeLocked()).toBe(false);
  });
});

describe("t", () => {
  it("fills in values as they are", () => {
    expect(t("status.incompatible", { reason: "<b>{secs}</b> $& $1" })).toBe(
      "This instance is not supported: <b>{secs}</b> $& $1",
    );
    setLocale("uk");
    expect(t("status.reconnecting", { secs: 7 })).toBe("Повторне підключення через 7 с");
  });

  it("uses the Ukrainian plural forms", () => {
    setLocale("uk");
    const unread = (count: number) => t("inbox.unread", { count });
    expect(unread(1)).toBe("1 непрочитане");
    expect(unread(3)).toBe("3 непрочитані");
    expect(unread(5)).toBe("5 непрочитаних");
    expect(unread(11)).toBe("11 непрочитаних");
    expect(unread(21)).toBe("21 непрочитане");
    expect(unread(24)).toBe("24 непрочитані");
    setLocale("en");
    expect(unread(1)).toBe("1 unread");
  });

  it("formats numbers for the locale", () => {
    setLocale("uk");
    expect(t("inbox.unread", { count: 12345 })).toMatch(/^12\s345 непрочитаних$/u);
  });
});

describe("the dictionaries", () => {
  const names = (m: unknown) => [...JSON.stringify(m).matchAll(/\{(\w+)\}/g)].map((x) => x[1]).sort();

  it("fill in the same values in every language, and say something", () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      const e = en[key];
      const u = uk[key];
      const forms = typeof u === "string" ? [u] : Object.values(u);
      for (const form of forms) {
        expect(form.trim(), key).not.toBe("");
        expect(names(form), key).toEqual(names(typeof e === "string" ? e : e.other));
      }
    }
  });
});
