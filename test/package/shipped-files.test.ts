// What `npm run build` compiles into dist/ (and `npm pack` ships): product code
// only. Test files (*.test.ts) and shared test suites (*.contract.ts, e.g. the
// UDP socket contract both socket implementations run) stay out of it.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { test } from "node:test";
import ts from "typescript";

const root = new URL("../..", import.meta.url).pathname;

function buildInputs(): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(`${root}tsconfig.build.json`, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  assert.ok(parsed, "tsconfig.build.json parses");
  return parsed.fileNames.map((f) => relative(root, f));
}

const TEST_ONLY = /from "(node:test|node:assert(\/strict)?|fast-check)"/;

test("the build compiles no test file and no module that imports a test framework", () => {
  const files = buildInputs();
  assert.ok(files.includes("src/cli/ntp-daemon.ts"), "the programs are built");
  assert.ok(files.includes("src/daemon/native/udp.ts"), "the UDP sockets are built");
  const testFiles = files.filter((f) => /\.(test|contract)\.ts$/.test(f));
  assert.deepEqual(testFiles, []);
  const importsTestCode = files.filter((f) => TEST_ONLY.test(readFileSync(`${root}${f}`, "utf8")));
  assert.deepEqual(importsTestCode, []);
});
