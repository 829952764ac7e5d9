// ntp-daemon with a `[clock]` section this machine cannot honour: it does not start,
// exits 78 (a configuration error, as ntpd-rs for a clock device it cannot open) and
// says which device or interface and why. There is no PTP hardware clock and no NIC
// with hardware timestamping here (loopback, veth), so these are the paths a test can
// take; the working paths are in clock-device.test.ts and interface-binding.test.ts.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { DAEMON_ENTRY } from "../daemon/run-daemon.js";
import { runCommand } from "../helpers/process.js";
import { withTempDir } from "../helpers/tmp.js";
import { getAddon } from "../../src/daemon/native/addon.js";

const root = new URL("../..", import.meta.url).pathname;
const noAddon = getAddon() === null ? "the native addon is not built" : false;

async function runDaemon(clockSection: string, clockControl: boolean) {
  return withTempDir(async (dir) => {
    const config = dir.file("ntp.toml");
    await writeFile(
      config,
      `[[source]]\nmode = "server"\naddress = "127.0.0.1:1"\n\n` +
        `[synchronization]\nminimum-agreeing-sources = 1\n\n[clock]\n${clockSection}`,
    );
    const args = ["--import", "tsx", DAEMON_ENTRY, "-c", config];
    if (!clockControl) args.push("--no-clock-control");
    const r = await runCommand(process.execPath, args, { cwd: root, timeoutMs: 30_000 });
    return { code: r.code, output: r.stdout + r.stderr, timedOut: r.timedOut };
  });
}

describe("[clock] start-up errors", { skip: noAddon }, () => {
  it("a clock path that is no clock device: exit 78 naming it, even with clock control", async () => {
    // Clock control on: the device is checked before anything could be steered, and the
    // test runner's NTPD_TS_FORBID_CLOCK_CONTROL=1 still guards CLOCK_REALTIME.
    const r = await runDaemon('clock = "/dev/null"\ntimestamp-mode = "kernel-all"\n', true);
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 78, r.output);
    assert.match(r.output, /clock device \/dev\/null: not a clock device/);
  });

  it("a missing clock device: exit 78 naming it", async () => {
    const r = await runDaemon('clock = "/dev/ptp99"\ntimestamp-mode = "kernel-all"\n', false);
    assert.equal(r.code, 78, r.output);
    assert.match(r.output, /clock device \/dev\/ptp99: no such file/);
  });

  it("an interface that does not exist: exit 78 naming it", async () => {
    const r = await runDaemon('interface = "nosuch0"\ntimestamp-mode = "kernel-all"\n', false);
    assert.equal(r.code, 78, r.output);
    assert.match(r.output, /interface nosuch0: no such network interface/);
  });

  it('"hardware" on an interface without hardware timestamping: exit 78 naming it', async () => {
    const r = await runDaemon('interface = "lo"\ntimestamp-mode = "hardware"\n', false);
    assert.equal(r.code, 78, r.output);
    assert.match(r.output, /interface lo has no hardware timestamping/);
  });

  it('"hardware" without an interface: exit 78, saying to set one', async () => {
    const r = await runDaemon('timestamp-mode = "hardware"\n', false);
    assert.equal(r.code, 78, r.output);
    assert.match(r.output, /set \[clock\] interface/);
  });
});
