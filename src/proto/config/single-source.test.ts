// One [[source]] table for the running daemon: the same checks as ntp.toml's,
// the daemon's [source-defaults] for what it leaves out, nothing else allowed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig } from "./parse.js";
import { MAX_SOURCE_TABLE_BYTES, parseSourceTable } from "./single-source.js";

const defaults = {
  pollIntervalLimits: { min: 5, max: 9 },
  initialPollInterval: 6,
};

test("a table parses as in ntp.toml, poll settings from the daemon's [source-defaults]", () => {
  const r = parseSourceTable('[[source]]\nmode = "server"\naddress = "192.0.2.1"\n', defaults);
  assert.ok(r.ok);
  assert.equal(r.source.mode, "server");
  assert.ok("address" in r.source);
  assert.deepEqual(r.source.address, { host: "192.0.2.1", port: 123 });
  assert.ok("pollIntervalLimits" in r.source);
  assert.deepEqual(r.source.pollIntervalLimits, { min: 5, max: 9 });
  assert.equal(r.source.initialPollInterval, 6);
  const own = parseSourceTable(
    '[[source]]\nmode = "nts"\naddress = "nts.example"\npoll-interval-limits = { min = 6 }\n',
    defaultConfig().sourceDefaults,
  );
  assert.ok(own.ok && "address" in own.source && "pollIntervalLimits" in own.source);
  assert.deepEqual(own.source.address, { host: "nts.example", port: 4460 });
  assert.equal(own.source.pollIntervalLimits.min, 6);
});

test("errors are the schema's, with positions in the table's text", () => {
  const r = parseSourceTable('[[source]]\nmode = "server"\naddres = "192.0.2.1"\n', defaults);
  assert.ok(!r.ok);
  assert.match(r.errors.join("\n"), /<source>:3:1: .*unknown key "addres"/);
  const limits = parseSourceTable(
    '[[source]]\nmode = "server"\naddress = "192.0.2.1"\npoll-interval-limits = { min = 10 }\n',
    defaults,
  );
  assert.ok(!limits.ok);
  assert.match(limits.errors.join("\n"), /poll-interval-limits/);
  const syntax = parseSourceTable('[[source]]\nmode = "server\n', defaults);
  assert.ok(!syntax.ok);
  assert.match(syntax.errors.join("\n"), /invalid TOML/);
});

test("anything but exactly one [[source]] table is refused", () => {
  for (const text of [
    "",
    '[observability]\nlog-level = "debug"\n',
    '[[source]]\nmode = "server"\naddress = "a"\n[[source]]\nmode = "server"\naddress = "b"\n',
    '[[source]]\nmode = "server"\naddress = "a"\n[source-defaults]\ninitial-poll-interval = 4\n',
    "source = 3\n",
  ]) {
    const r = parseSourceTable(text, defaults);
    assert.ok(!r.ok, text);
    assert.match(r.errors[0]!, /exactly one \[\[source\]\] table/);
  }
  const big = parseSourceTable(`[[source]]\n# ${"x".repeat(MAX_SOURCE_TABLE_BYTES)}\n`, defaults);
  assert.ok(!big.ok);
  assert.match(big.errors[0]!, /at most/);
});
