// systemd readiness: with NOTIFY_SOCKET set, the daemon sends READY=1 once its
// servers are bound. A fake systemd (a Python AF_UNIX datagram receiver)
// stands in for the service manager.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { loadAddon } from "../../src/daemon/native/addon.js";
import { freeUdpPort } from "../helpers/ports.js";
import { spawnProcess } from "../helpers/process.js";
import { makeTempDir } from "../helpers/tmp.js";
import { DAEMON_ENTRY, primaryServerConfig } from "./run-daemon.js";

const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
print("listening", flush=True)
try:
    print("got " + s.recv(4096).decode(), flush=True)
except socket.timeout:
    print("timeout", flush=True)
`;

test("READY=1 reaches the notify socket once the daemon serves", { timeout: 60_000 }, async (t) => {
  const { addon, reason } = loadAddon();
  if (!addon) {
    t.skip(`sd_notify needs the native addon: ${reason}`);
    return;
  }
  if (spawnSync("python3", ["-c", "pass"]).status !== 0) {
    t.skip("no python3 for the fake notify socket");
    return;
  }
  const dir = await makeTempDir();
  const socketPath = dir.file("notify.sock");
  const receiver = await spawnProcess("python3", ["-c", RECEIVER, socketPath], { name: "notify" });
  try {
    await receiver.waitForOutput(/listening/, 10_000);
    const config = dir.file("server.toml");
    await writeFile(config, primaryServerConfig(await freeUdpPort()));
    const daemon = await spawnProcess(
      process.execPath,
      ["--import", "tsx", DAEMON_ENTRY, "-c", config, "--no-clock-control"],
      { env: { ...process.env, NOTIFY_SOCKET: socketPath }, name: "daemon" },
    );
    try {
      const line = await receiver.waitForOutput(/^got |^timeout/, 30_000);
      assert.equal(line.trim(), "got READY=1");
      // Readiness comes after the server is bound, not before.
      assert.match(daemon.output(), /serving NTP/);
    } finally {
      await daemon.stop();
    }
  } finally {
    await receiver.stop();
    await dir.cleanup();
  }
});
