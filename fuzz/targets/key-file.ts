// parseKeySet on any file contents: a key set or a typed rejection, never a
// throw; an accepted file serializes back to exactly its bytes.

import {
  parseKeySet,
  serializeKeySet,
  type KeyFileErrorCode,
} from "../../src/proto/nts/keyset/storage.js";
import { KeySet } from "../../src/proto/nts/keyset/keyset.js";
import { check, sameBytes, type FuzzTarget } from "../engine/target.js";
import { fixedKeySet, seededRandom } from "./common.js";

const CODES = new Set<KeyFileErrorCode>([
  "empty",
  "short-header",
  "time-out-of-range",
  "no-keys",
  "truncated",
  "trailing-data",
  "primary-out-of-range",
  "zero-key",
  "duplicate-key",
]);

function rotatedTwice(): KeySet {
  const keys = KeySet.generate(seededRandom(4));
  keys.rotate(seededRandom(5));
  keys.rotate(seededRandom(6));
  return keys;
}

export const keyFile: FuzzTarget = {
  name: "key-file",
  description:
    "parseKeySet: key set or typed rejection; accepted files re-serialize to the same bytes",
  kind: "bytes",
  maxLength: 20 + 10 * 64,
  seeds: () => [
    serializeKeySet(fixedKeySet(), 1_800_000_000),
    serializeKeySet(KeySet.generate(seededRandom(3)), 0),
    serializeKeySet(rotatedTwice(), 2 ** 40),
  ],
  run(input) {
    const result = parseKeySet(input);
    if (!result.ok) {
      check(CODES.has(result.code), `unknown code ${result.code}`);
      check(result.error.length > 0, "empty error");
      return;
    }
    const again = serializeKeySet(result.keyset, result.storedAt);
    check(sameBytes(again, input), "serialize(parse(file)) differs from the file");
  },
};
