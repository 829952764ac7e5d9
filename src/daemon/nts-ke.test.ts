// NTS-KE client against NTS-KE server over real TLS on loopback, with a PKI
// made for the test: the key exchange itself, and every way it must fail.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync } from "node:fs";
import { connect } from "node:tls";
import type { NtsKeServerConfig } from "../proto/config/types.js";
import {
  COOKIE_HEADER_LENGTH,
  COOKIE_NONCE_LENGTH,
  decodeCookie,
} from "../proto/nts/cookie/cookie.js";
import { KeySet } from "../proto/nts/keyset/keyset.js";
import { buildClientRequest, ClientResponseDecoder } from "../proto/nts/ke/client-messages.js";
import { makeTestPki, type Issued, type TestPki } from "../../test/helpers/pki.js";
import { makeTempDir } from "../../test/helpers/tmp.js";
import { createLogger, MemorySink } from "./log.js";
import { NtsKeListenError, NtsKeServer } from "./nts-ke-server.js";
import { gnutlsAvailability, ntsKeTlsFromEnv } from "./nts-ke-native.js";
import { KeyExchangeError, performKeyExchange, TrustStore } from "./nts-ke-client.js";

const random = (n: number) => new Uint8Array(randomBytes(n));
let pki: TestPki;
let good: Issued;

before(async () => {
  pki = await makeTestPki(await makeTempDir("ntpd-ts-pki-"));
  good = await pki.issue("server", ["localhost", "127.0.0.1", "::1"]);
});
after(async () => {
  await pki.dir.cleanup();
});

function keConfig(issued: Issued, overrides: Partial<NtsKeServerConfig> = {}): NtsKeServerConfig {
  return {
    listen: { address: "127.0.0.1", port: 0, family: 4 },
    certificateChainPath: issued.chainPath,
    privateKeyPath: issued.keyPath,
    keyExchangeTimeoutMs: 1000,
    concurrentConnections: 512,
    longlivedConnections: 51,
    ntpPort: null,
    ntpServer: null,
    acceptNtpVersions: [4],
    acceptedPoolAuthenticationTokens: [],
    ...overrides,
  };
}

async function withServer(
  config: NtsKeServerConfig,
  fn: (server: NtsKeServer, keyset: KeySet, sink: MemorySink) => Promise<void>,
) {
  const keyset = KeySet.generate(random);
  const sink = new MemorySink();
  const server = new NtsKeServer(config, { current: () => keyset }, createLogger("debug", sink));
  await server.start();
  try {
    await fn(server, keyset, sink);
  } finally {
    server.stop();
  }
}

test("serves on the TLS chosen: the addon's GnuTLS when built with it, unless node:tls is forced", async () => {
  const forced = ntsKeTlsFromEnv();
  const expected = forced === "node" || !gnutlsAvailability().available ? "node" : "gnutls";
  await withServer(keConfig(good), (server) => {
    assert.equal(server.tlsInUse, expected, `NTPD_TS_NTS_KE_TLS=${forced}`);
    return Promise.resolve();
  });
});

test("key exchange by DNS name: 8 cookies holding the keys both sides derived", async () => {
  const trust = await TrustStore.fromFile(pki.caCertPath);
  await withServer(keConfig(good, { ntpPort: 11123 }), async (server, keyset) => {
    const result = await performKeyExchange({ host: "localhost", port: server.port, trust });
    assert.equal(result.aead, 17, "AES-SIV-CMAC-512 preferred");
    assert.equal(result.cookies.length, 8);
    assert.equal(result.ntpServer, "localhost");
    assert.equal(result.ntpPort, 11123);
    for (const cookie of result.cookies) {
      const inside = decodeCookie(keyset, cookie);
      assert.ok(inside, "cookie opens with the server's key set");
      assert.deepEqual([...inside.c2s], [...result.c2s], "same C2S key on both sides");
      assert.deepEqual([...inside.s2c], [...result.s2c], "same S2C key on both sides");
    }
    assert.notDeepEqual([...result.c2s], [...result.s2c]);
    const nonces = result.cookies.map((c) =>
      Buffer.from(
        c.subarray(COOKIE_HEADER_LENGTH, COOKIE_HEADER_LENGTH + COOKIE_NONCE_LENGTH),
      ).toString("hex"),
    );
    assert.equal(new Set(nonces).size, 8, "each cookie has a nonce of its own");
    assert.equal(server.stats.keyExchanges, 1);
  });
});

