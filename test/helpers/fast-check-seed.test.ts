// Property tests may not go red by chance: under `npm test` every fast-check
// run uses one fixed seed (scripts/fast-check-seed.mjs) unless
// NTPD_TS_FC_SEED asks for another, and a failure prints the seed and path.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";

test("fast-check runs with a fixed, reported seed under npm test", () => {
  const { seed } = fc.readConfigureGlobal();
  const wanted = process.env.NTPD_TS_FC_SEED;
  if (wanted !== "random") {
    assert.equal(seed, wanted === undefined ? 20261207 : Number(wanted));
    // Two runs of the same property see the same values.
    const draws = () => fc.sample(fc.integer(), 5);
    assert.deepEqual(draws(), draws());
  }
  // A failure names its seed and path, so it can be replayed.
  assert.throws(
    () => fc.assert(fc.property(fc.nat(), (n) => n < 0)),
    (error: Error) => new RegExp(`seed: ${seed ?? "-?\\d+"}, path: "`).test(error.message),
  );
});
