// A leap second end to end through the system core, on a simulated clock that acts
// on the kernel flags as Linux does (simulated-clock.ts): the flag is set only on
// the leap's own day, the clock repeats 23:59:59 at midnight (the kernel's
// 23:59:60), the flag is cleared after, and the published LI follows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SimulatedClock } from "../clock/simulated-clock.js";
import { defaultConfig } from "../config/parse.js";
import type { LeapIndicator } from "../packet/types.js";
import { leapFileText } from "../leap/leap-file-builder.js";
import { parseLeapSecondsList, type LeapSecondsList } from "../leap/leap-seconds-list.js";
import type { Measurement } from "../source/types.js";
import { NTP_UNIX_OFFSET_SECONDS, offsetAndDelay } from "../time.js";
import { initialSystemState, SystemStateCell } from "./system-state.js";
import { TimeSystem } from "./time-system.js";

const JAN_2017 = 3_692_217_600; // NTP seconds of 1 Jan 2017 00:00:00 UTC
const DAY = 86_400;

function realList(): LeapSecondsList {
  const text = readFileSync(new URL("../leap/fixtures/leap-seconds.list", import.meta.url));
  const r = parseLeapSecondsList(text);
  assert.ok(r.ok);
  return r.list;
}

/** Seconds of the clock's reading (NTP, with fraction). */
function reading(clock: SimulatedClock): number {
  const t = clock.now();
  return t.seconds + t.fraction / 2 ** 32;
}

/**
 * A server that keeps UTC: true time (continuous in the simulation) less the leap
 * second once it has passed, announcing `li` before it.
 */
function measure(clock: SimulatedClock, li: LeapIndicator): Measurement {
  const utc = () => {
    const t = clock.trueNow();
    return t.seconds >= JAN_2017 ? t.addSeconds(-1) : t;
  };
  const t1 = clock.now();
  clock.advance(0.005);
  const t2 = utc();
  clock.advance(0.005);
  const t4 = clock.now();
  const { offset, delay } = offsetAndDelay(t1, t2, t2, t4);
  return {
    ...{ offset, delay, t1, t2, t3: t2, t4 },
    version: 4,
    leap: t2.seconds >= JAN_2017 ? 0 : li,
    stratum: 1,
    referenceId: 0x47505300,
    rootDelay: 0,
    rootDispersion: 1e-5,
    poll: 6,
    precision: -20,
  };
}

interface Seen {
  /** Clock reading (NTP s) at an update, the kernel flag and the published LI after it. */
  at: number;
  kernel: LeapIndicator;
  published: LeapIndicator;
}

function runAcrossTheLeap(file: LeapSecondsList | null, sourcesLi: LeapIndicator) {
  const defaults = defaultConfig().synchronization;
  // Start 2 days and a bit before the leap.
  const start = JAN_2017 - 2 * DAY - 600;
  const clock = new SimulatedClock({ startSeconds: start - NTP_UNIX_OFFSET_SECONDS });
  const published = new SystemStateCell(initialSystemState());
  const seen: Seen[] = [];
  const system = new TimeSystem({
    synchronization: { ...defaults, minimumAgreeingSources: 1 },
    clock,
    published,
    leapSeconds: file,
    wakeAt: () => {},
    events: {
      update: () =>
        seen.push({
          at: reading(clock),
          kernel: clock.leap(),
          published: published.current().leap,
        }),
      panic: (a) => assert.fail(a.reason),
    },
  });
  system.addSource(
    1,
    { pollLimits: { min: 6, max: 6 }, setDesiredPollInterval: () => {} },
    {
      address: "192.0.2.1",
      initialPoll: 6,
    },
  );
  // Readings around midnight, at true times 0.25 s apart.
  const around: number[] = [];
  while (clock.trueNow().seconds < JAN_2017 + DAY / 2) {
    const trueSeconds = clock.trueNow().seconds;
    if (trueSeconds >= JAN_2017 - 70 && trueSeconds < JAN_2017 - 2) {
      // Step finely through the last minute, one measurement per simulated 64 s as before.
      system.measurement(1, measure(clock, sourcesLi));
      for (let i = 0; i < 64 * 4; i++) {
        clock.advance(0.25);
        const t = clock.trueNow();
        if (t.seconds >= JAN_2017 - 2 && t.seconds < JAN_2017 + 2) around.push(reading(clock));
      }
      continue;
    }
    system.measurement(1, measure(clock, sourcesLi));
    clock.advance(64);
  }
  return { clock, seen, around, system };
}

