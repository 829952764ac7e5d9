// A short smoke run of a few campaign scenarios (seconds each), so `npm test`
// notices when a campaign stops running or a functional property breaks:
// garbage is never answered and every datagram is accounted for, the daemon
// survives abusive NTS-KE and observation clients (and its NTS-KE counters add up to
// what the clients did), the key file survives a
// full disk, and the simulated clock recovers from being stepped by someone
// else. Only functional checks are asserted here; the timing ones (honest
// clients within their timeout, memory growth, cut within the timeout) are
// for the full campaigns (`npm run flood`, `npm run faults`, docs/campaigns.md).
import assert from "node:assert/strict";
import { test } from "node:test";
import { keHalfOpen } from "./flood-ke.js";
import { udpGarbage } from "./flood-udp.js";
import { keyFileFault } from "./faults-keys.js";
import { clockStep, observationAbuse } from "./faults.js";
import { formatReport, type ScenarioReport } from "./report.js";

function assertChecks(report: ScenarioReport, names: string[]): void {
  const text = formatReport(report);
  for (const name of names) {
    const c = report.checks.find((x) => x.name === name);
    assert.ok(c, `no check "${name}" in:\n${text}`);
    assert.ok(c.pass, `${name}: ${c.detail}\n${text}`);
  }
}

// At 5000 a second, not flat out: other test files run alongside.
test("udp-garbage: no reply, every datagram accounted for", { timeout: 60_000 }, async () => {
  assertChecks(await udpGarbage({ seconds: 1, rate: 5000 }), [
    "daemon alive",
    "every datagram accounted for",
    "each received datagram has one fate",
    "no reply to garbage",
    "garbage counted as ignored",
  ]);
});

test("ke-half-open: the daemon survives and serves afterwards", { timeout: 60_000 }, async () => {
  assertChecks(await keHalfOpen({ seconds: 1 }), [
    "daemon alive",
    "the daemon accepted every connection the clients opened, and counted each once",
    "the daemon served the key exchanges the clients completed, no more",
    "an honest exchange right after the flood succeeds",
  ]);
});

test("clock-step: meddling detected, the clock brought back (simulator)", async () => {
  assertChecks(await clockStep(), [
    "the meddling is detected",
    "no panic",
    "the clock is brought back (step back, offset < 1 ms)",
    "synchronized at the end",
  ]);
});

test("observation-abuse: no descriptor leak, still serving", { timeout: 60_000 }, async () => {
  assertChecks(await observationAbuse(), [
    "daemon alive",
    "no descriptor leak",
    "NTP still served",
  ]);
});

test(
  "key-disk-full: the old key file is kept, serving goes on",
  {
    timeout: 60_000,
    skip: process.getuid?.() !== 0 ? "mounting a small tmpfs for the key file needs root" : false,
  },
  async () => {
    assertChecks(await keyFileFault("full"), [
      "daemon alive",
      "the old key file is kept intact",
      "no temporary file left behind",
      "NTS-KE still served",
      "NTP still served",
    ]);
  },
);
