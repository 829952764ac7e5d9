// parseConfig (ntp.toml: TOML syntax, schema, semantic checks) on any text:
// a config or diagnostics, never a throw, and never the "internal error"
// diagnostic parseConfig reports when one of its own steps threw (that would
// be a bug swallowed, not a bad file); every diagnostic has a position and a
// message and formats.

import {
  formatDiagnostic,
  parseConfig,
  type ConfigDiagnostic,
} from "../../src/proto/config/index.js";
import { check, utf8, type FuzzTarget } from "../engine/target.js";
import { tomlSeeds } from "../seeds.js";

const decoder = new TextDecoder("utf-8", { fatal: false });

const TOKENS = [
  "[[source]]",
  "[[server]]",
  "[[nts-ke-server]]",
  "[source-defaults]",
  "[synchronization]",
  "[observability]",
  "[keyset]",
  "[clock]",
  "=",
  '"',
  "'",
  "'''",
  '"""',
  "\n",
  "[",
  "]",
  "{",
  "}",
  ",",
  ".",
  "#",
  "-1",
  "0",
  "1e400",
  "-0.0",
  "inf",
  "nan",
  "0x7fffffffffffffff",
  "99999999999999999999",
  "true",
  "false",
  "1979-05-27T07:32:00Z",
  "\\u0000",
  "\\",
  "\uFEFF",
  'mode = "nts"',
  'mode = "pool"',
  'mode = "server"',
  'address = "[::1]:123"',
  'address = "127.0.0.1:123"',
  "count = 4",
  'listen = "0.0.0.0:4460"',
];

function dictionary(): Uint8Array[] {
  const words = new Set<string>(TOKENS);
  for (const text of tomlSeeds())
    for (const m of text.matchAll(/[A-Za-z][A-Za-z0-9_-]+/g)) words.add(m[0]);
  return [...words].map(utf8);
}

function checkDiagnostic(d: ConfigDiagnostic): void {
  check(!d.message.startsWith("internal error"), d.message);
  check(Number.isInteger(d.line) && d.line >= 0, `line ${d.line}`);
  check(Number.isInteger(d.column) && d.column >= 0, `column ${d.column}`);
  check(d.message.length > 0, "empty diagnostic");
  formatDiagnostic(d);
}

export const config: FuzzTarget = {
  name: "config",
  description: "parseConfig: config or positioned diagnostics, never a throw or an internal error",
  kind: "text",
  maxLength: 4096,
  dictionary: dictionary(),
  seeds: () => ["", ...tomlSeeds()].map(utf8),
  run(input) {
    const result = parseConfig(decoder.decode(input), "fuzz.toml");
    if (!result.ok) {
      check(result.errors.length > 0, "rejected without an error");
      result.errors.forEach(checkDiagnostic);
    }
    result.warnings.forEach(checkDiagnostic);
  },
};
