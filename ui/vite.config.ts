// Vite's build of Belfry's front end into ui/dist, the folder src-tauri
// embeds (tauri.conf.json build.frontendDist). Everything is emitted as
// files under dist/ and loaded from 'self': no remote assets, no inline
// scripts or styles, so the window's strict CSP holds.
import { defineConfig } from "vite";
import pkg from "./package.json" with { type: "json" };

export default defineConfig({
  // Relative URLs: Tauri serves dist/ from its own scheme, not a web root.
  base: "./",
  clearScreen: false,
  define: {
    __BELFRY_VERSION__: JSON.stringify(pkg.version),
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The oldest webviews Tauri 2 supports: WebView2 (Chromium 105+) on
    // Windows, WKWebView from macOS 10.15 (Safari 13); WebKitGTK is newer.
    target: ["es2021", "chrome105", "safari13"],
    // Never inline assets as data: URLs; keep each one a file from 'self'.
    assetsInlineLimit: 0,
    // The polyfill is only for old browsers, and the webviews need none.
    modulePreload: { polyfill: false },
  },
});
