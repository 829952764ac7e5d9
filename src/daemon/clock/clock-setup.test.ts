// `[clock]` at start-up (clock-setup.ts) and the sockets it gives the sources: each
// timestamp mode's socket options, what real addon sockets then report, the interface
// binding passed to every socket, the translation to a clock device's time
// (translating-socket.ts), and each refusal with the name of what is wrong.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClockConfig, TimestampMode } from "../../proto/config/types.js";
import { spawnSync } from "node:child_process";
import { ADDON_PATH, getAddon } from "../native/addon.js";
import type { Timespec } from "../native/clock.js";
import {
  createUdpSocket,
  type MessageHandler,
  type TimestampedUdpSocket,
  type TxTimestampHandler,
  type UdpFamily,
  type UdpSocketOptions,
} from "../native/udp.js";
import { ClockDevice } from "./clock-device.js";
import { ClockSetupError, setUpClock, type ClockSetupEnvironment } from "./clock-setup.js";
import { effectiveTimestampMode, socketOptionsFor } from "./timestamp-modes.js";
import { TranslatingUdpSocket } from "./translating-socket.js";
import { createLogger, MemorySink, type Logger } from "../log.js";

const noAddon = getAddon() === null ? "the native addon is not built" : false;
const MODES: TimestampMode[] = ["software", "kernel-recv", "kernel-all", "hardware"];

function quietLog(): { log: Logger; warnings: string[] } {
  const sink = new MemorySink();
  return { log: createLogger("warn", sink), warnings: sink.lines };
}

/** A socket that records its options and hands out fixed realtime stamps. */
class RecordingSocket implements TimestampedUdpSocket {
  readonly implementation = "addon";
  readonly finishesReplies = false;
  readonly replyTxTimestamps = false;
  readonly truncatedDatagrams = 0;
  message: MessageHandler | null = null;
  tx: TxTimestampHandler | null = null;
  constructor(
    readonly family: UdpFamily,
    readonly options: UdpSocketOptions,
  ) {}
  get kernelTimestamps(): boolean {
    return this.options.rxTimestamps !== false;
  }
  get txTimestamps(): boolean {
    return this.options.txTimestamps === true;
  }
  get hardwareTimestamps(): boolean {
    return this.options.hardwareTimestamps === true;
  }
  bind(): Promise<void> {
    return Promise.resolve();
  }
  connect(): Promise<void> {
    return Promise.resolve();
  }
  send(_d: Uint8Array, _l?: number, t1: Timespec = { sec: 0, nsec: 0 }): Timespec {
    t1.sec = 100;
    t1.nsec = 900_000_000;
    return t1;
  }
  sendTo(): void {}
  onMessage(handler: MessageHandler | null): void {
    this.message = handler;
  }
  onRequest(): void {}
  onError(): void {}
  onTxTimestamp(handler: TxTimestampHandler | null): void {
    this.tx = handler;
  }
  localAddress() {
    return { address: "0.0.0.0", port: 1, family: this.family };
  }
  setReceiveBufferSize(): void {}
  close(): void {}
}

/** device − realtime = +2.3 s. */
const DEVICE_AHEAD: Timespec = { sec: 2, nsec: 300_000_000 };
const fakeDevice = {
  path: "/dev/ptp-fake",
  clockId: -61,
  offsetFromRealtime: () => ({ ...DEVICE_AHEAD }),
  close() {},
} as unknown as ClockDevice;

function env(overrides: ClockSetupEnvironment = {}): ClockSetupEnvironment & {
  created: RecordingSocket[];
} {
  const created: RecordingSocket[] = [];
  return {
    addonLoaded: true,
    interfaceExists: (name) => name === "eth1" || name === "lo",
    interfacePhcs: (name) => (name === "eth1" ? ["ptp3"] : []),
    enableHardwareTimestamping: () => {},
    openDevice: () => fakeDevice,
    createSocket: (family, options = {}) => {
      const s = new RecordingSocket(family, options);
      created.push(s);
      return s;
    },
    ...overrides,
    created,
  };
}

function clock(c: Partial<ClockConfig>): ClockConfig {
  return { clock: null, interface: null, timestampMode: "kernel-all", ...c };
}

