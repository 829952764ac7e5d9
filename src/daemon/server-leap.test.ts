// Leap seconds in our replies, over a real loopback socket: the LI the core
// publishes during the leap's day (from a leap-seconds file), LI 0 once the leap
// is past, and a smearing server's replies (LI 0, T2 and T3 moved by the smear).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { SimulatedClock } from "../proto/clock/simulated-clock.js";
import { defaultConfig } from "../proto/config/index.js";
import type { ServerConfig } from "../proto/config/types.js";
import { leapFileText } from "../proto/leap/leap-file-builder.js";
import { parseLeapSecondsList } from "../proto/leap/leap-seconds-list.js";
import { smearCorrection } from "../proto/leap/smear.js";
import { decodeHeader } from "../proto/packet/header.js";
import { serverPolicy } from "../proto/server/policy.js";
import {
  initialSystemState,
  SystemStateCell,
  type SystemState,
} from "../proto/system/system-state.js";
import { TimeSystem } from "../proto/system/time-system.js";
import { NTP_UNIX_OFFSET_SECONDS, offsetAndDelay } from "../proto/time.js";
import { clientRequest } from "../../test/helpers/ntp-request.js";
import { createLogger, MemorySink } from "./log.js";
import { ServerTask } from "./server-task.js";
import { systemWallClock } from "./wall-clock.js";

const DAY = 86_400;

function config(leapSmear: boolean): ServerConfig {
  return {
    listen: { address: "127.0.0.1", port: 0, family: 4 },
    ...serverPolicy({}),
    leapSmear,
  };
}

/** NTP seconds now, from the system clock (read, never set). */
function nowNtp(): number {
  return Date.now() / 1000 + NTP_UNIX_OFFSET_SECONDS;
}

/** Sends one request and waits (bounded) for the reply. */
function exchange(client: Socket, port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no reply within 5 s")), 5000);
    client.once("message", (msg) => {
      clearTimeout(timer);
      resolve(msg);
    });
    client.send(clientRequest(), port, "127.0.0.1");
  });
}

/** Serves `state` on loopback, smearing or not, and returns one reply and when it was asked. */
async function ask(state: SystemState, leapSmear: boolean) {
  const cell = new SystemStateCell(state);
  const task = new ServerTask(
    config(leapSmear),
    systemWallClock,
    cell,
    createLogger("error", new MemorySink()),
  );
  await task.start();
  const client = createSocket("udp4");
  await new Promise<void>((resolve) => client.bind(0, "127.0.0.1", resolve));
  try {
    const sent = nowNtp();
    const reply = await exchange(client, task.port);
    const received = nowNtp();
    return { header: decodeHeader(reply), sent, received };
  } finally {
    client.close();
    task.stop();
  }
}

const seconds = (t: { seconds: number; fraction: number }) => t.seconds + t.fraction / 2 ** 32;

/**
 * What the core publishes during the day of a leap second its leap-seconds file
 * announces: a file with a (made-up) leap at the midnight ending the day that
 * holds real time + 10 minutes, a simulated clock at that moment, one perfect source.
 */
function publishedDuringLeapDay(): SystemState {
  const startUnix = Math.floor(Date.now() / 1000) + 600;
  const midnight = (Math.floor((startUnix + NTP_UNIX_OFFSET_SECONDS) / DAY) + 1) * DAY;
  const parsed = parseLeapSecondsList(
    leapFileText({
      updated: midnight - 100 * DAY,
      expires: midnight + 100 * DAY,
      entries: [{ at: midnight, taiUtc: 11 }],
    }),
  );
  assert.ok(parsed.ok);
  const clock = new SimulatedClock({ startSeconds: startUnix });
  const published = new SystemStateCell(initialSystemState());
  const sync = { ...defaultConfig().synchronization, minimumAgreeingSources: 1 };
  const system = new TimeSystem({
    synchronization: sync,
    clock,
    published,
    leapSeconds: parsed.list,
    wakeAt: () => {},
    events: { panic: (a) => assert.fail(a.reason) },
  });
  system.addSource(
    1,
    { pollLimits: { min: 4, max: 4 }, setDesiredPollInterval: () => {} },
    {
      address: "192.0.2.1",
      initialPoll: 4,
    },
  );
  for (let i = 0; i < 12; i++) {
    const t1 = clock.now();
    clock.advance(0.005);
    const t2 = clock.trueNow();
    clock.advance(0.005);
    const t4 = clock.now();
    const { offset, delay } = offsetAndDelay(t1, t2, t2, t4);
    system.measurement(1, {
      ...{ offset, delay, t1, t2, t3: t2, t4, version: 4, leap: 0, stratum: 1 },
      ...{ referenceId: 0, rootDelay: 0, rootDispersion: 1e-5, poll: 4, precision: -20 },
    });
    clock.advance(2);
  }
  const state = published.current();
  assert.equal(state.leap, 1, "the file's leap is announced on its day");
  assert.deepEqual(state.leapEvent, { at: midnight, insert: true });
  return state;
}

test("during the leap's day our replies carry LI 1; a smearing server's carry LI 0", async () => {
  const state = publishedDuringLeapDay();
  const plain = await ask(state, false);
  assert.equal(plain.header.leap, 1);
  assert.equal(plain.header.stratum, 2);
  const smeared = await ask(state, true);
  assert.equal(smeared.header.leap, 0);
});

test("once the announced leap is past, replies carry LI 0 until the next update clears it", async () => {
  const past: SystemState = {
    ...initialSystemState({ localStratum: 1 }),
    leap: 1,
    leapEvent: { at: Math.floor(nowNtp()) - 10, insert: true },
  };
  assert.equal((await ask(past, false)).header.leap, 0);
  const ahead: SystemState = {
    ...past,
    leapEvent: { at: Math.floor(nowNtp()) + 3600, insert: true },
  };
  assert.equal((await ask(ahead, false)).header.leap, 1);
});

test("a smearing server moves T2 and T3 by the smear; an unsmeared one does not", async () => {
  // A leap an hour from now: 11 h into the smear, the served time about 0.46 s behind.
  const event = { at: Math.floor(nowNtp()) + 3600, insert: true };
  const state: SystemState = {
    ...initialSystemState({ localStratum: 1 }),
    leap: 1,
    leapEvent: event,
  };
  for (const smear of [false, true]) {
    const { header, sent, received } = await ask(state, smear);
    const t2 = seconds(header.receiveTimestamp);
    const t3 = seconds(header.transmitTimestamp);
    const expected = smear ? smearCorrection(event, sent) : 0;
    if (smear) assert.ok(expected < -0.45 && expected > -0.47, `${expected}`);
    // T2 lies between sending and receiving, moved by the smear (which changes
    // by 12 µs/s at most: nothing over a loopback exchange).
    assert.ok(t2 - expected >= sent - 0.01 && t2 - expected <= received + 0.01, `T2 ${t2 - sent}`);
    assert.ok(t3 >= t2 && t3 - t2 < 0.5, `T3 - T2 ${t3 - t2}`);
    assert.equal(header.leap, smear ? 0 : 1);
  }
});
