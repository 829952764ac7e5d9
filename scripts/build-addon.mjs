#!/usr/bin/env node
// Builds the native addon (binding.gyp -> build/Release/ntpd_native.node) with the
// node-gyp from node_modules. Run by npm as the package's "install" script, and by hand
// to rebuild: node scripts/build-addon.mjs
//
// The build is offline: node-gyp takes the Node headers from npm's `nodedir` config
// (npm passes it as npm_config_nodedir), or, run by hand, from the include/node next to
// the running node binary when they exist. No download is attempted then.
//
// The addon is optional. If it cannot be built (no compiler, no python3, not Linux...)
// this prints ONE warning saying what the daemon loses, keeps the full log in
// build/addon-build.log, and exits 0 so `npm ci` / `npm install` still succeed.
// Set NTPD_SKIP_ADDON_BUILD=1 to skip the build.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const addonPath = join(root, "build", "Release", "ntpd_native.node");
const logPath = join(root, "build", "addon-build.log");
const require = createRequire(import.meta.url);

function fallbackNote() {
  return (
    "ntpd-ts still works without it: UDP receive times are taken in user space (less precise),\n" +
    "  the system clock is only observed, and systemd Type=notify readiness is unavailable.\n" +
    "  Retry with: node scripts/build-addon.mjs"
  );
}

function giveUp(reason) {
  console.warn(`\nntpd-ts: WARNING: native addon not built: ${reason}\n  ${fallbackNote()}\n`);
  process.exit(0);
}

const skip = process.env.NTPD_SKIP_ADDON_BUILD;
if (skip && skip !== "0" && skip !== "false") {
  giveUp(`skipped (NTPD_SKIP_ADDON_BUILD=${skip})`);
}
if (process.platform !== "linux") {
  giveUp(`the addon is Linux-only (this is ${process.platform})`);
}

let nodeGyp;
try {
  nodeGyp = require.resolve("node-gyp/bin/node-gyp.js");
} catch {
  giveUp("node-gyp is not installed in node_modules (run npm ci first)");
}

const args = [nodeGyp, "rebuild"];
const env = { ...process.env };
if (!env.npm_config_nodedir) {
  // Outside npm: use the headers installed with this node (e.g. /usr/include/node) when
  // they match it, so node-gyp does not try to download them.
  const prefix = dirname(dirname(process.execPath));
  const versionHeader = join(prefix, "include", "node", "node_version.h");
  if (existsSync(versionHeader) && headerVersion(versionHeader) === process.versions.node) {
    args.push(`--nodedir=${prefix}`);
  }
}

const started = Date.now();
const result = spawnSync(process.execPath, args, {
  cwd: root,
  env,
  encoding: "utf8",
  stdio: ["ignore", "pipe", "pipe"],
  timeout: 10 * 60 * 1000,
  maxBuffer: 64 * 1024 * 1024,
});
const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
try {
  mkdirSync(dirname(logPath), { recursive: true });
  writeFileSync(logPath, `$ node ${args.map((a) => relative(root, a) || a).join(" ")}\n${output}`);
} catch {
  // the log is a convenience
}
const log = relative(process.cwd(), logPath) || logPath;

if (result.error) {
  giveUp(`could not run node-gyp (${result.error.message}); log: ${log}`);
}
if (result.status !== 0) {
  giveUp(
    `node-gyp exited with ${result.status ?? result.signal}: ${firstError(output)}\n  Full log: ${log}`,
  );
}
try {
  const addon = require(addonPath);
  if (typeof addon.clockGettime !== "function") throw new Error("unexpected exports");
} catch (error) {
  giveUp(`the built addon does not load (${error.message}); log: ${log}`);
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`ntpd-ts: native addon built in ${seconds} s: ${relative(root, addonPath)}`);

function headerVersion(path) {
  const text = readFileSync(path, "utf8");
  const part = (name) => text.match(new RegExp(`#define NODE_${name}_VERSION (\\d+)`))?.[1];
  return `${part("MAJOR")}.${part("MINOR")}.${part("PATCH")}`;
}

function firstError(text) {
  const lines = text.split("\n").map((l) => l.trim());
  const hit =
    lines.find((l) => /(^|\s)(fatal )?error[: ]/i.test(l) && !/^gyp (info|verb)/.test(l)) ??
    lines.filter((l) => l !== "").at(-1) ??
    "no output";
  return hit.length > 240 ? `${hit.slice(0, 240)}...` : hit;
}
