// NTS-KE messages: every request/response vector of protocol/vectors/nts_ke.json
// with its expected reaction, the real nts.time.nl response, the chrony and
// NTPsec exchanges of vectors/captures (requests through our server logic,
// responses through our client logic), pool extension requests, and property
// tests that the client and server decoders never throw.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import vectors from "./fixtures/nts_ke.json" with { type: "json" };
import captures from "./fixtures/nts_ke_captures.json" with { type: "json" };
import { type KeRecord, decodeKeMessage, encodeRecords } from "./records.js";
import {
  type KeClientError,
  type KeResponseResult,
  ClientResponseDecoder,
  buildClientRequest,
  parseKeResponse,
} from "./client-messages.js";
import {
  type KeServerConfig,
  type KeServerDecision,
  ServerRequestDecoder,
  buildErrorResponse,
  buildNoOverlapResponse,
  buildServerResponse,
  buildSupportedListsResponse,
  handleKeRequest,
  protocolsForVersions,
} from "./server-messages.js";

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** ntpd-rs defaults: accept-ntp-versions [4], AEADs 17 and 15. */
const ntpdRsServer: KeServerConfig = { acceptNtpVersions: [4], aeadAlgorithms: [17, 15] };
const ntpdRsOffer = { nextProtocols: [0], aeadAlgorithms: [17, 15] };

function records(hex: string): KeRecord[] {
  const r = decodeKeMessage(fromHex(hex));
  assert.ok(r.ok, r.ok ? "" : r.error.message);
  return r.value;
}

function serverDecide(hex: string, config = ntpdRsServer): KeServerDecision {
  const decoder = new ServerRequestDecoder(config);
  return decoder.push(fromHex(hex)) ?? decoder.end();
}

function clientParse(hex: string, offered = ntpdRsOffer): KeResponseResult {
  const decoder = new ClientResponseDecoder({ offered });
  return decoder.push(fromHex(hex)) ?? decoder.end();
}

function expectReject(decision: KeServerDecision, code: string, responseHex: string): void {
  assert.equal(decision.kind, "reject");
  if (decision.kind !== "reject") return;
  assert.equal(decision.rejection.code, code, decision.rejection.message);
  assert.equal(toHex(decision.response), responseHex);
}

function expectClientError(result: KeResponseResult, code: KeClientError["code"]): KeClientError {
  assert.equal(result.ok, false);
  if (result.ok) throw new Error("unreachable");
  assert.equal(result.error.code, code, result.error.message);
  return result.error;
}

const BAD_REQUEST = "80020002000180000000";
const UNRECOGNIZED_CRITICAL = "80020002000080000000";
const messageHex = new Map(vectors.messages.map((m) => [m.name, m.hex]));
const noOverlapProtocolHex = messageHex.get("No-overlap response (protocol)")!;
const noOverlapAeadHex = messageHex.get("No-overlap response (algorithm)")!;

