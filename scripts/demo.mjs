#!/usr/bin/env node
// `npm run demo`: a working time service on loopback, no root, no network.
// One ntp-daemon serves time on 127.0.0.1 as a stratum-1 server; a second one
// measures it every few seconds and logs each measurement. Both run with
// --no-clock-control, so the system clock is never touched. Ctrl-C stops
// both and removes the temporary directory.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "ntpd-ts-demo-"));

/** A free UDP port on 127.0.0.1 (bound, read, released). */
function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

const port = await freeUdpPort();
const serverConfig = join(dir, "server.toml");
const clientConfig = join(dir, "client.toml");
writeFileSync(
  serverConfig,
  `# A stratum-1 server on loopback for the demo.
[observability]
log-level = "info"

[[server]]
listen = "127.0.0.1:${port}"

[synchronization]
local-stratum = 1
reference-id = "DEMO"
`,
);
writeFileSync(
  clientConfig,
  `# A client of the demo server, polling every 2 seconds.
[observability]
log-level = "info"

[[source]]
mode = "server"
address = "127.0.0.1:${port}"
poll-interval-limits = { min = 1, max = 1 }

[synchronization]
minimum-agreeing-sources = 1
`,
);

const compiled = join(root, "dist/cli/ntp-daemon.js");
const daemonArgs = existsSync(compiled)
  ? [compiled]
  : ["--import", "tsx", join(root, "src/cli/ntp-daemon.ts")];

const children = [];
function run(label, config) {
  const child = spawn(process.execPath, [...daemonArgs, "-c", config, "--no-clock-control"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const prefix = (chunk) =>
    chunk
      .toString()
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => `[${label}] ${line}\n`)
      .join("");
  child.stdout.on("data", (chunk) => process.stdout.write(prefix(chunk)));
  child.stderr.on("data", (chunk) => process.stderr.write(prefix(chunk)));
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`[${label}] exited unexpectedly (code ${code}, signal ${signal})`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  const deadline = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  }, 3000);
  Promise.all(
    children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r)))),
  ).then(() => {
    clearTimeout(deadline);
    rmSync(dir, { recursive: true, force: true });
    console.log("demo stopped; temporary files removed");
    process.exit(code);
  });
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

console.log(`ntpd-ts demo: a server on 127.0.0.1:${port} and a client measuring it.`);
console.log(`configs in ${dir}; the system clock is never changed. Press Ctrl-C to stop.\n`);
run("server", serverConfig);
setTimeout(() => run("client", clientConfig), 500);
