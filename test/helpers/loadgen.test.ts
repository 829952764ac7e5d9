// Smoke test of the bench's C load generator against a chrony server: it
// compiles, counts only valid replies, and template mode works, with NTS
// requests too (only authenticated NTS replies count; bench/nts.ts builds and
// verifies the requests); and --rate, --bind and --garbage (the campaigns' floods)
// against a plain UDP sink.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { readFile, writeFile } from "node:fs/promises";
import { buildLoadgen, runLoadgen } from "../../bench/loadgen.js";
import { buildNtsTemplates, makeBenchPki } from "../../bench/nts.js";
import { chronyUnavailable, startChronyServer } from "./chrony.js";
import { freeTcpPort, freeUdpPort } from "./ports.js";
import { runCommand, which } from "./process.js";
import { skipIfMissing } from "./skip.js";
import { withTempDir } from "./tmp.js";
import { waitForTcpPort } from "./wait.js";

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

test(
  "loadgen --nts counts only NTS replies from a chrony NTS server",
  { timeout: 60_000 },
  async (t) => {
    if (
      skipIfMissing(
        t,
        chronyUnavailable() ??
          (which("cc") ? undefined : "no C compiler (cc)") ??
          (which("openssl") ? undefined : "openssl is not installed"),
      )
    )
      return;
    const bin = await buildLoadgen();
    await withTempDir(async (dir) => {
      const pki = await makeBenchPki(dir);
      const port = await freeUdpPort();
      const kePort = await freeTcpPort();
      const server = await startChronyServer({
        port,
        dir,
        extraConfig: [
          `ntsport ${kePort}`,
          `ntsserverkey ${pki.keyPath}`,
          `ntsservercert ${pki.chainPath}`,
          "ntsprocesses 0",
        ],
      });
      try {
        await waitForTcpPort(kePort);
        const window = 8;
        const nts = await buildNtsTemplates({
          host: "127.0.0.1",
          kePort,
          ntpPort: port,
          caPath: pki.caPath,
          aead: 15,
          count: window,
          file: dir.file("nts-requests.bin"),
        });
        assert.equal(nts.verified, window, "every prebuilt request got a verified NTS reply");
        const r = await runLoadgen(bin, {
          port,
          durationMs: 300,
          window,
          requestsFile: nts.file,
          requestLength: nts.requestLength,
          nts: true,
          serverPid: server.pid,
        });
        assert.ok(r.valid > 100, `only ${r.valid} valid NTS replies`);
        assert.equal(r.invalid + r.kod + r.nts_bad, 0, JSON.stringify(r));

        // The same requests with a corrupted cookie: chrony answers with an NTS
        // NAK (stratum 0, "NTSN"), which must not count as valid.
        const bad = Buffer.from(await readFile(nts.file));
        for (let i = 0; i < window; i++) {
          const at = i * nts.requestLength + 48 + 36 + 8; // inside the cookie
          bad.writeUInt8(bad.readUInt8(at) ^ 0xff, at);
        }
        const badFile = dir.file("bad-requests.bin");
        await writeFile(badFile, bad);
        const nak = await runLoadgen(bin, {
          port,
          durationMs: 300,
          window,
          requestsFile: badFile,
          requestLength: nts.requestLength,
          nts: true,
        });
        assert.equal(nak.valid, 0, JSON.stringify(nak));
        assert.ok(nak.kod + nak.nts_bad > 0, `no NAK counted: ${JSON.stringify(nak)}`);

        // Plain requests in --nts mode are refused: they carry no Unique Identifier.
        const plain = Buffer.alloc(48 * window);
        for (let i = 0; i < window; i++) {
          plain[48 * i] = 0x23;
          plain.writeUInt16BE(i, 48 * i + 46);
        }
        const plainFile = dir.file("plain-requests.bin");
        await writeFile(plainFile, plain);
        const refused = await runCommand(bin, [
          ...["--port", String(port), "--duration-ms", "100", "--window", String(window)],
          ...["--requests", plainFile, "--req-len", "48", "--nts"],
        ]);
        assert.equal(refused.code, 2, "--nts needs requests with a Unique Identifier");
      } finally {
        await server.stop();
      }
    });
  },
);

test("loadgen --rate paces, --bind sets the source, --garbage sends only droppable datagrams", async (t) => {
  if (skipIfMissing(t, which("cc") ? undefined : "no C compiler (cc)")) return;
  const bin = await buildLoadgen();
  const sink = createSocket("udp4");
  const seen: { from: string; length: number; mode: number }[] = [];
  sink.on("message", (msg, rinfo) =>
    seen.push({ from: rinfo.address, length: msg.length, mode: (msg[0] ?? 0) & 7 }),
  );
  await new Promise<void>((resolve) => sink.bind(0, "127.0.0.1", resolve));
  const port = sink.address().port;
  try {
    const paced = await runLoadgen(bin, {
      port,
      durationMs: 500,
      window: 64,
      rate: 1000,
      bind: "127.0.0.2",
    });
    // Paced from the start: never more than rate × elapsed (+1 for the first).
    assert.ok(paced.sent > 0, "nothing sent");
    assert.ok(paced.sent <= 1000 * paced.elapsed_s + 1, `${paced.sent} sent at --rate 1000`);
    assert.ok(seen.length > 0 && seen.every((s) => s.from === "127.0.0.2"));

    seen.length = 0;
    const garbage = await runLoadgen(bin, { port, durationMs: 300, garbage: true, rate: 2000 });
    assert.equal(garbage.invalid, 0);
    assert.equal(
      garbage.garbage_sent.reduce((a, b) => a + b, 0),
      garbage.sent,
      "garbage_sent splits sent by kind",
    );
    assert.ok(
      garbage.garbage_sent.every((n) => n > 0),
      `kinds: ${garbage.garbage_sent.join("/")}`,
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(seen.length > 0);
    for (const s of seen) {
      const droppable =
        s.length < 48 || (s.length === 48 && s.mode !== 3) || s.length === 76 || s.length === 1100;
      assert.ok(droppable, `a datagram a server might answer: ${JSON.stringify(s)}`);
    }
  } finally {
    sink.close();
  }
});
