// NTS set-up for the bench: a throw-away PKI (the server certificate names
// 127.0.0.1, so no /etc/hosts entry is needed), and NTS request templates for
// the C load generator, built from one NTS-KE with the server under test:
//
//   1. performKeyExchange (our NTS-KE client, TLS 1.3) against the server's
//      NTS-KE port gives the AEAD, the C2S/S2C keys and 8 cookies;
//   2. `window` requests are built with NtsProtector, as our NTS source sends
//      them in steady state: header, Unique Identifier, one cookie, no
//      placeholder (7 cookies left in the stash, so one is asked back), and
//      the authenticator. Request i carries cookie i mod 8, its own UID, and a
//      transmit timestamp ending in i (loadgen.c's template mode). Servers are
//      stateless, so replaying the same requests is a fair load;
//   3. every request is sent once and its reply checked by NtsProtector
//      (authenticator verifies under S2C, our UID echoed, a cookie inside),
//      so the load measures real NTS answers, not NAKs or plain replies.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { writeFile } from "node:fs/promises";
import type { AeadId } from "../src/proto/crypto/aead.js";
import { CookieStash } from "../src/proto/nts/cookie/stash.js";
import { NtsProtector } from "../src/proto/nts/packet/client-protector.js";
import { parsePacket } from "../src/proto/packet/parse.js";
import { performKeyExchange, TrustStore } from "../src/daemon/nts-ke-client.js";
import { makeTestPki, type LeafKeyType } from "../test/helpers/pki.js";
import type { TempDir } from "../test/helpers/tmp.js";
import type { NtsCredentials } from "./targets.js";

export interface BenchPki extends NtsCredentials {
  /** The CA certificate (PEM) clients trust. */
  caPath: string;
}

/**
 * A CA (EC P-256) and a server certificate for 127.0.0.1 and localhost whose
 * key is `keyType`: the server signs every handshake with it, so its type
 * weighs on NTS-KE cost (docs/nts.md, "Performance").
 */
export async function makeBenchPki(dir: TempDir, keyType: LeafKeyType = "p256"): Promise<BenchPki> {
  const pki = await makeTestPki(dir);
  const leaf = await pki.issue("server", ["localhost", "127.0.0.1"], { keyType });
  return { chainPath: leaf.chainPath, keyPath: leaf.keyPath, caPath: pki.caCertPath };
}

export interface NtsTemplateOptions {
  host: string;
  kePort: number;
  /** The server's NTP port: the NTS-KE answer must name it (or name none, for 123). */
  ntpPort: number;
  caPath: string;
  /** AEAD to offer (only this one, so every server uses the same). */
  aead: number;
  /** Requests to build (the load generator's window). */
  count: number;
  /** Where to write the requests, back to back. */
  file: string;
}

export interface NtsTemplates {
  file: string;
  count: number;
  requestLength: number;
  replyLength: number;
  aead: number;
  cookies: number;
  cookieLength: number;
  /** Replies that passed NtsProtector.checkResponse (all of them, or this throws). */
  verified: number;
}

const VERIFY_TIMEOUT_MS = 2000;

