// Smoke test of the bench's C load generator against a chrony server: it
// compiles, counts only valid replies, and template mode works.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { buildLoadgen, runLoadgen } from "../../bench/loadgen.js";
import { chronyUnavailable, startChronyServer } from "./chrony.js";
import { freeUdpPort } from "./ports.js";
import { runCommand, which } from "./process.js";
import { skipIfMissing } from "./skip.js";
import { withTempDir } from "./tmp.js";

test("loadgen measures a chrony server briefly, in plain and template mode", async (t) => {
  if (skipIfMissing(t, chronyUnavailable() ?? (which("cc") ? undefined : "no C compiler (cc)")))
    return;
  const bin = await buildLoadgen();
  const refused = await runCommand(bin, ["--host", "10.0.0.1", "--port", "123"]);
  assert.equal(refused.code, 2, "loadgen must refuse non-loopback targets");

  await withTempDir(async (dir) => {
    const port = await freeUdpPort();
    const server = await startChronyServer({ port, dir });
    try {
      const r = await runLoadgen(bin, { port, durationMs: 300, window: 8, serverPid: server.pid });
      assert.ok(r.valid > 100, `only ${r.valid} valid replies`);
      assert.equal(r.invalid, 0);
      assert.ok(r.valid <= r.sent);
      assert.ok(r.server_cpu_s >= 0);
      assert.ok(r.cpu_busy.length >= 1);

      // Template mode: 8 prebuilt requests, request i's transmit timestamp ends in i.
      const window = 8;
      const reqs = Buffer.alloc(48 * window);
      for (let i = 0; i < window; i++) {
        const q = reqs.subarray(48 * i, 48 * (i + 1));
        q[0] = 0x23;
        randomBytes(6).copy(q, 40);
        q.writeUInt16BE(i, 46);
      }
      const file = dir.file("requests.bin");
      await writeFile(file, reqs);
      const tr = await runLoadgen(bin, {
        port,
        durationMs: 300,
        window,
        requestsFile: file,
        requestLength: 48,
      });
      assert.ok(tr.valid > 100, `only ${tr.valid} valid replies in template mode`);
      assert.equal(tr.invalid, 0);
    } finally {
      await server.stop();
    }
  });
});
