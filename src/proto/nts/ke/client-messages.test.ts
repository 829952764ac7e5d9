// The client's side of NTS-KE: the request it writes (ntpd-rs's and chrony's
// bytes) and how it reads responses: the real nts.time.nl one, chrony's and
// NTPsec's captured ones, and every way a response can be wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import vectors from "./fixtures/nts_ke.json" with { type: "json" };
import captures from "./fixtures/nts_ke_captures.json" with { type: "json" };
import {
  ClientResponseDecoder,
  buildClientRequest,
  parseKeResponse,
  type KeClientError,
} from "./client-messages.js";
import { buildServerResponse } from "./server-messages.js";
import {
  AEAD15,
  COOKIE,
  EOM,
  NP0,
  clientParse,
  expectClientError,
  fromHex,
  ntpdRsOffer,
  records,
  toHex,
} from "../../../../test/helpers/nts-ke-messages.js";

const messageHex = new Map(vectors.messages.map((m) => [m.name, m.hex]));

// --- the real nts.time.nl response ----------------------------------------------

test("nts.time.nl (ntpd-rs server): 8 cookies of 104 octets, AEAD 15, KE host and port 123", () => {
  const real = vectors.real_response_nts_time_nl;
  const r = clientParse(real.hex);
  assert.ok(r.ok);
  assert.equal(r.value.protocol, 0);
  assert.equal(r.value.aead, 15);
  assert.equal(r.value.exporterContextAead, 15);
  assert.equal(r.value.server, undefined);
  assert.equal(r.value.port, undefined);
  assert.deepEqual(
    r.value.cookies.map(toHex),
    real.records.filter((x) => x.type === 5).map((x) => x.body_hex),
  );
  assert.ok(r.value.cookies.every((c) => c.length === 104));
});

test("nts.time.nl response split at every byte boundary through the client decoder", () => {
  const bytes = fromHex(vectors.real_response_nts_time_nl.hex);
  const whole = clientParse(vectors.real_response_nts_time_nl.hex);
  for (let i = 0; i <= bytes.length; i++) {
    const decoder = new ClientResponseDecoder({ offered: ntpdRsOffer });
    const first = decoder.push(bytes.subarray(0, i));
    if (i < bytes.length) assert.equal(first, null, `split at ${i}`);
    const r = decoder.push(bytes.subarray(i)) ?? decoder.end();
    assert.deepEqual(r, whole);
  }
});

test("captures: chrony's server sends Port 11123 and 100-octet cookies, NTPsec no Port and 104", () => {
  const byFile = new Map(captures.sessions.map((s) => [s.file, s]));
  const chrony = clientParse(byFile.get("chrony-client_chrony-server.json")!.response.hex);
  const ntpsec = clientParse(byFile.get("chrony-client_ntpsec-server.json")!.response.hex);
  assert.ok(chrony.ok && ntpsec.ok);
  assert.equal(chrony.value.port, 11123);
  assert.ok(chrony.value.cookies.every((c) => c.length === 100));
  assert.equal(ntpsec.value.port, undefined);
  assert.ok(ntpsec.value.cookies.every((c) => c.length === 104));
  // NTPsec's client request carries AEAD without the critical bit: accepted.
  const ntpsecRequest = records(byFile.get("ntpsec-client_chrony-server.json")!.request.hex);
  assert.equal(ntpsecRequest[1]?.kind, "aead-algorithm");
  assert.equal(ntpsecRequest[1]?.critical, false);
});

test("our client request equals what chrony sends when offering only AEAD 15", () => {
  const chronyRequest = captures.sessions[0]!.request.hex;
  assert.equal(
    toHex(buildClientRequest({ nextProtocols: [0], aeadAlgorithms: [15] })),
    chronyRequest,
  );
});

// --- client request ------------------------------------------------------------------

test("buildClientRequest: ntpd-rs bytes, deny records, record 1024 with AEAD 30", () => {
  assert.equal(
    toHex(buildClientRequest(ntpdRsOffer)),
    messageHex.get(
      "Client request: NextProtocol [NTPv4], AEAD [17,15], EOM (ntpd-rs serialisation order)",
    ),
  );
  assert.equal(
    toHex(buildClientRequest({ nextProtocols: [0], aeadAlgorithms: [15], denyServers: ["hi"] })),
    messageHex.get('Client request with NTP Server Deny "hi"'),
  );
  assert.equal(
    toHex(buildClientRequest({ nextProtocols: [0], aeadAlgorithms: [30, 15] })),
    "800100020000" + "80040004001e000f" + "04000000" + "80000000",
  );
  assert.throws(() => buildClientRequest({ nextProtocols: [], aeadAlgorithms: [15] }), RangeError);
  assert.throws(() => buildClientRequest({ nextProtocols: [0], aeadAlgorithms: [] }), RangeError);
});

// --- client response validation ---------------------------------------------------------

test("client: at most 8 cookies are kept, in order; maxCookies is a parameter", () => {
  const cookies = Array.from({ length: 10 }, (_, i) => Uint8Array.of(i + 1));
  const hex = toHex(buildServerResponse({ protocol: 0, aead: 15, cookies }));
  const r = clientParse(hex);
  assert.ok(r.ok);
  assert.deepEqual(r.value.cookies, cookies.slice(0, 8));
  const three = parseKeResponse(records(hex), { maxCookies: 3 });
  assert.ok(three.ok);
  assert.equal(three.value.cookies.length, 3);
});

