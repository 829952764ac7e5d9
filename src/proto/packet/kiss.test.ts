import { test } from "node:test";
import assert from "node:assert/strict";
import { isKiss, kissCode, kissCodes, KNOWN_KISS_CODES } from "./kiss.js";
import { referenceIdFromAscii } from "./reference-id.js";

test("kiss codes are the ASCII reference ids of ntp_reference_ids.json", () => {
  assert.equal(kissCodes.DENY, 0x44454e59);
  assert.equal(kissCodes.RATE, 0x52415445);
  assert.equal(kissCodes.RSTR, 0x52535452);
  assert.equal(kissCodes.NTSN, 0x4e54534e);
});

test("kissCode: only stratum 0 is a kiss", () => {
  assert.equal(kissCode({ stratum: 0, referenceId: kissCodes.DENY }), "DENY");
  assert.equal(kissCode({ stratum: 0, referenceId: kissCodes.RATE }), "RATE");
  assert.equal(kissCode({ stratum: 1, referenceId: kissCodes.DENY }), null);
  assert.equal(kissCode({ stratum: 16, referenceId: kissCodes.RATE }), null);
  for (const code of KNOWN_KISS_CODES) {
    assert.equal(kissCode({ stratum: 0, referenceId: referenceIdFromAscii(code) }), code);
  }
  // Unprintable ids come back as hex, so they can be logged and match no code.
  assert.equal(kissCode({ stratum: 0, referenceId: 0x01020304 }), "01020304");
  assert.equal(kissCode({ stratum: 0, referenceId: 0 }), "00000000");
});

test("isKiss", () => {
  assert.ok(isKiss({ stratum: 0, referenceId: kissCodes.NTSN }, "NTSN"));
  assert.ok(!isKiss({ stratum: 0, referenceId: kissCodes.NTSN }, "DENY"));
  assert.ok(!isKiss({ stratum: 2, referenceId: kissCodes.DENY }, "DENY"));
});
