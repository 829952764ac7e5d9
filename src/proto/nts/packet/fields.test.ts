// NTS extension field codec: layouts, the real captured ntpd-rs pair and the
// chrony/NTPsec captures verified through readAuthenticator/openAuthenticator,
// the scanner, and hostile input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { AeadId } from "../../crypto/aead.js";
import { createAead } from "../../crypto/registry.js";
import { parsePacket } from "../../packet/parse.js";
import {
  AuthenticatorView,
  NtsFieldType,
  authenticatorFieldLength,
  carriesUniqueIdentifier,
  cookieFieldLength,
  hasRequiredNoncePadding,
  openAuthenticator,
  placeholderFieldLength,
  readAuthenticator,
  requiredNonceLength,
  uniqueIdentifierFieldLength,
  writeAuthenticator,
  writeCookie,
  writePlaceholder,
  writeUniqueIdentifier,
} from "./fields.js";
import { NtsFieldScanner } from "./scan.js";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;

interface Packets {
  captured: Record<string, string> & { aead: 17 };
  synthetic_aead15: Record<string, string>;
}
interface Exchange {
  name: string;
  aead: 15;
  c2s_key: string;
  s2c_key: string;
  request: string;
  response: string;
}
const packets = fixture<Packets>("nts_ntp_packets.json");
const exchanges = fixture<{ exchanges: Exchange[] }>("captures.json").exchanges;

/** The authenticator of a whole packet, located by parsePacket. */
function authenticatorOf(packet: Uint8Array): AuthenticatorView {
  const parsed = parsePacket(packet);
  assert.ok(parsed.ok);
  const field = parsed.value.extensionFields.find((f) => f.type === NtsFieldType.Authenticator);
  assert.ok(field !== undefined, "no authenticator");
  const view = new AuthenticatorView();
  assert.ok(readAuthenticator(packet, field.offset, field.value.length, view));
  return view;
}

test("field lengths: authenticated fields ≥ 16, encrypted cookies unpadded, 4-octet multiples", () => {
  assert.equal(uniqueIdentifierFieldLength(32), 36);
  assert.equal(uniqueIdentifierFieldLength(4), 16);
  assert.equal(cookieFieldLength(104, false), 108);
  assert.equal(cookieFieldLength(100, true), 104);
  assert.equal(cookieFieldLength(6, false), 16);
  assert.equal(cookieFieldLength(6, true), 12);
  assert.equal(placeholderFieldLength(168), 172);
  assert.equal(placeholderFieldLength(101), 108);
  // The smallest AES-SIV authenticator (NTS.md §5.4): 04 04 00 28 00 10 00 10 + nonce + tag.
  assert.equal(authenticatorFieldLength(16, 16), 40);
  assert.equal(authenticatorFieldLength(12, 16), 36);
  assert.equal(authenticatorFieldLength(5, 17, 3), 4 + 4 + 8 + 20 + 4);
});

test("writers produce the exact ntpd-rs bytes (extension_fields.rs tests)", () => {
  const out = new Uint8Array(64);
  const seq = Uint8Array.from({ length: 16 }, (_, i) => i);
  assert.equal(writeUniqueIdentifier(out, 0, seq), 20);
  assert.equal(toHex(out.subarray(0, 20)), "01040014" + toHex(seq));
  assert.equal(writeCookie(out, 0, seq, false), 20);
  assert.equal(toHex(out.subarray(0, 20)), "02040014" + toHex(seq));
  out.fill(0xff);
  assert.equal(writePlaceholder(out, 4, 16), 20);
  assert.equal(toHex(out.subarray(4, 24)), "03040014" + "00".repeat(16));
  assert.equal(out[3], 0xff);
  assert.equal(out[24], 0xff);
  // Encrypted cookies take no minimum; odd lengths are zero-padded.
  out.fill(0xff);
  assert.equal(writeCookie(out, 0, Uint8Array.of(1, 2, 3), true), 8);
  assert.equal(toHex(out.subarray(0, 8)), "0204000801020300");
  assert.throws(() => writePlaceholder(new Uint8Array(10), 0, 16), RangeError);
});

test("the real ntpd-rs request verifies under C2S, the real response under S2C", () => {
  const c = packets.captured;
  const request = hex(c.request!);
  const response = hex(c.response!);
  const c2s = createAead(AeadId.AES_SIV_CMAC_512, hex(c.c2s_key!));
  const s2c = createAead(AeadId.AES_SIV_CMAC_512, hex(c.s2c_key!));

  const rq = authenticatorOf(request);
  assert.deepEqual(
    [rq.fieldOffset, rq.nonceLength, rq.ciphertextLength, rq.additionalPadding],
    [256, 16, 16, 0],
  );
  assert.equal(toHex(request.subarray(rq.nonceOffset, rq.nonceOffset + 16)), c.request_nonce);
  assert.equal(toHex(openAuthenticator(request, rq, c2s)!), "");
  assert.equal(openAuthenticator(request, rq, s2c), null, "not under the other key");
  assert.ok(hasRequiredNoncePadding(rq, c2s));

  const rs = authenticatorOf(response);
  assert.deepEqual([rs.fieldOffset, rs.nonceLength, rs.ciphertextLength], [84, 16, 188]);
  assert.equal(toHex(openAuthenticator(response, rs, s2c)!), c.response_plaintext);
  assert.equal(openAuthenticator(response, rs, c2s), null);

  // One flipped bit in the associated data (the UID) and it no longer verifies.
  const bad = response.slice();
  bad[60]! ^= 1;
  assert.equal(openAuthenticator(bad, rs, s2c), null);
});

