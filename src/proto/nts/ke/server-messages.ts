// The server's side of NTS-KE (RFC 8915 §4; NTS.md §3.2–§3.3; NTS-POOL.md
// §3; ntpd-rs `nts/messages.rs`, `nts/mod.rs`): handleKeRequest() (or
// ServerRequestDecoder) classifies a request and decides: negotiate keys,
// serve a pool Fixed Key or Supported lists request, or reject with ready-made
// response bytes. Key export and cookie minting happen in the daemon
// (daemon/nts-ke-server.ts) between the decision and buildServerResponse().
// The client's side is client-messages.ts.

import { timingSafeEqual } from "node:crypto";
import {
  type AlgorithmDescription,
  type KeDecoderOptions,
  type KeRecord,
  type KeRecordBody,
  KeErrorCode,
  KeMessageDecoder,
  NextProtocolId,
  encodeRecords,
  recordTypeOf,
} from "./records.js";
import { AEAD_AES_128_GCM_SIV, aeadKeyLength, exporterContextAead } from "./key-export.js";

export interface KeServerConfig {
  /** `accept-ntp-versions`: 4 → protocol 0, 5 → 0x8001 (draft NTPv5); others ignored. */
  acceptNtpVersions: readonly number[];
  /** AEAD ids the server implements, e.g. [17, 15, 30]. The client's order decides. */
  aeadAlgorithms: readonly number[];
  /** `accepted-pool-authentication-tokens`: allow pool Fixed Key / Supported lists. */
  acceptedPoolAuthenticationTokens?: readonly string[];
}

/** Per-connection state a keep-alive (pool) connection carries between requests. */
export interface KeRequestContext {
  /** An earlier request on this connection carried a valid Authentication token. */
  authenticated?: boolean;
}

export type KeServerRejection =
  | { code: "unrecognized-critical-record"; recordType: number; message: string }
  | { code: "bad-request"; message: string }
  | { code: "no-protocol-overlap"; message: string }
  | { code: "no-aead-overlap"; protocol: number; message: string };

export type KeServerDecision =
  /**
   * A normal key exchange: export C2S/S2C with
   * keyExportContext(protocol, exporterContextAead, …), mint cookies, answer
   * with buildServerResponse({ protocol, aead, cookies, compliantGcmSivContext, … }).
   */
  | {
      kind: "key-exchange";
      protocol: number;
      aead: number;
      /** Echo record 1024: the client asked for it and AEAD 30 was chosen. */
      compliantGcmSivContext: boolean;
      exporterContextAead: number;
      /** NTP Server Deny names from the client (a pool may use them). */
      deniedServers: string[];
    }
  /**
   * Pool Fixed Key Request (authenticated): mint cookies around the given
   * keys (no key export on this connection) and answer with
   * buildServerResponse(); `keepAlive` = the pool asked to keep the connection.
   */
  | {
      kind: "fixed-key";
      protocol: number;
      aead: number;
      c2sKey: Uint8Array;
      s2cKey: Uint8Array;
      keepAlive: boolean;
    }
  /**
   * Pool Supported lists request (authenticated): answer with
   * buildSupportedListsResponse(); a list is present when it was asked for.
   */
  | {
      kind: "supported-lists";
      protocols?: number[];
      algorithms?: AlgorithmDescription[];
      keepAlive: boolean;
    }
  /** Write `response`, then close. */
  | { kind: "reject"; rejection: KeServerRejection; response: Uint8Array };

/** Next Protocol ids for `accept-ntp-versions` entries (4 → 0, 5 → 0x8001). */
export function protocolsForVersions(versions: readonly number[]): number[] {
  const out: number[] = [];
  for (const v of versions) {
    const id = v === 4 ? NextProtocolId.NTPv4 : v === 5 ? NextProtocolId.DraftNTPv5 : undefined;
    if (id !== undefined && !out.includes(id)) out.push(id);
  }
  return out;
}

const utf8 = new TextEncoder();