// The expected reaction to every message vector, in the words of our API.
const reactions = new Map<string, (hex: string) => void>([
  [
    "Client request: NextProtocol [NTPv4], AEAD [17,15], EOM (ntpd-rs serialisation order)",
    (hex) => {
      const d = serverDecide(hex);
      assert.deepEqual(d, {
        kind: "key-exchange",
        protocol: 0,
        aead: 17,
        compliantGcmSivContext: false,
        exporterContextAead: 17,
        deniedServers: [],
      });
      // A server preferring 15 still follows the client's order only among its own.
      const only15 = serverDecide(hex, { acceptNtpVersions: [4], aeadAlgorithms: [15] });
      assert.equal(only15.kind === "key-exchange" && only15.aead, 15);
    },
  ],
  [
    "Client request with AEAD first (order of records is free)",
    (hex) => {
      const d = serverDecide(hex);
      assert.equal(d.kind, "key-exchange");
      if (d.kind === "key-exchange") assert.deepEqual([d.protocol, d.aead], [0, 15]);
    },
  ],
  [
    'Client request with NTP Server Deny "hi"',
    (hex) => {
      const d = serverDecide(hex);
      assert.equal(d.kind, "key-exchange");
      if (d.kind === "key-exchange") assert.deepEqual(d.deniedServers, ["hi"]);
    },
  ],
  [
    "Request missing AEAD record",
    (hex) => expectReject(serverDecide(hex), "bad-request", BAD_REQUEST),
  ],
  [
    "Request missing Next Protocol record",
    (hex) => expectReject(serverDecide(hex), "bad-request", BAD_REQUEST),
  ],
  [
    "Request without End of Message",
    (hex) => {
      const decoder = new ServerRequestDecoder(ntpdRsServer);
      assert.equal(decoder.push(fromHex(hex)), null, "wait for more data");
      expectReject(decoder.end(), "bad-request", BAD_REQUEST); // timeout / close
      // handleKeRequest on records without End of Message says the same.
      const partial = records(hex + "80000000").slice(0, -1);
      expectReject(handleKeRequest(partial, ntpdRsServer), "bad-request", BAD_REQUEST);
    },
  ],
  [
    "Request with two AEAD records",
    (hex) => expectReject(serverDecide(hex), "bad-request", BAD_REQUEST),
  ],
  [
    "Request containing an Error record",
    (hex) => expectReject(serverDecide(hex), "bad-request", BAD_REQUEST),
  ],
  [
    "Request containing a New Cookie record",
    (hex) => expectReject(serverDecide(hex), "bad-request", BAD_REQUEST),
  ],
  [
    "Request with unknown critical record type 50",
    (hex) => {
      const d = serverDecide(hex);
      expectReject(d, "unrecognized-critical-record", UNRECOGNIZED_CRITICAL);
      if (d.kind === "reject" && d.rejection.code === "unrecognized-critical-record") {
        assert.equal(d.rejection.recordType, 50);
      }
    },
  ],
  [
    "Request with unknown NON-critical record type 50",
    (hex) => assert.equal(serverDecide(hex).kind, "key-exchange"),
  ],
  [
    'Request with client-sent Server Negotiation "hi" and Port 124',
    (hex) => {
      const d = serverDecide(hex);
      assert.equal(d.kind, "key-exchange");
      if (d.kind === "key-exchange") assert.deepEqual([d.protocol, d.aead], [0, 15]);
    },
  ],
  [
    "Error response: Internal Server Error",
    (hex) => {
      const e = expectClientError(clientParse(hex), "error-record");
      if (e.code === "error-record") assert.equal(e.errorCode, 2);
      assert.equal(toHex(buildErrorResponse(2)), hex);
    },
  ],
  [
    "No-overlap response (protocol)",
    (hex) => {
      expectClientError(clientParse(hex), "no-protocol-overlap");
      assert.equal(toHex(buildNoOverlapResponse()), hex);
    },
  ],
  [
    "No-overlap response (algorithm)",
    (hex) => {
      expectClientError(clientParse(hex), "no-aead-overlap");
      assert.equal(toHex(buildNoOverlapResponse(0)), hex);
    },
  ],
  [
    'Response: NTPv4, AEAD 17, cookies 0102 and 0304 (critical bit set on the cookies: RFC 8915 says SHOULD NOT, receivers still accept it), Server "hi", Port 5',
    (hex) => {
      const r = clientParse(hex);
      assert.ok(r.ok);
      assert.deepEqual(r.value, {
        protocol: 0,
        aead: 17,
        cookies: [fromHex("0102"), fromHex("0304")],
        server: "hi",
        port: 5,
        compliantGcmSivContext: false,
        exporterContextAead: 17,
      });
    },
  ],
  [
    "Response with two AEAD values",
    (hex) => {
      const e = expectClientError(clientParse(hex), "aead-mismatch");
      if (e.code === "aead-mismatch") assert.deepEqual(e.algorithms, [15, 17]);
    },
  ],
  [
    "Response with a Warning record (code 1)",
    (hex) => {
      const e = expectClientError(clientParse(hex), "warning-record");
      if (e.code === "warning-record") assert.equal(e.warningCode, 1);
    },
  ],
]);

