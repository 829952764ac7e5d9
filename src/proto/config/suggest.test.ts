import { test } from "node:test";
import assert from "node:assert/strict";
import { closest, didYouMean, editDistance } from "./suggest.js";

test("edit distance counts insertions, deletions, substitutions and swaps", () => {
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("abc", "abc"), 0);
  assert.equal(editDistance("certificate-autority", "certificate-authority"), 1);
  assert.equal(editDistance("lsiten", "listen"), 1);
  assert.equal(editDistance("kitten", "sitting"), 3);
});

test("closest picks a plausible typo and nothing for unrelated words", () => {
  const keys = ["listen", "allowlist", "denylist", "require-nts", "accept-ntp-versions"];
  assert.equal(closest("lisen", keys), "listen");
  assert.equal(closest("allow-list", keys), "allowlist");
  assert.equal(closest("require_nts", keys), "require-nts");
  assert.equal(closest("Require-NTS", keys), "require-nts");
  assert.equal(closest("frobnicate", keys), undefined);
  assert.equal(closest("x", keys), undefined);
});

test("snake_case and kebab-case spellings are matched both ways", () => {
  assert.equal(
    closest("measurement-noise-estimate", ["measurement_noise_estimate"]),
    "measurement_noise_estimate",
  );
  assert.equal(closest("poll_interval_limits", ["poll-interval-limits"]), "poll-interval-limits");
});

test("a multi-word key whose words all appear in one candidate", () => {
  const keys = ["accumulated-step-panic-threshold", "single-step-panic-threshold", "warn-on-jump"];
  assert.equal(closest("accumulated-threshold", keys), "accumulated-step-panic-threshold");
  assert.equal(closest("step-panic-threshold", keys), "single-step-panic-threshold");
  assert.equal(closest("panic-everything", keys), undefined);
});

test("didYouMean formats the advice", () => {
  assert.equal(didYouMean("cout", ["count"]), ' (did you mean "count"?)');
  assert.equal(didYouMean("zzzzzz", ["count"]), "");
});
