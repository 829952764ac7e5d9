// ntp-ctl force-sync: the pure decision parts, and the refusal without a terminal.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  aheadBehindText,
  humanDuration,
  median,
  requiredAgreement,
  selectAgreeingOffset,
} from "../../src/cli/force-sync.js";
import { CTL_ENTRY } from "../daemon/run-daemon.js";

test("requiredAgreement: max(minimum-agreeing-sources, sources/2), at least 1", () => {
  assert.equal(requiredAgreement(3, 4), 3);
  assert.equal(requiredAgreement(1, 8), 4);
  assert.equal(requiredAgreement(1, 9), 4);
  assert.equal(requiredAgreement(0, 1), 1);
  assert.equal(requiredAgreement(3, 1), 3);
});

test("median of sorted values", () => {
  assert.equal(median([1]), 1);
  assert.equal(median([1, 2, 10]), 2);
  assert.equal(median([1, 2, 3, 10]), 2.5);
});

test("selectAgreeingOffset: the largest cluster within ±0.5 s, its median", () => {
  const a = selectAgreeingOffset([100.1, 100.3, -5, 100.2, 40], 3);
  assert.ok(a);
  assert.deepEqual(a.cluster, [100.1, 100.2, 100.3]);
  assert.equal(a.offset, 100.2);
});

test("selectAgreeingOffset: too few agreeing → null", () => {
  assert.equal(selectAgreeingOffset([0, 2, 4], 2), null);
  assert.equal(selectAgreeingOffset([], 1), null);
  assert.equal(selectAgreeingOffset([10, 10.4], 3), null);
});

test("selectAgreeingOffset: a spread over 1 s splits the cluster", () => {
  const a = selectAgreeingOffset([0, 0.9, 1.2, 1.3], 3);
  assert.ok(a);
  assert.deepEqual(a.cluster, [0.9, 1.2, 1.3]);
  assert.equal(a.offset, 1.2);
  // Equal sizes: the tighter cluster wins.
  const b = selectAgreeingOffset([0, 0.9, 5, 5.1], 2);
  assert.deepEqual(b?.cluster, [5, 5.1]);
});

test("selectAgreeingOffset ignores non-finite offsets", () => {
  assert.deepEqual(selectAgreeingOffset([NaN, 3, Infinity, 3.2], 2)?.cluster, [3, 3.2]);
});

test("humanDuration / aheadBehindText", () => {
  assert.equal(humanDuration(0.4), "0 second(s)");
  assert.equal(humanDuration(5), "5 second(s)");
  assert.equal(humanDuration(65), "1 minute(s) 5 second(s)");
  assert.equal(humanDuration(3600), "1 hour(s) 0 minute(s) 0 second(s)");
  assert.equal(
    humanDuration(-(2 * 86_400 + 3 * 3600 + 4 * 60 + 5)),
    "2 day(s) 3 hour(s) 4 minute(s) 5 second(s)",
  );
  // offset = true time − local clock: positive means the clock is behind.
  assert.equal(aheadBehindText(90), "behind by 1 minute(s) 30 second(s)");
  assert.equal(aheadBehindText(-86_400), "ahead by 1 day(s) 0 hour(s) 0 minute(s) 0 second(s)");
});

test("ntp-ctl force-sync refuses without a terminal (exit 1, clear message)", () => {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", CTL_ENTRY, "force-sync", "-c", "/nonexistent/ntp.toml"],
    { stdio: ["pipe", "pipe", "pipe"], input: "y\n", encoding: "utf8", timeout: 20_000 },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /must be run interactively/);
  assert.match(r.stderr, /terminal/);
});
