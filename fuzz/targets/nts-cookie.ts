// decodeCookie with a fixed key set on any bytes: null or the keys of a known
// AEAD at the right length, never a throw. Seeds are real cookies of that key
// set (each AEAD), so mutations start from authentic ones, plus the vectors.

import { aeadKeyLength } from "../../src/proto/nts/ke/key-export.js";
import { decodeCookie, encodeCookie } from "../../src/proto/nts/cookie/cookie.js";
import { AeadId } from "../../src/proto/crypto/aead.js";
import { check, type FuzzTarget } from "../engine/target.js";
import { seedsWhere } from "../seeds.js";
import { fixedKeySet, seededRandom } from "./common.js";

const keys = fixedKeySet();

export function ourCookies(): Uint8Array[] {
  const random = seededRandom(7);
  return [AeadId.AES_SIV_CMAC_256, AeadId.AES_SIV_CMAC_512, AeadId.AES_128_GCM_SIV].map((aead) => {
    const k = aeadKeyLength(aead)!;
    return encodeCookie(keys, { aead, c2s: random(k), s2c: random(k) }, random);
  });
}

export const ntsCookie: FuzzTarget = {
  name: "nts-cookie",
  description: "decodeCookie: null or keys of a known AEAD at its key length; never throws",
  kind: "bytes",
  maxLength: 512,
  seeds: () => [...ourCookies(), ...seedsWhere(/cookie/)],
  run(input) {
    const contents = decodeCookie(keys, input);
    if (contents === null) return;
    const k = aeadKeyLength(contents.aead);
    check(k !== undefined, `cookie with unknown AEAD ${contents.aead}`);
    check(
      contents.c2s.length === k && contents.s2c.length === k,
      "key lengths do not match the AEAD",
    );
  },
};
