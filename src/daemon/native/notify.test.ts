import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadAddon } from "./addon.js";
import { sdNotify } from "./notify.js";

const { addon, reason } = loadAddon();
const python = spawnSync("python3", ["-c", "pass"], { timeout: 10_000 }).status === 0;
const skipReceive = !addon
  ? `addon not loaded: ${reason}`
  : !python
    ? "no python3 for the fake notify socket"
    : false;

// A fake systemd: a tiny Python AF_UNIX datagram receiver that prints "ready", then the
// first datagram it gets (or "timeout" after 5 s).
const RECEIVER = `
import socket, sys
name = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + name[1:] if name.startswith("@") else name)
s.settimeout(5)
print("ready", flush=True)
try:
    print(s.recv(4096).decode(), flush=True)
except socket.timeout:
    print("timeout", flush=True)
`;

async function receiveOne(socketName: string, send: () => boolean): Promise<string> {
  const child = spawn("python3", ["-c", RECEIVER, socketName], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const killer = setTimeout(() => child.kill(), 8000);
  try {
    let out = "";
    let sent = false;
    child.stdout.setEncoding("utf8");
    await new Promise<void>((resolve, reject) => {
      child.on("error", reject);
      child.stdout.on("data", (chunk: string) => {
        out += chunk;
        if (!sent && out.includes("ready\n")) {
          sent = true;
          try {
            assert.equal(send(), true);
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        }
      });
      child.on("close", () => resolve());
    });
    return out.replace("ready\n", "").trim();
  } finally {
    clearTimeout(killer);
    child.kill();
  }
}

describe("sdNotify", () => {
  it("returns false when NOTIFY_SOCKET is unset or empty", () => {
    assert.equal(sdNotify("READY=1", {}), false);
    assert.equal(sdNotify("READY=1", { NOTIFY_SOCKET: "" }), false);
  });

  describe("with the addon", { skip: addon ? false : `addon not loaded: ${reason}` }, () => {
    it("delivers READY=1 to a socket path", { skip: skipReceive }, async () => {
      const dir = mkdtempSync(join(tmpdir(), "ntpd-notify-"));
      try {
        const path = join(dir, "notify.sock");
        const got = await receiveOne(path, () => sdNotify("READY=1", { NOTIFY_SOCKET: path }));
        assert.equal(got, "READY=1");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("delivers to an abstract socket (@name)", { skip: skipReceive }, async () => {
      const name = `@ntpd-ts-test-${randomBytes(6).toString("hex")}`;
      const got = await receiveOne(name, () =>
        sdNotify("STATUS=synchronized\nREADY=1", { NOTIFY_SOCKET: name }),
      );
      assert.equal(got, "STATUS=synchronized\nREADY=1");
    });

    it("throws an errno error when nobody listens", () => {
      assert.throws(() => sdNotify("READY=1", { NOTIFY_SOCKET: "/nonexistent/notify.sock" }), {
        code: "ENOENT",
      });
      assert.throws(() => sdNotify("READY=1", { NOTIFY_SOCKET: "relative" }), {
        code: "EAFNOSUPPORT",
      });
    });

    it("the addon reads $NOTIFY_SOCKET itself when no path is given", () => {
      const saved = process.env.NOTIFY_SOCKET;
      delete process.env.NOTIFY_SOCKET;
      try {
        assert.equal(addon!.sdNotify("READY=1"), false);
      } finally {
        if (saved !== undefined) process.env.NOTIFY_SOCKET = saved;
      }
    });
  });
});
