// Replies finished at the wire by the addon's socket (issue #8): the handler lays the
// reply out, describes the finish (NativeReplyFinish), and the socket stamps T3 from
// CLOCK_REALTIME and seals right before sendmmsg. Over loopback: T2 <= T3 <= the
// client's kernel receive time, NTS replies verify with our client code, nothing of
// the key stays in the shared description, a reply longer than a queue slot is
// finished the same way, and a description that does not fit its reply is refused.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { afterEach, describe, it } from "node:test";
import { AeadId } from "../../proto/crypto/aead.js";
import { aeadKeyLength } from "../../proto/crypto/registry.js";
import { decodeHeader, writeTimestamp } from "../../proto/packet/header.js";
import { encodeCookie } from "../../proto/nts/cookie/cookie.js";
import { CookieStash } from "../../proto/nts/cookie/stash.js";
import { KeySet } from "../../proto/nts/keyset/keyset.js";
import { NtsProtector } from "../../proto/nts/packet/client-protector.js";
import { finishReply, FinishStep, ReplyFinish } from "../../proto/server/finish.js";
import { NtpServerCore } from "../../proto/server/server.js";
import { initialSystemState, SystemStateCell } from "../../proto/system/system-state.js";
import { NtpSource } from "../../proto/source/source.js";
import { NtpTimestamp } from "../../proto/time.js";
import { ADDON_PATH, loadAddon } from "./addon.js";
import { readRealtime } from "./clock.js";
import { NativeReplyFinish, REPLY_FINISH_BYTES } from "./reply-finish.js";
import { createUdpSocket, type TimestampedUdpSocket, type UdpError } from "./udp.js";
import { waitFor } from "./udp.contract.js";

const { addon, reason } = loadAddon();
const noAddon = addon ? false : `addon not loaded: ${reason}`;

const KEYS = KeySet.fromParts({
  keys: [0, 1].map((i) => new Uint8Array(64).fill(0x40 + i)),
  idOffset: 3,
  primary: 1,
});

/** Fresh octets each call (the core copies them at once). */
const random = (n: number): Uint8Array =>
  Uint8Array.from({ length: n }, () => (Math.random() * 256) | 0);

interface Times {
  /** What the client made of the reply: "measurement" when it verified and was used. */
  kind: string;
  t2: NtpTimestamp;
  t3: NtpTimestamp;
  /** The client's kernel receive time. */
  t4: NtpTimestamp;
}

function realtime(): NtpTimestamp {
  const t = readRealtime();
  return NtpTimestamp.fromUnix(t.sec, t.nsec);
}

