import { test } from "node:test";
import assert from "node:assert/strict";
import { internalErrorText } from "./fatal.js";

test("an unexpected start-up error is one line without a stack trace", () => {
  const error = new Error("ENOENT: no such file\n    at somewhere (file.js:1:1)");
  const text = internalErrorText("ntp-daemon", error, {});
  assert.equal(text.split("\n").length, 2, "one line and its newline");
  assert.match(text, /^ntp-daemon: internal error: ENOENT: no such file/);
  assert.doesNotMatch(text, /^\s+at /m);
  assert.match(internalErrorText("x", "plain", {}), /^x: internal error: plain /);
});

test("NTPD_TS_BACKTRACE=1 adds the stack for a bug report", () => {
  const text = internalErrorText("ntp-daemon", new Error("boom"), { NTPD_TS_BACKTRACE: "1" });
  assert.match(text, /^\s+at /m);
});
