// NTS-KE, both sides at once: every request/response vector of
// protocol/vectors/nts_ke.json with its expected reaction (requests through our
// server, responses through our client), the chrony and NTPsec exchanges of
// vectors/captures, our client's request against our server, and property
// tests that the client and server decoders never throw. One side alone:
// client-messages.test.ts, server-messages.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import vectors from "./fixtures/nts_ke.json" with { type: "json" };
import captures from "./fixtures/nts_ke_captures.json" with { type: "json" };
import { decodeKeMessage } from "./records.js";
import { ClientResponseDecoder, buildClientRequest } from "./client-messages.js";
import {
  ServerRequestDecoder,
  buildErrorResponse,
  buildNoOverlapResponse,
  buildServerResponse,
  handleKeRequest,
} from "./server-messages.js";
import {
  AEAD15,
  AUTH,
  BAD_REQUEST,
  EOM,
  KEY32,
  NP0,
  SUPPORT,
  UNRECOGNIZED_CRITICAL,
  clientParse,
  expectClientError,
  expectReject,
  fromHex,
  ntpdRsOffer,
  ntpdRsServer,
  poolServer,
  records,
  serverDecide,
  toHex,
} from "../../../../test/helpers/nts-ke-messages.js";

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