/** Compares against every accepted token in constant time per candidate. */
function tokenAccepted(token: string, accepted: readonly string[]): boolean {
  const given = utf8.encode(token);
  let match = false;
  for (const candidate of accepted) {
    const expected = utf8.encode(candidate);
    if (expected.length === given.length && timingSafeEqual(expected, given)) match = true;
  }
  return match;
}

function reject(rejection: KeServerRejection): KeServerDecision {
  let response: Uint8Array;
  switch (rejection.code) {
    case "unrecognized-critical-record":
      response = buildErrorResponse(KeErrorCode.UnrecognizedCriticalRecord);
      break;
    case "bad-request":
      response = buildErrorResponse(KeErrorCode.BadRequest);
      break;
    case "no-protocol-overlap":
      response = buildNoOverlapResponse();
      break;
    case "no-aead-overlap":
      response = buildNoOverlapResponse(rejection.protocol);
      break;
  }
  return { kind: "reject", rejection, response };
}

function badRequest(message: string): KeServerDecision {
  return reject({ code: "bad-request", message });
}

/**
 * Classifies a decoded request (records up to End of Message) and decides
 * the answer, following ntpd-rs's `Request::parse` and `handle_connection`:
 * unknown critical record → Error 0; duplicates, missing or empty Next
 * Protocol / AEAD lists, Error / Warning / New Cookie from a client → Error 1;
 * Server / Port / unknown non-critical / Keep Alive records in a normal
 * request are ignored. Protocol = first client entry the server accepts,
 * AEAD = first client entry the server implements; none → the no-overlap
 * replies. Pool requests (Fixed Key, Supported lists) need a matching
 * Authentication token (or `context.authenticated`), else Error 1.
 */