test("the chrony and NTPsec captures verify: requests under C2S, responses under S2C", () => {
  assert.equal(exchanges.length, 6);
  for (const e of exchanges) {
    const c2s = createAead(AeadId.AES_SIV_CMAC_256, hex(e.c2s_key));
    const s2c = createAead(AeadId.AES_SIV_CMAC_256, hex(e.s2c_key));
    const request = hex(e.request);
    const response = hex(e.response);
    assert.equal(openAuthenticator(request, authenticatorOf(request), c2s)?.length, 0, e.name);
    const plaintext = openAuthenticator(response, authenticatorOf(response), s2c);
    assert.ok(plaintext !== null, e.name);
    // One encrypted NTS Cookie field.
    assert.equal((plaintext[0]! << 8) | plaintext[1]!, NtsFieldType.Cookie, e.name);
    assert.equal((plaintext[2]! << 8) | plaintext[3]!, plaintext.length, e.name);
  }
});

test("writeAuthenticator reproduces the synthetic AEAD 15 request authenticator", () => {
  const v = packets.synthetic_aead15;
  const request = hex(v.request!);
  const out = request.slice();
  out.fill(0xee, 292);
  const c2s = createAead(AeadId.AES_SIV_CMAC_256, hex(v.c2s_key!));
  assert.equal(writeAuthenticator(out, 292, c2s, hex(v.client_nonce!), new Uint8Array(0)), 40);
  assert.equal(toHex(out), v.request);
});

test("writeAuthenticator/readAuthenticator round trip with odd lengths and padding", () => {
  const cipher = createAead(AeadId.AES_SIV_CMAC_256, new Uint8Array(32).fill(7));
  for (const [nonceLength, plaintextLength, padding] of [
    [16, 0, 0],
    [5, 3, 12],
    [1, 17, 0],
    [20, 8, 4],
  ] as const) {
    const out = new Uint8Array(200).fill(0xcc);
    out.fill(1, 0, 48);
    const nonce = new Uint8Array(nonceLength).fill(9);
    const plaintext = new Uint8Array(plaintextLength).fill(3);
    const n = writeAuthenticator(out, 48, cipher, nonce, plaintext, padding);
    assert.equal(n % 4, 0);
    assert.equal(n, authenticatorFieldLength(nonceLength, 16 + plaintextLength, padding));
    assert.equal(out[48 + n], 0xcc, "nothing written past the field");
    const view = new AuthenticatorView();
    assert.ok(readAuthenticator(out, 48, n - 4, view));
    assert.equal(view.nonceLength, nonceLength);
    assert.equal(view.ciphertextLength, 16 + plaintextLength);
    assert.equal(view.additionalPadding, (padding + 3) & ~3);
    assert.deepEqual(openAuthenticator(out, view, cipher), plaintext);
    // Padding octets are zero.
    for (let i = view.nonceOffset + nonceLength; i < view.ciphertextOffset; i++) {
      assert.equal(out[i], 0);
    }
  }
});

test("the RFC 8915 nonce padding rule: short nonces need additional padding", () => {
  const siv = createAead(AeadId.AES_SIV_CMAC_256, new Uint8Array(32));
  const gcm = createAead(AeadId.AES_128_GCM_SIV, new Uint8Array(16));
  assert.equal(requiredNonceLength(siv), 16);
  assert.equal(requiredNonceLength(gcm), 12);
  const view = new AuthenticatorView();
  view.nonceLength = 4;
  view.additionalPadding = 8;
  assert.equal(hasRequiredNoncePadding(view, siv), false);
  view.additionalPadding = 12;
  assert.equal(hasRequiredNoncePadding(view, siv), true);
  view.nonceLength = 12;
  view.additionalPadding = 0;
  assert.equal(hasRequiredNoncePadding(view, gcm), true);
  assert.equal(hasRequiredNoncePadding(view, siv), false);
});

test("readAuthenticator refuses lengths that leave the field", () => {
  const view = new AuthenticatorView();
  const field = (nonceLength: number, ciphertextLength: number, valueLength: number) => {
    const b = new Uint8Array(4 + Math.max(4, valueLength));
    b.set([0x04, 0x04, (4 + valueLength) >> 8, (4 + valueLength) & 0xff]);
    b.set(
      [nonceLength >> 8, nonceLength & 0xff, ciphertextLength >> 8, ciphertextLength & 0xff],
      4,
    );
    return b;
  };
  assert.ok(readAuthenticator(field(16, 16, 36), 0, 36, view));
  assert.equal(readAuthenticator(field(16, 17, 36), 0, 36, view), false);
  assert.equal(readAuthenticator(field(17, 16, 36), 0, 36, view), false);
  assert.equal(readAuthenticator(field(0xffff, 0xffff, 36), 0, 36, view), false);
  assert.equal(readAuthenticator(field(0, 0, 0), 0, 0, view), false);
  assert.equal(readAuthenticator(field(16, 16, 36), 0, 40, view), false, "value past the buffer");
  assert.equal(readAuthenticator(field(16, 16, 36), -4, 36, view), false);
});

