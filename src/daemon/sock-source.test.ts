import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Measurement } from "../proto/source/types.js";
import { encodeSockSample } from "../proto/source/reference-sample.js";
import { createLogger, MemorySink } from "./log.js";
import { referenceClockAddon } from "./native/reference-clocks.js";
import { SockSourceTask } from "./sock-source.js";
import { systemWallClock } from "./wall-clock.js";

const addon = referenceClockAddon();
const noAddon = "reason" in addon ? addon.reason : false;

function task(path: string, sink: MemorySink, got: Measurement[]): SockSourceTask {
  return new SockSourceTask(
    { mode: "sock", path, precision: 1e-3, accuracy: 0 },
    {
      clock: systemWallClock,
      log: createLogger("debug", sink),
      hooks: { onMeasurement: (_t, m) => got.push(m) },
    },
  );
}

test("a regular file at the socket path is left alone and the source does not start", async () => {
  const dir = await mkdtemp(join(tmpdir(), "sock-source-"));
  try {
    const path = join(dir, "not-a-socket");
    await writeFile(path, "keep me");
    const sink = new MemorySink();
    const t = task(path, sink, []);
    t.start();
    t.stop();
    assert.equal(await readFile(path, "utf8"), "keep me");
    assert.match(
      sink.lines.join(""),
      /ERROR .*sock source cannot start.*exists and is not a socket/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  "samples become measurements; far-off times and bad datagrams are dropped by reason",
  { skip: noAddon },
  async () => {
    if ("reason" in addon) return;
    const dir = await mkdtemp(join(tmpdir(), "sock-source-"));
    const path = join(dir, "gpsd.sock");
    const sink = new MemorySink();
    const got: Measurement[] = [];
    const t = task(path, sink, got);
    try {
      t.start();
      const nowMs = Date.now();
      const sec = Math.floor(nowMs / 1000);
      const usec = (nowMs % 1000) * 1000;
      addon.unixDgramSend(path, encodeSockSample({ sec, usec, offset: -0.125, leap: 1 }));
      addon.unixDgramSend(path, encodeSockSample({ sec: sec - 60, usec, offset: 0 }));
      addon.unixDgramSend(path, encodeSockSample({ sec, usec, offset: 0, leap: 7 }));
      addon.unixDgramSend(path, Buffer.alloc(400));
      const deadline = Date.now() + 10_000;
      while (t.samples + t.droppedTotal < 4 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(got.length, 1);
      assert.equal(got[0]!.offset, -0.125);
      assert.equal(got[0]!.leap, 1);
      assert.ok(Math.abs(got[0]!.t4.toUnixSeconds(sec) - (sec + usec * 1e-6)) < 1e-6);
      assert.deepEqual(Object.fromEntries(t.dropped), { time: 1, leap: 1, length: 1 });
      assert.equal(t.snapshot().lastMeasurement, got[0]);
    } finally {
      t.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
