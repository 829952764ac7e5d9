// Loaded by scripts/run-tests.mjs into every test process (--import): property
// tests may never turn CI red by chance, so fast-check runs with one fixed
// seed. A failure prints that seed and the shrunk path (fast-check's report),
// which replay it. NTPD_TS_FC_SEED=<integer> runs another seed, =random a
// fresh one each time (to hunt for new counterexamples locally).
// Each test bounds its own numRuns (the default is 100).
import fc from "fast-check";

export const DEFAULT_FC_SEED = 20261207;

const wanted = process.env.NTPD_TS_FC_SEED;
if (wanted !== "random") {
  const seed = wanted === undefined ? DEFAULT_FC_SEED : Number(wanted);
  if (!Number.isSafeInteger(seed)) {
    throw new Error(`NTPD_TS_FC_SEED must be an integer or "random", not "${wanted}"`);
  }
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