describe("replies finished at the wire (addon)", { skip: noAddon }, () => {
  const open: TimestampedUdpSocket[] = [];
  const make = (options = {}) => {
    const s = createUdpSocket(4, { ...options, implementation: "addon" });
    open.push(s);
    return s;
  };
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });

  /**
   * A server socket answering with the real core, finishing at the wire where the
   * addon can (else with finishReply, as ServerTask does). `seen` gets, after each
   * handler call, whether the shared description still holds any key octet.
   */
  const serve = async (options = {}) => {
    const server = make(options);
    await server.bind("127.0.0.1", 0);
    const core = new NtpServerCore({
      systemState: new SystemStateCell({ ...initialSystemState(), stratum: 2, leap: 0 }),
      keySet: { current: () => KEYS },
    });
    const reply = new Uint8Array(1024);
    const wire = new NativeReplyFinish();
    const keyLeft: boolean[] = [];
    const errors: UdpError[] = [];
    server.onError((e) => errors.push(e));
    server.onRequest(
      (data, length, address, _port, rxSec, rxNsec) => {
        // What the previous reply left in the description once the addon took it.
        keyLeft.push(wire.bytes.subarray(32).some((b) => b !== 0));
        const d = core.handle(data, length, address, NtpTimestamp.fromUnix(rxSec, rxNsec), reply);
        if (d.action !== "reply") return 0;
        if (!wire.take(d.finish)) finishReply(reply, d.finish, realtime());
        return d.length;
      },
      reply,
      wire.bytes,
    );
    return { server, core, wire, keyLeft, errors };
  };

  /**
   * `count` NTP sources (NTS with `aead`, else plain; a function: per source) polling
   * `port` from one socket.
   */
  const clients = async (
    port: number,
    count: number,
    aeadOf?: AeadId | ((i: number) => AeadId | undefined),
  ) => {
    const socket = make();
    await socket.bind("127.0.0.1", 0);
    await socket.connect("127.0.0.1", port);
    const sources = Array.from({ length: count }, (_, i) => {
      const aead = typeof aeadOf === "function" ? aeadOf(i) : aeadOf;
      if (aead === undefined) return new NtpSource({ random });
      const k = aeadKeyLength(aead)!;
      const keys = {
        aead,
        c2s: new Uint8Array(k).fill(i + 1),
        s2c: new Uint8Array(k).fill(i + 100),
      };
      const stash = new CookieStash();
      stash.add(encodeCookie(KEYS, keys, random));
      stash.add(encodeCookie(KEYS, keys, random));
      return new NtpSource({ random, protector: new NtsProtector({ ...keys, stash, random }) });
    });
    /** The source of each request in flight, by its transmit timestamp (the reply's origin). */
    const asked = new Map<bigint, NtpSource>();
    const results: Times[] = [];
    socket.onMessage((data, length, _a, _p, sec, nsec) => {
      const t4 = NtpTimestamp.fromUnix(sec, nsec);
      const bytes = Uint8Array.from(data.subarray(0, length));
      const header = decodeHeader(bytes);
      const source = asked.get(header.originTimestamp.toBits());
      assert.ok(source, "a reply to a request of ours");
      const event = source.handleResponse(bytes, length, t4);
      results.push({
        kind: event.kind,
        t2: header.receiveTimestamp,
        t3: header.transmitTimestamp,
        t4,
      });
    });
    /** Sends one request per source, back to back (one receive batch at the server). */
    const pollAll = () => {
      for (const source of sources) {
        const now = realtime();
        const p = source.poll(now);
        assert.ok(p.kind === "request");
        asked.set(decodeHeader(p.request).transmitTimestamp.toBits(), source);
        socket.send(p.request);
        source.sent(now);
      }
    };
    return { pollAll, results };
  };

  const checkTimes = (results: Times[]) => {
    for (const r of results) {
      assert.equal(r.kind, "measurement", "the reply verifies and is used");
      assert.ok(r.t3.diffSeconds(r.t2) >= 0, `T3 ${r.t3.toBits()} before T2 ${r.t2.toBits()}`);
      assert.ok(r.t4.diffSeconds(r.t3) >= 0, `T4 ${r.t4.toBits()} before T3 ${r.t3.toBits()}`);
    }
  };

  for (const [name, aead] of [
    ["plain", undefined],
    ["NTS AEAD 15", AeadId.AES_SIV_CMAC_256],
    ["NTS AEAD 17", AeadId.AES_SIV_CMAC_512],
    ["NTS AEAD 30 (finished in JS)", AeadId.AES_128_GCM_SIV],
    ["plain and NTS mixed", (i: number) => (i % 3 === 0 ? undefined : AeadId.AES_SIV_CMAC_512)],
  ] as const) {
    it(`${name}: T2 <= T3 <= T4 for every reply of a batch; NTS replies verify; no key octet stays in the description`, async () => {
      const { server, core, keyLeft, errors } = await serve({ sendBatchSize: 4 });
      const { pollAll, results } = await clients(server.localAddress().port, 11, aead);
      for (let round = 0; round < 3; round++) {
        pollAll();
        await waitFor(() => results.length === 11 * (round + 1));
      }
      checkTimes(results);
      assert.equal(core.stats.acceptedPackets, 33);
      if (typeof aead === "number") assert.equal(core.stats.ntsAcceptedPackets, 33);
      if (typeof aead === "function") assert.equal(core.stats.ntsAcceptedPackets, 21);
      assert.deepEqual(errors, []);
      assert.ok(keyLeft.length === 33 && keyLeft.every((left) => !left));
    });
  }

  it("T3 is held at the reply's T2 when the clock reads earlier (as after a step back)", async () => {
    const server = make();
    await server.bind("127.0.0.1", 0);
    const reply = new Uint8Array(48);
    const wire = new NativeReplyFinish();
    const future = realtime().addSeconds(3600);
    server.onRequest(
      () => {
        reply.fill(0);
        reply[0] = 0x24;
        writeTimestamp(reply, 32, future);
        const finish = new ReplyFinish();
        finish.kind = FinishStep.Stamp;
        assert.ok(wire.take(finish));
        return 48;
      },
      reply,
      wire.bytes,
    );
    const client = make();
    await client.bind("127.0.0.1", 0);
    await client.connect("127.0.0.1", server.localAddress().port);
    const got: Uint8Array[] = [];
    client.onMessage((d, l) => {
      got.push(Uint8Array.from(d.subarray(0, l)));
    });
    client.send(new Uint8Array(48));
    await waitFor(() => got.length === 1);
    assert.ok(decodeHeader(got[0]!).transmitTimestamp.equals(future));
  });

  it("a reply longer than a queue slot is finished (stamped and sealed) before its sendto", async () => {
    // An NTS reply laid out by the core beforehand, sent in answer to a 48-octet
    // trigger by a socket whose slots (64 octets) are shorter than it.
    const core = new NtpServerCore({
      systemState: new SystemStateCell({ ...initialSystemState(), stratum: 2, leap: 0 }),
      keySet: { current: () => KEYS },
    });
    const k = aeadKeyLength(AeadId.AES_SIV_CMAC_256)!;
    const keys = {
      aead: AeadId.AES_SIV_CMAC_256,
      c2s: new Uint8Array(k).fill(1),
      s2c: new Uint8Array(k).fill(2),
    };
    const stash = new CookieStash();
    stash.add(encodeCookie(KEYS, keys, random));
    const source = new NtpSource({
      random,
      protector: new NtsProtector({ ...keys, stash, random }),
    });
    const t1 = realtime();
    const poll = source.poll(t1);
    assert.ok(poll.kind === "request");
    source.sent(t1);
    const laidOut = new Uint8Array(1024);
    const d = core.handle(poll.request, poll.request.length, "127.0.0.1", realtime(), laidOut);
    assert.ok(d.action === "reply" && d.length > 64 && d.finish.kind === 3);

    const server = make({ maxDatagramSize: 64 });
    await server.bind("127.0.0.1", 0);
    const reply = new Uint8Array(1024);
    const wire = new NativeReplyFinish();
    server.onRequest(
      () => {
        reply.set(laidOut.subarray(0, d.length));
        assert.ok(wire.take(d.finish));
        return d.length;
      },
      reply,
      wire.bytes,
    );
    const client = make();
    await client.bind("127.0.0.1", 0);
    await client.connect("127.0.0.1", server.localAddress().port);
    const results: Times[] = [];
    client.onMessage((data, length, _a, _p, sec, nsec) => {
      const t4 = NtpTimestamp.fromUnix(sec, nsec);
      const bytes = Uint8Array.from(data.subarray(0, length));
      const h = decodeHeader(bytes);
      const event = source.handleResponse(bytes, length, t4);
      results.push({ kind: event.kind, t2: h.receiveTimestamp, t3: h.transmitTimestamp, t4 });
    });
    client.send(new Uint8Array(48));
    await waitFor(() => results.length === 1);
    checkTimes(results);
  });

  it("a description that does not fit its reply is an uncaught RangeError and the reply is not sent", () => {
    const script = `
      const a = require(${JSON.stringify(ADDON_PATH)});
      const errors = [], got = [];
      process.on("uncaughtException", (e) => { errors.push(e.code); });
      const rx = new a.UdpSocket(4); rx.bind("127.0.0.1", 0);
      const reply = new Uint8Array(48);
      const finish = new Uint8Array(${REPLY_FINISH_BYTES});
      const words = new Uint16Array(finish.buffer, 0, 16);
      rx.setOnMessage((d, l) => {
        const t = Buffer.from(d.subarray(0, l)).toString();
        words.fill(0);
        // stamp: T3 at 40, T2 at 32; "bad": T3 beyond the 48-octet reply.
        words[0] = 1; words[1] = t === "bad" ? 44 : 40; words[2] = 32;
        // T2: a second ago (NTP seconds), as a real reply would carry.
        new DataView(reply.buffer).setUint32(32, Math.floor(Date.now() / 1000) + 2208988800 - 1);
        if (t === "key") { words[10] = 32; finish.fill(7, 32, 64); }
        return 48;
      }, reply, finish);
      const tx = new a.UdpSocket(4); tx.bind("127.0.0.1", 0);
      tx.setOnMessage((d, l) => { got.push(Buffer.from(d.subarray(0, l)).readUInt32BE(40)); });
      tx.connect("127.0.0.1", rx.localAddress().port);
      for (const t of ["bad", "key", "fine"]) tx.send(Buffer.from(t));
      setTimeout(() => {
        const left = finish.subarray(32).some((b) => b !== 0);
        console.log(JSON.stringify({ errors, got: got.length, nonzeroT3: got.every((s) => s !== 0), left }));
        rx.close(); tx.close();
      }, 200);
    `;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    // "bad" (T3 outside the reply) and "key" (a key without a seal) are refused; "fine" is stamped.
    assert.deepEqual(JSON.parse(r.stdout), {
      errors: ["ERR_OUT_OF_RANGE", "ERR_OUT_OF_RANGE"],
      got: 1,
      nonzeroT3: true,
      left: false,
    });
  });

  it("setOnMessage refuses a finish buffer that is too small or given without a reply buffer", () => {
    const s = make();
    assert.throws(() => s.onRequest(() => 0, new Uint8Array(48), new Uint8Array(8)), {
      code: "ERR_INVALID_ARG_TYPE",
    });
    const dgram = createUdpSocket(4, { implementation: "dgram" });
    try {
      assert.equal(dgram.finishesReplies, false);
      assert.throws(() => dgram.onRequest(() => 0, new Uint8Array(48), new Uint8Array(96)), {
        code: "ERR_INVALID_ARG_TYPE",
      });
    } finally {
      dgram.close();
    }
    assert.equal(s.finishesReplies, true);
  });
});
