// `[clock]` warnings the file alone shows: "hardware" without interface and clock, and
// sock / pps sources (samples of CLOCK_REALTIME) with a clock device steered instead.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDiagnostic, parseConfig } from "./index.js";

function warnings(text: string): string[] {
  const r = parseConfig(text, "ntp.toml");
  assert.ok(r.ok, r.ok ? "" : r.errors.map(formatDiagnostic).join("\n"));
  return r.warnings.map(formatDiagnostic);
}

const SOURCES =
  '[[source]]\nmode = "server"\naddress = "a.example"\n[[source]]\nmode = "server"\naddress = "b.example"\n' +
  '[[source]]\nmode = "server"\naddress = "c.example"\n';

test('"hardware" needs interface and clock', () => {
  for (const keys of ["", 'interface = "eth0"\n', 'clock = "/dev/ptp0"\n']) {
    const w = warnings(`${SOURCES}[clock]\n${keys}timestamp-mode = "hardware"\n`);
    assert.equal(w.length, 1, keys);
    assert.match(w[0]!, /\[clock\]\.timestamp-mode: "hardware" needs interface .* and clock/);
  }
  assert.deepEqual(
    warnings(
      `${SOURCES}[clock]\ninterface = "eth0"\nclock = "/dev/ptp0"\ntimestamp-mode = "hardware"\n`,
    ),
    [],
  );
});

test("sock and pps sources are warned about when a clock device is steered", () => {
  const refclocks =
    '[[source]]\nmode = "sock"\npath = "/run/gps.sock"\nprecision = 1e-6\n' +
    '[[source]]\nmode = "pps"\npath = "/dev/pps0"\nprecision = 1e-7\n';
  assert.deepEqual(warnings(`${SOURCES}${refclocks}[clock]\ntimestamp-mode = "kernel-all"\n`), []);
  const w = warnings(
    `${SOURCES}${refclocks}[clock]\nclock = "/dev/ptp0"\ntimestamp-mode = "kernel-all"\n`,
  );
  assert.equal(w.length, 2);
  assert.match(w[0]!, /\[\[source\]\] sock: its samples are of the system clock .*"\/dev\/ptp0"/);
  assert.match(w[1]!, /\[\[source\]\] pps:/);
});
