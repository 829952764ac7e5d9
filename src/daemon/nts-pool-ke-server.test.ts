// The pool front in-process, over real TLS on loopback: the cookies it
// relays hold the keys the client exported from its session with the front;
// a back end that fails after the Fixed Key Request costs that client an
// error (never a second back end with the same keys) and is passed over for
// the next client.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:tls";
import type { NtsKeServerConfig, NtsPoolKeServerConfig } from "../proto/config/types.js";
import { decodeCookie } from "../proto/nts/cookie/cookie.js";
import { KeySet } from "../proto/nts/keyset/keyset.js";
import { KeMessageDecoder } from "../proto/nts/ke/records.js";
import { NTS_KE_ALPN } from "../proto/nts/ke/key-export.js";
import { buildSupportedListsResponse } from "../proto/nts/ke/server-messages.js";
import { makeTestPki, type Issued, type TestPki } from "../../test/helpers/pki.js";
import { makeTempDir } from "../../test/helpers/tmp.js";
import { createLogger, MemorySink } from "./log.js";
import { KeyExchangeError, performKeyExchange, TrustStore } from "./nts-ke-client.js";
import { NtsKeServer } from "./nts-ke-server.js";
import { NtsPoolKeServer } from "./nts-pool-ke-server.js";

const random = (n: number) => new Uint8Array(randomBytes(n));
const TOKEN = "front-token";
let pki: TestPki;
let cert: Issued;

before(async () => {
  pki = await makeTestPki(await makeTempDir("ntpd-ts-pki-"));
  cert = await pki.issue("server", ["127.0.0.1"]);
});
after(async () => {
  await pki.dir.cleanup();
});

async function startBackend(): Promise<{ server: NtsKeServer; keyset: KeySet }> {
  const config: NtsKeServerConfig = {
    listen: { address: "127.0.0.1", port: 0, family: 4 },
    certificateChainPath: cert.chainPath,
    privateKeyPath: cert.keyPath,
    keyExchangeTimeoutMs: 5000,
    concurrentConnections: 512,
    longlivedConnections: 51,
    ntpPort: 12345,
    ntpServer: null,
    acceptNtpVersions: [4],
    acceptedPoolAuthenticationTokens: [TOKEN],
  };
  const keyset = KeySet.generate(random);
  const server = new NtsKeServer(config, { current: () => keyset }, createLogger("error"));
  await server.start();
  return { server, keyset };
}

/** A back end that answers the Supported lists, then drops every Fixed Key Request. */
async function startBrokenBackend() {
  const state = { server: null as unknown as Server, port: 0, fixedKeys: 0 };
  state.server = createServer({
    cert: readFileSync(cert.chainPath),
    key: readFileSync(cert.keyPath),
    ALPNProtocols: [NTS_KE_ALPN],
    minVersion: "TLSv1.3",
  });
  state.server.on("secureConnection", (socket) => {
    const decoder = new KeMessageDecoder();
    socket.on("data", (chunk: Buffer) => {
      const progress = decoder.push(new Uint8Array(chunk));
      if (progress.status !== "complete") return;
      if (progress.records.some((r) => r.kind === "fixed-key-request")) {
        state.fixedKeys++;
        socket.destroy();
        return;
      }
      socket.end(
        buildSupportedListsResponse({
          protocols: [0],
          algorithms: [
            { id: 17, keyLength: 64 },
            { id: 15, keyLength: 32 },
          ],
        }),
      );
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => state.server.listen(0, "127.0.0.1", resolve));
  const address = state.server.address();
  state.port = typeof address === "object" && address ? address.port : 0;
  return state;
}

function frontConfig(backendPorts: number[]): NtsPoolKeServerConfig {
  return {
    listen: { address: "127.0.0.1", port: 0, family: 4 },
    certificateChainPath: cert.chainPath,
    privateKeyPath: cert.keyPath,
    keyExchangeServers: backendPorts.map((port) => ({
      address: { host: "127.0.0.1", port },
      authenticationToken: TOKEN,
    })),
    certificateAuthority: pki.caCertPath,
    keyExchangeTimeoutMs: 5000,
    timesourceTimeoutMs: 2500,
    concurrentConnections: 512,
  };
}

test("relayed cookies hold the keys the client exported from its session with the front", async () => {
  const backend = await startBackend();
  const front = new NtsPoolKeServer(frontConfig([backend.server.port]), createLogger("error"));
  await front.start();
  try {
    const trust = await TrustStore.fromFile(pki.caCertPath);
    const result = await performKeyExchange({ host: "127.0.0.1", port: front.port, trust });
    assert.equal(result.ntpServer, "127.0.0.1", "the front names the back end");
    assert.equal(result.ntpPort, 12345, "the back end's Port record is relayed");
    assert.equal(result.cookies.length, 8);
    for (const cookie of result.cookies) {
      const inside = decodeCookie(backend.keyset, cookie);
      assert.ok(inside, "the back end's key set opens the cookie");
      assert.deepEqual([...inside.c2s], [...result.c2s]);
      assert.deepEqual([...inside.s2c], [...result.s2c]);
    }
    assert.equal(front.stats.delegated, 1);
  } finally {
    front.stop();
    backend.server.stop();
  }
});

test("a back end failing after the keys were sent: an error, no second back end, then skipped", async () => {
  const broken = await startBrokenBackend();
  const backend = await startBackend();
  const sink = new MemorySink();
  let now = 1_000;
  const front = new NtsPoolKeServer(
    frontConfig([broken.port, backend.server.port]),
    createLogger("info", sink),
    () => now,
  );
  await front.start();
  try {
    const trust = await TrustStore.fromFile(pki.caCertPath);
    const ke = () => performKeyExchange({ host: "127.0.0.1", port: front.port, trust });
    await assert.rejects(
      ke(),
      (e: Error) => e instanceof KeyExchangeError && /error 2/.test(e.message),
    );
    assert.equal(broken.fixedKeys, 1);
    assert.equal(backend.server.stats.keyExchanges, 0, "the keys went to one back end only");
    assert.match(sink.lines.join("\n"), /failed after the keys were sent/);
    // Round robin would pick the broken one again; it is down, so the good one serves.
    for (let i = 0; i < 2; i++) assert.equal((await ke()).cookies.length, 8);
    assert.equal(broken.fixedKeys, 1);
    assert.equal(backend.server.stats.keyExchanges, 2);
    assert.deepEqual([front.stats.failed, front.stats.delegated], [1, 2]);
    assert.deepEqual(front.backendHealth(), { backends: 2, backendsUp: 1 });
    now += 30_001; // past the hold after a failure
    assert.deepEqual(front.backendHealth(), { backends: 2, backendsUp: 2 });
  } finally {
    front.stop();
    backend.server.stop();
    broken.server.close();
  }
});
