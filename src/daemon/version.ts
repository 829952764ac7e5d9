// The package version, read once from package.json (two levels up from both
// src/daemon and dist/daemon). The daemon and all three programs read it.

import { readFileSync } from "node:fs";

let cached: string | undefined;

export function packageVersion(): string {
  if (cached === undefined) {
    const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
    cached = (JSON.parse(text) as { version: string }).version;
  }
  return cached;
}
