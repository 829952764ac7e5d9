import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ADDON_PATH, loadAddon } from "./addon.js";
import {
  adjtimeRead,
  clockReader,
  createFallbackClockReader,
  createNativeClockReader,
  readMonotonic,
  readRealtime,
  readTai,
  timespecDiffSeconds,
  timespecToNs,
  type ClockReader,
  type Timespec,
} from "./clock.js";

const { addon, reason } = loadAddon();
const noAddon = addon ? false : `addon not loaded: ${reason}`;

function msOf(t: Timespec): number {
  return t.sec * 1000 + t.nsec / 1e6;
}

function assertTimespec(t: Timespec): void {
  assert.ok(Number.isInteger(t.sec) && t.sec >= 0, `sec ${t.sec}`);
  assert.ok(Number.isInteger(t.nsec) && t.nsec >= 0 && t.nsec < 1e9, `nsec ${t.nsec}`);
}

function readerContract(name: string, make: () => ClockReader, skip: string | false): void {
  void describe(name, { skip }, () => {
    void it("realtime agrees with Date.now() within 50 ms", () => {
      const r = make();
      for (let i = 0; i < 5; i++) {
        const before = Date.now();
        const t = r.readRealtime();
        const after = Date.now();
        assertTimespec(t);
        assert.ok(msOf(t) >= before - 50 && msOf(t) <= after + 50, `${msOf(t)} vs ${before}`);
      }
    });

    void it("monotonic and realtime never go backwards over 10k reads", () => {
      const r = make();
      let m = timespecToNs(r.readMonotonic());
      let w = timespecToNs(r.readRealtime());
      const deadline = Date.now() + 1000;
      for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
        const m2 = timespecToNs(r.readMonotonic());
        const w2 = timespecToNs(r.readRealtime());
        assert.ok(m2 >= m, "monotonic went backwards");
        // The system clock could in principle be stepped by someone else; 1 ms slack.
        assert.ok(w2 >= w - 1_000_000n, "realtime went backwards");
        m = m2;
        w = w2;
      }
    });

    void it("monotonic advances like Date.now() over 20 ms", async () => {
      const r = make();
      const m0 = r.readMonotonic();
      const d0 = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 20));
      const dm = timespecDiffSeconds(r.readMonotonic(), m0) * 1000;
      const dd = Date.now() - d0;
      assert.ok(Math.abs(dm - dd) < 5, `monotonic ${dm} ms vs Date ${dd} ms`);
    });

    void it("fills and returns the object it is given", () => {
      const r = make();
      const out: Timespec = { sec: 0, nsec: 0 };
      assert.equal(r.readRealtime(out), out);
      assertTimespec(out);
      assert.equal(r.readMonotonic(out), out);
      assertTimespec(out);
    });
  });
}

readerContract("clock reader: addon", () => createNativeClockReader(addon!), noAddon);
readerContract(
  "clock reader: fallback (hrtime anchored to Date)",
  createFallbackClockReader,
  false,
);

describe("clock: addon specifics", { skip: noAddon }, () => {
  it("the fallback anchor is within 3 ms of CLOCK_REALTIME", () => {
    const native = createNativeClockReader(addon!);
    const fallback = createFallbackClockReader();
    const diff = timespecDiffSeconds(fallback.readRealtime(), native.readRealtime());
    assert.ok(Math.abs(diff) < 0.003, `fallback - native = ${diff} s`);
  });

  it("TAI = REALTIME + the kernel's TAI offset", () => {
    const r = createNativeClockReader(addon!);
    const tai = r.readTai();
    const rt = r.readRealtime();
    assert.ok(tai !== null);
    assertTimespec(tai);
    const offset = r.adjtimeRead()!.tai;
    assert.ok(Math.abs(timespecDiffSeconds(tai, rt) - offset) < 0.01);
  });

  it("adjtimeRead returns sane timex fields and changes nothing", () => {
    const a = adjtimeRead();
    assert.ok(a !== null);
    assert.ok([0, 1, 2, 3, 4, 5].includes(a.state), `state ${a.state}`);
    for (const k of ["offset", "freq", "maxerror", "esterror", "status", "constant"] as const) {
      assert.ok(Number.isInteger(a[k]), `${k} = ${a[k]}`);
    }
    assert.ok(a.maxerror >= 0 && a.esterror >= 0);
    assert.ok(a.tick > 0 && a.tick <= 1_000_000, `tick ${a.tick}`);
    assert.ok(a.tolerance > 0, `tolerance ${a.tolerance}`);
    assert.ok(a.precision >= 0);
    assert.ok(Math.abs(a.freqPpm) <= 512, `freq ${a.freqPpm} ppm`);
    assert.equal(a.freqPpm, a.freq / 65536);
    assert.equal(a.unsynchronized, (a.status & 0x40) !== 0);
    assert.ok(Math.abs(a.offsetSeconds) < 1);
    const b = adjtimeRead()!;
    assert.equal(b.freq, a.freq);
    assert.equal(b.status, a.status);
    assert.equal(b.tick, a.tick);
  });

  it("clockGettime fills clockBuffer and rejects unknown clocks", () => {
    const buf = addon!.clockBuffer;
    addon!.clockGettime(addon!.CLOCK_MONOTONIC);
    const m = { sec: buf[0]!, nsec: buf[1]! };
    assertTimespec(m);
    addon!.clockGettime(addon!.CLOCK_REALTIME);
    assert.ok(Math.abs(buf[0]! * 1000 + buf[1]! / 1e6 - Date.now()) < 50);
    assert.throws(() => addon!.clockGettime(4 /* CLOCK_MONOTONIC_RAW */), {
      code: "ERR_INVALID_ARG_VALUE",
    });
    assert.throws(() => (addon!.clockGettime as () => void)(), { code: "ERR_INVALID_ARG_VALUE" });
  });

  it("each worker thread gets its own clockBuffer", async () => {
    const { Worker } = await import("node:worker_threads");
    const code = `
      const { parentPort } = require("node:worker_threads");
      const a = require(${JSON.stringify(ADDON_PATH)});
      a.clockGettime(a.CLOCK_REALTIME);
      parentPort.postMessage([a.clockBuffer[0], a.clockBuffer[1]]);
    `;
    addon!.clockGettime(addon!.CLOCK_MONOTONIC);
    const mine = addon!.clockBuffer[0]!;
    const w = new Worker(code, { eval: true });
    const [sec] = await new Promise<number[]>((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
    });
    await w.terminate();
    assert.ok(Math.abs(sec! - Date.now() / 1000) < 2);
    assert.equal(addon!.clockBuffer[0], mine); // untouched by the worker
  });
});

describe("clock: module functions", () => {
  it("use the addon when it is loaded, else the fallback", () => {
    assert.equal(clockReader().kind, addon ? "addon" : "fallback");
    assertTimespec(readRealtime());
    assertTimespec(readMonotonic());
    if (addon) {
      assert.ok(readTai() !== null);
      assert.ok(adjtimeRead() !== null);
    } else {
      assert.equal(readTai(), null);
      assert.equal(adjtimeRead(), null);
    }
  });

  it("the fallback has no TAI and no adjtime", () => {
    const r = createFallbackClockReader();
    assert.equal(r.readTai(), null);
    assert.equal(r.adjtimeRead(), null);
  });

  it("converts", () => {
    assert.equal(
      timespecToNs({ sec: 1_795_000_000, nsec: 123_456_789 }),
      1_795_000_000_123_456_789n,
    );
    assert.equal(timespecDiffSeconds({ sec: 10, nsec: 0 }, { sec: 9, nsec: 500_000_000 }), 0.5);
  });
});
