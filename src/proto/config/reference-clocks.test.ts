// The sock and pps [[source]] keys (snake_case, as ntpd-rs) and their `ntp-ctl validate` checks.
import { test } from "node:test";
import assert from "node:assert/strict";

import { formatDiagnostic } from "./diagnostics.js";
import { parseConfig } from "./parse.js";

function parse(text: string) {
  const r = parseConfig(text, "ntp.toml");
  return {
    config: r.ok ? r.config : null,
    errors: r.ok ? [] : r.errors.map(formatDiagnostic),
    warnings: r.warnings.map(formatDiagnostic),
  };
}

const ONE = "[synchronization]\nminimum-agreeing-sources = 1\n";

test("a sock source: path and precision required, accuracy defaults to 0", () => {
  const r = parse(`${ONE}[[source]]\nmode = "sock"\npath = "/run/gpsd.sock"\nprecision = 1e-3\n`);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(r.config?.sources[0], {
    mode: "sock",
    path: "/run/gpsd.sock",
    precision: 1e-3,
    accuracy: 0,
  });
});

test("a pps source: period defaults to 1 s; it does not count toward minimum-agreeing-sources", () => {
  const r = parse(`${ONE}[[source]]\nmode = "pps"\npath = "/dev/pps0"\nprecision = 1e-7\n`);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.config?.sources[0], {
    mode: "pps",
    path: "/dev/pps0",
    precision: 1e-7,
    accuracy: 0,
    period: 1,
  });
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /0 sources are configured.*pps sources do not count/);
});

test("a pps source next to a sock source satisfies minimum-agreeing-sources = 1", () => {
  const r = parse(
    `${ONE}[[source]]\nmode = "sock"\npath = "/s"\nprecision = 1e-3\n` +
      `[[source]]\nmode = "pps"\npath = "/dev/pps0"\nprecision = 1e-7\nperiod = 0.1\n`,
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, []);
});

test("precision, accuracy and period must be positive numbers", () => {
  assert.deepEqual(parse('[[source]]\nmode = "sock"\npath = "/s"\nprecision = 0\n').errors, [
    "ntp.toml:4:13: [[source]].precision: expected a finite number greater than 0, got 0",
  ]);
  assert.match(
    parse('[[source]]\nmode = "pps"\npath = "/p"\nprecision = 1\nperiod = -1\n').errors[0]!,
    /period: expected a finite number greater than 0, got -1/,
  );
  assert.match(
    parse('[[source]]\nmode = "sock"\npath = "/s"\nprecision = 1\naccuracy = -1\n').errors[0]!,
    /accuracy/,
  );
});

test("measurement_noise_estimate: accepted as precision = its square root, with a deprecation warning", () => {
  const r = parse(
    `${ONE}[[source]]\nmode = "sock"\npath = "/s"\nmeasurement_noise_estimate = 1e-6\n`,
  );
  assert.deepEqual(r.errors, []);
  const source = r.config?.sources[0];
  assert.ok(source?.mode === "sock");
  assert.ok(Math.abs(source.precision - 1e-3) < 1e-15);
  assert.deepEqual(r.warnings, [
    "ntp.toml:6:1: [[source]].measurement_noise_estimate is deprecated: write precision = its " +
      "square root (seconds, one standard deviation) instead",
  ]);
});

test("precision and measurement_noise_estimate are mutually exclusive", () => {
  const r = parse(
    '[[source]]\nmode = "pps"\npath = "/p"\nprecision = 1e-6\nmeasurement_noise_estimate = 1e-12\n',
  );
  assert.deepEqual(r.errors, [
    'ntp.toml:5:1: [[source]] mode "pps": give either "precision" or the deprecated ' +
      '"measurement_noise_estimate", not both',
  ]);
});

test("the keys are snake_case and network keys are refused", () => {
  const r = parse(
    '[[source]]\nmode = "pps"\npath = "/p"\nprecision = 1\npoll-interval-limits = {}\n',
  );
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!, /unknown key "poll-interval-limits"/);
});