test("RSA-2048 and Ed25519 server keys work as well as EC P-256", async () => {
  const trust = await TrustStore.fromFile(pki.caCertPath);
  for (const [keyType, algorithm] of [
    ["rsa2048", "rsa"],
    ["ed25519", "ed25519"],
  ] as const) {
    const issued = await pki.issue(`server-${keyType}`, ["localhost"], { keyType });
    const served = new X509Certificate(readFileSync(issued.certPath));
    assert.equal(served.publicKey.asymmetricKeyType, algorithm);
    await withServer(keConfig(issued), async (server) => {
      const result = await performKeyExchange({ host: "localhost", port: server.port, trust });
      assert.equal(result.cookies.length, 8, keyType);
    });
  }
});

test("key exchange by raw IPv4 and IPv6 address, checked against IP SANs", async () => {
  const trust = await TrustStore.fromFile(pki.caCertPath);
  await withServer(keConfig(good), async (server) => {
    const v4 = await performKeyExchange({ host: "127.0.0.1", port: server.port, trust });
    assert.equal(v4.ntpServer, "127.0.0.1");
    assert.equal(v4.cookies.length, 8);
  });
  await withServer(
    keConfig(good, { listen: { address: "::1", port: 0, family: 6 } }),
    async (server) => {
      const v6 = await performKeyExchange({ host: "::1", port: server.port, trust });
      assert.equal(v6.cookies.length, 8);
    },
  );
});

test("a self-signed server certificate named in certificate-authority is trusted", async () => {
  const self = await pki.selfSigned("self", ["self.test", "127.0.0.1"]);
  const trust = await TrustStore.fromFile(self.certPath);
  await withServer(keConfig(self), async (server) => {
    const result = await performKeyExchange({ host: "127.0.0.1", port: server.port, trust });
    assert.equal(result.cookies.length, 8);
  });
  // Without it, the same certificate is refused.
  await withServer(keConfig(self), async (server) => {
    await assert.rejects(
      performKeyExchange({ host: "127.0.0.1", port: server.port, trust: TrustStore.systemOnly() }),
      /not trusted/,
    );
  });
});

test("wrong CA, expired certificate and name mismatch are clear failures", async () => {
  const otherPki = await makeTestPki(await makeTempDir("ntpd-ts-pki-other-"));
  try {
    const wrongTrust = await TrustStore.fromFile(otherPki.caCertPath);
    const trust = await TrustStore.fromFile(pki.caCertPath);
    const expired = await pki.issue("expired", ["localhost"], { expired: true });
    await withServer(keConfig(good), async (server) => {
      await assert.rejects(
        performKeyExchange({ host: "localhost", port: server.port, trust: wrongTrust }),
        (e: unknown) => e instanceof KeyExchangeError && /not trusted/.test(e.message),
      );
    });
    await withServer(keConfig(expired), async (server) => {
      await assert.rejects(
        performKeyExchange({ host: "localhost", port: server.port, trust }),
        /expired/,
      );
    });
    const otherName = await pki.issue("other-name", ["other.test"]);
    await withServer(keConfig(otherName), async (server) => {
      await assert.rejects(
        performKeyExchange({ host: "127.0.0.1", port: server.port, trust }),
        /does not match the server name/,
      );
    });
  } finally {
    await otherPki.dir.cleanup();
  }
});

