/** Tests for the starting page's pure parts, and the version kept in step. */
import { describe, expect, it } from "vitest";
import cargoToml from "../../Cargo.toml?raw";
import pkg from "../package.json" with { type: "json" };
import { APP_NAME, titleLine } from "./main";

/** The `version` of `[workspace.package]` in a Cargo.toml, or null. */
function workspaceVersion(toml: string): string | null {
  let inSection = false;
  for (const raw of toml.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) {
      inSection = line === "[workspace.package]";
    } else if (inSection) {
      const m = /^version\s*=\s*"([^"]+)"/.exec(line);
      if (m) {
        return m[1] ?? null;
      }
    }
  }
  return null;
}

describe("titleLine", () => {
  it("joins the name and the version", () => {
    expect(titleLine(APP_NAME, "0.1.0")).toBe("Belfry 0.1.0");
  });

  it("drops a leading v from the version", () => {
    expect(titleLine("Belfry", "v1.2.3")).toBe("Belfry 1.2.3");
  });

  it("keeps a v that is not a version prefix", () => {
    expect(titleLine("Belfry", "vnext")).toBe("Belfry vnext");
  });

  it("is the name alone when there is no version", () => {
    expect(titleLine("Belfry", "")).toBe("Belfry");
    expect(titleLine("Belfry", "   ")).toBe("Belfry");
  });

  it("trims stray whitespace", () => {
    expect(titleLine(" Belfry ", " 0.1.0\n")).toBe("Belfry 0.1.0");
  });
});

describe("version", () => {
  it("reads [workspace.package] version and nothing else", () => {
    const toml = '[package]\nversion = "9.9.9"\n[workspace.package]\nedition = "2024"\nversion = "1.2.3"\n';
    expect(workspaceVersion(toml)).toBe("1.2.3");
    expect(workspaceVersion('[package]\nversion = "9.9.9"\n')).toBeNull();
  });

  it("of ui/package.json is the Rust workspace's", () => {
    expect(pkg.version).toBe(workspaceVersion(cargoToml));
  });
});
