// NtpServerCore.handle (and the reply's finish) on any datagram, with NTS keys: always a decision,
// never a throw; a reply is never larger than the request, parses as a
// packet, is a server-mode (4) answer, and NTS replies carry an authenticator.
// Seeds include NTS requests with authentic cookies of the server's keys, so
// mutations reach the AEAD paths. Four policies: the defaults, require-nts
// "deny" with v4 only, deny lists with rate limiting, and NTPv5 accepted
// (v5 replies must parse as v5 of our draft, NTS ones verify likewise).

import { decodeCookie, encodeCookie } from "../../src/proto/nts/cookie/cookie.js";
import { aeadKeyLength } from "../../src/proto/nts/ke/key-export.js";
import {
  AuthenticatorView,
  openAuthenticator,
  readAuthenticator,
  writeAuthenticator,
  writeCookie,
  writePlaceholder,
  writeUniqueIdentifier,
} from "../../src/proto/nts/packet/fields.js";
import { AeadId, type AeadId as AeadIdType } from "../../src/proto/crypto/aead.js";
import { createAead } from "../../src/proto/crypto/registry.js";
import { parsePacket } from "../../src/proto/packet/parse.js";
import { parseV5Packet } from "../../src/proto/packet/v5.js";
import { finishReply } from "../../src/proto/server/finish.js";
import { NtpServerCore, type ServerDecision } from "../../src/proto/server/server.js";
import { SystemStateCell, type SystemState } from "../../src/proto/system/system-state.js";
import { NtpTimestamp } from "../../src/proto/time.js";
import { check, type FuzzTarget } from "../engine/target.js";
import { seedsWhere } from "../seeds.js";
import { cidrs } from "../../test/helpers/cidr.js";
import { fixedKeySet, seededRandom } from "./common.js";
import { EF_TYPES } from "./layouts.js";
import { V5_SEEDS } from "./v5-seeds.js";

const RX = new NtpTimestamp(0xe84948b2, 0xb640d701);
const TX = new NtpTimestamp(0xe84948b2, 0xb644bff8);
const STATE: SystemState = {
  leap: 0,
  stratum: 2,
  referenceId: 0xc0000201,
  precisionLog2: -24,
  rootDelay: 0x10 / 65536,
  rootVarianceBaseTime: RX,
  rootVarianceBase: (0x20 / 65536) ** 2,
  rootVarianceLinear: 0,
  rootVarianceQuadratic: 0,
  rootVarianceCubic: 0,
};
const keys = fixedKeySet();

function core(policy: ConstructorParameters<typeof NtpServerCore>[0]["policy"]): NtpServerCore {
  return new NtpServerCore({
    policy,
    systemState: new SystemStateCell(STATE),
    rateLimitSeed: 7,
    keySet: { current: () => keys },
    random: seededRandom(42),
  });
}

const cores = [
  core({}),
  core({ requireNts: "deny", acceptNtpVersions: [4] }),
  // DENY kisses from both lists (192.0.2.0/28 denied, outside 192.0.2.0/24 too),
  // and rate limiting on. Its table keeps state between inputs: a rate-limited
  // drop may depend on earlier inputs (drops carry no invariant but "no throw").
  core({
    denylist: { filter: cidrs("192.0.2.0/28"), action: "deny" },
    allowlist: { filter: cidrs("192.0.2.0/24"), action: "deny" },
    rateLimitingCacheSize: 64,
    rateLimitingCutoffMs: 1000,
    requireNts: "ignore",
  }),
  core({ acceptNtpVersions: [3, 4, 5] }),
];
const ADDRESSES = ["192.0.2.10", "::ffff:192.0.2.11", "192.0.2.200", "198.51.100.7"];
const out = new Uint8Array(4096);

/** An NTS request sealed with session keys whose cookie the server can open. */
function ntsRequest(aead: AeadIdType, placeholders: number, encrypted: boolean): Uint8Array {
  const k = aeadKeyLength(aead)!;
  const session = { aead, c2s: new Uint8Array(k).fill(1), s2c: new Uint8Array(k).fill(2) };
  const cookie = encodeCookie(keys, session, seededRandom(9));
  const buf = new Uint8Array(2048);
  buf[0] = 0x23;
  buf.set([1, 2, 3, 4, 5, 6, 7, 8], 40);
  let off = 48;
  off += writeUniqueIdentifier(buf, off, new Uint8Array(32).fill(0x3c));
  off += writeCookie(buf, off, cookie, false);
  for (let i = 0; i < placeholders; i++) off += writePlaceholder(buf, off, cookie.length);
  const cipher = createAead(aead, session.c2s);
  const inner = encrypted
    ? Uint8Array.from([0x77, 0x77, 0, 16, ...new Uint8Array(12)])
    : new Uint8Array(0);
  off += writeAuthenticator(buf, off, cipher, new Uint8Array(cipher.nonceLength).fill(0x11), inner);
  return buf.slice(0, off);
}

