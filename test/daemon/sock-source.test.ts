// A sock source end to end: a daemon (--no-clock-control) creates the socket,
// replacing a stale one; a fake gpsd writes SOCK samples claiming the system
// clock is 250 ms behind; the observation and `ntp-ctl status` show the source
// at that offset, the discipline's estimate follows it, and malformed datagrams
// are dropped and counted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, lstatSync } from "node:fs";
import { readObservationMessage } from "../../src/cli/observation-client.js";
import { parseObservation, type ObservedSource } from "../../src/daemon/observation.js";
import { referenceClockAddon } from "../../src/daemon/native/reference-clocks.js";
import { SOCK_MAGIC } from "../../src/proto/source/reference-sample.js";
import { FakeGpsd, fakeGpsdUnavailable, sampleNow } from "../helpers/fake-gpsd.js";
import { runCommand } from "../helpers/process.js";
import { skipIfMissing } from "../helpers/skip.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitFor } from "../helpers/wait.js";
import { CTL_ENTRY, startDaemon } from "./run-daemon.js";

const OFFSET = 0.25;

test(
  "a sock source: stale socket replaced, samples observed, bad datagrams counted",
  { timeout: 120_000 },
  async (t) => {
    if (skipIfMissing(t, fakeGpsdUnavailable())) return;
    const addon = referenceClockAddon();
    assert.ok(!("reason" in addon));
    const dir = await makeTempDir();
    const sockPath = dir.file("chrony.ttyTEST.sock");
    const observePath = dir.file("observe");
    // A previous run's socket left behind: bound, then closed without unlinking.
    const stale = new addon.UnixDgramSocket(sockPath);
    stale.close();
    assert.ok(lstatSync(sockPath).isSocket());

    const configPath = dir.file("sock.toml");
    const daemon = await startDaemon(
      dir,
      "sock",
      `[observability]
log-level = "info"
observation-path = "${observePath}"

[[source]]
mode = "sock"
path = "${sockPath}"
precision = 1e-4
accuracy = 1e-3

[synchronization]
minimum-agreeing-sources = 1
`,
    );
    const gpsd = new FakeGpsd(sockPath, OFFSET);
    try {
      await daemon.waitForOutput(/removed a stale socket file/, 30_000);
      await daemon.waitForOutput(/sock source listening/, 30_000);
      const stat = lstatSync(sockPath);
      assert.ok(stat.isSocket());
      assert.equal(stat.mode & 0o777, 0o660);

      // Three malformed datagrams: short, wrong magic, a pulse-only sample.
      assert.ok(gpsd.send(sampleNow(OFFSET).subarray(0, 39)));
      assert.ok(gpsd.send(sampleNow(OFFSET, { magic: SOCK_MAGIC ^ 1 })));
      assert.ok(gpsd.send(sampleNow(OFFSET, { pulse: 1 })));
      gpsd.start(50);

      const settled = await waitFor(
        async () => {
          const o = parseObservation(await readObservationMessage(observePath));
          const s = o.sources.find((x) => x.name === "GPSd socket");
          if (s === undefined || (s.samples ?? 0) < 20 || !(s.uncertainty < 1e-3)) return undefined;
          if (o.system.offset === undefined || Math.abs(o.system.offset - OFFSET) > 2e-3)
            return undefined;
          return { source: s, system: o.system };
        },
        {
          timeoutMs: 60_000,
          intervalMs: 250,
          what: "the sock source to settle in the observation",
        },
      );
      const s: ObservedSource = settled.source;
      assert.equal(s.address, sockPath);
      assert.ok(Math.abs(s.offset - OFFSET) < 1e-3, `source offset ${s.offset}`);
      assert.equal(s.dropped_samples, 3);
      assert.equal(s.nts_cookies, null);
      assert.equal(s.selected, true);
      assert.ok(
        Math.abs(settled.system.offset! - OFFSET) < 2e-3,
        `system ${settled.system.offset}`,
      );

      const status = await runCommand(
        process.execPath,
        ["--import", "tsx", CTL_ENTRY, "status", "-c", configPath],
        { timeoutMs: 20_000 },
      );
      assert.equal(status.code, 0, status.stdout + status.stderr);
      assert.match(
        status.stdout,
        new RegExp(`GPSd socket ${sockPath.replace(/[.]/g, "\\.")} \\(\\d+\\)`),
      );
      assert.match(status.stdout, /Dropped samples:\t3/);
      assert.match(daemon.output(), /reference clock sample dropped.*reason=length/);
    } finally {
      gpsd.stop();
      await daemon.stop();
      await dir.cleanup();
    }
    assert.equal(existsSync(sockPath), false, "the daemon removes its socket when it stops");
  },
);
