// parseLeapSecondsList and parseDriftFile on any bytes: a result or a rejection
// with a message (and a line within the input), never a throw. An accepted
// leap-seconds list is consistent (1972 first, midnights in increasing order,
// steps of one second, expiry after the update) and rebuilt with its own hash
// parses back to the same list; an accepted drift record is within ±500 ppm
// and reads back from its own formatting.

import { readFileSync } from "node:fs";
import { leapFileText } from "../../src/proto/leap/leap-file-builder.js";
import { FIRST_ENTRY_NTP, parseLeapSecondsList } from "../../src/proto/leap/leap-seconds-list.js";
import { formatDriftFile, parseDriftFile } from "../../src/proto/system/drift.js";
import { check, utf8, type FuzzTarget } from "../engine/target.js";

const JAN_2017 = 3_692_217_600;

function lineCount(input: Uint8Array): number {
  let n = 1;
  for (const b of input) if (b === 10) n++;
  return n;
}

export const leapSecondsList: FuzzTarget = {
  name: "leap-seconds-list",
  description:
    "parseLeapSecondsList: a consistent list or a rejection naming a line inside the input; " +
    "an accepted list rebuilt with its hash parses to the same list",
  kind: "text",
  maxLength: 8192,
  dictionary: ["#$", "#@", "#h", "\t", "2272060800", "3692217600", " 37", "# "].map(utf8),
  seeds: () => [
    readFileSync(new URL("../../src/proto/leap/fixtures/leap-seconds.list", import.meta.url)),
    utf8(
      leapFileText({
        updated: JAN_2017,
        expires: JAN_2017 + 1e7,
        entries: [
          { at: JAN_2017, taiUtc: 11 },
          { at: JAN_2017 + 86_400 * 181, taiUtc: 10 },
        ],
      }),
    ),
  ],
  run(input) {
    const result = parseLeapSecondsList(input);
    if (!result.ok) {
      check(result.error.length > 0, "empty error");
      check(
        result.line === null || (result.line >= 1 && result.line <= lineCount(input)),
        `line ${result.line} outside the input`,
      );
      return;
    }
    const { list } = result;
    check(list.expires > list.updated, "expires before the update");
    check(list.entries[0]?.at === FIRST_ENTRY_NTP, "does not start in 1972");
    for (let i = 1; i < list.entries.length; i++) {
      const [a, b] = [list.entries[i - 1]!, list.entries[i]!];
      check(b.at > a.at && b.at % 86_400 === 0, "entries not increasing midnights");
      check(Math.abs(b.taiUtc - a.taiUtc) === 1, "a step other than one second");
    }
    const again = parseLeapSecondsList(
      leapFileText({
        updated: list.updated,
        expires: list.expires,
        entries: list.entries.slice(1),
      }),
    );
    check(again.ok, "the rebuilt file does not parse");
    check(
      JSON.stringify(again.list.entries) === JSON.stringify(list.entries),
      "the rebuilt file parses to other entries",
    );
  },
};

export const driftFile: FuzzTarget = {
  name: "drift-file",
  description:
    "parseDriftFile: a record within ±500 ppm that reads back from its own formatting, or a " +
    "rejection naming a line inside the input",
  kind: "text",
  maxLength: 256,
  dictionary: ["# ", "1e3", "-", ".", "500", "\n"].map(utf8),
  seeds: () => [
    utf8(formatDriftFile({ frequencyPpm: -12.5, uncertaintyPpm: 0.0042 })),
    utf8("3.5 0.25"),
  ],
  run(input) {
    const text = Buffer.from(input).toString("latin1");
    const result = parseDriftFile(text);
    if (!result.ok) {
      check(result.error.length > 0, "empty error");
      check(
        result.line === null || (result.line >= 1 && result.line <= lineCount(input)),
        `line ${result.line} outside the input`,
      );
      return;
    }
    const { frequencyPpm, uncertaintyPpm } = result.record;
    check(Math.abs(frequencyPpm) <= 500 && uncertaintyPpm >= 0, "out of range");
    const again = parseDriftFile(formatDriftFile(result.record));
    check(again.ok, "its own formatting does not parse");
    check(
      Math.abs(again.record.frequencyPpm - frequencyPpm) <= 5e-7 &&
        Math.abs(again.record.uncertaintyPpm - uncertaintyPpm) <= 5e-7,
      "the formatted record reads back different",
    );
  },
};
