/** Types for the build-time constants that vite.config.ts defines. */

/** Belfry's version, from ui/package.json (kept equal to the Rust workspace's). */
declare const __BELFRY_VERSION__: string;
