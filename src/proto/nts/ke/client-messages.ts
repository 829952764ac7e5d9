// The client's side of NTS-KE (RFC 8915 §4; NTS.md §3.2–§3.3; ntpd-rs
// `nts/messages.rs`): buildClientRequest() writes the request;
// ClientResponseDecoder (or parseKeResponse on already decoded records) turns
// the server's answer into the negotiated protocol, AEAD, cookies and NTP
// server/port, or a typed error. The server's side is server-messages.ts.

import {
  type KeDecodeError,
  type KeDecoderOptions,
  type KeRecord,
  type KeRecordBody,
  type KeResult,
  KeErrorCode,
  KeMessageDecoder,
  RecordType,
  encodeRecords,
  recordTypeOf,
} from "./records.js";
import { AEAD_AES_128_GCM_SIV, exporterContextAead } from "./key-export.js";
// ntpd-rs keeps at most this many cookies from one response.
import { MAX_COOKIES } from "../cookie/stash.js";

export interface ClientRequestOptions {
  /** Next Protocol ids in order of preference (0 = NTPv4). */
  nextProtocols: readonly number[];
  /** AEAD ids in order of preference (ntpd-rs: [17, 15]). */
  aeadAlgorithms: readonly number[];
  /** NTP Server Deny records (pool clients: the servers already in use). */
  denyServers?: readonly string[];
}

/**
 * The whole request in one buffer, to be written with one write: Next
 * Protocol, AEAD Algorithm, [record 1024 when AEAD 30 is offered, as chrony
 * does, so the RFC-compliant exporter context can be used], one NTP Server
 * Deny per entry, End of Message. Throws a RangeError for an empty protocol
 * or AEAD list or ids outside u16 (caller bugs).
 */
export function buildClientRequest(options: ClientRequestOptions): Uint8Array {
  if (options.nextProtocols.length === 0) throw new RangeError("no next protocol to offer");
  if (options.aeadAlgorithms.length === 0) throw new RangeError("no AEAD algorithm to offer");
  const records: KeRecordBody[] = [
    { kind: "next-protocol", protocols: options.nextProtocols },
    { kind: "aead-algorithm", algorithms: options.aeadAlgorithms },
  ];
  if (options.aeadAlgorithms.includes(AEAD_AES_128_GCM_SIV)) {
    records.push({ kind: "compliant-128gcmsiv-context" });
  }
  for (const name of options.denyServers ?? []) records.push({ kind: "ntp-server-deny", name });
  records.push({ kind: "end-of-message" });
  return encodeRecords(records);
}

/** A successful NTS-KE response. */
export interface KeResponse {
  /** The negotiated Next Protocol id. */
  protocol: number;
  /** The negotiated AEAD id. */
  aead: number;
  /** The cookies in the order received, at most `maxCookies` (default 8). */
  cookies: Uint8Array[];
  /** NTP server from the Server record; absent → use the KE server's address. */
  server?: string;
  /** NTP port from the Port record; absent → 123. */
  port?: number;
  /** The server echoed record 1024 for AEAD 30 (chrony's compliant context). */
  compliantGcmSivContext: boolean;
  /** The AEAD id for keyExportContext (differs from `aead` only for legacy AEAD 30). */
  exporterContextAead: number;
}

export type KeClientError =
  | KeDecodeError
  | { code: "error-record"; errorCode: number; message: string }
  | { code: "warning-record"; warningCode: number; message: string }
  | { code: "unrecognized-critical-record"; recordType: number; message: string }
  /** A record only a client (or a pool) may send. */
  | { code: "unexpected-record"; recordType: number; message: string }
  | { code: "duplicate-record"; recordType: number; message: string }
  | { code: "missing-record"; recordType: number; message: string }
  | { code: "no-protocol-overlap"; message: string }
  | { code: "no-aead-overlap"; message: string }
  /** More than one protocol, or one the client did not offer. */
  | { code: "protocol-mismatch"; protocols: number[]; message: string }
  /** More than one AEAD, or one the client did not offer. */
  | { code: "aead-mismatch"; algorithms: number[]; message: string }
  | { code: "no-cookies"; message: string };

export type KeResponseResult = KeResult<KeResponse, KeClientError>;

export interface ParseResponseOptions {
  /** What the request offered; when given, a selection outside it is an error. */
  offered?: {
    readonly nextProtocols: readonly number[];
    readonly aeadAlgorithms: readonly number[];
  };
  /** Cookies kept; extra ones are dropped (default 8, as ntpd-rs). */
  maxCookies?: number;
}

function clientError(error: KeClientError): { ok: false; error: KeClientError } {
  return { ok: false, error };
}

/**
 * Validates a decoded response (records up to End of Message). Records are
 * checked in order and the first violation is reported, as ntpd-rs does.
 */