export function handleKeRequest(
  records: readonly KeRecord[],
  config: KeServerConfig,
  context: KeRequestContext = {},
): KeServerDecision {
  let protocols: readonly number[] | undefined;
  let algorithms: readonly number[] | undefined;
  let fixedKey: { c2sKey: Uint8Array; s2cKey: Uint8Array } | undefined;
  let token: string | undefined;
  let wantsProtocols = false;
  let wantsAlgorithms = false;
  let keepAlive = false;
  let compliant = false;
  let ended = false;
  const deniedServers: string[] = [];

  for (const record of records) {
    switch (record.kind) {
      case "end-of-message":
        ended = true;
        break;
      case "next-protocol":
        if (protocols !== undefined) return badRequest("more than one Next Protocol record");
        if (record.protocols.length === 0) return badRequest("empty Next Protocol record");
        protocols = record.protocols;
        break;
      case "aead-algorithm":
        if (algorithms !== undefined) return badRequest("more than one AEAD Algorithm record");
        if (record.algorithms.length === 0) return badRequest("empty AEAD Algorithm record");
        algorithms = record.algorithms;
        break;
      case "error":
      case "warning":
      case "new-cookie":
        return badRequest(`a client must not send record type ${recordTypeOf(record)}`);
      case "server":
      case "port":
        // A client's wish; ntpd-rs ignores it, so do we.
        break;
      case "keep-alive":
        keepAlive = true;
        break;
      case "supported-next-protocols":
        if (wantsProtocols) return badRequest("more than one Supported Next Protocol List record");
        wantsProtocols = true;
        break;
      case "supported-algorithms":
        if (wantsAlgorithms) return badRequest("more than one Supported Algorithm List record");
        wantsAlgorithms = true;
        break;
      case "fixed-key-request":
        if (fixedKey !== undefined) return badRequest("more than one Fixed Key Request record");
        fixedKey = { c2sKey: record.c2sKey, s2cKey: record.s2cKey };
        break;
      case "ntp-server-deny":
        deniedServers.push(record.name);
        break;
      case "authentication":
        if (token !== undefined) return badRequest("more than one Authentication record");
        token = record.token;
        break;
      case "compliant-128gcmsiv-context":
        compliant = true;
        break;
      case "unknown":
        if (record.critical) {
          return reject({
            code: "unrecognized-critical-record",
            recordType: record.type,
            message: `unrecognised critical record of type ${record.type}`,
          });
        }
        break;
    }
    if (ended) break;
  }
  if (!ended) return badRequest("the request has no End of Message record");

  const acceptedProtocols = protocolsForVersions(config.acceptNtpVersions);
  const authenticated =
    context.authenticated === true ||
    (token !== undefined && tokenAccepted(token, config.acceptedPoolAuthenticationTokens ?? []));

  if (wantsProtocols || wantsAlgorithms) {
    if (fixedKey !== undefined || protocols !== undefined || algorithms !== undefined) {
      return badRequest("a Supported list request must not negotiate or carry fixed keys");
    }
    if (!authenticated) return badRequest("Supported list request without a valid token");
    const decision: Extract<KeServerDecision, { kind: "supported-lists" }> = {
      kind: "supported-lists",
      keepAlive,
    };
    if (wantsProtocols) decision.protocols = acceptedProtocols;
    if (wantsAlgorithms) {
      decision.algorithms = config.aeadAlgorithms.flatMap((id) => {
        const keyLength = aeadKeyLength(id);
        return keyLength === undefined ? [] : [{ id, keyLength }];
      });
    }
    return decision;
  }

  if (protocols === undefined) return badRequest("the request has no Next Protocol record");
  if (algorithms === undefined) return badRequest("the request has no AEAD Algorithm record");

  if (fixedKey !== undefined) {
    if (!authenticated) return badRequest("Fixed Key Request without a valid token");
    const [protocol] = protocols;
    const [aead] = algorithms;
    if (
      protocols.length !== 1 ||
      algorithms.length !== 1 ||
      protocol === undefined ||
      aead === undefined
    ) {
      return badRequest("a Fixed Key Request needs exactly one protocol and one AEAD");
    }
    if (!acceptedProtocols.includes(protocol)) {
      return reject({
        code: "no-protocol-overlap",
        message: `Fixed Key Request for protocol ${protocol}, not accepted`,
      });
    }
    if (!config.aeadAlgorithms.includes(aead)) {
      return reject({
        code: "no-aead-overlap",
        protocol,
        message: `Fixed Key Request for AEAD ${aead}, not supported`,
      });
    }
    const keyLength = aeadKeyLength(aead);
    if (keyLength === undefined || fixedKey.c2sKey.length !== keyLength) {
      return badRequest(
        `Fixed Key Request keys of ${fixedKey.c2sKey.length} octets for AEAD ${aead}`,
      );
    }
    return { kind: "fixed-key", protocol, aead, ...fixedKey, keepAlive };
  }

  const protocol = protocols.find((p) => acceptedProtocols.includes(p));
  if (protocol === undefined) {
    return reject({
      code: "no-protocol-overlap",
      message: `no offered next protocol [${protocols.join(", ")}] is accepted`,
    });
  }
  const aead = algorithms.find((a) => config.aeadAlgorithms.includes(a));
  if (aead === undefined) {
    return reject({
      code: "no-aead-overlap",
      protocol,
      message: `no offered AEAD algorithm [${algorithms.join(", ")}] is supported`,
    });
  }
  const compliantGcmSivContext = compliant && aead === AEAD_AES_128_GCM_SIV;
  return {
    kind: "key-exchange",
    protocol,
    aead,
    compliantGcmSivContext,
    exporterContextAead: exporterContextAead(aead, compliantGcmSivContext),
    deniedServers,
  };
}

/**
 * Server side of one request: feed TLS plaintext with push(); null until the
 * request is complete, then the decision. Malformed or oversized input is a
 * Bad Request rejection at once. end() (stream closed, or the daemon's read
 * timeout fired) gives the decision, Bad Request if the request is incomplete.
 * After a decision, `trailing` holds bytes that followed End of Message (the
 * next request on a pool keep-alive connection).
 */
