// The daemon's files across a restart, with real processes on loopback: the drift
// file written at SIGTERM and read at the next start; an expired leap-seconds
// file reported with file and line and not used.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { leapFileText } from "../../src/proto/leap/leap-file-builder.js";
import { parseDriftFile } from "../../src/proto/system/drift.js";
import { NTP_UNIX_OFFSET_SECONDS } from "../../src/proto/time.js";
import { freeUdpPort } from "../helpers/ports.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitForUdpBound } from "../helpers/wait.js";
import { clientConfig, primaryServerConfig, startDaemon } from "./run-daemon.js";

test(
  "the drift file survives a restart; an expired leap-seconds file is named and not used",
  { timeout: 120_000 },
  async () => {
    const dir = await makeTempDir("ntpd-ts-files-");
    const port = await freeUdpPort();
    const driftPath = dir.file("ntp.drift");
    const leapPath = dir.file("leap-seconds.list");
    const now = Math.floor(Date.now() / 1000) + NTP_UNIX_OFFSET_SECONDS;
    writeFileSync(
      leapPath,
      leapFileText({ updated: now - 86_400 * 200, expires: now - 86_400, entries: [] }),
    );
    const toml =
      clientConfig(`127.0.0.1:${port}`, 0) +
      `drift-file = "${driftPath}"\nleap-seconds-file = "${leapPath}"\n`;
    const server = await startDaemon(dir, "server", primaryServerConfig(port));
    try {
      await server.waitForOutput(/serving NTP/, 20_000);
      await waitForUdpBound(port);
      const first = await startDaemon(dir, "client", toml);
      try {
        await first.waitForOutput(/no drift file yet/, 20_000);
        const expired = await first.waitForOutput(/leap-seconds file/, 20_000);
        assert.match(expired, new RegExp(`${leapPath}:3: expired on .*not used`));
        // The first clock update: something to keep.
        await first.waitForOutput(/frequency: /, 60_000);
      } finally {
        const status = await first.stop();
        assert.equal(status.code, 0, first.output());
      }
      const kept = parseDriftFile(readFileSync(driftPath, "utf8"));
      assert.ok(kept.ok, readFileSync(driftPath, "utf8"));
      // Both ends share this machine's clock: the frequency found is small.
      assert.ok(Math.abs(kept.record.frequencyPpm) < 100, JSON.stringify(kept.record));
      const second = await startDaemon(dir, "client2", toml);
      try {
        const line = await second.waitForOutput(/frequency from the drift file/, 20_000);
        assert.match(line, new RegExp(`frequency=${kept.record.frequencyPpm.toFixed(3)}ppm`));
      } finally {
        await second.stop();
      }
    } finally {
      await server.stop();
      await dir.cleanup();
    }
  },
);