export function parseKeResponse(
  records: readonly KeRecord[],
  options: ParseResponseOptions = {},
): KeResponseResult {
  const maxCookies = options.maxCookies ?? MAX_COOKIES;
  const offered = options.offered;
  let protocol: number | undefined;
  let aead: number | undefined;
  let server: string | undefined;
  let port: number | undefined;
  let compliant = false;
  let ended = false;
  const cookies: Uint8Array[] = [];
  const duplicate = (recordType: number): { ok: false; error: KeClientError } =>
    clientError({
      code: "duplicate-record",
      recordType,
      message: `response has more than one record of type ${recordType}`,
    });

  for (const record of records) {
    switch (record.kind) {
      case "end-of-message":
        ended = true;
        break;
      case "next-protocol": {
        if (protocol !== undefined) return duplicate(RecordType.NextProtocol);
        const [first, ...rest] = record.protocols;
        if (first === undefined) {
          return clientError({
            code: "no-protocol-overlap",
            message: "the server supports none of the offered next protocols",
          });
        }
        if (rest.length > 0 || (offered && !offered.nextProtocols.includes(first))) {
          return clientError({
            code: "protocol-mismatch",
            protocols: [...record.protocols],
            message: `the server selected next protocol(s) [${record.protocols.join(", ")}]`,
          });
        }
        protocol = first;
        break;
      }
      case "aead-algorithm": {
        if (aead !== undefined) return duplicate(RecordType.AeadAlgorithm);
        const [first, ...rest] = record.algorithms;
        if (first === undefined) {
          return clientError({
            code: "no-aead-overlap",
            message: "the server supports none of the offered AEAD algorithms",
          });
        }
        if (rest.length > 0 || (offered && !offered.aeadAlgorithms.includes(first))) {
          return clientError({
            code: "aead-mismatch",
            algorithms: [...record.algorithms],
            message: `the server selected AEAD algorithm(s) [${record.algorithms.join(", ")}]`,
          });
        }
        aead = first;
        break;
      }
      case "new-cookie":
        if (cookies.length < maxCookies) cookies.push(record.cookie);
        break;
      case "server":
        if (server !== undefined) return duplicate(RecordType.Server);
        server = record.name;
        break;
      case "port":
        if (port !== undefined) return duplicate(RecordType.Port);
        port = record.port;
        break;
      case "error":
        return clientError({
          code: "error-record",
          errorCode: record.code,
          message: `the server answered with error ${record.code}${errorName(record.code)}`,
        });
      case "warning":
        // No warning codes are defined; an unrecognised one must be treated as an error.
        return clientError({
          code: "warning-record",
          warningCode: record.code,
          message: `the server answered with unrecognised warning ${record.code}`,
        });
      case "compliant-128gcmsiv-context":
        compliant = true;
        break;
      case "keep-alive":
        break;
      case "fixed-key-request":
      case "ntp-server-deny":
      case "authentication":
      case "supported-next-protocols":
      case "supported-algorithms": {
        const recordType = recordTypeOf(record);
        return clientError({
          code: "unexpected-record",
          recordType,
          message: `record type ${recordType} is not allowed in a key exchange response`,
        });
      }
      case "unknown":
        if (record.critical) {
          return clientError({
            code: "unrecognized-critical-record",
            recordType: record.type,
            message: `the response has an unrecognised critical record of type ${record.type}`,
          });
        }
        break;
    }
    if (ended) break;
  }

  if (!ended) {
    return clientError({
      code: "missing-end-of-message",
      message: "the response has no End of Message record",
    });
  }
  if (protocol === undefined) {
    return clientError({
      code: "missing-record",
      recordType: RecordType.NextProtocol,
      message: "the response has no Next Protocol record",
    });
  }
  if (aead === undefined) {
    return clientError({
      code: "missing-record",
      recordType: RecordType.AeadAlgorithm,
      message: "the response has no AEAD Algorithm record",
    });
  }
  if (cookies.length === 0) {
    return clientError({ code: "no-cookies", message: "the response has no New Cookie record" });
  }
  const compliantGcmSivContext = compliant && aead === AEAD_AES_128_GCM_SIV;
  const value: KeResponse = {
    protocol,
    aead,
    cookies,
    compliantGcmSivContext,
    exporterContextAead: exporterContextAead(aead, compliantGcmSivContext),
  };
  if (server !== undefined) value.server = server;
  if (port !== undefined) value.port = port;
  return { ok: true, value };
}

function errorName(code: number): string {
  switch (code) {
    case KeErrorCode.UnrecognizedCriticalRecord:
      return " (unrecognized critical record)";
    case KeErrorCode.BadRequest:
      return " (bad request)";
    case KeErrorCode.InternalServerError:
      return " (internal server error)";
    default:
      return "";
  }
}

/**
 * Client side of one exchange: feed the TLS plaintext as it arrives. push()
 * answers null until the response is complete (or broken), then the result;
 * end() gives the result when the stream closes (missing End of Message if
 * it closed early). Bytes after End of Message are ignored (NTPsec resets the
 * connection after close_notify; a reset after End of Message is success).
 */
export class ClientResponseDecoder {
  private readonly decoder: KeMessageDecoder;
  private readonly options: ParseResponseOptions;
  private result: KeResponseResult | null = null;

  constructor(options: ParseResponseOptions & KeDecoderOptions = {}) {
    this.decoder = new KeMessageDecoder(options);
    this.options = options;
  }

  push(chunk: Uint8Array): KeResponseResult | null {
    if (this.result !== null) return this.result;
    const progress = this.decoder.push(chunk);
    if (progress.status === "incomplete") return null;
    this.result =
      progress.status === "error"
        ? { ok: false, error: progress.error }
        : parseKeResponse(progress.records, this.options);
    return this.result;
  }

  end(): KeResponseResult {
    if (this.result !== null) return this.result;
    const progress = this.decoder.end();
    this.result =
      progress.status === "complete"
        ? parseKeResponse(progress.records, this.options)
        : progress.status === "error"
          ? { ok: false, error: progress.error }
          : { ok: false, error: { code: "missing-end-of-message", message: "incomplete" } };
    return this.result;
  }
}
