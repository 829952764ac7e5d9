// The GnuTLS listener's key exchange fast path (native/nts_ke_response.h) against the
// TypeScript server: for the same request, exported keys, master key and nonces, the
// same response octets, or no answer at all where TypeScript must decide; then the
// fast path in a running server (counted, cookies that open, a rotation followed, the
// requests it leaves to TypeScript still answered there).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { getAddon } from "./native/addon.js";
import { defaultAeadProvider, preparedKey } from "./native/aead.js";
import { KeySet } from "../proto/nts/keyset/keyset.js";
import { SUPPORTED_AEADS } from "../proto/crypto/registry.js";
import { encodeRecords, type KeRecordBody } from "../proto/nts/ke/records.js";
import { ServerRequestDecoder, type KeServerConfig } from "../proto/nts/ke/server-messages.js";
import type { ChosenNtpServer } from "../proto/nts/ke/ntp-server-choice.js";
import { fastPathConfig, keyExchangeResponse, testExporter } from "./nts-ke-fast.js";
import type { NtsKeServerConfig } from "../proto/config/types.js";
import { decodeCookie } from "../proto/nts/cookie/cookie.js";
import { makeTestPki } from "../../test/helpers/pki.js";
import { makeTempDir } from "../../test/helpers/tmp.js";
import { createLogger, MemorySink } from "./log.js";
import { NtsKeServer } from "./nts-ke-server.js";
import { gnutlsAvailability, ntsKeTlsFromEnv } from "./nts-ke-native.js";
import { performKeyExchange, TrustStore } from "./nts-ke-client.js";

const addon = getAddon();
const skip = addon === null ? "the native addon is not loaded" : false;

const CONFIG: KeServerConfig = {
  acceptNtpVersions: [4, 5],
  aeadAlgorithms: SUPPORTED_AEADS,
  acceptedPoolAuthenticationTokens: ["pool-token"],
};

function keyset(): KeySet {
  const keys = [1, 2, 3].map((i) => new Uint8Array(64).fill(i * 17));
  return KeySet.fromParts({ keys, idOffset: 0x01020304, primary: 1 });
}

/** The TypeScript answer when it is a key exchange, else null; nonces taken from `nonces`. */
function typescriptAnswer(
  request: Uint8Array,
  keys: KeySet,
  nonces: Uint8Array,
  server: ChosenNtpServer,
): Uint8Array | null {
  const decoder = new ServerRequestDecoder(CONFIG);
  const decision = decoder.push(request) ?? decoder.end();
  if (decision.kind !== "key-exchange" || decoder.trailing.length > 0) return null;
  let used = 0;
  const random = (n: number) => {
    const out = nonces.slice(used, used + n);
    used += n;
    return out;
  };
  return keyExchangeResponse(decision, testExporter, keys, random, server, defaultAeadProvider());
}

function nativeAnswer(
  request: Uint8Array,
  keys: KeySet,
  nonces: Uint8Array,
  server: ChosenNtpServer,
): Uint8Array | null {
  const handle = preparedKey(keys.primaryCipher(defaultAeadProvider()));
  assert.ok(handle !== null, "the master key is a prepared native one");
  const config = fastPathConfig(CONFIG, server, 4096);
  return addon!.ntsKeFastResponse(request, config, keys.primaryId, handle, nonces);
}

const request = (...records: KeRecordBody[]) =>
  encodeRecords([...records, { kind: "end-of-message" }]);
const offer = (protocols: number[], algorithms: number[]): KeRecordBody[] => [
  { kind: "next-protocol", protocols },
  { kind: "aead-algorithm", algorithms },
];

test(
  "the fast path answers the requests clients send, octet for octet as TypeScript",
  { skip },
  () => {
    const keys = keyset();
    const nonces = new Uint8Array(randomBytes(16 * 8));
    const cases: [string, Uint8Array][] = [
      ["ntpd-rs / ours", request(...offer([0], [17, 15]))],
      ["AEAD 15 only", request(...offer([0], [15]))],
      [
        "chrony: 30 with record 1024",
        request(...offer([0], [30, 15]), { kind: "compliant-128gcmsiv-context" }),
      ],
      ["30 without record 1024 (legacy context)", request(...offer([0], [30]))],
      [
        "record 1024 with another AEAD chosen",
        request({ kind: "compliant-128gcmsiv-context" }, ...offer([0], [15, 30])),
      ],
      ["NTPv5 first", request(...offer([0x8001, 0], [17]))],
      ["unknown protocols and AEADs before known ones", request(...offer([7, 0], [99, 1, 17]))],
      [
        "an unknown non-critical record",
        request(...offer([0], [17]), {
          kind: "unknown",
          type: 0x4321,
          critical: false,
          body: Uint8Array.of(1, 2, 3),
        }),
      ],
    ];
    for (const server of [{}, { port: 11123 }, { server: "ntp.example", port: 123 }]) {
      for (const [name, bytes] of cases) {
        const expected = typescriptAnswer(bytes, keys, nonces, server);
        assert.ok(expected !== null, `${name}: TypeScript negotiates keys`);
        const got = nativeAnswer(bytes, keys, nonces, server);
        assert.ok(got !== null, `${name}: the fast path answers`);
        assert.equal(Buffer.from(got).toString("hex"), Buffer.from(expected).toString("hex"), name);
      }
    }
  },
);