test("with the leap-seconds file: the kernel flag on 31 Dec only, 23:59:59 repeated, cleared after", () => {
  // The sources announce all along (as servers may, weeks early): the file decides.
  const { clock, seen, around, system } = runAcrossTheLeap(realList(), 1);
  const before = seen.filter((s) => s.at < JAN_2017 - DAY);
  const day = seen.filter((s) => s.at >= JAN_2017 - DAY && s.at < JAN_2017 - 1);
  const after = seen.filter((s) => s.at >= JAN_2017 + 1);
  assert.ok(before.length > 100 && day.length > 1000 && after.length > 100);
  assert.ok(
    before.every((s) => s.kernel === 0 && s.published === 0),
    "no flag before the day",
  );
  assert.ok(
    day.every((s) => s.kernel === 1 && s.published === 1),
    "INS all through the day",
  );
  assert.ok(
    after.every((s) => s.kernel === 0 && s.published === 0),
    "cleared after",
  );
  assert.equal(system.leap?.from, "file");
  // The kernel acted once, at midnight by the clock.
  assert.deepEqual(
    clock.leaps().map((l) => ({ midnight: l.midnight, inserted: l.inserted })),
    [{ midnight: JAN_2017, inserted: true }],
  );
  // The readings every 0.25 s of true time: 23:59:58.x, 23:59:59.x twice (the
  // kernel's 23:59:60), then 00:00:00.x.
  const second = (r: number) => Math.floor(r + 1e-6) - JAN_2017;
  const seconds = around.map(second);
  const counts = new Map<number, number>();
  for (const s of seconds) counts.set(s, (counts.get(s) ?? 0) + 1);
  assert.equal(counts.get(-1), 8, `23:59:59 lasts two seconds: ${seconds.join(",")}`);
  assert.equal(counts.get(-2), 4);
  assert.equal(counts.get(0), 4);
  // The clock followed UTC through it: no step, and it is right after.
  assert.ok(
    clock.steps().every((s) => Math.abs(s.seconds) < 0.01),
    "no step taken",
  );
  assert.ok(
    Math.abs(clock.trueOffset() - 1) < 1e-3,
    `UTC is 1 s behind true: ${clock.trueOffset()}`,
  );
});

test("without a file: the sources' early announcement is believed on 31 Dec only", () => {
  const { clock, seen } = runAcrossTheLeap(null, 1);
  const early = seen.filter((s) => s.at < JAN_2017 - DAY);
  const day = seen.filter((s) => s.at >= JAN_2017 - DAY && s.at < JAN_2017 - 1);
  assert.ok(early.every((s) => s.kernel === 0 && s.published === 0));
  assert.ok(day.length > 0 && day.every((s) => s.kernel === 1 && s.published === 1));
  assert.equal(clock.leaps().length, 1);
});

function fileWithLeap(expires: number): LeapSecondsList {
  const r = parseLeapSecondsList(
    leapFileText({
      updated: JAN_2017 - 200 * DAY,
      expires,
      entries: [{ at: JAN_2017, taiUtc: 11 }],
    }),
  );
  assert.ok(r.ok);
  return r.list;
}

test("sources that announce nothing: a valid file arms the kernel, an expired one does not", () => {
  const valid = runAcrossTheLeap(fileWithLeap(JAN_2017 + 100 * DAY), 0);
  assert.equal(valid.clock.leaps().length, 1);
  assert.ok(
    valid.clock.steps().every((s) => Math.abs(s.seconds) < 0.01),
    "no step taken",
  );
  assert.equal(valid.system.leap?.from, "file");
  const expired = runAcrossTheLeap(fileWithLeap(JAN_2017 - 10 * DAY), 0);
  assert.equal(expired.clock.leaps().length, 0);
  assert.equal(expired.system.leap?.from, "sources");
  // Without the kernel's insertion the clock is a second ahead of UTC after
  // midnight, until the discipline steps it back: what the file is for.
  const stepped = expired.clock.steps().reduce((sum, s) => sum + s.seconds, 0);
  assert.ok(Math.abs(stepped + 1) < 0.01, `steps: ${JSON.stringify(expired.clock.steps())}`);
});
