// Which leap the kernel is told and our replies carry: the file wins while valid,
// the sources are believed only on the last day of a month, and only for that day.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decideLeap, isLastDayOfMonth } from "./leap-decision.js";
import { leapFileText } from "./leap-file-builder.js";
import { parseLeapSecondsList, type LeapSecondsList } from "./leap-seconds-list.js";

const JAN_2017 = 3_692_217_600;
const DAY = 86_400;

function list(expires: number): LeapSecondsList {
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

test("the last day of a month", () => {
  assert.equal(isLastDayOfMonth(JAN_2017 - 1), true, "31 Dec 23:59:59");
  assert.equal(isLastDayOfMonth(JAN_2017 - DAY), true, "31 Dec 00:00:00");
  assert.equal(isLastDayOfMonth(JAN_2017 - DAY - 1), false, "30 Dec");
  assert.equal(isLastDayOfMonth(JAN_2017), false, "1 Jan");
});

test("a valid file wins over the sources, for the leap's own day only", () => {
  const file = list(JAN_2017 + 100 * DAY);
  // The sources announce a month early: the file keeps LI 0 until the day.
  const early = decideLeap(1, file, JAN_2017 - 20 * DAY);
  assert.equal(early.leap, 0);
  assert.equal(early.from, "file");
  assert.equal(early.sourcesDisagree, true);
  const day = decideLeap(0, file, JAN_2017 - 3600);
  assert.deepEqual(day, {
    leap: 1,
    event: { at: JAN_2017, insert: true },
    from: "file",
    sourcesDisagree: true,
  });
  assert.equal(decideLeap(1, file, JAN_2017 - 3600).sourcesDisagree, false);
  assert.equal(decideLeap(1, file, JAN_2017 + 1).leap, 0, "after the leap");
  // Unsynchronized stays unsynchronized.
  assert.equal(decideLeap(3, file, JAN_2017 - 3600).leap, 3);
});

test("an expired file is not used: the sources decide, on the last day of a month only", () => {
  const stale = list(JAN_2017 - 30 * DAY);
  const early = decideLeap(1, stale, JAN_2017 - 20 * DAY);
  assert.deepEqual(early, { leap: 0, event: null, from: "sources", sourcesDisagree: false });
  assert.deepEqual(decideLeap(1, null, JAN_2017 - 3600), {
    leap: 1,
    event: { at: JAN_2017, insert: true },
    from: "sources",
    sourcesDisagree: false,
  });
  assert.equal(decideLeap(2, null, JAN_2017 - 3600).event?.insert, false);
  assert.equal(decideLeap(0, null, JAN_2017 - 3600).leap, 0);
});
