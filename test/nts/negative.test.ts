// Hostile NTS requests against a running server daemon on loopback. After a
// real NTS-KE (our NTS-KE client code, for the keys and cookies), requests
// are assembled by hand here from the NTS field writers
// (header ‖ Unique Identifier ‖ Cookie ‖ Authenticator) and then broken:
//
//   * a cookie under a key id the server does not have: one minted with the
//     real C2S/S2C keys under another key set, and a real cookie whose key
//     id was rewritten (so only the key id is wrong in each);
//   * a tampered authenticator: a flipped bit in its tag, in its nonce, and
//     in the authenticated header after sealing.
//
// Each must get an NTS NAK (RFC 8915 §5.7: mode 4, stratum 0, kiss code
// NTSN, our Unique Identifier echoed, no authenticator), and the server must
// keep answering: a plain request after every NAK, and a good NTS request
// (authenticated reply) at the start and at the end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { performKeyExchange, TrustStore } from "../../src/daemon/nts-ke-client.js";
import type { AeadCipher, AeadId } from "../../src/proto/crypto/aead.js";
import { createAead } from "../../src/proto/crypto/registry.js";
import { encodeCookie } from "../../src/proto/nts/cookie/cookie.js";
import { KeySet } from "../../src/proto/nts/keyset/keyset.js";
import {
  AuthenticatorView,
  NtsFieldType,
  UNIQUE_IDENTIFIER_LENGTH,
  authenticatorFieldLength,
  cookieFieldLength,
  openAuthenticator,
  readAuthenticator,
  uniqueIdentifierFieldLength,
  writeAuthenticator,
  writeCookie,
  writeUniqueIdentifier,
} from "../../src/proto/nts/packet/fields.js";
import { parsePacket } from "../../src/proto/packet/parse.js";
import type { NtpPacket } from "../../src/proto/packet/types.js";
import { ntsServerConfig } from "../helpers/nts-daemon.js";
import { ntpQuery } from "../helpers/ntp-probe.js";
import { makeTestPki } from "../helpers/pki.js";
import { freePort, freeUdpPort } from "../helpers/ports.js";
import { which } from "../helpers/process.js";
import { skipIfMissing } from "../helpers/skip.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitForTcpPort, waitForUdpBound } from "../helpers/wait.js";
import { startDaemon } from "../daemon/run-daemon.js";

const random = (n: number) => new Uint8Array(randomBytes(n));
const EMPTY = new Uint8Array(0);
const HEADER = 48;

interface Request {
  bytes: Uint8Array;
  uid: Uint8Array;
  transmit: Uint8Array;
  /** Offset of the authenticator field. */
  authOffset: number;
}

/** header (v4, mode 3, random transmit time) ‖ UID ‖ Cookie ‖ Authenticator(C2S). */
function buildRequest(cookie: Uint8Array, c2s: AeadCipher): Request {
  const length =
    HEADER +
    uniqueIdentifierFieldLength(UNIQUE_IDENTIFIER_LENGTH) +
    cookieFieldLength(cookie.length, false) +
    authenticatorFieldLength(c2s.nonceLength, c2s.tagLength);
  const bytes = new Uint8Array(length);
  bytes[0] = (0 << 6) | (4 << 3) | 3;
  const transmit = random(8);
  bytes.set(transmit, 40);
  const uid = random(UNIQUE_IDENTIFIER_LENGTH);
  let off = HEADER;
  off += writeUniqueIdentifier(bytes, off, uid);
  off += writeCookie(bytes, off, cookie, false);
  const authOffset = off;
  off += writeAuthenticator(bytes, off, c2s, random(c2s.nonceLength), EMPTY);
  assert.equal(off, length);
  return { bytes, uid, transmit, authOffset };
}

/** Sends one datagram to 127.0.0.1:port and resolves with the reply (or undefined after 2 s). */
function exchange(port: number, request: Uint8Array): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket("udp4");
    const done = (r: Uint8Array | undefined) => {
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(() => done(undefined), 2000);
    sock.on("error", () => done(undefined));
    sock.on("message", (msg) => done(new Uint8Array(msg)));
    sock.connect(port, "127.0.0.1", () => sock.send(request));
  });
}

