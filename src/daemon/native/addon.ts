// Loads the native addon (build/Release/ntpd_native.node) once. Never throws: when the
// addon is missing, stale, disabled or fails to load, the result carries the reason and
// the daemon falls back to pure JS (see status.ts).

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { ABI_VERSION, type NativeAddon } from "./types.js";

/** Where `node-gyp rebuild` puts the addon (the same relative path from src/ and dist/). */
export const ADDON_PATH = fileURLToPath(
  new URL("../../../build/Release/ntpd_native.node", import.meta.url),
);

/** Set to 1 (or "true") to run without the addon even when it is built. */
export const DISABLE_ENV = "NTPD_NO_ADDON";

export type AddonLoadResult =
  | { addon: NativeAddon; path: string; reason: null }
  | { addon: null; path: string; reason: string };

const REBUILD_HINT = 'build it with "node scripts/build-addon.mjs" (needs g++, make, python3)';

let cached: AddonLoadResult | undefined;

/** The addon, or null and why not. Loads on the first call; later calls return the same. */
export function loadAddon(): AddonLoadResult {
  cached ??= tryLoad(ADDON_PATH, process.env);
  return cached;
}

/** The loaded addon or null. */
export function getAddon(): NativeAddon | null {
  return loadAddon().addon;
}

/** Loads an addon from `path` without caching (exported for tests). */
export function tryLoad(path: string, env: NodeJS.ProcessEnv): AddonLoadResult {
  const fail = (reason: string): AddonLoadResult => ({ addon: null, path, reason });
  const disabled = env[DISABLE_ENV];
  if (disabled !== undefined && disabled !== "" && disabled !== "0" && disabled !== "false") {
    return fail(`disabled by ${DISABLE_ENV}=${disabled}`);
  }
  if (process.platform !== "linux") {
    return fail(`the addon is Linux-only (this is ${process.platform})`);
  }
  if (!existsSync(path)) return fail(`not built: ${path} does not exist; ${REBUILD_HINT}`);
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)(path);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return fail(`failed to load ${path}: ${message}; ${REBUILD_HINT}`);
  }
  const problem = checkShape(loaded);
  if (problem !== null) return fail(`${path}: ${problem}; ${REBUILD_HINT}`);
  return { addon: loaded as NativeAddon, path, reason: null };
}

function checkShape(loaded: unknown): string | null {
  if (typeof loaded !== "object" || loaded === null) return "did not export an object";
  const m = loaded as Record<string, unknown>;
  if (m.abiVersion !== ABI_VERSION) {
    return `stale build (abiVersion ${String(m.abiVersion)}, this code expects ${ABI_VERSION})`;
  }
  for (const name of [
    "clockGettime",
    "adjtimeRead",
    "sdNotify",
    "UdpSocket",
    "sivSeal",
    "sivOpen",
  ]) {
    if (typeof m[name] !== "function") return `missing export ${name}`;
  }
  for (const name of ["CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_TAI"]) {
    if (typeof m[name] !== "number") return `missing export ${name}`;
  }
  if (!(m.clockBuffer instanceof Float64Array) || m.clockBuffer.length !== 2) {
    return "missing export clockBuffer";
  }
  return null;
}