describe("timestamp modes", () => {
  it("each mode's socket options, and the mode a socket with them reports", () => {
    assert.deepEqual(socketOptionsFor("software"), { rxTimestamps: false, txTimestamps: false });
    assert.deepEqual(socketOptionsFor("kernel-recv"), { txTimestamps: false });
    assert.deepEqual(socketOptionsFor("kernel-all"), { txTimestamps: true });
    assert.deepEqual(socketOptionsFor("hardware"), {
      hardwareTimestamps: true,
      txTimestamps: true,
    });
    for (const mode of MODES) {
      assert.equal(effectiveTimestampMode(new RecordingSocket(4, socketOptionsFor(mode))), mode);
    }
  });

  it("real addon sockets give what each mode asks", { skip: noAddon }, () => {
    for (const mode of MODES) {
      const socket = createUdpSocket(4, { implementation: "addon", ...socketOptionsFor(mode) });
      try {
        assert.equal(effectiveTimestampMode(socket), mode);
      } finally {
        socket.close();
      }
    }
    // fallbackClockId: CLOCK_REALTIME or a device's id, nothing else.
    for (const fallbackClockId of [1, 5, -8]) {
      assert.throws(() => createUdpSocket(4, { implementation: "addon", fallbackClockId }), {
        code: "ERR_INVALID_ARG_VALUE",
      });
    }
    createUdpSocket(4, { implementation: "addon", fallbackClockId: (~900 << 3) | 3 }).close();
    // node:dgram has no kernel stamps whatever is asked.
    const dgram = createUdpSocket(4, { implementation: "dgram", txTimestamps: true });
    assert.equal(effectiveTimestampMode(dgram), "software");
    dgram.close();
  });
});

describe("setUpClock", () => {
  it("no [clock]: CLOCK_REALTIME, no binding, kernel-all (ntpd-rs's Linux default)", () => {
    const e = env();
    const setup = setUpClock(null, true, quietLog().log, e);
    assert.equal(setup.device, null);
    assert.equal(setup.timestampMode, "kernel-all");
    const s = setup.createSourceSocket(4, { txTimestamps: true });
    assert.ok(s instanceof RecordingSocket);
    assert.deepEqual(e.created[0]!.options, { txTimestamps: true });
  });

  it("the mode and the interface go into every source socket, over what the task asks", () => {
    const e = env();
    const setup = setUpClock(
      clock({ interface: "eth1", timestampMode: "software" }),
      true,
      quietLog().log,
      e,
    );
    setup.createSourceSocket(6, { txTimestamps: true });
    assert.deepEqual(e.created[0]!.options, {
      txTimestamps: false,
      rxTimestamps: false,
      bindDevice: "eth1",
    });
    assert.equal(e.created[0]!.family, 6);
  });

  it("refuses a missing interface, and an interface without the addon, naming it", () => {
    assert.throws(
      () => setUpClock(clock({ interface: "eth9" }), true, quietLog().log, env()),
      (err: Error) => err instanceof ClockSetupError && /interface eth9: no such/.test(err.message),
    );
    assert.throws(
      () =>
        setUpClock(clock({ interface: "eth1" }), true, quietLog().log, env({ addonLoaded: false })),
      (err: Error) =>
        err instanceof ClockSetupError && /eth1.*needs the native addon/.test(err.message),
    );
  });

  it("without the addon the kernel modes warn and fall back to user-space stamps", () => {
    for (const mode of ["kernel-recv", "kernel-all"] as const) {
      const { log, warnings } = quietLog();
      const e = env({ addonLoaded: false });
      const setup = setUpClock(clock({ timestampMode: mode }), true, log, e);
      assert.equal(setup.timestampMode, "software");
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, new RegExp(`"${mode}" needs the native addon`));
      setup.createSourceSocket(4);
      assert.equal(effectiveTimestampMode(e.created[0]!), "software");
    }
  });

  it('"hardware": needs an interface, its driver, and clock = its PHC', () => {
    const refused = (c: Partial<ClockConfig>, e: ClockSetupEnvironment, pattern: RegExp) =>
      assert.throws(
        () => setUpClock(clock({ timestampMode: "hardware", ...c }), true, quietLog().log, e),
        (err: Error) => err instanceof ClockSetupError && pattern.test(err.message),
      );
    refused({}, env(), /set \[clock\] interface/);
    const notSupported = Object.assign(new Error("SIOCSHWTSTAMP ENOTSUP"), { code: "ENOTSUP" });
    refused(
      { interface: "eth1", clock: "/dev/ptp3" },
      env({
        enableHardwareTimestamping: () => {
          throw notSupported;
        },
      }),
      /interface eth1 has no hardware timestamping/,
    );
    const denied = Object.assign(new Error("EPERM"), { code: "EPERM" });
    refused(
      { interface: "eth1", clock: "/dev/ptp3" },
      env({
        enableHardwareTimestamping: () => {
          throw denied;
        },
      }),
      /eth1 cannot be set to hardware timestamping: CAP_NET_ADMIN/,
    );
    // CLOCK_REALTIME (no clock) against eth1's own PHC: refused, naming it.
    refused({ interface: "eth1" }, env(), /must be that clock \(\/dev\/ptp3\), not CLOCK_REALTIME/);
  });

  it('"hardware" with eth1 and its PHC: hardware stamps, bound, unstamped replies read from the PHC', () => {
    const enabled: string[] = [];
    const e = env({
      enableHardwareTimestamping: (name) => void enabled.push(name),
      // The PHC check resolves the path (no /dev/ptpN here): /dev/null stands in for
      // eth1's PHC, which this fake says is named "null"; openDevice is faked.
      interfacePhcs: () => ["null"],
    });
    const setup = setUpClock(
      clock({ timestampMode: "hardware", interface: "eth1", clock: "/dev/null" }),
      true,
      quietLog().log,
      e,
    );
    assert.deepEqual(enabled, ["eth1"]);
    assert.equal(setup.timestampMode, "hardware");
    const socket = setup.createSourceSocket(4, { txTimestamps: true });
    assert.ok(socket instanceof TranslatingUdpSocket);
    assert.deepEqual(e.created[0]!.options, {
      txTimestamps: true,
      hardwareTimestamps: true,
      fallbackClockId: -61,
      bindDevice: "eth1",
    });
  });

  it('"hardware" on loopback with the real addon: refused, naming lo', { skip: noAddon }, () => {
    assert.throws(
      () =>
        setUpClock(clock({ timestampMode: "hardware", interface: "lo" }), false, quietLog().log),
      (err: Error) =>
        err instanceof ClockSetupError && /interface lo has no hardware/.test(err.message),
    );
  });

  it("a clock device: opened writable only when steered; stamps moved to its time", () => {
    const opened: [string, boolean][] = [];
    const e = env({
      openDevice: (path, writable) => {
        opened.push([path, writable]);
        return fakeDevice;
      },
    });
    const setup = setUpClock(clock({ clock: "/dev/ptp-fake" }), false, quietLog().log, e);
    setUpClock(clock({ clock: "/dev/ptp-fake" }), true, quietLog().log, e);
    assert.deepEqual(opened, [
      ["/dev/ptp-fake", false],
      ["/dev/ptp-fake", true],
    ]);
    assert.equal(setup.device, fakeDevice);
    const socket = setup.createSourceSocket(4, { txTimestamps: true });
    assert.ok(socket instanceof TranslatingUdpSocket);
  });
});

