// The protocol decisions of an NTS pool's KE front (NTS-POOL.md §2): it takes
// an ordinary RFC 8915 request from a client, asks a time source (a back-end
// NTS-KE server) what it supports, picks the protocol and AEAD, sends the
// back end a Fixed Key Request with the keys exported from the client's TLS
// session, and relays the cookies with a Server record naming the back end.
// The IO (TLS to the client and to the back ends, the key export) is in
// daemon/nts-pool-ke-server.ts.
//
// The front offers only AEADs 15 and 17 (AES-SIV-CMAC-256/512, what ntpd-rs
// and the pendulum pool use): AEAD 30's key export context depends on
// chrony's record 1024, which a relayed exchange cannot honour in both legs.

import {
  type AlgorithmDescription,
  type KeRecord,
  type KeRecordBody,
  KeErrorCode,
  encodeRecords,
} from "./records.js";
import { buildErrorResponse, handleKeRequest, type KeServerDecision } from "./server-messages.js";
import { parseKeResponse, type KeResponse } from "./client-messages.js";

/** AEAD ids a front hands out (see the file comment). */
export const POOL_FRONT_AEADS: readonly number[] = [17, 15];

export interface PoolClientRequest {
  /** The client's Next Protocol ids, in its order of preference. */
  protocols: number[];
  /** The client's AEAD ids we may use, in its order of preference. */
  algorithms: number[];
  /** Names from the client's NTP Server Deny records. */
  denied: string[];
}

export type PoolClientDecision =
  | { kind: "delegate"; request: PoolClientRequest }
  /** Write `response` and close (malformed request, pool-only records from a client). */
  | { kind: "reject"; response: Uint8Array; message: string };

/**
 * Checks a client's request with the server's own rules (handleKeRequest:
 * errors 0/1 for malformed ones, the no-overlap replies; Fixed Key and
 * Supported lists are refused since a front accepts no authentication
 * tokens) and keeps the client's lists for the choice made once a back end is known.
 */
export function classifyPoolClientRequest(records: readonly KeRecord[]): PoolClientDecision {
  const checked: KeServerDecision = handleKeRequest(records, {
    acceptNtpVersions: [4, 5],
    aeadAlgorithms: POOL_FRONT_AEADS,
  });
  if (checked.kind === "reject") {
    // Malformed, or nothing in common with what a front can hand out: the
    // server's own answer (error record, or the no-overlap reply).
    return { kind: "reject", response: checked.response, message: checked.rejection.message };
  }
  if (checked.kind !== "key-exchange") {
    // Fixed Key and Supported lists need a token, and a front accepts none.
    return {
      kind: "reject",
      response: buildErrorResponse(KeErrorCode.BadRequest),
      message: "pool-only request sent to a pool front",
    };
  }
  const request: PoolClientRequest = { protocols: [], algorithms: [], denied: [] };
  for (const record of records) {
    if (record.kind === "next-protocol") request.protocols = [...record.protocols];
    if (record.kind === "aead-algorithm") {
      request.algorithms = record.algorithms.filter((a) => POOL_FRONT_AEADS.includes(a));
    }
    if (record.kind === "ntp-server-deny") request.denied.push(record.name);
  }
  return { kind: "delegate", request };
}

/** The Supported lists request to a back end: Authentication, both lists (empty), EOM. */
export function buildSupportRequest(token: string): Uint8Array {
  return encodeRecords([
    { kind: "authentication", token },
    { kind: "supported-next-protocols", protocols: [] },
    { kind: "supported-algorithms", algorithms: [] },
    { kind: "end-of-message" },
  ]);
}

export interface BackendSupport {
  protocols: number[];
  algorithms: AlgorithmDescription[];
}

/** The back end's answer to buildSupportRequest, or why it is unusable. */
export function parseSupportResponse(
  records: readonly KeRecord[],
): { ok: true; value: BackendSupport } | { ok: false; error: string } {
  let protocols: number[] | undefined;
  let algorithms: AlgorithmDescription[] | undefined;
  for (const record of records) {
    switch (record.kind) {
      case "supported-next-protocols":
        protocols = [...record.protocols];
        break;
      case "supported-algorithms":
        algorithms = [...record.algorithms];
        break;
      case "error":
        return { ok: false, error: `the back end answered with error ${record.code}` };
      case "unknown":
        if (record.critical) {
          return { ok: false, error: `unrecognised critical record ${record.type}` };
        }
        break;
      default:
        break;
    }
  }
  if (protocols === undefined || algorithms === undefined) {
    return { ok: false, error: "the back end did not send both Supported lists" };
  }
  return { ok: true, value: { protocols, algorithms } };
}

export type PoolSelection =
  | { kind: "selected"; protocol: number; aead: number; keyLength: number }
  | { kind: "no-protocol-overlap" }
  | { kind: "no-aead-overlap"; protocol: number };

/** The client's first protocol and first AEAD (with the back end's key length) both share. */
export function selectForBackend(
  client: PoolClientRequest,
  backend: BackendSupport,
): PoolSelection {
  const protocol = client.protocols.find((p) => backend.protocols.includes(p));
  if (protocol === undefined) return { kind: "no-protocol-overlap" };
  for (const aead of client.algorithms) {
    const description = backend.algorithms.find((a) => a.id === aead);
    if (description) return { kind: "selected", protocol, aead, keyLength: description.keyLength };
  }
  return { kind: "no-aead-overlap", protocol };
}

/** Authentication, Fixed Key Request (C2S ‖ S2C), exactly one protocol and one AEAD, EOM. */
export function buildFixedKeyRequest(options: {
  token: string;
  protocol: number;
  aead: number;
  c2sKey: Uint8Array;
  s2cKey: Uint8Array;
}): Uint8Array {
  const records: KeRecordBody[] = [
    { kind: "authentication", token: options.token },
    { kind: "fixed-key-request", c2sKey: options.c2sKey, s2cKey: options.s2cKey },
    { kind: "next-protocol", protocols: [options.protocol] },
    { kind: "aead-algorithm", algorithms: [options.aead] },
    { kind: "end-of-message" },
  ];
  return encodeRecords(records);
}

/** The back end's cookies for the fixed keys: an ordinary response with what we asked for. */
export function parseFixedKeyResponse(
  records: readonly KeRecord[],
  selection: { protocol: number; aead: number },
): { ok: true; value: KeResponse } | { ok: false; error: string } {
  const r = parseKeResponse(records, {
    offered: { nextProtocols: [selection.protocol], aeadAlgorithms: [selection.aead] },
  });
  return r.ok ? r : { ok: false, error: r.error.message };
}
