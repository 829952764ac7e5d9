// The addon's SO_REUSEPORT pieces for serving threads: UdpSocket bind with reusePort, and
// tcpListen, whose fd node:net serves on. Loopback only.
import assert from "node:assert/strict";
import { connect, createServer, type AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { loadAddon } from "./addon.js";

const loaded = loadAddon();
const addon = loaded.addon;
const skip =
  addon === null && process.env.NTPD_REQUIRE_ADDON !== "1" ? `no addon: ${loaded.reason}` : false;

describe("SO_REUSEPORT", { skip }, () => {
  it("UDP: sockets with reusePort share a port; one without it cannot join", () => {
    const a = new addon!.UdpSocket(4);
    const b = new addon!.UdpSocket(4);
    const c = new addon!.UdpSocket(4);
    try {
      a.bind("127.0.0.1", 0, { reusePort: true });
      const port = a.localAddress().port;
      b.bind("127.0.0.1", port, { reusePort: true });
      assert.equal(b.localAddress().port, port);
      assert.throws(() => c.bind("127.0.0.1", port), { code: "EADDRINUSE", syscall: "bind" });
    } finally {
      a.close();
      b.close();
      c.close();
    }
  });

  it("tcpListen: two listeners on one port, each served by node:net from its fd", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const servers = [0, 1].map((i) => createServer((socket) => socket.end(String(i))));
    try {
      for (const server of servers) {
        const fd = addon!.tcpListen(4, "127.0.0.1", port, 16);
        await new Promise<void>((resolve) => server.listen({ fd }, resolve));
        assert.equal((server.address() as AddressInfo).port, port);
      }
      const answers = new Set<string>();
      for (let i = 0; i < 32; i++) {
        answers.add(
          await new Promise<string>((resolve, reject) => {
            const socket = connect(port, "127.0.0.1");
            let text = "";
            socket.on("data", (chunk) => (text += String(chunk)));
            socket.on("end", () => resolve(text));
            socket.on("error", reject);
          }),
        );
      }
      // 32 connections from different source ports: both listeners get some (2^-31 chance not).
      assert.deepEqual([...answers].sort(), ["0", "1"]);
    } finally {
      for (const server of servers) server.close();
    }
  });

  it("tcpListen: errors are Node-style errno errors naming the address", () => {
    assert.throws(() => addon!.tcpListen(4, "192.0.2.1", 4460, 16), {
      code: "EADDRNOTAVAIL",
      syscall: "bind",
    });
    assert.throws(() => addon!.tcpListen(4, "not an address", 4460, 16), {
      code: "ERR_INVALID_ARG_VALUE",
    });
    assert.throws(() => addon!.tcpListen(5 as 4, "127.0.0.1", 0, 16), {
      code: "ERR_INVALID_ARG_VALUE",
    });
  });
});