test("the fast path leaves every other request to TypeScript", { skip }, () => {
  const keys = keyset();
  const nonces = new Uint8Array(16 * 8);
  const normal = offer([0], [17]);
  const cases: [string, Uint8Array][] = [
    ["Keep Alive", request(...normal, { kind: "keep-alive" })],
    ["NTP Server Deny", request(...normal, { kind: "ntp-server-deny", name: "a.example" })],
    ["a Server wish", request(...normal, { kind: "server", name: "a.example" })],
    ["a Port wish", request(...normal, { kind: "port", port: 123 })],
    ["an Error record", request(...normal, { kind: "error", code: 1 })],
    [
      "an unknown critical record",
      request(...normal, {
        kind: "unknown",
        type: 0x4321,
        critical: true,
        body: new Uint8Array(0),
      }),
    ],
    ["two Next Protocol records", request(...normal, { kind: "next-protocol", protocols: [0] })],
    ["no Next Protocol", request({ kind: "aead-algorithm", algorithms: [17] })],
    ["empty AEAD list", request(...offer([0], []))],
    ["no protocol overlap", request(...offer([9], [17]))],
    ["no AEAD overlap", request(...offer([0], [1, 2]))],
    [
      "a pool Supported lists request",
      request(
        { kind: "authentication", token: "pool-token" },
        { kind: "supported-algorithms", algorithms: [] },
      ),
    ],
    ["no End of Message", encodeRecords(normal)],
    ["octets after End of Message", Buffer.concat([request(...normal), Uint8Array.of(0, 1)])],
    [
      "an odd AEAD list",
      Buffer.concat([Uint8Array.of(0x80, 1, 0, 2, 0, 0, 0x80, 4, 0, 3, 0, 17, 0), request()]),
    ],
    [
      "End of Message with a body",
      Buffer.concat([encodeRecords(normal), Uint8Array.of(0x80, 0, 0, 1, 0)]),
    ],
    ["a truncated record", Uint8Array.of(0x80, 1, 0, 4, 0)],
    ["empty", new Uint8Array(0)],
    [
      "over the 4096-octet limit",
      request(...normal, {
        kind: "unknown",
        type: 0x4321,
        critical: false,
        body: new Uint8Array(4096),
      }),
    ],
  ];
  for (const [name, bytes] of cases) {
    assert.equal(nativeAnswer(bytes, keys, nonces, {}), null, name);
  }
});

test(
  "property: whatever the request, the fast path answers as TypeScript or not at all",
  { skip },
  () => {
    const keys = keyset();
    const seed = Date.now() % 0x7fffffff;
    console.log(`fast-check seed ${seed}`);
    const u16 = fc.constantFrom(0, 1, 4, 5, 15, 16, 17, 30, 31, 0x8001, 0xffff);
    const record: fc.Arbitrary<Uint8Array> = fc.oneof(
      fc
        .array(u16, { maxLength: 4 })
        .map((p) => encodeRecords([{ kind: "next-protocol", protocols: p }])),
      fc
        .array(u16, { maxLength: 4 })
        .map((a) => encodeRecords([{ kind: "aead-algorithm", algorithms: a }])),
      fc.constant(encodeRecords([{ kind: "compliant-128gcmsiv-context" }])),
      fc.constant(encodeRecords([{ kind: "keep-alive" }])),
      fc.constant(encodeRecords([{ kind: "end-of-message" }])),
      fc
        .record({
          type: fc.integer({ min: 0, max: 0xffff }),
          body: fc.uint8Array({ maxLength: 6 }),
        })
        .map(({ type, body }) => Uint8Array.of(type >> 8, type & 0xff, 0, body.length, ...body)),
      fc.uint8Array({ maxLength: 5 }),
    );
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: 7 }),
        fc.uint8Array({ minLength: 128, maxLength: 128 }),
        (parts, nonces) => {
          const bytes = Buffer.concat([...parts, Uint8Array.of(0x80, 0, 0, 0)]);
          const got = nativeAnswer(bytes, keys, nonces, {});
          if (got === null) return;
          const expected = typescriptAnswer(bytes, keys, nonces, {});
          assert.ok(expected !== null, "the fast path answered a request TypeScript rejects");
          assert.equal(Buffer.from(got).toString("hex"), Buffer.from(expected).toString("hex"));
        },
      ),
      { seed, numRuns: 3000 },
    );
  },
);

