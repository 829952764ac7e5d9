// The native NTS request crypto (nts-crypto.ts: one addon call for the cookie and the
// authenticator, one per new cookie) against the generic one on the TypeScript ciphers:
// two server cores with the same master keys and the same seeded randomness must give
// byte-identical replies, decisions and counters for every request, good or hostile
// (property test: AEAD 15, 17 and 30; placeholders inside and outside the
// authenticator; short nonces; flipped bits in the cookie, the authenticator or the
// associated data; unknown key ids; cookies of the wrong length). Plus the addon's
// argument checks. Skipped, with the reason, only when the addon is not built.
import assert from "node:assert/strict";
import { cidrs } from "../../../test/helpers/cidr.js";
import { test, type TestContext } from "node:test";
import fc from "fast-check";
import { skipIfMissing } from "../../../test/helpers/skip.js";
import { AeadId } from "../../proto/crypto/aead.js";
import { TS_AEAD, aeadKeyLength, createAead } from "../../proto/crypto/registry.js";
import { encodeExtensionField } from "../../proto/packet/extension-fields.js";
import { encodeCookie } from "../../proto/nts/cookie/cookie.js";
import { KeySet } from "../../proto/nts/keyset/keyset.js";
import {
  NtsFieldType,
  writeAuthenticator,
  writeCookie,
  writePlaceholder,
  writeUniqueIdentifier,
} from "../../proto/nts/packet/fields.js";
import { finishReply } from "../../proto/server/finish.js";
import { NtpServerCore } from "../../proto/server/server.js";
import { NtpTimestamp } from "../../proto/time.js";
import { loadAddon } from "./addon.js";
import { nativeAeadProvider } from "./aead.js";
import { NTS_IO_BYTES } from "./nts-crypto.js";
import type { NativeAddon } from "./types.js";
import { seededRandom } from "../../../test/helpers/seeded-random.js";

const { addon, reason } = loadAddon();

function needAddon(t: TestContext): NativeAddon | null {
  if (skipIfMissing(t, addon === null ? `native addon not loaded: ${reason}` : undefined)) {
    return null;
  }
  return addon;
}

type Options = ConstructorParameters<typeof NtpServerCore>[0];
type State = ReturnType<Options["systemState"]["current"]>;
const STATE: State = {
  leap: 0,
  stratum: 2,
  referenceId: 0x7f000001,
  precisionLog2: -20,
  rootDelay: 0.001,
  rootVarianceBaseTime: NtpTimestamp.ZERO,
  rootVarianceBase: 1e-8,
  rootVarianceLinear: 0,
  rootVarianceQuadratic: 0,
  rootVarianceCubic: 0,
};
const RX = new NtpTimestamp(0xe84948b2, 0xb640d701);
const TX = new NtpTimestamp(0xe84948b2, 0xb644bff8);

const DENY = { filter: cidrs("192.0.2.64/28"), action: "deny" as const };

/** A server core on `aead`; its master keys and randomness come from fixed seeds. */
function core(aead: Options["aead"]): { core: NtpServerCore; keys: KeySet } {
  const keys = KeySet.generate(seededRandom(42));
  const server = new NtpServerCore({
    systemState: { current: () => STATE },
    keySet: { current: () => keys },
    random: seededRandom(43),
    rateLimitSeed: 1,
    aead,
    policy: { denylist: DENY },
  });
  return { core: server, keys };
}

interface Spec {
  aead: AeadId;
  /** Placeholders before the authenticator, and Cookie Placeholders inside it. */
  outside: number;
  inside: number;
  /** AES-SIV only (AES-GCM-SIV: 12). */
  nonceLength: number;
  /** Octet of the request to flip (after building), or -1. */
  flip: number;
  /** Seal the cookie under a key set the server does not have. */
  foreignCookie: boolean;
  deny: boolean;
}

/** A request as a client sends it, its cookie made by `keys` (or a foreign key set). */
function request(spec: Spec, keys: KeySet, seed: number): Uint8Array {
  const random = seededRandom(seed);
  const k = aeadKeyLength(spec.aead)!;
  const contents = { aead: spec.aead, c2s: random(k), s2c: random(k) };
  const cookieKeys = spec.foreignCookie ? KeySet.generate(seededRandom(seed + 7)) : keys;
  const cookie = encodeCookie(cookieKeys, contents, random);
  const out = new Uint8Array(2048);
  out[0] = 0x23;
  out[2] = 6;
  out.set(random(8), 40);
  let off = 48;
  off += writeUniqueIdentifier(out, off, random(32));
  off += writeCookie(out, off, cookie, false);
  for (let i = 0; i < spec.outside; i++) off += writePlaceholder(out, off, cookie.length);
  const inner = new Uint8Array(1024);
  let n = 0;
  for (let i = 0; i < spec.inside; i++) {
    n += encodeExtensionField(
      NtsFieldType.CookiePlaceholder,
      new Uint8Array(cookie.length),
      0,
      inner,
      n,
    );
  }
  const c2s = createAead(spec.aead, contents.c2s);
  // AES-GCM-SIV takes only its 12-octet nonce; AES-SIV any (short ones must be padded).
  const nonceLength = spec.aead === AeadId.AES_128_GCM_SIV ? 12 : spec.nonceLength;
  off += writeAuthenticator(out, off, c2s, random(nonceLength), inner.subarray(0, n));
  const bytes = out.slice(0, off);
  if (spec.flip >= 0) bytes[spec.flip % bytes.length]! ^= 0x20;
  return bytes;
}

