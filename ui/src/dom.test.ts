import { describe, expect, it } from "vitest";
import { plain } from "./dom";

describe("plain", () => {
  it("removes bidi overrides, isolates and zero-width characters", () => {
    expect(plain("invoice\u202Efdp.exe")).toBe("invoicefdp.exe");
    expect(plain("pay\u2066me\u2069\u200B now\uFEFF")).toBe("payme now");
    expect(plain("a\u200Db\u200Ec\u200Fd")).toBe("abcd");
    // The soft hyphen, the word joiner and the Arabic letter mark draw
    // nothing either.
    expect(plain("pay\u00ADme\u2060nt\u061C")).toBe("payment");
    // Every time, not only the first (the expression is global).
    expect(plain("a\u200Bb")).toBe(plain("a\u200Bb"));
  });

  it("removes control characters but keeps line breaks and ordinary text", () => {
    expect(plain("one\u0000two\u0007\u001B[31m\nthree")).toBe("onetwo[31m\nthree");
    expect(plain("Заявка №17 — 🔔 ok")).toBe("Заявка №17 — 🔔 ok");
  });
});