/** A raw TLS client: lets a test omit ALPN, cap TLS at 1.2 or send arbitrary bytes. */
function rawExchange(
  port: number,
  options: {
    alpn?: string[];
    maxVersion?: "TLSv1.2" | "TLSv1.3";
    send?: Uint8Array;
    /** Written one TLS record each, 20 ms apart, after `send`. */
    pieces?: Uint8Array[];
    /** Half-close (FIN after close_notify) once everything is written. */
    end?: boolean;
  },
): Promise<{ error?: string; response: Buffer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({
      host: "127.0.0.1",
      port,
      rejectUnauthorized: false,
      ALPNProtocols: options.alpn,
      maxVersion: options.maxVersion ?? "TLSv1.3",
    });
    const done = (error?: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ error, response: Buffer.concat(chunks) });
    };
    const timer = setTimeout(() => done("timeout"), 3000);
    socket.on("secureConnect", () => {
      if (options.send) socket.write(options.send);
      const pieces = [...(options.pieces ?? [])];
      const next = () => {
        const piece = pieces.shift();
        if (piece) {
          socket.write(piece);
          setTimeout(next, 20);
        } else if (options.end) {
          socket.end();
        }
      };
      next();
    });
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("end", () => done());
    socket.on("close", () => done());
    socket.on("error", (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

test("no ALPN, other ALPN and TLS 1.2 are refused; the server keeps serving", async () => {
  const trust = await TrustStore.fromFile(pki.caCertPath);
  const request = buildClientRequest({ nextProtocols: [0], aeadAlgorithms: [15] });
  await withServer(keConfig(good), async (server) => {
    const noAlpn = await rawExchange(server.port, { send: request });
    assert.equal(noAlpn.response.length, 0, "no answer without ALPN");
    assert.equal(server.stats.noAlpn, 1);

    const otherAlpn = await rawExchange(server.port, { alpn: ["http/1.1"], send: request });
    assert.match(otherAlpn.error ?? "", /NO_APPLICATION_PROTOCOL/);

    const tls12 = await rawExchange(server.port, { alpn: ["ntske/1"], maxVersion: "TLSv1.2" });
    // OpenSSL answers protocol_version; GnuTLS, offered no TLS 1.3, finds no cipher suite.
    assert.match(
      tls12.error ?? "",
      /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION|HANDSHAKE_FAILURE/,
    );
    assert.equal(server.stats.keyExchanges, 0);

    const ok = await performKeyExchange({ host: "localhost", port: server.port, trust });
    assert.equal(ok.cookies.length, 8, "still serving after the refusals");
  });
});

test("a request in pieces, with octets after End of Message, or cut short by the client's close", async () => {
  const request = buildClientRequest({ nextProtocols: [0], aeadAlgorithms: [15] });
  await withServer(keConfig(good), async (server) => {
    // Split inside the first record's header and inside a body; junk after End of Message.
    const withJunk = Buffer.concat([request, Buffer.from([1, 2, 3])]);
    const pieces = [withJunk.subarray(0, 1), withJunk.subarray(1, 7), withJunk.subarray(7)];
    const split = await rawExchange(server.port, { alpn: ["ntske/1"], pieces });
    const d1 = new ClientResponseDecoder();
    d1.push(split.response);
    const r1 = d1.end();
    assert.ok(r1.ok, "a key exchange answer");
    assert.equal(r1.value.cookies.length, 8);

    // Half a request, then the client's close: a bad request, answered before closing.
    const cut = await rawExchange(server.port, {
      alpn: ["ntske/1"],
      pieces: [request.subarray(0, 6)],
      end: true,
    });
    const d2 = new ClientResponseDecoder();
    d2.push(cut.response);
    const r2 = d2.end();
    assert.ok(!r2.ok && r2.error.code === "error-record" && r2.error.errorCode === 1);
    assert.equal(server.stats.keyExchanges, 1);
    assert.equal(server.stats.rejected, 1);
  });
});

test("malformed and oversized requests get an error record, not a crash", async () => {
  await withServer(keConfig(good), async (server) => {
    // Unknown critical record type 0x7fff, then End of Message.
    const unknownCritical = Uint8Array.of(0xff, 0xff, 0, 0, 0x80, 0, 0, 0);
    const r1 = await rawExchange(server.port, { alpn: ["ntske/1"], send: unknownCritical });
    const d1 = new ClientResponseDecoder();
    d1.push(r1.response);
    const e1 = d1.end();
    assert.ok(!e1.ok && e1.error.code === "error-record" && e1.error.errorCode === 0);

    // A record claiming 60000 bytes: over the 4096-byte cap.
    const oversized = new Uint8Array(4 + 5000);
    oversized.set([0x80, 0x01, 0xea, 0x60]);
    const r2 = await rawExchange(server.port, { alpn: ["ntske/1"], send: oversized });
    const d2 = new ClientResponseDecoder();
    d2.push(r2.response);
    const e2 = d2.end();
    assert.ok(!e2.ok && e2.error.code === "error-record" && e2.error.errorCode === 1);
    assert.equal(server.stats.rejected, 2);
  });
});

/** One exchange offering `session` for resumption; the last ticket the server sent, if any. */
function resumingExchange(
  port: number,
  session?: Buffer,
): Promise<{ reused: boolean; session?: Buffer }> {
  const request = buildClientRequest({ nextProtocols: [0], aeadAlgorithms: [15] });
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    let reused = false;
    const socket = connect({
      host: "127.0.0.1",
      port,
      rejectUnauthorized: false,
      ALPNProtocols: ["ntske/1"],
      minVersion: "TLSv1.3",
      session,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no answer within 3 s"));
    }, 3000);
    socket.on("session", (s: Buffer) => (ticket = s));
    socket.on("secureConnect", () => {
      reused = socket.isSessionReused();
      socket.write(request);
    });
    socket.on("data", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ reused, session: ticket });
    });
    socket.on("error", reject);
  });
}