test("every message vector has an expected reaction", () => {
  assert.equal(vectors.messages.length, 18);
  for (const m of vectors.messages) assert.ok(reactions.has(m.name), `no reaction for ${m.name}`);
});

for (const m of vectors.messages) {
  test(`message vector (${m.expect}): ${m.name}`, () => reactions.get(m.name)!(m.hex));
}

test("server no-overlap replies are the vectors' bytes, and our client reads them as such", () => {
  const request = buildClientRequest(ntpdRsOffer);
  const noProtocol = serverDecide(toHex(request), { acceptNtpVersions: [5], aeadAlgorithms: [15] });
  expectReject(noProtocol, "no-protocol-overlap", noOverlapProtocolHex);
  const noAead = serverDecide(toHex(request), { acceptNtpVersions: [4], aeadAlgorithms: [30] });
  expectReject(noAead, "no-aead-overlap", noOverlapAeadHex);
  if (noAead.kind === "reject") {
    expectClientError(clientParse(toHex(noAead.response)), "no-aead-overlap");
  }
});

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

test("buildServerResponse reproduces nts.time.nl except the AEAD C bit ntpd-rs sets today", () => {
  const real = vectors.real_response_nts_time_nl;
  const cookies = real.records.filter((x) => x.type === 5).map((x) => fromHex(x.body_hex));
  const ours = buildServerResponse({ protocol: 0, aead: 15, cookies });
  const expectedBytes = fromHex(real.hex);
  expectedBytes[6] = expectedBytes[6]! | 0x80; // AEAD record header at offset 6
  assert.equal(toHex(ours), toHex(expectedBytes));
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

// --- chrony and NTPsec captures --------------------------------------------------

for (const s of captures.sessions) {
  test(`capture ${s.file}: client request → our server decision`, () => {
    const d = serverDecide(s.request.hex);
    assert.deepEqual(d, {
      kind: "key-exchange",
      protocol: 0,
      aead: 15,
      compliantGcmSivContext: false,
      exporterContextAead: 15,
      deniedServers: [],
    });
    // Our own response to it reads back through our client.
    if (d.kind === "key-exchange") {
      const cookies = Array.from({ length: 8 }, (_, i) => new Uint8Array(104).fill(i));
      const response = buildServerResponse({ protocol: d.protocol, aead: d.aead, cookies });
      const r = clientParse(toHex(response), { nextProtocols: [0], aeadAlgorithms: [15] });
      assert.ok(r.ok);
      assert.deepEqual(r.value.cookies, cookies);
    }
  });

  test(`capture ${s.file}: server response → our client result`, () => {
    const r = clientParse(s.response.hex, { nextProtocols: [0], aeadAlgorithms: [15] });
    assert.ok(r.ok);
    const wantCookies = s.response.records.filter((x) => x.type === 5).map((x) => x.body_hex);
    assert.equal(wantCookies.length, 8);
    assert.deepEqual(r.value.cookies.map(toHex), wantCookies);
    const port = s.response.records.find((x) => x.type === 7);
    assert.equal(r.value.port, port === undefined ? undefined : port.values?.[0]);
    assert.equal(r.value.server, undefined);
    assert.equal(r.value.aead, 15);
    assert.equal(r.value.exporterContextAead, 15);
  });
}

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

const NP0 = "800100020000";
const AEAD15 = "80040002000f";
const COOKIE = "000500020102";
const EOM = "80000000";

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

// --- server ---------------------------------------------------------------------------

test("server: chrony-style request offering 30 with record 1024", () => {
  const request = toHex(buildClientRequest({ nextProtocols: [0], aeadAlgorithms: [30, 15] }));
  const withGcm = serverDecide(request, { acceptNtpVersions: [4], aeadAlgorithms: [17, 15, 30] });
  assert.deepEqual(withGcm, {
    kind: "key-exchange",
    protocol: 0,
    aead: 30,
    compliantGcmSivContext: true,
    exporterContextAead: 30,
    deniedServers: [],
  });
  // Without record 1024 (chrony before 4.4): legacy context.
  const legacy = serverDecide(NP0 + "80040004001e000f" + EOM, {
    acceptNtpVersions: [4],
    aeadAlgorithms: [30, 15],
  });
  assert.equal(legacy.kind === "key-exchange" && legacy.exporterContextAead, 15);
  // A server without 30 picks 15 and does not echo.
  const sivOnly = serverDecide(request);
  assert.equal(sivOnly.kind === "key-exchange" && sivOnly.compliantGcmSivContext, false);
  assert.equal(sivOnly.kind === "key-exchange" && sivOnly.aead, 15);
});

test("server: protocol from accept-ntp-versions in the client's order; v5 = 0x8001", () => {
  assert.deepEqual(protocolsForVersions([4, 5, 3, 4]), [0, 0x8001]);
  const hex = "8001000480010000" + "800400020011" + EOM; // client prefers draft NTPv5
  const both = serverDecide(hex, { acceptNtpVersions: [4, 5], aeadAlgorithms: [17] });
  assert.equal(both.kind === "key-exchange" && both.protocol, 0x8001);
  const v4 = serverDecide(hex, { acceptNtpVersions: [4], aeadAlgorithms: [17] });
  assert.equal(v4.kind === "key-exchange" && v4.protocol, 0);
});

const serverBadRequests: [string, string][] = [
  ["empty Next Protocol list", "80010000" + AEAD15 + EOM],
  ["empty AEAD list", NP0 + "80040000" + EOM],
  ["two Next Protocol records", NP0 + NP0 + AEAD15 + EOM],
  ["Warning from a client", NP0 + AEAD15 + "800300020000" + EOM],
  ["two Authentication records", NP0 + AEAD15 + "000e000161" + "000e000161" + EOM],
  ["body size violation", NP0 + "8004000300" + "0f00" + EOM],
  ["End of Message with a body", NP0 + AEAD15 + "8000000100"],
];

for (const [name, hex] of serverBadRequests) {
  test(`server answers Bad Request: ${name}`, () => {
    expectReject(serverDecide(hex), "bad-request", BAD_REQUEST);
  });
}

test("server: an oversized request is Bad Request at the cap; trailing bytes are kept", () => {
  const big = encodeRecords([
    { kind: "next-protocol", protocols: [0] },
    { kind: "unknown", type: 50, critical: false, body: new Uint8Array(5000) },
    { kind: "end-of-message" },
  ]);
  const decoder = new ServerRequestDecoder(ntpdRsServer);
  expectReject(decoder.push(big.subarray(0, 20))!, "bad-request", BAD_REQUEST);
  const accepted = new ServerRequestDecoder(ntpdRsServer, { maxMessageLength: 8192 });
  expectReject(accepted.push(big)!, "bad-request", BAD_REQUEST); // no AEAD record
  const keepAlive = new ServerRequestDecoder(ntpdRsServer);
  const d = keepAlive.push(fromHex(NP0 + AEAD15 + EOM + "8001"));
  assert.equal(d?.kind, "key-exchange");
  assert.equal(toHex(keepAlive.trailing), "8001");
});

// --- pool extensions ------------------------------------------------------------------

const poolServer: KeServerConfig = {
  acceptNtpVersions: [4],
  aeadAlgorithms: [17, 15],
  acceptedPoolAuthenticationTokens: ["pool-secret", "other"],
};
const AUTH = "000e000b" + toHex(new TextEncoder().encode("pool-secret"));
const WRONG_AUTH = "000e000b" + toHex(new TextEncoder().encode("pool-secreT"));
const SUPPORT = "80090000" + "800a0000";
const KEY32 = "11".repeat(32) + "22".repeat(32);

test("pool: Supported lists with a valid token → our protocols and AEADs with key lengths", () => {
  const d = serverDecide(AUTH + SUPPORT + "00080000" + EOM, poolServer);
  assert.deepEqual(d, {
    kind: "supported-lists",
    keepAlive: true,
    protocols: [0],
    algorithms: [
      { id: 17, keyLength: 64 },
      { id: 15, keyLength: 32 },
    ],
  });
  if (d.kind !== "supported-lists") return;
  const response = buildSupportedListsResponse(d);
  assert.equal(
    toHex(response),
    "800a0008" + "00110040" + "000f0020" + "800900020000" + "00080000" + EOM,
  );
  // Only one list asked for → only that list.
  const onlyAlgorithms = serverDecide(AUTH + "800a0000" + EOM, poolServer);
  assert.deepEqual(
    onlyAlgorithms.kind === "supported-lists" && onlyAlgorithms.protocols,
    undefined,
  );
});

test("pool: Supported lists / Fixed Key without a matching token → Bad Request", () => {
  for (const auth of ["", WRONG_AUTH, "000e000161"]) {
    expectReject(serverDecide(auth + SUPPORT + EOM, poolServer), "bad-request", BAD_REQUEST);
    expectReject(
      serverDecide(auth + "800c0040" + KEY32 + NP0 + AEAD15 + EOM, poolServer),
      "bad-request",
      BAD_REQUEST,
    );
  }
  // No tokens configured: nothing matches, not even the empty token.
  expectReject(serverDecide("000e0000" + SUPPORT + EOM, ntpdRsServer), "bad-request", BAD_REQUEST);
  // A connection authenticated by an earlier keep-alive request needs no token.
  const d = handleKeRequest(records(SUPPORT + EOM), poolServer, { authenticated: true });
  assert.equal(d.kind, "supported-lists");
});

test("pool: Supported lists mixed with negotiation → Bad Request", () => {
  expectReject(serverDecide(AUTH + SUPPORT + NP0 + EOM, poolServer), "bad-request", BAD_REQUEST);
  expectReject(
    serverDecide(AUTH + "80090000" + "80090000" + EOM, poolServer),
    "bad-request",
    BAD_REQUEST,
  );
});

test("pool: Fixed Key Request with a valid token → keys for cookie minting", () => {
  const d = serverDecide(AUTH + "800c0040" + KEY32 + NP0 + AEAD15 + "00080000" + EOM, poolServer);
  assert.deepEqual(d, {
    kind: "fixed-key",
    protocol: 0,
    aead: 15,
    c2sKey: fromHex("11".repeat(32)),
    s2cKey: fromHex("22".repeat(32)),
    keepAlive: true,
  });
  const response = buildServerResponse({
    protocol: 0,
    aead: 15,
    cookies: [fromHex("0102")],
    server: "time.example",
    keepAlive: true,
  });
  const parsed = records(toHex(response)).map((r) => r.kind);
  assert.deepEqual(parsed, [
    "next-protocol",
    "aead-algorithm",
    "new-cookie",
    "server",
    "keep-alive",
    "end-of-message",
  ]);
});

test("pool: Fixed Key Request rules (one protocol, one AEAD, key length of the AEAD)", () => {
  const fk = (keys: string, np: string, aead: string): KeServerDecision =>
    serverDecide(
      AUTH + "800c" + (keys.length / 2).toString(16).padStart(4, "0") + keys + np + aead + EOM,
      poolServer,
    );
  expectReject(fk(KEY32, "8001000400000000", AEAD15), "bad-request", BAD_REQUEST);
  expectReject(fk(KEY32, NP0, "800400040011000f"), "bad-request", BAD_REQUEST);
  expectReject(fk(KEY32, NP0, "800400020011"), "bad-request", BAD_REQUEST); // 32-octet keys for 17
  expectReject(fk(KEY32, "", AEAD15), "bad-request", BAD_REQUEST);
  expectReject(fk(KEY32, NP0, "80040002001e"), "no-aead-overlap", noOverlapAeadHex);
  expectReject(fk(KEY32, "800100020001", AEAD15), "no-protocol-overlap", noOverlapProtocolHex);
  expectReject(
    serverDecide(AUTH + "800c0040" + KEY32 + "800c0040" + KEY32 + NP0 + AEAD15 + EOM, poolServer),
    "bad-request",
    BAD_REQUEST,
  );
  assert.equal(fk("33".repeat(128), NP0, "800400020011").kind, "fixed-key");
});

test("pool: Keep Alive in a normal request and a token there are ignored", () => {
  const d = serverDecide(AUTH + "00080000" + NP0 + AEAD15 + EOM, poolServer);
  assert.equal(d.kind, "key-exchange");
});

// --- properties ---------------------------------------------------------------------

const seeds = [
  ...vectors.messages.map((m) => m.hex),
  vectors.real_response_nts_time_nl.hex,
  ...captures.sessions.flatMap((s) => [s.request.hex, s.response.hex]),
  AUTH + SUPPORT + EOM,
  AUTH + "800c0040" + KEY32 + NP0 + AEAD15 + EOM,
].map(fromHex);

const CLIENT_CODES = new Set<string>([
  "message-too-long",
  "invalid-body",
  "missing-end-of-message",
  "trailing-data",
  "error-record",
  "warning-record",
  "unrecognized-critical-record",
  "unexpected-record",
  "duplicate-record",
  "missing-record",
  "no-protocol-overlap",
  "no-aead-overlap",
  "protocol-mismatch",
  "aead-mismatch",
  "no-cookies",
]);
const DECISIONS = new Set(["key-exchange", "fixed-key", "supported-lists", "reject"]);

function feedBoth(bytes: Uint8Array, splitAt: number): void {
  const i = splitAt % (bytes.length + 1);
  const client = new ClientResponseDecoder({ offered: ntpdRsOffer });
  const c = client.push(bytes.subarray(0, i)) ?? client.push(bytes.subarray(i)) ?? client.end();
  if (c.ok) {
    assert.ok(c.value.cookies.length >= 1 && c.value.cookies.length <= 8);
  } else {
    assert.ok(CLIENT_CODES.has(c.error.code), c.error.code);
  }
  const server = new ServerRequestDecoder(poolServer);
  const s = server.push(bytes.subarray(0, i)) ?? server.push(bytes.subarray(i)) ?? server.end();
  assert.ok(DECISIONS.has(s.kind));
  if (s.kind === "reject") {
    const reply = decodeKeMessage(s.response);
    assert.ok(reply.ok);
  }
}

test("property: random bytes into the client and server decoders never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(), (bytes, splitAt) => {
      feedBoth(bytes, splitAt);
    }),
    { numRuns: 2000 },
  );
});

test("property: mutated real messages into the client and server decoders never throw", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 8,
      }),
      fc.nat(),
      (index, flips, splitAt) => {
        const bytes = Uint8Array.from(seeds[index]!);
        for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
        feedBoth(bytes, splitAt);
      },
    ),
    { numRuns: 3000 },
  );
});

test("property: any client request we build gets a well-formed decision", () => {
  const ids = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 6 });
  fc.assert(
    fc.property(ids, ids, (nextProtocols, aeadAlgorithms) => {
      const request = buildClientRequest({ nextProtocols, aeadAlgorithms });
      const d = serverDecide(toHex(request), {
        acceptNtpVersions: [4],
        aeadAlgorithms: [17, 15, 30],
      });
      if (d.kind === "key-exchange") {
        assert.ok(nextProtocols.includes(d.protocol) && aeadAlgorithms.includes(d.aead));
        assert.equal(d.protocol, 0);
        assert.equal(
          d.aead,
          aeadAlgorithms.find((a) => [17, 15, 30].includes(a)),
        );
      } else {
        assert.equal(d.kind, "reject");
      }
    }),
    { numRuns: 500 },
  );
});