const clientCases: [string, string, KeClientError["code"]][] = [
  ["no cookies", NP0 + AEAD15 + EOM, "no-cookies"],
  ["duplicate Next Protocol", NP0 + NP0 + AEAD15 + COOKIE + EOM, "duplicate-record"],
  ["duplicate AEAD", NP0 + AEAD15 + AEAD15 + COOKIE + EOM, "duplicate-record"],
  [
    "duplicate Server",
    NP0 + AEAD15 + COOKIE + "800600026869" + "800600026869" + EOM,
    "duplicate-record",
  ],
  [
    "duplicate Port",
    NP0 + AEAD15 + COOKIE + "80070002007b" + "80070002007b" + EOM,
    "duplicate-record",
  ],
  ["missing Next Protocol", AEAD15 + COOKIE + EOM, "missing-record"],
  ["missing AEAD", NP0 + COOKIE + EOM, "missing-record"],
  [
    "unrecognized critical record",
    NP0 + AEAD15 + COOKIE + "80330000" + EOM,
    "unrecognized-critical-record",
  ],
  ["protocol not offered", "800100020001" + AEAD15 + COOKIE + EOM, "protocol-mismatch"],
  ["two protocols", "8001000400000001" + AEAD15 + COOKIE + EOM, "protocol-mismatch"],
  ["AEAD not offered", NP0 + "80040002001e" + COOKIE + EOM, "aead-mismatch"],
  [
    "Fixed Key Request from a server",
    NP0 + AEAD15 + COOKIE + "800c000405060708" + EOM,
    "unexpected-record",
  ],
  [
    "NTP Server Deny from a server",
    NP0 + AEAD15 + COOKIE + "000d00026869" + EOM,
    "unexpected-record",
  ],
  ["Authentication from a server", NP0 + AEAD15 + COOKIE + "000e000161" + EOM, "unexpected-record"],
  [
    "Supported lists in a KE response",
    NP0 + AEAD15 + COOKIE + "80090000" + EOM,
    "unexpected-record",
  ],
  ["Error after a good start", NP0 + AEAD15 + COOKIE + "800200020001" + EOM, "error-record"],
  [
    "body size violation (Port of 3 octets)",
    NP0 + AEAD15 + COOKIE + "80070003000000" + EOM,
    "invalid-body",
  ],
  [
    "body size violation (End of Message with a body)",
    NP0 + AEAD15 + COOKIE + "8000000100",
    "invalid-body",
  ],
];

for (const [name, hex, code] of clientCases) {
  test(`client rejects: ${name}`, () => {
    expectClientError(clientParse(hex), code);
  });
}

test("client: missing End of Message when the stream closes early", () => {
  const decoder = new ClientResponseDecoder();
  assert.equal(decoder.push(fromHex(NP0 + AEAD15 + COOKIE)), null);
  expectClientError(decoder.end(), "missing-end-of-message");
  const r = parseKeResponse(records(NP0 + AEAD15 + COOKIE + EOM).slice(0, -1));
  expectClientError(r, "missing-end-of-message");
});

test("client: an oversized response is an error at the cap, not unbounded buffering", () => {
  const cookies = Array.from({ length: 8 }, () => new Uint8Array(600));
  const bytes = buildServerResponse({ protocol: 0, aead: 15, cookies });
  assert.ok(bytes.length > 4096);
  const decoder = new ClientResponseDecoder();
  expectClientError(decoder.push(bytes)!, "message-too-long");
  const bigger = new ClientResponseDecoder({ maxMessageLength: 65536 }).push(bytes);
  assert.ok(bigger?.ok);
});

test("client: ignores unknown non-critical records, Keep Alive and bytes after End of Message", () => {
  const r = clientParse(NP0 + AEAD15 + "00320002090a" + "00080000" + COOKIE + EOM + "deadbeef");
  assert.ok(r.ok);
  assert.deepEqual(r.value.cookies, [fromHex("0102")]);
  // Without an offer, any single protocol/AEAD is taken.
  const any = parseKeResponse(records("800100028001" + "800400020011" + COOKIE + EOM));
  assert.ok(any.ok);
  assert.deepEqual([any.value.protocol, any.value.aead], [0x8001, 17]);
});

test("client: chrony's AES-128-GCM-SIV context follows the record 1024 echo", () => {
  const offer = { nextProtocols: [0], aeadAlgorithms: [30, 15] };
  const cookies = [fromHex("0102")];
  const compliant = clientParse(
    toHex(buildServerResponse({ protocol: 0, aead: 30, cookies, compliantGcmSivContext: true })),
    offer,
  );
  assert.ok(compliant.ok);
  assert.equal(compliant.value.compliantGcmSivContext, true);
  assert.equal(compliant.value.exporterContextAead, 30);
  const legacy = clientParse(toHex(buildServerResponse({ protocol: 0, aead: 30, cookies })), offer);
  assert.ok(legacy.ok);
  assert.equal(legacy.value.compliantGcmSivContext, false);
  assert.equal(legacy.value.exporterContextAead, 15);
  // An echo with another AEAD changes nothing.
  const siv = clientParse(
    toHex(buildServerResponse({ protocol: 0, aead: 15, cookies, compliantGcmSivContext: true })),
    offer,
  );
  assert.ok(siv.ok);
  assert.equal(siv.value.exporterContextAead, 15);
});
