// T3 last (issue #8): handle() lays the reply out completely but for T3 and the
// NTS seal; finishReply() stamps T3 (never before T2) and then seals, and the
// result is what NTS clients verify. Kiss-o'-death replies carry no T3.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AeadId, type RekeyableAeadCipher } from "../crypto/aead.js";
import { aeadKeyLength } from "../crypto/registry.js";
import { decodeHeader, encodeHeader } from "../packet/header.js";
import { kissCode } from "../packet/kiss.js";
import { NtpSource } from "../source/source.js";
import { NtpTimestamp } from "../time.js";
import { encodeCookie } from "../nts/cookie/cookie.js";
import { CookieStash } from "../nts/cookie/stash.js";
import { KeySet } from "../nts/keyset/keyset.js";
import { NtsProtector } from "../nts/packet/client-protector.js";
import { finishReply, FinishStep, ReplyFinish, TRANSMIT_OFFSET } from "./finish.js";
import type { ServerPolicy } from "./policy.js";
import { cidrs } from "../../../test/helpers/cidr.js";
import { NtpServerCore } from "./server.js";
import { initialSystemState, SystemStateCell } from "../system/system-state.js";

const RX = new NtpTimestamp(0xe84948b2, 0xb640d701);
const TX = new NtpTimestamp(0xe84948b2, 0xb644bff8);
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Deterministic octets (xorshift32) that log each call to `events`. */
function loggedRandom(events: string[], seed = 0x9e3779b9): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    events.push("random");
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
}

const KEYS = KeySet.fromParts({
  keys: [0, 1].map((i) => new Uint8Array(64).fill(0x30 + i)),
  idOffset: 7,
  primary: 1,
});

function core(events: string[], policy: Partial<ServerPolicy> = {}): NtpServerCore {
  return new NtpServerCore({
    policy,
    systemState: new SystemStateCell({ ...initialSystemState(), stratum: 2, leap: 0 }),
    rateLimitSeed: 3,
    keySet: { current: () => KEYS },
    random: loggedRandom(events),
  });
}

/** An NTS client of `KEYS` (two cookies in its stash) and its session keys. */
function client(aead: AeadId, seed = 1) {
  const k = aeadKeyLength(aead)!;
  const keys = { aead, c2s: new Uint8Array(k).fill(seed), s2c: new Uint8Array(k).fill(seed + 9) };
  const stash = new CookieStash();
  const random = loggedRandom([], seed);
  stash.add(encodeCookie(KEYS, keys, random));
  stash.add(encodeCookie(KEYS, keys, random));
  const source = new NtpSource({
    random: loggedRandom([], seed + 1),
    protector: new NtsProtector({ ...keys, stash, random: loggedRandom([], seed + 2) }),
  });
  return { keys, stash, source };
}

/** `cipher` with sealInto() logged (and the T3 it finds in the associated data). */
function loggedCipher(cipher: RekeyableAeadCipher, events: string[]): RekeyableAeadCipher {
  return {
    id: cipher.id,
    keyLength: cipher.keyLength,
    nonceLength: cipher.nonceLength,
    tagLength: cipher.tagLength,
    seal: (nonce, ad, plaintext) => cipher.seal(nonce, ad, plaintext),
    open: (nonce, ad, ciphertext) => cipher.open(nonce, ad, ciphertext),
    sealInto(nonce, nonceOff, nonceLen, ad, adOff, adLen, pt, ptOff, ptLen, out, outOff) {
      const t3 = ad.subarray(adOff + TRANSMIT_OFFSET, adOff + TRANSMIT_OFFSET + 8);
      events.push(`seal, T3 in AD ${toHex(t3)}`);
      return cipher.sealInto(
        nonce,
        nonceOff,
        nonceLen,
        ad,
        adOff,
        adLen,
        pt,
        ptOff,
        ptLen,
        out,
        outOff,
      );
    },
    openInto: (...args) => cipher.openInto(...args),
    setKey: (key, offset) => cipher.setKey(key, offset),
    clearKey: () => cipher.clearKey(),
  };
}

