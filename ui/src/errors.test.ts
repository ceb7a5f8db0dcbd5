import { afterEach, describe, expect, it } from "vitest";
import type { UiError } from "./bindings/UiError";
import { ERROR_KEYS, PROBLEM_KEYS, completeAddress, problemMessage, userMessage } from "./errors";
import { setLocale } from "./i18n";
import { en } from "./locales/en";
import { uk } from "./locales/uk";

afterEach(() => setLocale("en"));

/** One of each kind the shell can send (`UiError`; the Rust test
 * `every_kind_is_listed_for_the_window` checks the binding lists them all,
 * and `ERROR_KEYS` is a Record over the binding, so none is left out). */
const EVERY: UiError[] = (Object.keys(ERROR_KEYS) as UiError["kind"][]).map((kind) => {
  switch (kind) {
    case "refused":
      return { kind, status: 503 };
    case "foreign_link":
      return { kind, host: "evil.example" };
    case "link_scheme":
      return { kind, scheme: "javascript" };
    case "sound_file_type":
    case "sound_too_big":
    case "not_sound":
    case "silent_sound":
    case "sound_truncated":
    case "sound_too_long":
      return { kind, name: "chime.mp3" };
    default:
      return { kind };
  }
});

/** A sentence: a capital first, a full stop last, no error chain. */
function sentence(s: string): void {
  expect(s).toMatch(/^[A-ZА-ЯІЇЄҐB]/u);
  expect(s).toMatch(/[.!]$/);
  expect(s).not.toMatch(/while |: .*: |\{\w+\}|undefined/);
}

describe("every error the shell can send", () => {
  it("has a sentence in English and in Ukrainian", () => {
    expect(EVERY.length).toBe(32);
    for (const lang of ["en", "uk"] as const) {
      setLocale(lang);
      const said = new Set<string>();
      for (const e of EVERY) {
        const text = userMessage(e);
        sentence(text);
        said.add(text);
        const dict: Record<string, unknown> = lang === "en" ? en : uk;
        expect(typeof dict[ERROR_KEYS[e.kind]]).toBe("string");
      }
      // No two kinds share a sentence.
      expect(said.size).toBe(EVERY.length);
    }
  });

  it("names the host or the scheme that was refused", () => {
    expect(userMessage({ kind: "foreign_link", host: "evil.example" })).toContain("evil.example");
    setLocale("uk");
    expect(userMessage({ kind: "link_scheme", scheme: "file" })).toContain("file:");
  });

  it("names the sound file that was refused, in either language", () => {
    for (const lang of ["en", "uk"] as const) {
      setLocale(lang);
      for (const e of EVERY) if ("name" in e) expect(userMessage(e)).toContain("chime.mp3");
    }
  });

  it("and every running problem the core reports", () => {
    for (const lang of ["en", "uk"] as const) {
      setLocale(lang);
      for (const what of [...Object.keys(PROBLEM_KEYS), "something new"]) sentence(problemMessage(what));
    }
  });
});

describe("the sign-in address", () => {
  it("is completed with https:// when it has no scheme", () => {
    expect(completeAddress("help.example.com")).toBe("https://help.example.com");
    expect(completeAddress(" 127.0.0.1:43621 ")).toBe("https://127.0.0.1:43621");
    expect(completeAddress("http://127.0.0.1:43621/")).toBe("http://127.0.0.1:43621/");
    expect(completeAddress("HTTPS://Help.Example.com")).toBe("HTTPS://Help.Example.com");
    expect(completeAddress("")).toBe("");
  });
});