const view = new AuthenticatorView();

/**
 * The S2C key and AEAD of the request's first cookie (before its first
 * authenticator), as the server would recover them; null without one.
 */
function requestS2c(request: Uint8Array): { aead: AeadIdType; s2c: Uint8Array } | null {
  const parsed = parsePacket(request);
  if (!parsed.ok) return null;
  for (const f of parsed.value.extensionFields) {
    if (f.type === 0x0404) return null;
    if (f.type === 0x0204) {
      const contents = decodeCookie(keys, f.value);
      return contents === null ? null : { aead: contents.aead, s2c: contents.s2c };
    }
  }
  return null;
}

/** A v5 reply: parses as v5 of our draft, mode 4; an NTS one verifies under the request's S2C key. */
function checkV5Reply(d: ServerDecision, request: Uint8Array, reply: Uint8Array): void {
  const parsed = parseV5Packet(reply, reply.length);
  check(parsed.ok, `v5 reply does not parse: ${parsed.ok ? "" : parsed.message}`);
  if (!parsed.ok) return;
  check(parsed.value.header.mode === 4, "v5 reply is not a response");
  if (!d.nts || d.kind === "nak") return;
  const auth = parsed.value.fields.find((f) => f.type === 0x0404);
  check(auth !== undefined, "NTS v5 reply without an authenticator");
  const req = parseV5Packet(request, request.length);
  const cookie = req.ok ? req.value.fields.find((f) => f.type === 0x0204) : undefined;
  const contents = cookie === undefined ? null : decodeCookie(keys, cookie.value);
  check(contents !== null, "NTS v5 reply to a request without a cookie of ours");
  check(readAuthenticator(reply, auth.offset, auth.value.length, view), "unreadable authenticator");
  const opened = openAuthenticator(reply, view, createAead(contents.aead, contents.s2c));
  check(opened !== null, "NTS v5 reply does not verify under the request's S2C key");
}

function checkDecision(d: ServerDecision, request: Uint8Array): void {
  if (d.action === "drop") return;
  check(
    d.length <= request.length,
    `reply of ${d.length} octets to a ${request.length}-octet request`,
  );
  const reply = out.subarray(0, d.length);
  if (((reply[0] ?? 0) >>> 3) % 8 === 5) {
    checkV5Reply(d, request, reply);
    return;
  }
  const parsed = parsePacket(reply);
  check(parsed.ok, `reply does not parse: ${parsed.ok ? "" : parsed.error.message}`);
  check(parsed.ok && parsed.value.header.mode === 4, "reply is not server mode");
  if (d.nts && d.kind !== "nak" && parsed.ok) {
    // An NTS reply ends in an authenticator that verifies under the S2C key
    // of the cookie the request carried.
    const fields = parsed.value.extensionFields;
    const last = fields[fields.length - 1];
    check(last !== undefined && last.type === 0x0404, "NTS reply does not end in an authenticator");
    const session = requestS2c(request);
    check(session !== null, "NTS reply to a request without a cookie of ours");
    check(
      readAuthenticator(reply, last.offset, last.value.length, view),
      "unreadable authenticator",
    );
    const opened = openAuthenticator(reply, view, createAead(session.aead, session.s2c));
    check(opened !== null, "NTS reply does not verify under the request's S2C key");
  }
}

export const serverHandle: FuzzTarget = {
  name: "server-handle",
  description:
    "NtpServerCore.handle: a decision for any datagram; replies ≤ request, parse, mode 4, NTS ones authenticated",
  kind: "bytes",
  maxLength: 2100,
  layout: { start: 48, headerLength: 4, lengthIncludesHeader: true, align: 4, types: EF_TYPES },
  seeds: () => [
    ntsRequest(AeadId.AES_SIV_CMAC_256, 0, false),
    ntsRequest(AeadId.AES_SIV_CMAC_512, 2, true),
    ntsRequest(AeadId.AES_128_GCM_SIV, 1, false),
    ...V5_SEEDS(),
    ...seedsWhere(/./, (b) => b.length >= 48),
  ],
  run(input) {
    for (const c of cores) {
      for (const address of ADDRESSES) {
        const d = c.handle(input, input.length, address, RX, out);
        // The finish (T3, the NTS seal) as the socket applies it.
        if (d.action === "reply") finishReply(out, d.finish, TX);
        checkDecision(d, input);
      }
    }
  },
};
