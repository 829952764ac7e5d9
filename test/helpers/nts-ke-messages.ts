// Shared by the NTS-KE message tests (src/proto/nts/ke/*.test.ts): hex helpers,
// ntpd-rs's defaults on both sides, the client's and the server's reading of one
// message, and the record snippets the tests build messages from.

import assert from "node:assert/strict";
import { decodeKeMessage, type KeRecord } from "../../src/proto/nts/ke/records.js";
import {
  ClientResponseDecoder,
  type KeClientError,
  type KeResponseResult,
} from "../../src/proto/nts/ke/client-messages.js";
import {
  ServerRequestDecoder,
  type KeServerConfig,
  type KeServerDecision,
} from "../../src/proto/nts/ke/server-messages.js";

export const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** ntpd-rs defaults: accept-ntp-versions [4], AEADs 17 and 15. */
export const ntpdRsServer: KeServerConfig = { acceptNtpVersions: [4], aeadAlgorithms: [17, 15] };
export const ntpdRsOffer = { nextProtocols: [0], aeadAlgorithms: [17, 15] };

export function records(hex: string): KeRecord[] {
  const r = decodeKeMessage(fromHex(hex));
  assert.ok(r.ok, r.ok ? "" : r.error.message);
  return r.value;
}

export function serverDecide(hex: string, config = ntpdRsServer): KeServerDecision {
  const decoder = new ServerRequestDecoder(config);
  return decoder.push(fromHex(hex)) ?? decoder.end();
}

export function clientParse(hex: string, offered = ntpdRsOffer): KeResponseResult {
  const decoder = new ClientResponseDecoder({ offered });
  return decoder.push(fromHex(hex)) ?? decoder.end();
}

export function expectReject(decision: KeServerDecision, code: string, responseHex: string): void {
  assert.equal(decision.kind, "reject");
  if (decision.kind !== "reject") return;
  assert.equal(decision.rejection.code, code, decision.rejection.message);
  assert.equal(toHex(decision.response), responseHex);
}

export function expectClientError(
  result: KeResponseResult,
  code: KeClientError["code"],
): KeClientError {
  assert.equal(result.ok, false);
  if (result.ok) throw new Error("unreachable");
  assert.equal(result.error.code, code, result.error.message);
  return result.error;
}

export const BAD_REQUEST = "80020002000180000000";
export const UNRECOGNIZED_CRITICAL = "80020002000080000000";

export const NP0 = "800100020000";
export const AEAD15 = "80040002000f";
export const COOKIE = "000500020102";
export const EOM = "80000000";

export const poolServer: KeServerConfig = {
  acceptNtpVersions: [4],
  aeadAlgorithms: [17, 15],
  acceptedPoolAuthenticationTokens: ["pool-secret", "other"],
};
export const AUTH = "000e000b" + toHex(new TextEncoder().encode("pool-secret"));
export const WRONG_AUTH = "000e000b" + toHex(new TextEncoder().encode("pool-secreT"));
export const SUPPORT = "80090000" + "800a0000";
export const KEY32 = "11".repeat(32) + "22".repeat(32);