function parse(reply: Uint8Array): NtpPacket {
  const p = parsePacket(reply);
  assert.ok(p.ok, `reply does not parse: ${JSON.stringify(!p.ok && p.error)}`);
  return p.value;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** The reply answers `req`: mode 4, origin = our transmit time. */
function assertAnswers(reply: Uint8Array, req: Request): void {
  assert.equal(reply[0]! & 7, 4, "mode 4 (server)");
  assert.equal(hex(reply.subarray(24, 32)), hex(req.transmit), "origin timestamp");
}

function uidsOf(packet: NtpPacket): string[] {
  return packet.extensionFields
    .filter((f) => f.type === NtsFieldType.UniqueIdentifier)
    .map((f) => hex(f.value.subarray(0, UNIQUE_IDENTIFIER_LENGTH)));
}

function assertNak(reply: Uint8Array | undefined, req: Request, what: string): void {
  assert.ok(reply, `${what}: no reply at all (expected an NTS NAK)`);
  assertAnswers(reply, req);
  assert.equal(reply[1], 0, `${what}: stratum 0 (kiss)`);
  assert.equal(Buffer.from(reply.subarray(12, 16)).toString("latin1"), "NTSN", `${what}: NTSN`);
  const packet = parse(reply);
  assert.deepEqual(uidsOf(packet), [hex(req.uid)], `${what}: our Unique Identifier echoed`);
  assert.ok(
    !packet.extensionFields.some((f) => f.type === NtsFieldType.Authenticator),
    `${what}: a NAK carries no authenticator`,
  );
}

function assertAuthenticated(
  reply: Uint8Array | undefined,
  req: Request,
  s2c: AeadCipher,
  what: string,
): void {
  assert.ok(reply, `${what}: no reply`);
  assertAnswers(reply, req);
  assert.equal(reply[1], 1, `${what}: stratum 1`);
  const packet = parse(reply);
  assert.deepEqual(uidsOf(packet), [hex(req.uid)], `${what}: UID echoed`);
  const auth = packet.extensionFields.find((f) => f.type === NtsFieldType.Authenticator);
  assert.ok(auth, `${what}: reply has an authenticator`);
  const view = new AuthenticatorView();
  assert.ok(readAuthenticator(reply, auth.offset, auth.value.length, view), `${what}: well-formed`);
  const plaintext = openAuthenticator(reply, view, s2c);
  assert.ok(plaintext !== null, `${what}: authenticator verifies under S2C`);
  assert.ok(plaintext.length > 0, `${what}: a new cookie inside`);
}

async function assertPlainAnswered(port: number, what: string): Promise<void> {
  const r = await ntpQuery(port, "127.0.0.1", 2000);
  assert.ok(r, `plain request after ${what}: no answer`);
  assert.equal(r.mode, 4);
  assert.equal(r.stratum, 1, `plain request after ${what}: stratum`);
}

test(
  "NTS requests with an unknown cookie key id or a tampered authenticator get an NTS NAK; the server keeps serving",
  { timeout: 60_000 },
  async (t) => {
    if (skipIfMissing(t, which("openssl") ? undefined : "openssl is not installed")) return;
    const dir = await makeTempDir("ntpd-ts-nts-negative-");
    try {
      const pki = await makeTestPki(dir);
      const cert = await pki.issue("server", ["127.0.0.1"]);
      const ntpPort = await freeUdpPort();
      const kePort = await freePort();
      const server = await startDaemon(
        dir,
        "server",
        ntsServerConfig({
          ntpPort,
          kePort,
          chainPath: cert.chainPath,
          keyPath: cert.keyPath,
          keyStoragePath: dir.file("nts-keys"),
        }),
      );
      try {
        await server.waitForOutput(/serving NTS-KE/, 30_000);
        await waitForUdpBound(ntpPort);
        await waitForTcpPort(kePort);

        const ke = await performKeyExchange({
          host: "127.0.0.1",
          port: kePort,
          trust: await TrustStore.fromFile(pki.caCertPath),
        });
        assert.equal(ke.ntpPort, ntpPort);
        assert.equal(ke.cookies.length, 8);
        const aead = ke.aead as AeadId;
        const c2s = createAead(aead, ke.c2s);
        const s2c = createAead(aead, ke.s2c);
        const cookies = [...ke.cookies];
        const realCookie = () => {
          const c = cookies.shift();
          assert.ok(c, "enough cookies from the key exchange");
          return c;
        };
        const serverKeyId = new DataView(
          ke.cookies[0]!.buffer,
          ke.cookies[0]!.byteOffset,
        ).getUint32(0);

        // Control: a well-formed request gets an authenticated reply.
        const good = buildRequest(realCookie(), c2s);
        assertAuthenticated(await exchange(ntpPort, good.bytes), good, s2c, "good request");

        // 1a. A cookie minted, with the right keys, under a key set the server does not have.
        const foreignId = (serverKeyId + 0x5eed0000) >>> 0;
        const foreign = KeySet.fromParts({ keys: [random(64)], idOffset: foreignId, primary: 0 });
        const minted = encodeCookie(foreign, { aead, c2s: ke.c2s, s2c: ke.s2c }, random);
        assert.equal(new DataView(minted.buffer).getUint32(0), foreignId);
        const unknownKey = buildRequest(minted, c2s);
        assertNak(
          await exchange(ntpPort, unknownKey.bytes),
          unknownKey,
          "cookie under unknown key id",
        );
        await assertPlainAnswered(ntpPort, "unknown key id");

        // 1b. A real cookie with only its key id changed.
        const renamed = Uint8Array.from(realCookie());
        new DataView(renamed.buffer).setUint32(0, (serverKeyId + 0x1000) >>> 0);
        const renamedReq = buildRequest(renamed, c2s);
        assertNak(
          await exchange(ntpPort, renamedReq.bytes),
          renamedReq,
          "cookie with a rewritten key id",
        );
        await assertPlainAnswered(ntpPort, "rewritten key id");

        // 2. Tampered authenticators (each with an otherwise good cookie).
        const view = new AuthenticatorView();
        const tampers: [string, (r: Request) => void][] = [
          [
            "flipped bit in the authenticator's tag",
            (r) => {
              assert.ok(
                readAuthenticator(r.bytes, r.authOffset, r.bytes.length - r.authOffset - 4, view),
              );
              r.bytes[view.ciphertextOffset + view.ciphertextLength - 1]! ^= 0x01;
            },
          ],
          [
            "flipped bit in the authenticator's nonce",
            (r) => {
              assert.ok(
                readAuthenticator(r.bytes, r.authOffset, r.bytes.length - r.authOffset - 4, view),
              );
              r.bytes[view.nonceOffset]! ^= 0x80;
            },
          ],
          [
            "header changed after sealing (associated data)",
            (r) => {
              r.bytes[2] = 10; // poll
            },
          ],
        ];
        for (const [what, tamper] of tampers) {
          const req = buildRequest(realCookie(), c2s);
          tamper(req);
          assertNak(await exchange(ntpPort, req.bytes), req, what);
          await assertPlainAnswered(ntpPort, what);
        }

        // And NTS itself still works after all that.
        const again = buildRequest(realCookie(), c2s);
        assertAuthenticated(
          await exchange(ntpPort, again.bytes),
          again,
          s2c,
          "good request at the end",
        );

        assert.equal(server.exitStatus(), undefined, `server still running:\n${server.output()}`);
        assert.doesNotMatch(server.output(), /\bERROR\b/);
        const status = await server.stop();
        assert.equal(status.code, 0, `server exit:\n${server.output()}`);
      } finally {
        await server.stop();
      }
    } finally {
      await dir.cleanup();
    }
  },
);
