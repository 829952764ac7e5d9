// The control socket's own bounds, in process over a real Unix socket: the
// connection limit, the time limit, a stale socket replaced, a file that is
// not a socket left alone, the socket removed at stop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { withTempDir } from "../../test/helpers/tmp.js";
import { waitFor } from "../../test/helpers/wait.js";
import { encodeControlMessage } from "./control-protocol.js";
import { CONTROL_MAX_CONNECTIONS, ControlServer, ControlServerError } from "./control-server.js";
import { createLogger, MemorySink } from "./log.js";

function server(path: string, timeoutMs = 60_000): ControlServer {
  return new ControlServer({
    path,
    gid: null,
    handle: () => ({ ok: false, error: "stub" }),
    log: createLogger("error", new MemorySink()),
    timeoutMs,
  });
}

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once("close", () => resolve());
  });
}

test("beyond the connection limit a connection is closed unread and counted", async () => {
  await withTempDir(async (dir) => {
    const control = server(dir.file("control"));
    await control.start();
    const held: Socket[] = [];
    try {
      for (let i = 0; i < CONTROL_MAX_CONNECTIONS; i++) held.push(await open(dir.file("control")));
      await waitFor(() => (control["active"].size === CONTROL_MAX_CONNECTIONS ? true : undefined), {
        timeoutMs: 10_000,
        what: "the held connections to be accepted",
      });
      const extra = await open(dir.file("control"));
      extra.on("error", () => {});
      extra.write(encodeControlMessage({ command: "source-list" }));
      await closed(extra);
      assert.equal(control.stats.refusedConnections, 1);
      assert.equal(control.stats.requests, 0);
      // A held one is still served.
      const first = held[0]!;
      const reply: Buffer[] = [];
      first.on("data", (c: Buffer) => reply.push(c));
      first.write(encodeControlMessage({ command: "source-list" }));
      await closed(first);
      assert.match(Buffer.concat(reply).toString(), /"error":"stub"/);
    } finally {
      for (const s of held) s.destroy();
      control.stop();
    }
  });
});

test("a client too slow to send its request is disconnected and counted", async () => {
  await withTempDir(async (dir) => {
    const control = server(dir.file("control"), 200);
    await control.start();
    try {
      const socket = await open(dir.file("control"));
      socket.on("error", () => {});
      socket.write(Buffer.from([0, 0, 0])); // part of a length, then nothing
      await closed(socket);
      assert.equal(control.stats.malformedRequests, 1);
    } finally {
      control.stop();
    }
  });
});

test("a stale socket is replaced, a regular file is not, and stop removes the socket", async () => {
  await withTempDir(async (dir) => {
    const path = dir.file("control");
    const stale = createServer();
    await new Promise<void>((resolve) => stale.listen(path, resolve));
    // Closing a server unlinks its path; a socket file left by a crash stays. Simulate that.
    const control = server(path);
    await control.start();
    try {
      const st = await stat(path);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o600);
    } finally {
      control.stop();
      stale.close();
    }
    assert.equal(existsSync(path), false);

    await writeFile(path, "not a socket");
    await assert.rejects(server(path).start(), (e: unknown) => {
      assert.ok(e instanceof ControlServerError);
      assert.match(e.message, /exists and is not a socket/);
      return true;
    });
    assert.equal(await readFile(path, "utf8"), "not a socket");
    await assert.rejects(server(dir.file("missing", "control")).start(), /does not exist/);
  });
});
