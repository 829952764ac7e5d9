// Reading the observation socket against hand-made servers: a whole message,
// one split into many writes, an oversized length (refused unread), a short
// message, silence, and no socket at all.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { withTempDir } from "../../test/helpers/tmp.js";
import { encodeObservationMessage } from "../daemon/observation.js";
import {
  ObservationReadError,
  readObservation,
  readObservationMessage,
} from "./observation-client.js";

async function withServer(
  onConnection: (socket: Socket) => void,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const path = dir.file("observe");
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      onConnection(socket);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      await fn(path);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
}

const stage = (s: ObservationReadError["stage"], message: RegExp) => (e: unknown) =>
  e instanceof ObservationReadError && e.stage === s && message.test(e.message);

test("a message written in pieces is put together", async () => {
  const message = encodeObservationMessage(JSON.stringify({ text: "x".repeat(100_000) }));
  await withServer(
    (socket) => {
      let at = 0;
      const step = () => {
        if (at >= message.length) return void socket.end();
        const n = at === 0 ? 3 : 7919;
        socket.write(message.subarray(at, at + n), step);
        at += n;
      };
      step();
    },
    async (path) => {
      const text = await readObservationMessage(path);
      assert.equal((JSON.parse(text) as { text: string }).text.length, 100_000);
    },
  );
});

test("a length over 1 MiB is refused without reading the body", async () => {
  await withServer(
    (socket) => {
      const head = Buffer.alloc(8);
      head.writeBigUInt64BE(BigInt((1 << 20) + 1));
      socket.write(head); // the body never comes
    },
    async (path) => {
      await assert.rejects(
        readObservationMessage(path, { timeoutMs: 2000 }),
        stage("read", /message too large: 1048577 bytes \(at most 1048576\)/),
      );
    },
  );
});

test("exactly 1 MiB is accepted", async () => {
  const body = `"${"y".repeat((1 << 20) - 2)}"`;
  await withServer(
    (socket) => socket.end(encodeObservationMessage(body)),
    async (path) => assert.equal((await readObservationMessage(path)).length, 1 << 20),
  );
});

test("a connection closed early, silence, and no socket are distinct errors", async () => {
  await withServer(
    (socket) => socket.end(encodeObservationMessage('{"a":1}').subarray(0, 12)),
    async (path) =>
      assert.rejects(readObservationMessage(path), stage("read", /closed after 4 of 7 bytes/)),
  );
  await withServer(
    () => {},
    async (path) =>
      assert.rejects(
        readObservationMessage(path, { timeoutMs: 200 }),
        stage("read", /no complete message .* within 200 ms/),
      ),
  );
  await withTempDir(async (dir) => {
    await assert.rejects(
      readObservationMessage(dir.file("nothing-here")),
      stage("connect", /No such file or directory \(ENOENT\)/),
    );
  });
});

test("JSON that is no observation is a format error", async () => {
  await withServer(
    (socket) => socket.end(encodeObservationMessage("42")),
    async (path) =>
      assert.rejects(
        readObservation(path),
        stage("format", /bad observation: \$: expected an object/),
      ),
  );
});
