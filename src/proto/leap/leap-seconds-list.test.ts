// leap-seconds.list: the file tzdata ships parses and its hash checks; every way a
// file can be wrong is refused with the line that is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { leapFileText } from "./leap-file-builder.js";
import {
  isExpired,
  leapEndingDay,
  MAX_LEAP_FILE_BYTES,
  parseLeapSecondsList,
  taiUtcAt,
  type LeapSecondsList,
} from "./leap-seconds-list.js";

// A copy of Debian's /usr/share/zoneinfo/leap-seconds.list (tzdata, public domain).
const REAL = readFileSync(new URL("./fixtures/leap-seconds.list", import.meta.url), "latin1");
/** 1 Jan 2017, the last leap second so far (TAI − UTC 36 → 37). */
const JAN_2017 = 3_692_217_600;

function parsed(text: string): LeapSecondsList {
  const result = parseLeapSecondsList(text);
  assert.ok(result.ok, result.ok ? "" : `line ${result.line}: ${result.error}`);
  return result.list;
}

function refused(text: string | Uint8Array): { line: number | null; error: string } {
  const result = parseLeapSecondsList(text);
  assert.ok(!result.ok, "accepted a bad file");
  return result;
}

test("the tzdata file parses, with its hash, update, expiry and 28 leap seconds", () => {
  const list = parsed(REAL);
  assert.equal(list.updated, 3_960_835_200);
  assert.equal(list.expires, 3_991_593_600);
  assert.equal(list.entries.length, 28);
  assert.deepEqual(list.entries.at(-1), { at: JAN_2017, taiUtc: 37 });
  assert.equal(taiUtcAt(list, JAN_2017 - 1), 36);
  assert.equal(taiUtcAt(list, JAN_2017), 37);
  // The same bytes as a buffer.
  assert.ok(parseLeapSecondsList(Buffer.from(REAL, "latin1")).ok);
});

test("the leap ending a day: an insertion on 31 Dec 2016 only, none the day before or after", () => {
  const list = parsed(REAL);
  assert.deepEqual(leapEndingDay(list, JAN_2017 - 1), { leap: 1, at: JAN_2017 });
  assert.deepEqual(leapEndingDay(list, JAN_2017 - 86_400), { leap: 1, at: JAN_2017 });
  assert.equal(leapEndingDay(list, JAN_2017 - 86_401).leap, 0, "30 Dec 23:59:59");
  assert.equal(leapEndingDay(list, JAN_2017).leap, 0, "1 Jan 00:00:00");
});

test("a deletion is recognised (TAI-UTC falling by one)", () => {
  const at = JAN_2017 + 365 * 86_400;
  const text = leapFileText({
    updated: JAN_2017,
    expires: at + 86_400 * 30,
    entries: [
      { at: JAN_2017, taiUtc: 11 },
      { at, taiUtc: 10 },
    ],
  });
  assert.deepEqual(leapEndingDay(parsed(text), at - 10), { leap: 2, at });
});

test("expiry is checked against the time given", () => {
  const list = parsed(REAL);
  assert.equal(isExpired(list, list.expires - 1), false);
  assert.equal(isExpired(list, list.expires), true);
});

test("a changed number fails the hash, naming the #h line", () => {
  const bad = REAL.replace(/^3692217600/m, "3692304000"); // a day later;
  assert.notEqual(bad, REAL, "the fixture has the 2017 line as expected");
  const r = refused(bad);
  assert.match(r.error, /hash mismatch/);
  assert.equal(r.line, REAL.split("\n").findIndex((l) => l.startsWith("#h")) + 1);
  // A changed update or expiry too: #$ and #@ are hashed.
  assert.match(refused(REAL.replace("3960835200", "3960835201")).error, /hash mismatch/);
  assert.match(refused(REAL.replace("3991593600", "3999999900")).error, /hash mismatch/);
});

test("comments and whitespace do not count towards the hash; leading zeros of a group may be missing", () => {
  const text = leapFileText({ updated: JAN_2017, expires: JAN_2017 + 1e7, entries: [] });
  parsed(text.replace("# entry", "#   another comment").replace(/\n/g, "\r\n"));
  const hashLine = text.split("\n").find((l) => l.startsWith("#h"))!;
  const groups = hashLine.slice(2).trim().split(" ");
  const zeroLed = leapFileText({
    updated: JAN_2017,
    expires: JAN_2017 + 1e7 + 86_400,
    entries: [],
  });
  // Whatever the groups, stripping leading zeros keeps the file valid.
  const stripped = zeroLed.replace(/^#h.*$/m, (l) => l.replace(/\b0+([0-9a-f])/g, "$1"));
  parsed(stripped);
  assert.equal(groups.length, 5);
});

test("every malformed file is refused with its line", () => {
  const good = leapFileText({
    updated: JAN_2017,
    expires: JAN_2017 + 1e7,
    entries: [{ at: JAN_2017, taiUtc: 11 }],
  });
  const lines = good.split("\n");
  const lineOf = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix)) + 1;
  const cases: [string, string, RegExp, number | null][] = [
    ["no hash", good.replace(/^#h.*$/m, ""), /no #h/, null],
    ["no expiry", good.replace(/^#@.*$/m, ""), /no #@/, null],
    ["no update", good.replace(/^#\$.*$/m, ""), /no #\$/, null],
    ["two expiries", good.replace(/^(#@.*)$/m, "$1\n$1"), /second #@/, lineOf("#@") + 1],
    ["bad hash line", good.replace(/^#h.*$/m, "#h zz"), /five groups/, lineOf("#h")],
    ["text as a time", good.replace("#$\t", "#$\tx"), /#\$ must hold/, lineOf("#$")],
    [
      "three fields",
      good.replace(`${JAN_2017}\t11`, `${JAN_2017}\t11 12`),
      /data line/,
      lineOf(String(JAN_2017)),
    ],
    [
      "not a midnight",
      good.replace(`${JAN_2017}\t11`, `${JAN_2017 + 1}\t11`),
      /midnight/,
      lineOf(String(JAN_2017)),
    ],
    [
      "a jump of two",
      good.replace(`${JAN_2017}\t11`, `${JAN_2017}\t12`),
      /exactly one/,
      lineOf(String(JAN_2017)),
    ],
    [
      "wrong first line",
      good.replace("2272060800\t10", "2272060800\t9"),
      /first entry/,
      lineOf("2272060800"),
    ],
    ["data after the hash", `${good}${JAN_2017 + 86_400}\t12\n`, /after the #h/, lines.length],
    ["no entries", "#$ 1\n#@ 2\n#h 0 0 0 0 0\n", /no leap second entries/, null],
  ];
  for (const [name, text, pattern, line] of cases) {
    const r = refused(text);
    assert.match(r.error, pattern, name);
    assert.equal(r.line, line, `${name}: ${r.error}`);
  }
  const before = good.split("\n");
  const swapped = [...before];
  const i = lineOf("2272060800") - 1;
  [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
  assert.ok(!parseLeapSecondsList(swapped.join("\n")).ok, "entries out of order");
});

test("the input is bounded: a file over the limit is refused before it is read", () => {
  const r = refused(new Uint8Array(MAX_LEAP_FILE_BYTES + 1));
  assert.equal(r.line, null);
  assert.match(r.error, /larger than/);
});
