import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger, formatLogLine, isLogLevel, MemorySink } from "./log.js";

test("a line has a timestamp, level, component, message and key=value fields", () => {
  const line = formatLogLine(
    new Date("2026-11-26T08:31:54.123Z"),
    "info",
    "source",
    "new source",
    { address: "127.0.0.1:123", id: 3, nts: false, skipped: undefined },
    false,
  );
  assert.equal(
    line,
    "2026-11-26T08:31:54.123Z  INFO source: new source address=127.0.0.1:123 id=3 nts=false\n",
  );
});

test("values with spaces, quotes or '=' are quoted", () => {
  const line = formatLogLine(new Date(0), "warn", "c", "m", { error: 'bad "x" = y' }, false);
  assert.match(line, / error="bad \\"x\\" = y"\n$/);
});

test("lines below the level are dropped; children share the level and sink", () => {
  const sink = new MemorySink();
  const log = createLogger("warn", sink);
  const child = log.child("server");
  log.info("hidden");
  child.debug("hidden");
  child.warn("shown", { listen: "[::]:123" });
  log.error("also shown");
  assert.equal(sink.lines.length, 2);
  assert.match(sink.lines[0]!, / WARN server: shown listen=\[::\]:123\n$/);
  assert.match(sink.lines[1]!, /ERROR ntp-daemon: also shown\n$/);
  assert.equal(child.enabled("debug"), false);
  assert.equal(child.enabled("error"), true);
});

test("colors wrap the level only when asked", () => {
  const plain = formatLogLine(new Date(0), "error", "c", "m", undefined, false);
  const colored = formatLogLine(new Date(0), "error", "c", "m", undefined, true);
  assert.ok(!plain.includes("\x1b["), "no escape codes without colors");
  assert.ok(colored.includes("\x1b[31mERROR\x1b[0m"), "red ERROR with colors");
});

test("isLogLevel accepts exactly the five ntpd-rs levels", () => {
  for (const level of ["trace", "debug", "info", "warn", "error"]) assert.ok(isLogLevel(level));
  for (const level of ["", "INFO", "warning", "fatal"]) assert.ok(!isLogLevel(level));
});
