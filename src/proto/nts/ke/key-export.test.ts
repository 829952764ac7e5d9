// Exporter context and label against nts_ke.json → key_export_example and the
// chrony/NTPsec captures: the keys are recomputed here from the logged TLS 1.3
// exporter secrets (RFC 8446 §7.5), so a wrong context byte or label fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import vectors from "./fixtures/nts_ke.json" with { type: "json" };
import captures from "./fixtures/nts_ke_captures.json" with { type: "json" };
import {
  NTS_KE_EXPORTER_LABEL,
  aeadKeyLength,
  exporterContextAead,
  keyExportContext,
} from "./key-export.js";

const fromHex = (h: string): Buffer => Buffer.from(h, "hex");
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function hkdfExpand(hash: string, prk: Buffer, info: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(blocks).length < length; i++) {
    previous = createHmac(hash, prk)
      .update(Buffer.concat([previous, info, Buffer.of(i)]))
      .digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function expandLabel(hash: string, secret: Buffer, label: string, context: Buffer, length: number) {
  const full = Buffer.from(`tls13 ${label}`, "ascii");
  const info = Buffer.concat([
    Buffer.of(length >> 8, length & 0xff, full.length),
    full,
    Buffer.of(context.length),
    context,
  ]);
  return hkdfExpand(hash, secret, info, length);
}

/** RFC 8446 §7.5 TLS-Exporter(label, context, length) from the exporter secret. */
function tlsExporter(
  hash: string,
  exporterSecret: Buffer,
  label: string,
  context: Uint8Array,
  length: number,
): Buffer {
  const empty = createHash(hash).digest();
  const derived = expandLabel(hash, exporterSecret, label, empty, empty.length);
  const contextHash = createHash(hash).update(context).digest();
  return expandLabel(hash, derived, "exporter", contextHash, length);
}

test("label and context layout", () => {
  assert.equal(NTS_KE_EXPORTER_LABEL, "EXPORTER-network-time-security");
  assert.equal(NTS_KE_EXPORTER_LABEL.length, 30);
  assert.equal(toHex(keyExportContext(0, 15, "c2s")), "0000000f00");
  assert.equal(toHex(keyExportContext(0, 15, "s2c")), "0000000f01");
  assert.equal(toHex(keyExportContext(0x8001, 17, "s2c")), "8001001101");
  assert.throws(() => keyExportContext(0x10000, 15, "c2s"), RangeError);
  assert.throws(() => keyExportContext(0, -1, "c2s"), RangeError);
});

test("key lengths and chrony's legacy AES-128-GCM-SIV context", () => {
  assert.deepEqual([15, 16, 17, 30, 31].map(aeadKeyLength), [32, 48, 64, 16, 32]);
  assert.equal(aeadKeyLength(99), undefined);
  assert.equal(exporterContextAead(30, false), 15);
  assert.equal(exporterContextAead(30, true), 30);
  assert.equal(exporterContextAead(17, false), 17);
});

const example = vectors.key_export_example;
for (const c of example.cases) {
  test(`key_export_example: protocol ${c.next_protocol}, AEAD ${c.aead}, ${c.direction}`, () => {
    const direction = c.direction === "C2S" ? "c2s" : "s2c";
    const context = keyExportContext(c.next_protocol, c.aead, direction);
    assert.equal(toHex(context), c.context_hex);
    assert.equal(aeadKeyLength(c.aead), c.length);
    const key = tlsExporter(
      "sha256",
      fromHex(example.exporter_master_secret),
      NTS_KE_EXPORTER_LABEL,
      context,
      c.length,
    );
    assert.equal(toHex(key), c.key);
  });
}

for (const s of captures.sessions) {
  test(`capture ${s.file}: C2S/S2C keys from the exporter secret (${s.cipher_suite})`, () => {
    assert.equal(s.keys.exporter_label, NTS_KE_EXPORTER_LABEL);
    const hash = s.cipher_suite.endsWith("SHA384") ? "sha384" : "sha256";
    for (const [direction, contextHex, keyHex] of [
      ["c2s", s.keys.c2s_context_hex, s.keys.c2s_key],
      ["s2c", s.keys.s2c_context_hex, s.keys.s2c_key],
    ] as const) {
      const context = keyExportContext(0, 15, direction);
      assert.equal(toHex(context), contextHex);
      const key = tlsExporter(
        hash,
        fromHex(s.keys.exporter_secret),
        NTS_KE_EXPORTER_LABEL,
        context,
        32,
      );
      assert.equal(toHex(key), keyHex);
    }
  });
}
