// The observation socket on a real Unix socket: one length-prefixed message
// per connection, the configured file mode, stale sockets replaced, clear
// errors for a missing directory or a foreign file, and bounded service:
// clients that never read cannot hold it up for more than the timeout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { withTempDir } from "../../test/helpers/tmp.js";
import { createLogger, MemorySink } from "./log.js";
import { encodeObservationMessage } from "./observation.js";
import { readObservationMessage } from "../cli/observation-client.js";
import { Observer, ObserverError } from "./observer.js";

const quiet = () => createLogger("error", new MemorySink());

function observer(path: string, message: () => Buffer, extra: { permissions?: number } = {}) {
  return new Observer({ path, permissions: extra.permissions ?? 0o666, message, log: quiet() });
}

test("each connection gets one length-prefixed message and the socket its mode", async () => {
  await withTempDir(async (dir) => {
    const path = dir.file("observe");
    let built = 0;
    const o = observer(path, () => encodeObservationMessage(`{"n":${++built}}`), {
      permissions: 0o640,
    });
    await o.start();
    try {
      assert.equal((await stat(path)).mode & 0o777, 0o640);
      assert.ok((await stat(path)).isSocket());
      assert.equal(await readObservationMessage(path), '{"n":1}');
      assert.equal(await readObservationMessage(path), '{"n":2}');
    } finally {
      o.stop();
    }
    assert.equal(existsSync(path), false, "a clean stop removes the socket");
  });
});

test("a client that sends data still gets its message (its input is discarded)", async () => {
  await withTempDir(async (dir) => {
    const path = dir.file("observe");
    const o = observer(path, () => encodeObservationMessage("{}"));
    await o.start();
    try {
      const received = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = connect(path, () => s.write(Buffer.alloc(64 * 1024, 1)));
        s.on("data", (c: Buffer) => chunks.push(c));
        s.on("error", reject);
        s.on("close", () => resolve(Buffer.concat(chunks)));
      });
      assert.equal(received.length, 10);
      assert.equal(received.readBigUInt64BE(0), 2n);
    } finally {
      o.stop();
    }
  });
});

test("a stale socket is replaced; stopping the old owner leaves the new socket alone", async () => {
  await withTempDir(async (dir) => {
    const path = dir.file("observe");
    const first = observer(path, () => encodeObservationMessage('"first"'));
    await first.start();
    const second = observer(path, () => encodeObservationMessage('"second"'));
    await second.start();
    try {
      assert.equal(await readObservationMessage(path), '"second"');
      first.stop();
      assert.ok(existsSync(path));
      assert.equal(await readObservationMessage(path), '"second"');
    } finally {
      second.stop();
    }
  });
});

test("a missing directory and a file that is not a socket are clear errors", async () => {
  await withTempDir(async (dir) => {
    const missing = dir.file("no-such-dir", "observe");
    await assert.rejects(
      observer(missing, () => Buffer.alloc(0)).start(),
      (e: unknown) =>
        e instanceof ObserverError &&
        e.message.includes(dir.file("no-such-dir")) &&
        /does not exist/.test(e.message),
    );
    const file = dir.file("observe");
    await writeFile(file, "precious");
    await assert.rejects(
      observer(file, () => Buffer.alloc(0)).start(),
      (e: unknown) => e instanceof ObserverError && /is not a socket/.test(e.message),
    );
    assert.ok((await stat(file)).isFile(), "the file is left alone");
  });
});

/** Connects and never reads; resolves once connected. */
function idleClient(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.pause();
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

test("clients that never read cannot stall the observer or the event loop", async () => {
  await withTempDir(async (dir) => {
    const path = dir.file("observe");
    // Far more than the socket buffers hold: these writes cannot finish.
    const big = encodeObservationMessage(`"${"x".repeat(4 << 20)}"`);
    let large = true;
    const o = new Observer({
      path,
      permissions: 0o600,
      message: () => (large ? big : encodeObservationMessage('"small"')),
      log: quiet(),
    });
    await o.start();
    let maxGap = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    const hostile: Socket[] = [];
    try {
      for (let i = 0; i < 8; i++) hostile.push(await idleClient(path));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(o.activeConnections, 8);
      large = false;
      // A ninth client waits for a slot: served once the idle ones time out.
      const started = performance.now();
      const text = await readObservationMessage(path, { timeoutMs: 3000 });
      const waited = performance.now() - started;
      assert.equal(text, '"small"');
      assert.ok(waited < 1500, `served after ${waited.toFixed(0)} ms`);
      assert.ok(maxGap < 200, `event loop stalled for ${maxGap.toFixed(0)} ms`);
      // Every idle client has been disconnected.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(o.activeConnections, 0);
      for (const s of hostile) assert.ok(s.readableEnded || s.destroyed || s.readableLength >= 0);
    } finally {
      clearInterval(ticker);
      for (const s of hostile) s.destroy();
      o.stop();
    }
  });
});

test("connections beyond the slots and the queue are closed at once", async () => {
  await withTempDir(async (dir) => {
    const path = dir.file("observe");
    const big = encodeObservationMessage(`"${"x".repeat(4 << 20)}"`);
    const o = new Observer({
      path,
      permissions: 0o600,
      message: () => big,
      log: quiet(),
      timeoutMs: 2000,
    });
    await o.start();
    const clients: Socket[] = [];
    try {
      for (let i = 0; i < 60; i++) clients.push(await idleClient(path));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(o.activeConnections, 8);
      assert.equal(o.waitingConnections, 32);
      // The last 20 were closed right away: they read an immediate end, no data.
      const ends = await Promise.all(
        clients.slice(40).map(
          (s) =>
            new Promise<number>((resolve) => {
              let bytes = 0;
              s.on("data", (c: Buffer) => (bytes += c.length));
              s.once("end", () => resolve(bytes));
              s.resume();
            }),
        ),
      );
      assert.deepEqual(ends, new Array<number>(20).fill(0));
    } finally {
      for (const s of clients) s.destroy();
      o.stop();
    }
  });
});