for (const aead of [AeadId.AES_SIV_CMAC_256, AeadId.AES_SIV_CMAC_512, AeadId.AES_128_GCM_SIV]) {
  test(`NTS (AEAD ${aead}): all randomness and cookie work in handle(); the finish stamps T3, then seals; the client verifies it`, () => {
    const events: string[] = [];
    const server = core(events);
    const { source, stash } = client(aead);
    const poll = source.poll(RX.addSeconds(-0.01));
    assert.ok(poll.kind === "request");
    source.sent(RX.addSeconds(-0.01));
    const out = new Uint8Array(2048).fill(0xee);
    const d = server.handle(poll.request, poll.request.length, "192.0.2.1", RX, out);
    assert.equal(d.action, "reply");
    assert.equal(d.kind, "time");
    assert.ok(d.length <= poll.request.length, "never larger than the request");
    const f = d.finish;
    assert.equal(f.kind, FinishStep.Stamp | FinishStep.Seal);
    assert.equal(f.keyLength, aeadKeyLength(aead));
    assert.ok(events.length >= 2, "new cookies and the reply nonce drew randomness");
    assert.deepEqual(
      events.filter((e) => e !== "random"),
      [],
    );
    const laidOut = out.slice(0, d.length);
    assert.equal(toHex(laidOut.subarray(40, 48)), "0000000000000000", "no T3 yet");

    f.cipher = loggedCipher(f.cipher!, events);
    events.push("clock");
    finishReply(out, f, TX);
    const reply = out.slice(0, d.length);
    assert.deepEqual(events.slice(-2), [
      "clock",
      `seal, T3 in AD ${toHex(reply.subarray(40, 48))}`,
    ]);
    assert.equal(decodeHeader(reply).transmitTimestamp.toBits(), TX.toBits());
    assert.equal(f.kind, 0, "the finish is used up");
    assert.equal(f.keyLength, 0);
    assert.ok(
      f.key.every((b) => b === 0),
      "the S2C key is overwritten",
    );
    // Only T3 and the sealed part of the authenticator changed.
    const sealedFrom = Math.min(f.textOffset, f.tagOffset);
    assert.equal(toHex(reply.subarray(0, 40)), toHex(laidOut.subarray(0, 40)));
    assert.equal(toHex(reply.subarray(48, sealedFrom)), toHex(laidOut.subarray(48, sealedFrom)));

    const before = stash.count;
    const event = source.handleResponse(reply, reply.length, RX.addSeconds(0.01));
    assert.equal(event.kind, "measurement", JSON.stringify(event));
    assert.ok(event.kind === "measurement" && event.measurement.t3.equals(TX));
    assert.ok(stash.count > before, "the new cookies decrypt");
  });
}

test("plain: handle() leaves T3 to the finish; T3 never goes before the reply's T2 (wrapping compare)", () => {
  const server = core([]);
  const request = new Uint8Array(48);
  request[0] = 0x23;
  const out = new Uint8Array(64);
  const stamp = (t3: NtpTimestamp, rx = RX): NtpTimestamp => {
    const d = server.handle(request, 48, "192.0.2.1", rx, out);
    assert.equal(d.action, "reply");
    assert.equal(d.finish.kind, FinishStep.Stamp);
    assert.equal(d.finish.cipher, null);
    assert.equal(toHex(out.subarray(40, 48)), "0000000000000000");
    finishReply(out, d.finish, t3);
    // Our T2 has its lowest bit set, our T3 cleared (interleaved mode's mark).
    assert.equal(decodeHeader(out).receiveTimestamp.toBits(), rx.toBits() | 1n);
    return decodeHeader(out).transmitTimestamp;
  };
  const T2 = RX.toBits() | 1n;
  assert.equal(stamp(TX).toBits(), TX.toBits() & ~1n);
  assert.equal(stamp(new NtpTimestamp(TX.seconds, TX.fraction | 1)).toBits(), TX.toBits() & ~1n);
  assert.equal(stamp(RX).toBits(), T2);
  // The clock was stepped back since T2: T3 = T2.
  assert.equal(stamp(RX.addSeconds(-1e-9)).toBits(), T2);
  assert.equal(stamp(RX.addSeconds(-10)).toBits(), T2);
  // Across the 2036 era rollover the later instant has the smaller seconds.
  const endOfEra = new NtpTimestamp(0xffffffff, 0xf0000000);
  const nextEra = new NtpTimestamp(0, 0x10000000);
  assert.equal(stamp(nextEra, endOfEra).toBits(), nextEra.toBits());
  assert.equal(stamp(endOfEra, nextEra).toBits(), nextEra.toBits() | 1n);
});

