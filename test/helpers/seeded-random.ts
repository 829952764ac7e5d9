// Deterministic "random" octets for tests whose code under test takes a random
// source (nonces, cookies, unique identifiers): reproducible bytes from a seed,
// one octet per step of the fuzz engine's xorshift32.
import { Rng } from "../../fuzz/engine/rng.js";

export function seededRandom(seed = 0x9e3779b9): (n: number) => Uint8Array {
  const rng = new Rng(seed >>> 0 || 1);
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = rng.u32() & 0xff;
    return out;
  };
}