test(
  "ntsKeFastResponse refuses a wiped key, and answers nothing without enough nonces",
  { skip },
  () => {
    const keys = keyset();
    const handle = addon!.sivPrepareKey(new Uint8Array(64).fill(9));
    const config = fastPathConfig(CONFIG, {}, 4096);
    const bytes = request(...offer([0], [17]));
    const nonces = new Uint8Array(128);
    assert.ok(addon!.ntsKeFastResponse(bytes, config, 7, handle, nonces) !== null);
    addon!.sivWipeKey(handle);
    assert.throws(() => addon!.ntsKeFastResponse(bytes, config, 7, handle, nonces), TypeError);
    assert.equal(
      addon!.ntsKeFastResponse(
        bytes,
        config,
        keys.primaryId,
        preparedKey(keys.primaryCipher(defaultAeadProvider()))!,
        new Uint8Array(64),
      ),
      null,
      "too few nonces",
    );
  },
);

const gnutls = gnutlsAvailability();
const skipLive =
  ntsKeTlsFromEnv() === "node"
    ? "NTPD_TS_NTS_KE_TLS=node: no GnuTLS listener"
    : gnutls.available
      ? false
      : gnutls.reason;

test(
  "a running GnuTLS server answers plain key exchanges on the fast path, follows rotations, and leaves the rest to TypeScript",
  { skip: skipLive },
  async () => {
    const pki = await makeTestPki(await makeTempDir("ntpd-ts-pki-"));
    try {
      const issued = await pki.issue("server", ["localhost"]);
      const trust = await TrustStore.fromFile(pki.caCertPath);
      const keys = KeySet.generate((n) => new Uint8Array(randomBytes(n)), 0);
      const rotated: ((k: KeySet) => void)[] = [];
      const provider = {
        current: () => keys,
        onRotate: (listener: (k: KeySet) => void) => rotated.push(listener),
      };
      const config: NtsKeServerConfig = {
        listen: { address: "127.0.0.1", port: 0, family: 4 },
        certificateChainPath: issued.chainPath,
        privateKeyPath: issued.keyPath,
        keyExchangeTimeoutMs: 2000,
        concurrentConnections: 16,
        longlivedConnections: 4,
        ntpPort: 11123,
        ntpServer: null,
        acceptNtpVersions: [4],
        acceptedPoolAuthenticationTokens: [],
      };
      const server = new NtsKeServer(config, provider, createLogger("info", new MemorySink()));
      await server.start();
      try {
        const exchange = () => performKeyExchange({ host: "localhost", port: server.port, trust });
        const first = await exchange();
        assert.equal(server.fastKeyExchanges, 1, "answered without JavaScript");
        assert.equal(first.ntpPort, 11123);
        for (const cookie of first.cookies) {
          const inside = decodeCookie(keys, cookie);
          assert.ok(inside, "the cookie opens with the key set");
          assert.deepEqual([...inside.c2s], [...first.c2s]);
          assert.deepEqual([...inside.s2c], [...first.s2c]);
        }
        assert.equal(server.stats.keyExchanges, 1);
        assert.equal(server.stats.served, 1);

        // A rotation the provider announces: the next cookies carry the new key's id.
        keys.rotate((n) => new Uint8Array(randomBytes(n)));
        for (const listener of rotated) listener(keys);
        const second = await exchange();
        assert.equal(server.fastKeyExchanges, 2);
        assert.equal(
          new DataView(second.cookies[0]!.buffer, second.cookies[0]!.byteOffset).getUint32(0),
          keys.primaryId,
        );
        assert.ok(decodeCookie(keys, second.cookies[0]!));

        // Unannounced, with no stale key kept: the listener's key is wiped, its seal
        // fails, and TypeScript answers under the new primary key.
        keys.rotate((n) => new Uint8Array(randomBytes(n)));
        const third = await exchange();
        assert.equal(server.fastKeyExchanges, 2, "the wiped key was not used");
        assert.ok(decodeCookie(keys, third.cookies[0]!), "TypeScript sealed under the new key");

        // A request only TypeScript decides (an NTP Server Deny record): still answered.
        const pooled = await performKeyExchange({
          host: "localhost",
          port: server.port,
          trust,
          denyServers: ["a.example"],
        });
        assert.equal(pooled.cookies.length, 8);
        assert.equal(server.fastKeyExchanges, 2);
        assert.equal(server.stats.keyExchanges, 4);
        assert.equal(server.stats.served, 4);
      } finally {
        server.stop();
      }
    } finally {
      await pki.dir.cleanup();
    }
  },
);
