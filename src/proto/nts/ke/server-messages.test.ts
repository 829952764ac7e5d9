// The server's side of NTS-KE: how it decides on requests (normal key
// exchanges, Bad Requests, the pool's Fixed Key and Supported lists requests)
// and the responses it writes.
import { test } from "node:test";
import assert from "node:assert/strict";
import vectors from "./fixtures/nts_ke.json" with { type: "json" };
import { encodeRecords } from "./records.js";
import { buildClientRequest } from "./client-messages.js";
import {
  buildServerResponse,
  buildSupportedListsResponse,
  handleKeRequest,
  protocolsForVersions,
  ServerRequestDecoder,
  type KeServerDecision,
} from "./server-messages.js";
import {
  AEAD15,
  AUTH,
  BAD_REQUEST,
  EOM,
  KEY32,
  NP0,
  SUPPORT,
  WRONG_AUTH,
  expectReject,
  fromHex,
  ntpdRsServer,
  poolServer,
  records,
  serverDecide,
  toHex,
} from "../../../../test/helpers/nts-ke-messages.js";

const messageHex = new Map(vectors.messages.map((m) => [m.name, m.hex]));
const noOverlapProtocolHex = messageHex.get("No-overlap response (protocol)")!;
const noOverlapAeadHex = messageHex.get("No-overlap response (algorithm)")!;

test("buildServerResponse reproduces nts.time.nl except the AEAD C bit ntpd-rs sets today", () => {
  const real = vectors.real_response_nts_time_nl;
  const cookies = real.records.filter((x) => x.type === 5).map((x) => fromHex(x.body_hex));
  const ours = buildServerResponse({ protocol: 0, aead: 15, cookies });
  const expectedBytes = fromHex(real.hex);
  expectedBytes[6] = expectedBytes[6]! | 0x80; // AEAD record header at offset 6
  assert.equal(toHex(ours), toHex(expectedBytes));
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