describe("TranslatingUdpSocket", () => {
  it("moves T1, receive and TX stamps by device − realtime", () => {
    const inner = new RecordingSocket(4, { txTimestamps: true });
    const socket = new TranslatingUdpSocket(inner, fakeDevice);
    assert.deepEqual(socket.send(new Uint8Array(48)), { sec: 103, nsec: 200_000_000 });
    const got: number[][] = [];
    socket.onMessage((_d, _l, _a, _p, sec, nsec) => got.push([sec, nsec]));
    socket.onTxTimestamp((sec, nsec, id) => got.push([sec, nsec, id]));
    inner.message!(Buffer.alloc(48), 48, "192.0.2.1", 123, 200, 800_000_000);
    inner.tx!(200, 100, 0);
    assert.deepEqual(got, [
      [203, 100_000_000],
      [202, 300_000_100, 0],
    ]);
    assert.equal(socket.kernelTimestamps, true);
    assert.equal(socket.finishesReplies, false);
  });

  it("hardware stamps are the NIC clock's already: only the pre-send T1 moves", () => {
    const inner = new RecordingSocket(4, { hardwareTimestamps: true, txTimestamps: true });
    const socket = new TranslatingUdpSocket(inner, fakeDevice);
    assert.deepEqual(socket.send(new Uint8Array(48)), { sec: 103, nsec: 200_000_000 });
    const got: number[][] = [];
    socket.onMessage((_d, _l, _a, _p, sec, nsec) => got.push([sec, nsec]));
    socket.onTxTimestamp((sec, nsec, id) => got.push([sec, nsec, id]));
    inner.message!(Buffer.alloc(48), 48, "192.0.2.1", 123, 200, 800_000_000);
    inner.tx!(200, 100, 0);
    assert.deepEqual(got, [
      [200, 800_000_000],
      [200, 100, 0],
    ]);
  });
});

describe("SO_BINDTODEVICE without privileges", () => {
  const setpriv = spawnSync("sh", ["-c", "command -v setpriv"]).status === 0;
  const why =
    noAddon ||
    (process.getuid?.() !== 0 ? "needs root to drop to nobody" : false) ||
    (setpriv ? false : "setpriv is not installed");
  it(
    "works for an unprivileged process on Linux >= 5.7 (a socket not yet bound to a device)",
    { skip: why },
    () => {
      // nobody, no capabilities at all: the kernel allows a first SO_BINDTODEVICE.
      const script =
        `const a = require(${JSON.stringify(ADDON_PATH)});` +
        `const s = new a.UdpSocket(4, { bindDevice: "lo" }); s.close(); process.stdout.write("bound");`;
      const r = spawnSync(
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "--inh-caps=-all",
          process.execPath,
          "-e",
          script,
        ],
        { encoding: "utf8", timeout: 20_000 },
      );
      assert.equal(r.stdout, "bound", r.stderr);
    },
  );
});