test("carriesUniqueIdentifier: the identifier then only zero padding", () => {
  const uid = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const padded = new Uint8Array(36);
  padded.set(uid);
  assert.ok(carriesUniqueIdentifier(uid, 0, 32, uid));
  assert.ok(carriesUniqueIdentifier(padded, 0, 36, uid));
  padded[35] = 1;
  assert.equal(carriesUniqueIdentifier(padded, 0, 36, uid), false);
  assert.equal(carriesUniqueIdentifier(uid, 0, 31, uid), false);
  assert.equal(carriesUniqueIdentifier(uid, 1, 32, uid), false);
  assert.equal(
    carriesUniqueIdentifier(
      uid.map((b, i) => (i === 7 ? b ^ 1 : b)),
      0,
      32,
      uid,
    ),
    false,
  );
});

test("scanner: the captured request and the synthetic one", () => {
  const scan = new NtsFieldScanner(32);
  const rq = hex(packets.captured.request!);
  assert.ok(scan.scan(rq, 48, rq.length));
  assert.deepEqual(
    [scan.uidCount, scan.authenticatedUidCount, scan.cookieCount, scan.slotCount],
    [1, 1, 1, 1],
  );
  assert.deepEqual([scan.cookieValueOffset, scan.cookieValueLength], [88, 168]);
  assert.deepEqual([scan.authenticatorCount, scan.authenticatorOffset], [1, 256]);
  assert.equal(scan.authenticatorValueLength, 36);

  const syn = hex(packets.synthetic_aead15.request!);
  assert.ok(scan.scan(syn, 48, syn.length));
  assert.deepEqual([scan.cookieCount, scan.slotCount], [1, 2]);
  assert.deepEqual([...scan.slotLengths.subarray(0, 2)], [100, 100]);
  assert.equal(scan.authenticatorOffset, 292);
});

test("scanner: fields after the authenticator are untrusted; broken framing is reported", () => {
  const uid = new Uint8Array(32).fill(1);
  const out = new Uint8Array(400);
  let off = 48;
  off += writeUniqueIdentifier(out, off, uid);
  off += writeCookie(out, off, new Uint8Array(40), false);
  const cipher = createAead(AeadId.AES_SIV_CMAC_256, new Uint8Array(32));
  off += writeAuthenticator(out, off, cipher, new Uint8Array(16), new Uint8Array(0));
  off += writeUniqueIdentifier(out, off, uid);
  off += writeCookie(out, off, new Uint8Array(40), false);
  off += writePlaceholder(out, off, 40);
  off += writeAuthenticator(out, off, cipher, new Uint8Array(16), new Uint8Array(0));
  const scan = new NtsFieldScanner(32);
  assert.ok(scan.scan(out, 48, off));
  assert.deepEqual(
    [scan.uidCount, scan.authenticatedUidCount, scan.cookieCount, scan.slotCount],
    [2, 1, 1, 1],
  );
  assert.equal(scan.authenticatorCount, 2);
  out[50] = 0; // first UID field length 0x0024 → 0x0000
  out[51] = 3;
  assert.equal(scan.scan(out, 48, off), false);
  assert.equal(scan.error, "bad-extension-field");
  assert.equal(scan.uidCount, 0);
  const small = new NtsFieldScanner(2);
  out[51] = 0x24;
  assert.equal(small.scan(out, 48, off), false);
  assert.equal(small.error, "too-many-extension-fields");
});

test("property: random and mutated bytes never make the readers throw", () => {
  const scan = new NtsFieldScanner(32);
  const view = new AuthenticatorView();
  const cipher = createAead(AeadId.AES_SIV_CMAC_256, new Uint8Array(32));
  const base = hex(packets.synthetic_aead15.request!);
  const mutated = fc
    .array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
      maxLength: 8,
    })
    .map((edits) => {
      const b = base.slice();
      for (const [i, v] of edits) b[i] = v;
      return b;
    });
  fc.assert(
    fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated),
      fc.nat(700),
      fc.nat(700),
      (bytes, a, b) => {
        scan.scan(bytes, Math.min(48, bytes.length), bytes.length);
        scan.scan(bytes, a, b, false);
        if (readAuthenticator(bytes, a, b, view)) {
          assert.ok(view.ciphertextOffset + view.ciphertextLength <= bytes.length);
          openAuthenticator(bytes, view, cipher);
        }
        carriesUniqueIdentifier(bytes, a, b, new Uint8Array(32));
      },
    ),
    { numRuns: 2000 },
  );
});
