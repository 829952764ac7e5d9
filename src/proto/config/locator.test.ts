import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { TomlLocator } from "./locator.js";

const DOC = [
  "# comment", //                                     1
  "[observability]", //                               2
  'log-level = "info" # trailing', //                 3
  "", //                                              4
  "[[source]]", //                                    5
  'mode = "server"', //                               6
  "[[source]]", //                                    7
  '  mode = "pool"', //                               8
  "  poll-interval-limits = { min = 5, max = 9 }", // 9
  "[source.extra]", //                                10
  "x = 1", //                                         11
  "[[server]]", //                                    12
  'listen = "[::]:123"', //                           13
  'allowlist.filter = ["10.0.0.0/8",', //             14
  '   "::/0"]', //                                    15
  '"quoted key" = """multi', //                       16
  'line [[not-a-header]] """', //                     17
  "after = 'x'", //                                   18
  "[synchronization . algorithm]", //                 19
  "step-threshold = 1979-05-27 07:32:00", //          20
  "meddling-threshold = 5", //                        21
].join("\n");

const loc = new TomlLocator(DOC);

test("keys and values of plain tables", () => {
  assert.deepEqual(loc.locate(["observability", "log-level"], "key"), { line: 3, column: 1 });
  assert.deepEqual(loc.locate(["observability", "log-level"], "value"), { line: 3, column: 13 });
  assert.deepEqual(loc.locate(["observability"], "table"), { line: 2, column: 1 });
});

test("array-of-tables elements are numbered in order", () => {
  assert.deepEqual(loc.locate(["source", 0], "table"), { line: 5, column: 1 });
  assert.deepEqual(loc.locate(["source", 0, "mode"], "key"), { line: 6, column: 1 });
  assert.deepEqual(loc.locate(["source", 1], "table"), { line: 7, column: 1 });
  assert.deepEqual(loc.locate(["source", 1, "mode"], "key"), { line: 8, column: 3 });
  assert.deepEqual(loc.locate(["source", 1, "mode"], "value"), { line: 8, column: 10 });
});

test("inline tables, sub-tables of an element and dotted keys", () => {
  assert.deepEqual(loc.locate(["source", 1, "poll-interval-limits", "max"], "key"), {
    line: 9,
    column: 37,
  });
  assert.deepEqual(loc.locate(["source", 1, "poll-interval-limits", "max"], "value"), {
    line: 9,
    column: 43,
  });
  assert.deepEqual(loc.locate(["source", 1, "extra", "x"], "key"), { line: 11, column: 1 });
  assert.deepEqual(loc.locate(["source", 1, "extra"], "table"), { line: 10, column: 1 });
  assert.deepEqual(loc.locate(["server", 0, "allowlist"], "table"), { line: 14, column: 1 });
  assert.deepEqual(loc.locate(["server", 0, "allowlist", "filter"], "key"), {
    line: 14,
    column: 11,
  });
});

test("array elements across lines", () => {
  assert.deepEqual(loc.locate(["server", 0, "allowlist", "filter", 0], "value"), {
    line: 14,
    column: 21,
  });
  assert.deepEqual(loc.locate(["server", 0, "allowlist", "filter", 1], "value"), {
    line: 15,
    column: 4,
  });
});

test("quoted keys, multi-line strings, spaced dotted headers, date-times", () => {
  assert.deepEqual(loc.locate(["server", 0, "quoted key"], "key"), { line: 16, column: 1 });
  assert.deepEqual(loc.locate(["server", 0, "after"], "key"), { line: 18, column: 1 });
  assert.equal(loc.find(["not-a-header"], "header"), undefined);
  assert.deepEqual(loc.locate(["synchronization", "algorithm"], "table"), { line: 19, column: 1 });
  assert.deepEqual(loc.locate(["synchronization", "algorithm", "meddling-threshold"], "key"), {
    line: 21,
    column: 1,
  });
});

test("unknown paths fall back to the nearest enclosing table, then to 1:1", () => {
  assert.deepEqual(loc.locate(["source", 1, "nope"], "key"), { line: 7, column: 1 });
  assert.deepEqual(loc.locate(["server", 0, "allowlist", "action"], "key"), {
    line: 14,
    column: 1,
  });
  assert.deepEqual(loc.locate(["nothing", "here"], "value"), { line: 1, column: 1 });
});

test("nested arrays of tables restart their numbering per parent", () => {
  const l = new TomlLocator("[[a]]\n[[a.b]]\n[[a.b]]\n[[a]]\n[[a.b]]\nk = 1\n");
  assert.deepEqual(l.locate(["a", 0, "b", 1], "table"), { line: 3, column: 1 });
  assert.deepEqual(l.locate(["a", 1, "b", 0], "table"), { line: 5, column: 1 });
  assert.deepEqual(l.locate(["a", 1, "b", 0, "k"], "key"), { line: 6, column: 1 });
});

test("inline arrays of tables and escaped quoted keys", () => {
  const l = new TomlLocator(
    'source = [\n  { mode = "server" },\n  { "a\\u0062c" = 1 },\n]\r\nx = 2',
  );
  assert.deepEqual(l.locate(["source", 1, "abc"], "key"), { line: 3, column: 5 });
  assert.deepEqual(l.locate(["source", 0, "mode"], "value"), { line: 2, column: 12 });
  assert.deepEqual(l.locate(["x"], "key"), { line: 5, column: 1 });
});

test("any text: the scanner ends without throwing", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => {
      const l = new TomlLocator(s);
      const p = l.locate(["a", 0, "b"], "key");
      assert.ok(p.line >= 1 && p.column >= 1);
    }),
    { numRuns: 500 },
  );
});