export class ServerRequestDecoder {
  private readonly decoder: KeMessageDecoder;
  private decision: KeServerDecision | null = null;
  private trailingBytes: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly config: KeServerConfig,
    private readonly options: KeDecoderOptions & { context?: KeRequestContext } = {},
  ) {
    this.decoder = new KeMessageDecoder(options);
  }

  get trailing(): Uint8Array {
    return this.trailingBytes;
  }

  push(chunk: Uint8Array): KeServerDecision | null {
    if (this.decision !== null) return this.decision;
    const progress = this.decoder.push(chunk);
    if (progress.status === "incomplete") return null;
    if (progress.status === "error") {
      this.decision = badRequest(progress.error.message);
    } else {
      this.trailingBytes = progress.trailing;
      this.decision = handleKeRequest(progress.records, this.config, this.options.context);
    }
    return this.decision;
  }

  end(): KeServerDecision {
    if (this.decision !== null) return this.decision;
    const progress = this.decoder.end();
    this.decision =
      progress.status === "complete"
        ? handleKeRequest(progress.records, this.config, this.options.context)
        : badRequest(progress.status === "error" ? progress.error.message : "incomplete request");
    return this.decision;
  }
}

export interface ServerResponseOptions {
  protocol: number;
  aead: number;
  /** The cookies to hand out (ntpd-rs: 8). At least one. */
  cookies: readonly Uint8Array[];
  /** `ntp-server`: Server record. */
  server?: string;
  /** `ntp-port`: Port record. */
  port?: number;
  /** Echo record 1024 (decision.compliantGcmSivContext). */
  compliantGcmSivContext?: boolean;
  /** Echo Keep Alive (pool connection kept open). */
  keepAlive?: boolean;
}

/**
 * The successful response in one buffer, in ntpd-rs order: Next Protocol,
 * AEAD, [1024], New Cookie × n, [Server], [Port], [Keep Alive], End of
 * Message. Throws a RangeError without cookies (a caller bug).
 */
export function buildServerResponse(options: ServerResponseOptions): Uint8Array {
  if (options.cookies.length === 0) throw new RangeError("a key exchange response needs cookies");
  const records: KeRecordBody[] = [
    { kind: "next-protocol", protocols: [options.protocol] },
    { kind: "aead-algorithm", algorithms: [options.aead] },
  ];
  if (options.compliantGcmSivContext === true) {
    records.push({ kind: "compliant-128gcmsiv-context" });
  }
  for (const cookie of options.cookies) records.push({ kind: "new-cookie", cookie });
  if (options.server !== undefined) records.push({ kind: "server", name: options.server });
  if (options.port !== undefined) records.push({ kind: "port", port: options.port });
  if (options.keepAlive === true) records.push({ kind: "keep-alive" });
  records.push({ kind: "end-of-message" });
  return encodeRecords(records);
}

/** Answer to a pool Supported lists request: [algorithms], [protocols], [Keep Alive], EOM. */
export function buildSupportedListsResponse(options: {
  protocols?: readonly number[];
  algorithms?: readonly AlgorithmDescription[];
  keepAlive?: boolean;
}): Uint8Array {
  const records: KeRecordBody[] = [];
  if (options.algorithms !== undefined) {
    records.push({ kind: "supported-algorithms", algorithms: options.algorithms });
  }
  if (options.protocols !== undefined) {
    records.push({ kind: "supported-next-protocols", protocols: options.protocols });
  }
  if (options.keepAlive === true) records.push({ kind: "keep-alive" });
  records.push({ kind: "end-of-message" });
  return encodeRecords(records);
}

/** Error(code) + End of Message (0 unrecognized critical, 1 bad request, 2 internal error). */
export function buildErrorResponse(code: number): Uint8Array {
  return encodeRecords([{ kind: "error", code }, { kind: "end-of-message" }]);
}

/**
 * ntpd-rs's no-overlap replies: without `protocol`, Next Protocol [] + EOM
 * (no common protocol); with it, Next Protocol [protocol], AEAD [], EOM.
 */
export function buildNoOverlapResponse(protocol?: number): Uint8Array {
  const records: KeRecordBody[] =
    protocol === undefined
      ? [{ kind: "next-protocol", protocols: [] }]
      : [
          { kind: "next-protocol", protocols: [protocol] },
          { kind: "aead-algorithm", algorithms: [] },
        ];
  records.push({ kind: "end-of-message" });
  return encodeRecords(records);
}
