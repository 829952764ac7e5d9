// The discipline's files: the drift file survives a restart (written atomically
// at stop, read and put on the clock at start), a corrupt one is reported with
// its line and left alone; the leap-seconds file is used only when valid.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedClock } from "../proto/clock/simulated-clock.js";
import { defaultConfig } from "../proto/config/index.js";
import { leapFileText } from "../proto/leap/leap-file-builder.js";
import { NtpSource } from "../proto/source/source.js";
import { NTP_UNIX_OFFSET_SECONDS, offsetAndDelay } from "../proto/time.js";
import { ClockDiscipline } from "./discipline.js";
import { createLogger, MemorySink } from "./log.js";

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "ntpd-ts-discipline-files-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function discipline(
  clock: SimulatedClock,
  files: { driftFile?: string; leapSecondsFile?: string },
): { discipline: ClockDiscipline; log: MemorySink } {
  const config = defaultConfig();
  config.synchronization.minimumAgreeingSources = 1;
  config.synchronization.driftFile = files.driftFile ?? null;
  config.synchronization.leapSecondsFile = files.leapSecondsFile ?? null;
  const log = new MemorySink();
  const d = new ClockDiscipline({
    config,
    clock,
    virtual: null,
    system: null,
    log: createLogger("debug", log),
    onPanic: () => assert.fail("panic"),
  });
  return { discipline: d, log };
}

function logText(sink: MemorySink): string {
  return JSON.stringify(sink);
}

/** Runs `minutes` of 16 s polls of a perfect server (no timers: slews end at the next sample). */
function synchronize(d: ClockDiscipline, clock: SimulatedClock, minutes: number): void {
  const task = { id: 1, address: { address: "192.0.2.1" }, source: new NtpSource({}) };
  d.addSource(task, { initialPollInterval: 4 });
  for (let t = 0; t < minutes * 60; t += 16) {
    const t1 = clock.now();
    clock.advance(0.005);
    const t2 = clock.trueNow();
    clock.advance(0.005);
    const t4 = clock.now();
    const { offset, delay } = offsetAndDelay(t1, t2, t2, t4);
    d.measurement(task, {
      ...{ offset, delay, t1, t2, t3: t2, t4, version: 4, leap: 0, stratum: 1 },
      ...{ referenceId: 0, rootDelay: 0, rootDispersion: 1e-5, poll: 4, precision: -20 },
    });
    clock.advance(16);
  }
}

test("the drift file: written atomically at stop, put on the clock at the next start", (t) => {
  const path = join(tempDir(t), "ntp.drift");
  const first = new SimulatedClock({ frequencyError: 25 });
  const run1 = discipline(first, { driftFile: path });
  assert.match(logText(run1.log), /no drift file yet/);
  synchronize(run1.discipline, first, 30);
  run1.discipline.stop();
  const text = readFileSync(path, "utf8");
  const kept = Number(text.split("\n")[1]!.split(" ")[0]);
  assert.ok(Math.abs(kept - 25) < 0.1, text);
  assert.equal(statSync(path).mode & 0o777, 0o644 & ~process.umask());
  assert.deepEqual(readdirSync(join(path, "..")), ["ntp.drift"], "no temporary file left");
  // A reboot: the kernel's frequency is back at 0; the file puts it back.
  const second = new SimulatedClock({ frequencyError: 25 });
  const run2 = discipline(second, { driftFile: path });
  assert.equal(second.frequency(), kept);
  assert.match(logText(run2.log), /frequency from the drift file/);
  run2.discipline.stop();
});

test("a corrupt drift file is reported with file and line, ignored and not deleted", (t) => {
  const path = join(tempDir(t), "ntp.drift");
  writeFileSync(path, "# kept\n12.5 lots\n");
  const clock = new SimulatedClock({ initialFrequency: 3 });
  const { discipline: d, log } = discipline(clock, { driftFile: path });
  assert.match(logText(log), new RegExp(`drift file ${path}:2: expected two numbers`));
  assert.equal(clock.frequency(), 3, "the clock left alone");
  d.stop(); // nothing learnt: nothing written over it
  assert.equal(readFileSync(path, "utf8"), "# kept\n12.5 lots\n");
});

test("a drift file that cannot be written is a warning, not a failure", (t) => {
  const path = join(tempDir(t), "missing-dir", "ntp.drift");
  const clock = new SimulatedClock({ frequencyError: 5 });
  const { discipline: d, log } = discipline(clock, { driftFile: path });
  synchronize(d, clock, 5);
  d.stop();
  assert.match(logText(log), /cannot write drift file .*no such file/);
  assert.equal(existsSync(path), false);
});

test("the leap-seconds file: used when valid, a warning with file and line when not", (t) => {
  const dir = tempDir(t);
  const start = 1_800_000_000; // the SimulatedClock's default start, Unix s
  const nowNtp = start + NTP_UNIX_OFFSET_SECONDS;
  const valid = join(dir, "valid.list");
  writeFileSync(
    valid,
    leapFileText({ updated: nowNtp - 86_400, expires: nowNtp + 86_400 * 100, entries: [] }),
  );
  const expired = join(dir, "expired.list");
  writeFileSync(
    expired,
    leapFileText({ updated: nowNtp - 86_400 * 200, expires: nowNtp - 86_400, entries: [] }),
  );
  const tampered = join(dir, "tampered.list");
  writeFileSync(
    tampered,
    readFileSync(valid, "utf8").replace(/^#\$\t(\d+)/m, (_, n) => `#$\t${Number(n) + 1}`),
  );
  const cases: [string, RegExp][] = [
    [valid, /leap-seconds file in use/],
    [expired, new RegExp(`${expired}:3: expired on`)],
    [tampered, new RegExp(`${tampered}:\\d+: hash mismatch`)],
    [join(dir, "absent.list"), /absent.list: no such file; not used/],
  ];
  for (const [path, pattern] of cases) {
    const { discipline: d, log } = discipline(new SimulatedClock(), { leapSecondsFile: path });
    assert.match(logText(log), pattern, path);
    d.stop();
  }
});
