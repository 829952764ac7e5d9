#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test through tsx.
// Node 20's --test does not expand globs, so the files are listed here.
// Usage: npm test [-- PATH_SUBSTRING ...] to run only matching files.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const extra = process.argv.slice(2).filter((a) => a.startsWith("-"));

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith(".test.ts")) out.push(relative(root, path));
  }
  return out;
}

const files = [...collect(join(root, "src"), []), ...collect(join(root, "test"), [])]
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    // A fixed fast-check seed, so no property test fails by chance.
    "--import",
    new URL("fast-check-seed.mjs", import.meta.url).href,
    "--test",
    "--test-concurrency=2",
    ...extra,
    ...files,
  ],
  // No test may ever steer this machine's clock: the daemon refuses to when this is set.
  { cwd: root, stdio: "inherit", env: { ...process.env, NTPD_TS_FORBID_CLOCK_CONTROL: "1" } },
);
process.exit(result.status ?? 1);
