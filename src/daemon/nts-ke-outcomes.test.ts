// Every connection an NTS-KE server accepts ends in exactly one counted outcome: served,
// refused at the concurrency cap, timed out, or failed. Node reports refused and cut
// connections as TLS client errors too, which once counted them twice (issue #9).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { NtsKeServerConfig } from "../proto/config/types.js";
import { KeySet } from "../proto/nts/keyset/keyset.js";
import { buildClientRequest } from "../proto/nts/ke/client-messages.js";
import { makeTestPki, type Issued, type TestPki } from "../../test/helpers/pki.js";
import { makeTempDir } from "../../test/helpers/tmp.js";
import { waitFor } from "../../test/helpers/wait.js";
import { createLogger, MemorySink } from "./log.js";
import { NtsKeServer, type NtsKeStats } from "./nts-ke-server.js";
import { performKeyExchange, TrustStore } from "./nts-ke-client.js";

let pki: TestPki;
let leaf: Issued;

before(async () => {
  pki = await makeTestPki(await makeTempDir("ntpd-ts-ke-outcomes-"));
  leaf = await pki.issue("server", ["localhost", "127.0.0.1"]);
});
after(async () => {
  await pki.dir.cleanup();
});

const CAP = 2;
/** Long enough for a handshake on a loaded machine; the silent connections wait it out. */
const TIMEOUT_MS = 2500;

function config(): NtsKeServerConfig {
  return {
    listen: { address: "127.0.0.1", port: 0, family: 4 },
    certificateChainPath: leaf.chainPath,
    privateKeyPath: leaf.keyPath,
    keyExchangeTimeoutMs: TIMEOUT_MS,
    concurrentConnections: CAP,
    longlivedConnections: 1,
    ntpPort: null,
    ntpServer: null,
    acceptNtpVersions: [4],
    acceptedPoolAuthenticationTokens: [],
  };
}

/** A TLS connection: sends `send` once connected; resolves when the server closes it. */
function tlsExchange(
  port: number,
  options: { alpn?: string[]; maxVersion?: "TLSv1.2"; send?: Uint8Array },
): Promise<void> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port,
      rejectUnauthorized: false,
      ALPNProtocols: options.alpn,
      maxVersion: options.maxVersion ?? "TLSv1.3",
    });
    socket.on("secureConnect", () => {
      if (options.send) socket.write(options.send);
    });
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.on("close", () => resolve());
  });
}

/** A plain TCP connection; `then` runs once connected. Resolves with the socket at once. */
function tcp(port: number, then: (socket: Socket) => void = () => {}): Socket {
  const socket = tcpConnect({ host: "127.0.0.1", port });
  socket.on("connect", () => then(socket));
  socket.on("data", () => {});
  socket.on("error", () => {});
  return socket;
}

const closed = (socket: Socket) =>
  new Promise<void>((resolve) => {
    if (socket.closed) resolve();
    else socket.once("close", () => resolve());
  });

function outcomes(stats: NtsKeStats): number {
  return stats.served + stats.refused + stats.timeouts + stats.failed;
}

test("each connection is counted once, in one outcome, and the outcomes add up", async () => {
  const keyset = KeySet.generate((n) => new Uint8Array(randomBytes(n)));
  const server = new NtsKeServer(
    config(),
    { current: () => keyset },
    createLogger("debug", new MemorySink()),
  );
  await server.start();
  const port = server.port;
  const settled = (what: string) =>
    waitFor(
      () => server.openConnections === 0 && outcomes(server.stats) === server.stats.connections,
      {
        timeoutMs: TIMEOUT_MS * 4,
        what: `${what}: all connections closed and counted`,
      },
    );
  try {
    // Served: two key exchanges and one request answered with an error record.
    const trust = await TrustStore.fromFile(pki.caCertPath);
    for (let i = 0; i < 2; i++) await performKeyExchange({ host: "localhost", port, trust });
    // An unknown critical record type 0x7fff, then End of Message.
    const unknownCritical = Uint8Array.of(0xff, 0xff, 0, 0, 0x80, 0, 0, 0);
    await tlsExchange(port, { alpn: ["ntske/1"], send: unknownCritical });
    await settled("served");

    // Failed: no ALPN, TLS 1.2, not TLS at all, and closed before the handshake.
    const request = buildClientRequest({ nextProtocols: [0], aeadAlgorithms: [15] });
    await tlsExchange(port, { send: request });
    await tlsExchange(port, { alpn: ["ntske/1"], maxVersion: "TLSv1.2" });
    await closed(tcp(port, (s) => s.write("GET / HTTP/1.0\r\n\r\n")));
    await closed(tcp(port, (s) => s.end()));
    await settled("failed");

    // Timed out: CAP silent connections fill every slot until the deadline; refused:
    // three more while they do.
    const silent = Array.from({ length: CAP }, () => tcp(port));
    await waitFor(() => server.openConnections === CAP, { timeoutMs: 5000, what: "the cap" });
    for (let i = 0; i < 3; i++) await closed(tcp(port));
    await Promise.all(silent.map(closed));
    await settled("timed out and refused");

    assert.deepEqual(
      { ...server.stats },
      {
        connections: 12,
        served: 3,
        keyExchanges: 2,
        rejected: 1,
        failed: 4,
        noAlpn: 1,
        refused: 3,
        timeouts: CAP,
      },
    );
  } finally {
    server.stop();
  }
});
