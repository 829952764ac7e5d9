// `ntp-ctl source add/remove --save`: the table built from the command line,
// the marked block appended, and finding and taking out only marked blocks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../proto/config/index.js";
import { defaultConfig } from "../proto/config/parse.js";
import { appendBlock, findSavedTables, savedBlock, withoutTable } from "./saved-sources.js";
import { sourceTable } from "./source-command.js";

const defaults = defaultConfig().sourceDefaults;
const NOW = new Date("2026-12-07T12:00:00.123Z");

test("settings are TOML values, or else strings", () => {
  const table = sourceTable("nts", "nts.example", [
    "interleaved=true",
    "poll-interval-limits={min=4,max=6}",
    "certificate-authority=/etc/ssl/my ca.pem",
    'ntp-version="auto"',
  ]);
  assert.equal(
    table,
    '[[source]]\nmode = "nts"\naddress = "nts.example"\ninterleaved = true\n' +
      'poll-interval-limits = {min=4,max=6}\ncertificate-authority = "/etc/ssl/my ca.pem"\n' +
      'ntp-version = "auto"\n',
  );
  assert.deepEqual(sourceTable("server", "a", ["noequals"]), {
    error: '"noequals" is not KEY=VALUE',
  });
  assert.deepEqual(sourceTable("server", "a", ["a b=1"]), { error: '"a b=1" is not KEY=VALUE' });
  // A value cannot smuggle another line (and another table) into the file.
  const sneaky = sourceTable("server", "a", ['x="1"\n[observability]']);
  assert.equal(typeof sneaky, "string");
  assert.ok(!/^\[observability\]/m.test(sneaky as string));
});

test("a saved table is appended with its marker, found, and taken out exactly", () => {
  const operator = '[[source]]\nmode = "server"\naddress = "192.0.2.1"\n';
  for (const original of [operator, operator.trimEnd(), ""]) {
    const table = sourceTable("server", "192.0.2.9:1234", []) as string;
    const text = appendBlock(original, savedBlock(table, NOW));
    assert.match(text, /# Added by `ntp-ctl source add --save` on 2026-12-07T12:00:00Z;/);
    assert.ok(parseConfig(text, "f").ok);
    const found = findSavedTables(text, defaults);
    assert.equal(found.length, 1);
    assert.deepEqual(
      { mode: found[0]!.mode, address: found[0]!.address },
      {
        mode: "server",
        address: "192.0.2.9:1234",
      },
    );
    const back = withoutTable(text, found[0]!);
    assert.equal(back, original.endsWith("\n") || original === "" ? original : `${original}\n`);
  }
});

test("tables without the marker are never found", () => {
  const text =
    '[[source]]\nmode = "server"\naddress = "192.0.2.1"\n\n# my favourite\n[[source]]\nmode = "server"\naddress = "192.0.2.2"\n';
  assert.deepEqual(findSavedTables(text, defaults), []);
});