test("no TLS session can be resumed, also after a certificate reload", async () => {
  await withServer(keConfig(good), async (server) => {
    for (const phase of ["at start", "after reload"]) {
      const first = await resumingExchange(server.port);
      if (server.tlsInUse === "gnutls") {
        // GnuTLS is asked for no tickets at all: nothing to resume with.
        assert.equal(first.session, undefined, `no ticket ${phase}`);
        assert.ok(server.reloadCredentials("test"));
        continue;
      }
      assert.ok(first.session, `the client got a (stateful) ticket ${phase}`);
      const second = await resumingExchange(server.port, first.session);
      assert.equal(second.reused, false, `full handshake when offered that ticket ${phase}`);
      assert.ok(server.reloadCredentials("test"));
    }
    assert.equal(server.stats.keyExchanges, server.tlsInUse === "gnutls" ? 2 : 4);
  });
});

test("a connection that sends nothing is closed at key-exchange-timeout-ms", async () => {
  await withServer(keConfig(good, { keyExchangeTimeoutMs: 200 }), async (server) => {
    const silent = await rawExchange(server.port, { alpn: ["ntske/1"] });
    assert.equal(silent.response.length, 0);
    assert.equal(server.stats.timeouts, 1);
  });
});

test("a renewed certificate is picked up without dropping the listener", async () => {
  const dir = await makeTempDir("ntpd-ts-reload-");
  try {
    const chain = dir.file("chain.pem");
    const key = dir.file("key.pem");
    const old = await pki.issue("old", ["localhost"]);
    copyFileSync(old.chainPath, chain);
    copyFileSync(old.keyPath, key);
    const trust = await TrustStore.fromFile(pki.caCertPath);
    await withServer(
      keConfig({ chainPath: chain, keyPath: key, certPath: chain }),
      async (server, _keyset, sink) => {
        await performKeyExchange({ host: "localhost", port: server.port, trust });
        // The renewal covers a new name; the old certificate does not.
        const renewed = await pki.issue("renewed", ["localhost", "renewed.test", "127.0.0.1"]);
        copyFileSync(renewed.chainPath, chain);
        copyFileSync(renewed.keyPath, key);
        assert.ok(server.reloadCredentials("test"));
        assert.match(sink.lines.join(""), /reloaded the NTS-KE certificate/);
        const viaIp = await performKeyExchange({ host: "127.0.0.1", port: server.port, trust });
        assert.equal(viaIp.cookies.length, 8);

        // A broken renewal keeps the working certificate.
        copyFileSync(old.keyPath, key); // key no longer matches the chain
        assert.equal(server.reloadCredentials("test"), false);
        const still = await performKeyExchange({ host: "127.0.0.1", port: server.port, trust });
        assert.equal(still.cookies.length, 8);
      },
    );
  } finally {
    await dir.cleanup();
  }
});

test("a listen address already in use is a clear NtsKeListenError", async () => {
  await withServer(keConfig(good), async (server) => {
    const second = new NtsKeServer(
      keConfig(good, { listen: { address: "127.0.0.1", port: server.port, family: 4 } }),
      { current: () => KeySet.generate(random) },
      createLogger("error", new MemorySink()),
    );
    await assert.rejects(
      second.start(),
      (e: unknown) =>
        e instanceof NtsKeListenError &&
        /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/.test(e.message),
    );
    second.stop();
  });
});
