import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LogFileSink } from "./log-file.js";

test("the log file is truncated at start and reopened at its path (logrotate)", () => {
  const dir = mkdtempSync(join(tmpdir(), "ntpd-ts-log-"));
  try {
    const path = join(dir, "ntpd.log");
    writeFileSync(path, "old contents\n");
    const sink = new LogFileSink(path);
    sink.write("first\n");
    assert.equal(readFileSync(path, "utf8"), "first\n");

    renameSync(path, `${path}.1`); // what logrotate does before sending SIGHUP
    sink.write("still to the rotated file\n");
    sink.reopen();
    sink.write("after reopen\n");
    sink.close();

    assert.equal(readFileSync(`${path}.1`, "utf8"), "first\nstill to the rotated file\n");
    assert.equal(readFileSync(path, "utf8"), "after reopen\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a log file that cannot be opened throws", () => {
  assert.throws(() => new LogFileSink("/nonexistent-dir/ntpd.log"), /ENOENT/);
});