test("kiss-o'-death replies carry no T3: DENY and NAK are complete after handle(); an NTS DENY is only sealed", () => {
  const events: string[] = [];
  const denied = core(events, { denylist: { filter: cidrs("192.0.2.0/24"), action: "deny" } });
  const out = new Uint8Array(2048);
  // A plain DENY.
  const plain = new Uint8Array(48);
  encodeHeader(
    { ...decodeHeader(new Uint8Array(48)), version: 4, mode: 3, transmitTimestamp: TX },
    plain,
  );
  let d = denied.handle(plain, 48, "192.0.2.1", RX, out);
  assert.equal(d.kind, "deny");
  assert.equal(d.finish.kind, 0);
  let before = out.slice(0, d.length);
  finishReply(out, d.finish, TX);
  assert.deepEqual(out.slice(0, d.length), before, "untouched by the finish");

  // An NTS NAK: a cookie the server cannot open.
  const server = core(events);
  const forged = new CookieStash();
  forged.add(new Uint8Array(104).fill(2));
  const nakClient = new NtpSource({
    random: loggedRandom([], 9),
    protector: new NtsProtector({
      aead: AeadId.AES_SIV_CMAC_256,
      c2s: new Uint8Array(32).fill(1),
      s2c: new Uint8Array(32).fill(2),
      stash: forged,
      random: loggedRandom([], 10),
    }),
  });
  const nakPoll = nakClient.poll(RX);
  assert.ok(nakPoll.kind === "request");
  d = server.handle(nakPoll.request, nakPoll.request.length, "192.0.2.1", RX, out);
  assert.equal(d.kind, "nak");
  assert.equal(d.finish.kind, 0);
  before = out.slice(0, d.length);
  finishReply(out, d.finish, TX);
  assert.deepEqual(out.slice(0, d.length), before, "untouched by the finish");

  // An NTS-signed DENY: sealed, T3 stays zero; the client verifies it and demobilizes.
  const { source: deniedClient } = client(AeadId.AES_SIV_CMAC_512, 7);
  const poll = deniedClient.poll(RX);
  assert.ok(poll.kind === "request");
  deniedClient.sent(RX);
  d = denied.handle(poll.request, poll.request.length, "192.0.2.1", RX, out);
  assert.equal(d.kind, "deny");
  assert.equal(d.nts, true);
  assert.equal(d.finish.kind, FinishStep.Seal);
  finishReply(out, d.finish, TX);
  const reply = out.slice(0, d.length);
  assert.equal(kissCode(decodeHeader(reply)), "DENY");
  assert.equal(toHex(reply.subarray(40, 48)), "0000000000000000", "no T3 in a kiss");
  const event = deniedClient.handleResponse(reply, reply.length, RX);
  assert.equal(event.kind === "kiss" ? event.action : event.kind, "demobilize");
});

test("a drop clears the finish of the request before it", () => {
  const server = core([]);
  const { source } = client(AeadId.AES_SIV_CMAC_256, 11);
  const poll = source.poll(RX);
  assert.ok(poll.kind === "request");
  const out = new Uint8Array(2048);
  const d = server.handle(poll.request, poll.request.length, "192.0.2.1", RX, out);
  assert.equal(d.finish.kind, FinishStep.Stamp | FinishStep.Seal);
  assert.ok(d.finish.key.some((b) => b !== 0));
  const again = server.handle(new Uint8Array(48), 48, "192.0.2.1", RX, out); // mode 0: dropped
  assert.equal(again, d, "one reused decision");
  assert.equal(again.action, "drop");
  assert.equal(again.finish.kind, 0);
  assert.ok(again.finish.key.every((b) => b === 0));
});

test("ReplyFinish.clear() forgets the cipher and overwrites the key", () => {
  const f = new ReplyFinish();
  f.kind = FinishStep.Seal;
  f.key.fill(7);
  f.keyLength = 32;
  f.clear();
  assert.equal(f.kind, 0);
  assert.equal(f.cipher, null);
  assert.equal(f.keyLength, 0);
  assert.ok(f.key.every((b) => b === 0));
});
