// The pool front's decisions, checked against our own back-end side
// (handleKeRequest): what the front sends, a back end accepts with the token.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildClientRequest } from "./client-messages.js";
import {
  buildFixedKeyRequest,
  buildSupportRequest,
  classifyPoolClientRequest,
  parseFixedKeyResponse,
  parseSupportResponse,
  selectForBackend,
} from "./pool-front.js";
import { decodeKeMessage, encodeRecords, KeErrorCode, type KeRecord } from "./records.js";
import {
  buildErrorResponse,
  buildServerResponse,
  buildSupportedListsResponse,
  handleKeRequest,
} from "./server-messages.js";

function records(bytes: Uint8Array): KeRecord[] {
  const r = decodeKeMessage(bytes);
  assert.ok(r.ok, JSON.stringify(r));
  return r.value;
}

const backendConfig = {
  acceptNtpVersions: [4],
  aeadAlgorithms: [17, 15, 30],
  acceptedPoolAuthenticationTokens: ["secret"],
};

test("a client request is kept with its lists and deny names; AEAD 30 is dropped", () => {
  const request = buildClientRequest({
    nextProtocols: [0],
    aeadAlgorithms: [30, 15, 17],
    denyServers: ["a.example", "b.example"],
  });
  const d = classifyPoolClientRequest(records(request));
  assert.deepEqual(d, {
    kind: "delegate",
    request: { protocols: [0], algorithms: [15, 17], denied: ["a.example", "b.example"] },
  });
});

test("malformed and pool-only requests get the server's errors", () => {
  const noAead = encodeRecords([
    { kind: "next-protocol", protocols: [0] },
    { kind: "end-of-message" },
  ]);
  const d = classifyPoolClientRequest(records(noAead));
  assert.equal(d.kind, "reject");
  if (d.kind === "reject") assert.deepEqual(d.response, buildErrorResponse(KeErrorCode.BadRequest));
  // A Fixed Key Request needs a token, and a front accepts none.
  const fixed = buildFixedKeyRequest({
    token: "secret",
    protocol: 0,
    aead: 15,
    c2sKey: new Uint8Array(32),
    s2cKey: new Uint8Array(32),
  });
  assert.equal(classifyPoolClientRequest(records(fixed)).kind, "reject");
  // Only AEAD 30: nothing a front hands out.
  const only30 = buildClientRequest({ nextProtocols: [0], aeadAlgorithms: [30] });
  assert.equal(classifyPoolClientRequest(records(only30)).kind, "reject");
});

test("the Supported lists request is one our back end answers with the token", () => {
  const decision = handleKeRequest(records(buildSupportRequest("secret")), backendConfig);
  assert.equal(decision.kind, "supported-lists");
  if (decision.kind !== "supported-lists") return;
  const answer = buildSupportedListsResponse(decision);
  const support = parseSupportResponse(records(answer));
  assert.ok(support.ok);
  assert.deepEqual(support.value.protocols, [0]);
  assert.deepEqual(
    support.value.algorithms.map((a) => [a.id, a.keyLength]),
    [
      [17, 64],
      [15, 32],
      [30, 16],
    ],
  );
  const wrong = handleKeRequest(records(buildSupportRequest("guess")), backendConfig);
  assert.equal(wrong.kind, "reject");
  const refused = parseSupportResponse(records(buildErrorResponse(KeErrorCode.BadRequest)));
  assert.deepEqual(refused, { ok: false, error: "the back end answered with error 1" });
});

test("selection follows the client's order within what the back end supports", () => {
  const backend = {
    protocols: [0],
    algorithms: [
      { id: 15, keyLength: 32 },
      { id: 17, keyLength: 64 },
    ],
  };
  const client = { protocols: [0x8001, 0], algorithms: [17, 15], denied: [] };
  assert.deepEqual(selectForBackend(client, backend), {
    kind: "selected",
    protocol: 0,
    aead: 17,
    keyLength: 64,
  });
  assert.deepEqual(selectForBackend({ ...client, protocols: [0x8001] }, backend), {
    kind: "no-protocol-overlap",
  });
  assert.deepEqual(selectForBackend(client, { ...backend, algorithms: [] }), {
    kind: "no-aead-overlap",
    protocol: 0,
  });
});

test("the Fixed Key Request carries the keys our back end mints cookies for", () => {
  const c2sKey = new Uint8Array(64).fill(1);
  const s2cKey = new Uint8Array(64).fill(2);
  const request = buildFixedKeyRequest({ token: "secret", protocol: 0, aead: 17, c2sKey, s2cKey });
  const decision = handleKeRequest(records(request), backendConfig);
  assert.equal(decision.kind, "fixed-key");
  if (decision.kind !== "fixed-key") return;
  assert.deepEqual([decision.protocol, decision.aead], [0, 17]);
  assert.deepEqual(decision.c2sKey, c2sKey);
  assert.deepEqual(decision.s2cKey, s2cKey);
  const answer = buildServerResponse({
    protocol: 0,
    aead: 17,
    cookies: [new Uint8Array([9])],
    port: 1234,
  });
  const parsed = parseFixedKeyResponse(records(answer), { protocol: 0, aead: 17 });
  assert.ok(parsed.ok);
  assert.equal(parsed.value.server, undefined, "the front adds the back end's name");
  assert.equal(parsed.value.port, 1234);
  const other = parseFixedKeyResponse(records(answer), { protocol: 0, aead: 15 });
  assert.equal(other.ok, false, "a different AEAD than asked for is refused");
});