/** Steps 1-3 above; throws saying what failed. */
export async function buildNtsTemplates(o: NtsTemplateOptions): Promise<NtsTemplates> {
  if (o.count < 1 || o.count > 65536) throw new RangeError(`bad request count ${o.count}`);
  const trust = await TrustStore.fromFile(o.caPath);
  const ke = await performKeyExchange({
    host: o.host,
    port: o.kePort,
    trust,
    aeadAlgorithms: [o.aead],
  });
  if (ke.cookies.length === 0) throw new Error("NTS-KE gave no cookies");
  if (ke.ntpPort !== o.ntpPort) {
    throw new Error(`NTS-KE names NTP port ${ke.ntpPort}, the server listens on ${o.ntpPort}`);
  }
  const random = (n: number) => new Uint8Array(randomBytes(n));
  const protectors: NtsProtector[] = [];
  const requests: Uint8Array[] = [];
  for (let i = 0; i < o.count; i++) {
    const stash = new CookieStash();
    for (let k = 0; k < ke.cookies.length; k++) {
      stash.add(ke.cookies[(i + k) % ke.cookies.length]!);
    }
    const protector = new NtsProtector({
      aead: ke.aead as AeadId,
      c2s: ke.c2s,
      s2c: ke.s2c,
      stash,
      random,
    });
    const header = new Uint8Array(48);
    header[0] = 0x23; // LI 0, VN 4, mode 3
    header.set(randomBytes(6), 40);
    header[46] = i >> 8;
    header[47] = i & 0xff;
    const request = protector.finishRequest(header);
    if (request === null) throw new Error(`cannot build an NTS request: ${protector.lastFailure}`);
    if (requests.length > 0 && request.length !== requests[0]!.length) {
      throw new Error("NTS requests of different lengths (cookies of different sizes)");
    }
    protectors.push(protector);
    requests.push(request);
  }
  const { verified, replyLength } = await verifyReplies(o.host, o.ntpPort, requests, protectors);
  await writeFile(o.file, Buffer.concat(requests));
  return {
    file: o.file,
    count: o.count,
    requestLength: requests[0]!.length,
    replyLength,
    aead: ke.aead,
    cookies: ke.cookies.length,
    cookieLength: ke.cookies[0]!.length,
    verified,
  };
}

/**
 * Sends each request once (a few at a time) and checks each reply with its
 * protector; rejects on the first bad reply or if one stays unanswered.
 */
function verifyReplies(
  host: string,
  port: number,
  requests: readonly Uint8Array[],
  protectors: readonly NtsProtector[],
): Promise<{ verified: number; replyLength: number }> {
  return new Promise((resolve, reject) => {
    const sock = createSocket("udp4");
    const pending = new Set<number>(requests.map((_, i) => i));
    let next = 0;
    let verified = 0;
    let replyLength = 0;
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (error) reject(error);
      else resolve({ verified, replyLength });
    };
    const timer = setTimeout(
      () =>
        finish(
          new Error(
            `${pending.size} of ${requests.length} NTS requests unanswered after ${VERIFY_TIMEOUT_MS} ms`,
          ),
        ),
      VERIFY_TIMEOUT_MS,
    );
    const sendSome = () => {
      // At most 8 outstanding: no drops in the socket buffers.
      while (next < requests.length && next - verified < 8) {
        sock.send(requests[next]!, port, host);
        next++;
      }
    };
    sock.on("error", (e) => finish(e));
    sock.on("message", (msg) => {
      if (msg.length < 48) return finish(new Error(`a ${msg.length}-octet reply`));
      const slot = msg.readUInt16BE(30);
      const request = requests[slot];
      if (!request || !pending.has(slot) || !msg.subarray(24, 32).equals(request.subarray(40, 48)))
        return finish(new Error("a reply whose origin timestamp matches no request"));
      const parsed = parsePacket(msg);
      if (!parsed.ok) return finish(new Error(`unparseable reply: ${parsed.error.message}`));
      const h = parsed.value.header;
      if (h.mode !== 4) return finish(new Error(`reply of mode ${h.mode}`));
      if (h.stratum === 0) {
        const code = msg.subarray(12, 16).toString("latin1");
        return finish(new Error(`kiss-o'-death ${code} instead of an NTS reply`));
      }
      const verdict = protectors[slot]!.checkResponse(parsed.value, msg, msg.length);
      if (!verdict.ok) return finish(new Error(`NTS reply refused: ${verdict.reason}`));
      if (!verdict.authenticated) return finish(new Error("NTS reply not authenticated"));
      pending.delete(slot);
      verified++;
      replyLength = msg.length;
      if (pending.size === 0) finish();
      else sendSome();
    });
    sock.bind(0, "127.0.0.1", () => sendSome());
  });
}