/** What one core made of a request: the reply bytes (finished), decision and counters. */
function serve(server: NtpServerCore, bytes: Uint8Array, deny: boolean) {
  // The socket's buffer is longer than the datagram (the request is read in place).
  const buffer = new Uint8Array(2048);
  buffer.set(bytes);
  const out = new Uint8Array(2048);
  const d = server.handle(buffer, bytes.length, deny ? "192.0.2.66" : "192.0.2.1", RX, out);
  const reply = d.action === "reply" ? out.slice(0, d.length) : null;
  if (reply !== null) finishReply(reply, d.finish, TX);
  return {
    action: d.action,
    reason: d.action === "drop" ? d.reason : null,
    kind: d.kind,
    nts: d.nts,
    reply: reply === null ? null : Buffer.from(reply).toString("hex"),
  };
}

test("native NTS request crypto: byte-identical to the TypeScript ciphers (property)", (t) => {
  const a = needAddon(t);
  if (a === null) return;
  const seed = Number(process.env.FC_SEED ?? 0x7e57);
  t.diagnostic(`fast-check seed ${seed} (set FC_SEED to replay)`);
  const ts = core(TS_AEAD);
  const native = core(nativeAeadProvider(a));
  let naks = 0;
  let oks = 0;
  fc.assert(
    fc.property(
      fc.record({
        aead: fc.constantFrom(
          AeadId.AES_SIV_CMAC_256,
          AeadId.AES_SIV_CMAC_512,
          AeadId.AES_128_GCM_SIV,
        ),
        outside: fc.integer({ min: 0, max: 3 }),
        inside: fc.integer({ min: 0, max: 2 }),
        nonceLength: fc.constantFrom(16, 16, 12, 4, 1),
        flip: fc.oneof(fc.constant(-1), fc.constant(-1), fc.integer({ min: 0, max: 800 })),
        foreignCookie: fc.boolean(),
        deny: fc.boolean(),
      }),
      fc.integer({ min: 1, max: 2 ** 31 }),
      (spec: Spec, requestSeed) => {
        // The same request for both: a cookie sealed by either key set (equal keys).
        const bytes = request(spec, ts.keys, requestSeed);
        const got = serve(native.core, bytes, spec.deny);
        const want = serve(ts.core, bytes, spec.deny);
        assert.deepEqual(got, want);
        if (got.kind === "nak") naks++;
        if (got.kind === "time" && got.nts) oks++;
      },
    ),
    { seed, numRuns: 600 },
  );
  assert.deepEqual(native.core.stats, ts.core.stats);
  // The property saw both outcomes that matter, not only one of them.
  assert.ok(oks > 50 && naks > 50, `${oks} NTS time replies, ${naks} NAKs`);
});

test("native NTS request crypto: ntsOpenRequest/ntsSealCookie refuse bad arguments", (t) => {
  const a = needAddon(t);
  if (a === null) return;
  const key = a.sivPrepareKey(new Uint8Array(64).fill(1));
  const io = new Uint8Array(NTS_IO_BYTES);
  const words = new Uint32Array(io.buffer, 0, 16);
  const request = new Uint8Array(300);
  // A cookie range past the request's end.
  words.set([250, 82, 32, 100, 110, 16, 126, 16]);
  assert.throws(() => a.ntsOpenRequest(key, request, io), RangeError);
  // Session keys of another length than 32 or 64 octets.
  words.set([0, 82, 16, 100, 110, 16, 126, 16]);
  assert.throws(() => a.ntsOpenRequest(key, request, io), RangeError);
  // In range: a cookie that does not authenticate is -1, not an exception.
  words.set([0, 82, 32, 100, 110, 16, 126, 16]);
  assert.equal(a.ntsOpenRequest(key, request, io), -1);
  assert.throws(() => a.ntsOpenRequest(key, request, io.subarray(0, 100)), RangeError);
  assert.throws(() => a.ntsOpenRequest(new Uint8Array(64), request, io), TypeError);
  assert.throws(() => a.ntsOpenRequest({}, request, io), TypeError);
  words[8] = 290; // a new cookie past the end of `out`
  words[9] = 66;
  assert.throws(() => a.ntsSealCookie(key, request, io), RangeError);
  words[8] = 0;
  words[9] = 131; // longer than any cookie plaintext
  assert.throws(() => a.ntsSealCookie(key, request, io), RangeError);
  words[9] = 66;
  assert.equal(a.ntsSealCookie(key, request, io), true);
  a.sivWipeKey(key);
  assert.throws(() => a.ntsSealCookie(key, request, io), TypeError, "a wiped key is unusable");
});
