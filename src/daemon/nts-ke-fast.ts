// The key exchange fast path of the addon's GnuTLS listener (native/nts_ke_response.h):
// what it is configured with, and the JavaScript answer it must equal.
//
// Per connection, a call into JavaScript (the request copied into a Buffer, decoded into
// records, a decision object, eight cookie seals through Node-API, the response built
// from record objects, then the garbage of all that) cost about a sixth of our CPU per
// key exchange, and made it ~1.2 times chrony's (docs/benchmark.md). So the listener
// answers the one request shape clients send (Next Protocol, AEAD Algorithm, chrony's
// record 1024, unknown non-critical records, End of Message, with a protocol and an AEAD
// the server accepts) itself: it exports the keys, seals the cookies under the master
// key given here and writes the response, and JavaScript only reads a counter. Every
// other request (pool requests, NTP Server Deny, Keep Alive, a Server or Port wish,
// errors, no overlap) still takes the TypeScript path, which stays the one that decides
// them, and the node:tls fallback uses that path for everything.
//
// The fast path is off when the daemon logs at debug (each exchange is logged from
// JavaScript), when several `ntp-server`s share clients round robin, or when the key set
// provider cannot say when it rotates (so that the fast path never seals under a key
// that is no longer the primary one).

import type { KeySet } from "../proto/nts/keyset/keyset.js";
import { aeadKeyLength, keyExportContext } from "../proto/nts/ke/key-export.js";
import { encodeRecords, type KeRecordBody } from "../proto/nts/ke/records.js";
import {
  buildServerResponse,
  protocolsForVersions,
  type KeServerConfig,
  type KeServerDecision,
} from "../proto/nts/ke/server-messages.js";
import type { ChosenNtpServer } from "../proto/nts/ke/ntp-server-choice.js";
import { COOKIE_NONCE_LENGTH, encodeCookie } from "../proto/nts/cookie/cookie.js";
import { MAX_COOKIES } from "../proto/nts/cookie/stash.js";
import type { AeadId, AeadProvider } from "../proto/crypto/aead.js";
import type { NativeNtsKeFastConfig } from "./native/types.js";

/** The C2S and S2C keys of `length` octets for these exporter contexts, from the session. */
export type KeyExporter = (
  length: number,
  c2sContext: Uint8Array,
  s2cContext: Uint8Array,
) => { c2s: Uint8Array; s2c: Uint8Array };

/** The fast path's configuration for a server of `config` sending clients to `server`. */
export function fastPathConfig(
  config: KeServerConfig,
  server: ChosenNtpServer,
  maxMessage: number,
): NativeNtsKeFastConfig {
  const aeads = config.aeadAlgorithms.filter((id) => aeadKeyLength(id) !== undefined);
  const tail: KeRecordBody[] = [];
  if (server.server !== undefined) tail.push({ kind: "server", name: server.server });
  if (server.port !== undefined) tail.push({ kind: "port", port: server.port });
  return {
    protocols: protocolsForVersions(config.acceptNtpVersions),
    aeads,
    keyLengths: aeads.map((id) => aeadKeyLength(id)!),
    tail: tail.length === 0 ? new Uint8Array(0) : encodeRecords(tail),
    cookies: MAX_COOKIES,
    maxMessage,
  };
}

/**
 * The TypeScript answer to a key exchange decision: keys from `exporter`, MAX_COOKIES
 * cookies sealed under `keyset`'s primary key with nonces from `randomBytes` (one call
 * for all of them: a CSPRNG call costs about as much as a seal), the response as
 * buildServerResponse lays it out. The session keys are zeroed after use.
 */
export function keyExchangeResponse(
  decision: Extract<KeServerDecision, { kind: "key-exchange" }>,
  exporter: KeyExporter,
  keyset: KeySet,
  randomBytes: (n: number) => Uint8Array,
  server: ChosenNtpServer,
  aead: AeadProvider,
): Uint8Array {
  const keyLength = aeadKeyLength(decision.aead);
  if (keyLength === undefined) throw new Error(`no key length for AEAD ${decision.aead}`);
  const { c2s, s2c } = exporter(
    keyLength,
    keyExportContext(decision.protocol, decision.exporterContextAead, "c2s"),
    keyExportContext(decision.protocol, decision.exporterContextAead, "s2c"),
  );
  const cookies = mintCookies(keyset, decision.aead, c2s, s2c, randomBytes, aead);
  c2s.fill(0);
  s2c.fill(0);
  return buildServerResponse({
    protocol: decision.protocol,
    aead: decision.aead,
    cookies,
    ...server,
    compliantGcmSivContext: decision.compliantGcmSivContext,
  });
}

/** MAX_COOKIES cookies for these keys, under `keyset`'s primary key. */
export function mintCookies(
  keyset: KeySet,
  aead: number,
  c2s: Uint8Array,
  s2c: Uint8Array,
  randomBytes: (n: number) => Uint8Array,
  provider: AeadProvider,
): Uint8Array[] {
  const nonces = randomBytes(COOKIE_NONCE_LENGTH * MAX_COOKIES);
  let used = 0;
  const nonce = (n: number) => {
    if (used + n > nonces.length) return randomBytes(n);
    const slice = new Uint8Array(nonces.buffer, nonces.byteOffset + used, n);
    used += n;
    return slice;
  };
  const cookies: Uint8Array[] = [];
  for (let i = 0; i < MAX_COOKIES; i++) {
    cookies.push(encodeCookie(keyset, { aead: aead as AeadId, c2s, s2c }, nonce, provider));
  }
  return cookies;
}

/**
 * The key ntsKeFastResponse exports for a 5-octet exporter context (native twin:
 * TestExport in native/nts_ke_response_binding.cc), for tests and the fuzzer.
 */
export function testExportedKey(context: Uint8Array, length: number): Uint8Array {
  const [c0, c1, c2, c3, c4] = context;
  const base = c0! + 3 * c1! + 5 * c2! + 7 * c3! + 11 * c4!;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (base + 13 * i) & 0xff;
  return out;
}

/** testExportedKey as a KeyExporter. */
export const testExporter: KeyExporter = (length, c2sContext, s2cContext) => ({
  c2s: testExportedKey(c2sContext, length),
  s2c: testExportedKey(s2cContext, length),
});
