// A source whose server answers "unsynchronized" (LI 3, stratum 16): the client
// backs off instead of polling every 2 s, and logs the state once, in words.
import { test } from "node:test";
import assert from "node:assert/strict";
import { freeUdpPort } from "../helpers/ports.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitForUdpBound } from "../helpers/wait.js";
import { startDaemon } from "./run-daemon.js";

test(
  "an unsynchronized server is logged once and polled less often",
  { timeout: 60_000 },
  async () => {
    const dir = await makeTempDir();
    const port = await freeUdpPort();
    // No sources and the default local stratum: it answers LI 3, stratum 16.
    const server = await startDaemon(
      dir,
      "server",
      `[observability]\nlog-level = "info"\n\n[[server]]\nlisten = "127.0.0.1:${port}"\n`,
    );
    try {
      await server.waitForOutput(/serving NTP/, 20_000);
      await waitForUdpBound(port);
      const client = await startDaemon(
        dir,
        "client",
        `[observability]\nlog-level = "info"\n\n[[source]]\nmode = "server"\naddress = "127.0.0.1:${port}"\n\n[synchronization]\nminimum-agreeing-sources = 1\n`,
      );
      try {
        await client.waitForOutput(/not synchronized/, 20_000);
        // The start-up burst polls every 2 s: 7 s would have brought 3 more lines.
        await new Promise((r) => setTimeout(r, 7_000));
        const lines = client
          .output()
          .split("\n")
          .filter((l) => /not usable|not synchronized/.test(l));
        assert.equal(lines.length, 1, lines.join("\n"));
        assert.match(
          lines[0]!,
          /INFO.*the server says it is not synchronized.*leap indicator 3.*stratum 16/,
        );
        assert.match(lines[0]!, /polling it less often/);
      } finally {
        await client.stop();
      }
    } finally {
      await server.stop();
      await dir.cleanup();
    }
  },
);
