// AEAD microbenchmark: seal+open per second for ids 15, 17 and 30 on a typical
// NTS packet (docs: node-platform.md §1.4: AD 198 octets, nonce 16 (12 for
// GCM-SIV), plaintext 100), with the cipher kept per key ("cached") or created
// per operation ("fresh"); plus the NTS shapes (empty-plaintext request,
// response carrying a cookie, cookie seal/open) and the AEAD work of one NTS
// server request. Single thread, bounded to a few seconds.
//
//   node --import tsx bench/aead.ts [--ms 200]
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { aessiv } from "@noble/ciphers/aes.js";
import { AeadId, type AeadCipher } from "../src/proto/crypto/aead.js";
import { aeadKeyLength, createAead } from "../src/proto/crypto/registry.js";

const { values: args } = parseArgs({
  options: { ms: { type: "string", default: "200" } },
  strict: true,
});
const rowMs = Number(args.ms);

interface Rate {
  /** Operations per second of this thread's CPU time (steady on a shared machine). */
  perCpuSecond: number;
  /** Operations per second of wall time. */
  perWallSecond: number;
}

/** Runs `op` in batches for about `rowMs` of wall time (after a short warm-up). */
function rate(op: () => void): Rate {
  const batch = 200;
  const warmUntil = performance.now() + Math.min(50, rowMs / 4);
  while (performance.now() < warmUntil) for (let i = 0; i < batch; i++) op();
  let ops = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  let now = start;
  while (now - start < rowMs) {
    for (let i = 0; i < batch; i++) op();
    ops += batch;
    now = performance.now();
  }
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  return { perCpuSecond: ops / cpuSeconds, perWallSecond: (ops * 1000) / (now - start) };
}

let sink = 0;
function check(result: Uint8Array | null): void {
  if (result === null) throw new Error("open failed in benchmark");
  sink ^= result.length;
}

function row(name: string, op: () => void): void {
  const r = rate(op);
  const us = 1e6 / r.perCpuSecond;
  const cpu = Math.round(r.perCpuSecond).toString().padStart(8);
  const wall = Math.round(r.perWallSecond).toString().padStart(8);
  console.log(`${name.padEnd(50)} ${cpu} ${us.toFixed(1).padStart(7)} ${wall}`);
}

const ids = [AeadId.AES_SIV_CMAC_256, AeadId.AES_SIV_CMAC_512, AeadId.AES_128_GCM_SIV] as const;
const ad198 = randomBytes(198);
const plaintext100 = randomBytes(100);

console.log(`node ${process.version}, openssl ${process.versions.openssl}, ${rowMs} ms per row`);
console.log("one op = seal + open; AD 198, plaintext 100 unless noted");
console.log(
  `${"".padEnd(50)} ${"ops/cpu-s".padStart(8)} ${"cpu µs".padStart(7)} ${"ops/wall-s".padStart(8)}`,
);
for (const id of ids) {
  const key = randomBytes(aeadKeyLength(id)!);
  const cached = createAead(id, key);
  const nonce = randomBytes(cached.nonceLength);
  row(`id ${id} cached key`, () => {
    check(cached.open(nonce, ad198, cached.seal(nonce, ad198, plaintext100)));
  });
  row(`id ${id} fresh key per op`, () => {
    const c = createAead(id, key);
    check(c.open(nonce, ad198, c.seal(nonce, ad198, plaintext100)));
  });
}
for (const [id, keyLength] of [
  [15, 32],
  [17, 64],
] as const) {
  const key = randomBytes(keyLength);
  const nonce = randomBytes(16);
  row(`id ${id} @noble/ciphers aessiv (reference)`, () => {
    check(aessiv(key, ad198, nonce).decrypt(aessiv(key, ad198, nonce).encrypt(plaintext100)));
  });
}

console.log("\nNTS shapes (cached key, one op = seal + open)");
for (const id of ids) {
  const cipher = createAead(id, randomBytes(aeadKeyLength(id)!));
  const nonce = randomBytes(cipher.nonceLength);
  const requestAd = randomBytes(id === 17 ? 256 : 188); // header + UID + cookie EF
  const empty = new Uint8Array(0);
  const responseAd = randomBytes(84); // header + UID
  const cookieEf = randomBytes(id === 17 ? 172 : 104); // one encrypted cookie EF
  row(`id ${id} request: AD ${requestAd.length}, plaintext 0`, () => {
    check(cipher.open(nonce, requestAd, cipher.seal(nonce, requestAd, empty)));
  });
  row(`id ${id} response: AD 84, plaintext ${cookieEf.length}`, () => {
    check(cipher.open(nonce, responseAd, cipher.seal(nonce, responseAd, cookieEf)));
  });
}
{
  const master = createAead(17, randomBytes(64));
  const nonce = randomBytes(16);
  const cookiePlain = randomBytes(2 + 2 * 64);
  row("cookie (master id 17): AD 0, plaintext 130", () => {
    check(
      master.open(nonce, new Uint8Array(0), master.seal(nonce, new Uint8Array(0), cookiePlain)),
    );
  });
}

console.log("\nAEAD work per NTS server request (cookie open with cached 17 master key,");
console.log("fresh C2S/S2C ciphers from the cookie, request open, response seal, new cookie seal)");
for (const id of ids) {
  const keyLength = aeadKeyLength(id)!;
  const master = createAead(17, randomBytes(64));
  const c2s = randomBytes(keyLength);
  const s2c = randomBytes(keyLength);
  const cookieNonce = randomBytes(16);
  const cookiePlain = new Uint8Array(2 + 2 * keyLength);
  cookiePlain.set(s2c, 2);
  cookiePlain.set(c2s, 2 + keyLength);
  const cookie = master.seal(cookieNonce, new Uint8Array(0), cookiePlain);
  const client = createAead(id, c2s);
  const nonce = randomBytes(client.nonceLength);
  const requestAd = randomBytes(84 + 4 + 6 + 16 + cookie.length);
  const request = client.seal(nonce, requestAd, new Uint8Array(0));
  const responseAd = randomBytes(84);
  const newCookieEf = new Uint8Array(4 + 6 + 16 + cookie.length);
  row(`session id ${id}`, () => {
    const keys = master.open(cookieNonce, new Uint8Array(0), cookie);
    if (keys === null) throw new Error("cookie");
    const c2sCipher: AeadCipher = createAead(id, keys.subarray(2 + keyLength));
    check(c2sCipher.open(nonce, requestAd, request));
    const fresh = master.seal(cookieNonce, new Uint8Array(0), keys);
    newCookieEf.set(fresh, 26);
    const s2cCipher = createAead(id, keys.subarray(2, 2 + keyLength));
    check(s2cCipher.seal(nonce, responseAd, newCookieEf));
  });
}
if (sink === -1) console.log(sink);
