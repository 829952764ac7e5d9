// NTS-KE record codec (RFC 8915 §4; NTS.md §3; NTS-POOL.md §3 for types 8–14).
//
// A record is `C bit | 15-bit type`, a u16 body length (body only, no header)
// and the body. A message is a sequence of records ending with End of Message.
// This file knows the framing and the body layout of every record type; which
// records may appear in a request or a response is decided in
// client-messages.ts (a response) and server-messages.ts (a request).
//
// Encoding sets the critical bit exactly as ntpd-rs does (`record.rs`);
// decoding accepts either value of the bit for every known type (NTPsec and
// nts.time.nl send AEAD Algorithm without it) and reports what it saw.
//
// KeMessageDecoder is fed chunks as TCP/TLS delivers them: records may be
// split anywhere. It enforces a cap on the whole message (ntpd-rs: 4096 bytes)
// as soon as a record header announces a body that would break it, so a peer
// can never make it buffer more than the cap. Decoding never throws: every
// outcome is a typed value.

/** NTS-KE record types (IANA "NTS Key Establishment Record Types"). */
export const RecordType = {
  EndOfMessage: 0,
  NextProtocol: 1,
  Error: 2,
  Warning: 3,
  AeadAlgorithm: 4,
  NewCookie: 5,
  Server: 6,
  Port: 7,
  /** NTS pool extension (draft-ietf-ntp-nts-keyexchange-pool). */
  KeepAlive: 8,
  SupportedNextProtocolList: 9,
  SupportedAlgorithmList: 10,
  FixedKeyRequest: 12,
  NtpServerDeny: 13,
  Authentication: 14,
  /** chrony's Compliant AES-128-GCM-SIV Exporter Context (NTS.md §4). */
  CompliantAes128GcmSivExporterContext: 1024,
} as const;

/** Error record codes (RFC 8915 §4.1.3, §7.8). */
export const KeErrorCode = {
  UnrecognizedCriticalRecord: 0,
  BadRequest: 1,
  InternalServerError: 2,
} as const;

/** Next Protocol ids (RFC 8915 §7.7; 0x8001 is the NTPv5 draft's private id). */
export const NextProtocolId = {
  NTPv4: 0,
  DraftNTPv5: 0x8001,
} as const;

/** ntpd-rs caps every NTS-KE message, in both directions, at this many bytes. */
export const DEFAULT_MAX_MESSAGE_LENGTH = 4096;
/** Octets of the type + length header of every record. */
export const RECORD_HEADER_LENGTH = 4;
/** The largest body a 16-bit length can announce. */
export const MAX_RECORD_BODY_LENGTH = 0xffff;

const CRITICAL_BIT = 0x8000;

/** One entry of a Supported Algorithm List (record 10): AEAD id and key length. */
export interface AlgorithmDescription {
  readonly id: number;
  readonly keyLength: number;
}

/**
 * A record as written (input of the encoder). Known records carry no critical
 * bit: the encoder sets ntpd-rs's. Unknown records carry their own.
 */
export type KeRecordBody =
  | { readonly kind: "end-of-message" }
  | { readonly kind: "next-protocol"; readonly protocols: readonly number[] }
  | { readonly kind: "error"; readonly code: number }
  | { readonly kind: "warning"; readonly code: number }
  | { readonly kind: "aead-algorithm"; readonly algorithms: readonly number[] }
  | { readonly kind: "new-cookie"; readonly cookie: Uint8Array }
  | { readonly kind: "server"; readonly name: string }
  | { readonly kind: "port"; readonly port: number }
  | { readonly kind: "keep-alive" }
  | { readonly kind: "supported-next-protocols"; readonly protocols: readonly number[] }
  | { readonly kind: "supported-algorithms"; readonly algorithms: readonly AlgorithmDescription[] }
  | { readonly kind: "fixed-key-request"; readonly c2sKey: Uint8Array; readonly s2cKey: Uint8Array }
  | { readonly kind: "ntp-server-deny"; readonly name: string }
  | { readonly kind: "authentication"; readonly token: string }
  | { readonly kind: "compliant-128gcmsiv-context" }
  | {
      readonly kind: "unknown";
      readonly type: number;
      readonly critical: boolean;
      readonly body: Uint8Array;
    };

/** A decoded record: the body plus the critical bit as it was on the wire. */
export type KeRecord = KeRecordBody & { readonly critical: boolean };

export type KeRecordKind = KeRecordBody["kind"];

export type KeDecodeErrorCode =
  /** The message (all records up to End of Message) would exceed the cap. */
  | "message-too-long"
  /** A known record whose body length or content breaks its format. */
  | "invalid-body"
  /** The stream ended before End of Message. */
  | "missing-end-of-message"
  /** decodeKeMessage only: bytes after End of Message. */
  | "trailing-data";

export interface KeDecodeError {
  readonly code: KeDecodeErrorCode;
  readonly message: string;
  /** The record type concerned (invalid-body). */
  readonly recordType?: number;
}

export type KeResult<T, E> = { ok: true; value: T } | { ok: false; error: E };

// ---------------------------------------------------------------------------
// Encoding

/** The critical bit ntpd-rs sets when sending each known record kind. */
function criticalFor(record: KeRecordBody): boolean {
  switch (record.kind) {
    case "new-cookie":
    case "keep-alive":
    case "ntp-server-deny":
    case "authentication":
    case "compliant-128gcmsiv-context":
      return false;
    case "unknown":
      return record.critical;
    default:
      return true;
  }
}

/** The 15-bit record type number of a record. */
export function recordTypeOf(record: KeRecordBody): number {
  switch (record.kind) {
    case "end-of-message":
      return RecordType.EndOfMessage;
    case "next-protocol":
      return RecordType.NextProtocol;
    case "error":
      return RecordType.Error;
    case "warning":
      return RecordType.Warning;
    case "aead-algorithm":
      return RecordType.AeadAlgorithm;
    case "new-cookie":
      return RecordType.NewCookie;
    case "server":
      return RecordType.Server;
    case "port":
      return RecordType.Port;
    case "keep-alive":
      return RecordType.KeepAlive;
    case "supported-next-protocols":
      return RecordType.SupportedNextProtocolList;
    case "supported-algorithms":
      return RecordType.SupportedAlgorithmList;
    case "fixed-key-request":
      return RecordType.FixedKeyRequest;
    case "ntp-server-deny":
      return RecordType.NtpServerDeny;
    case "authentication":
      return RecordType.Authentication;
    case "compliant-128gcmsiv-context":
      return RecordType.CompliantAes128GcmSivExporterContext;
    case "unknown":
      return record.type;
  }
}

const utf8Encoder = new TextEncoder();

function u16List(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  values.forEach((v, i) => writeU16(out, i * 2, v));
  return out;
}

function checkU16(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`${what} ${value} is not a 16-bit unsigned integer`);
  }
}

function writeU16(out: Uint8Array, offset: number, value: number): void {
  checkU16(value, "value");
  out[offset] = value >>> 8;
  out[offset + 1] = value & 0xff;
}

function bodyOf(record: KeRecordBody): Uint8Array {
  switch (record.kind) {
    case "end-of-message":
    case "keep-alive":
    case "compliant-128gcmsiv-context":
      return new Uint8Array(0);
    case "next-protocol":
    case "supported-next-protocols":
      return u16List(record.protocols);
    case "aead-algorithm":
      return u16List(record.algorithms);
    case "error":
    case "warning":
      return u16List([record.code]);
    case "port":
      return u16List([record.port]);
    case "new-cookie":
      return record.cookie;
    case "server":
    case "ntp-server-deny":
      return utf8Encoder.encode(record.name);
    case "authentication":
      return utf8Encoder.encode(record.token);
    case "supported-algorithms":
      return u16List(record.algorithms.flatMap((a) => [a.id, a.keyLength]));
    case "fixed-key-request": {
      const body = new Uint8Array(record.c2sKey.length + record.s2cKey.length);
      body.set(record.c2sKey, 0);
      body.set(record.s2cKey, record.c2sKey.length);
      return body;
    }
    case "unknown":
      return record.body;
  }
}

/**
 * Encodes records into one buffer (one write on the TLS socket). Throws a
 * RangeError for values a record cannot carry (a caller bug, never a
 * property of received input): a number outside u16, a body over 65535
 * octets, an unknown type outside 0..32767.
 */
export function encodeRecords(records: readonly KeRecordBody[]): Uint8Array {
  const parts: { type: number; body: Uint8Array }[] = [];
  let total = 0;
  for (const record of records) {
    const type = recordTypeOf(record);
    if (!Number.isInteger(type) || type < 0 || type > 0x7fff) {
      throw new RangeError(`record type ${type} is outside 0..32767`);
    }
    const body = bodyOf(record);
    if (body.length > MAX_RECORD_BODY_LENGTH) {
      throw new RangeError(`record type ${type}: body of ${body.length} octets exceeds 65535`);
    }
    parts.push({ type: type | (criticalFor(record) ? CRITICAL_BIT : 0), body });
    total += RECORD_HEADER_LENGTH + body.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const { type, body } of parts) {
    writeU16(out, offset, type);
    writeU16(out, offset + 2, body.length);
    out.set(body, offset + RECORD_HEADER_LENGTH);
    offset += RECORD_HEADER_LENGTH + body.length;
  }
  return out;
}

/** Encodes a single record (see encodeRecords). */
export function encodeRecord(record: KeRecordBody): Uint8Array {
  return encodeRecords([record]);
}

// ---------------------------------------------------------------------------
// Decoding

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function invalid(recordType: number, reason: string): { ok: false; error: KeDecodeError } {
  return {
    ok: false,
    error: { code: "invalid-body", message: `record type ${recordType}: ${reason}`, recordType },
  };
}

function readU16List(body: Uint8Array): number[] {
  const values: number[] = [];
  for (let i = 0; i + 1 < body.length; i += 2) values.push((body[i]! << 8) | body[i + 1]!);
  return values;
}

function decodeText(body: Uint8Array): string | null {
  try {
    return utf8Decoder.decode(body);
  } catch {
    return null;
  }
}

/**
 * Decodes one record from its raw 16-bit type word (critical bit included)
 * and its complete body. The returned record may reference `body` (cookies,
 * unknown bodies), so pass a buffer the caller will not reuse.
 */
export function decodeRecordBody(
  typeWord: number,
  body: Uint8Array,
): KeResult<KeRecord, KeDecodeError> {
  const critical = (typeWord & CRITICAL_BIT) !== 0;
  const type = typeWord & 0x7fff;
  const ok = (record: KeRecordBody): { ok: true; value: KeRecord } => ({
    ok: true,
    value: { ...record, critical },
  });
  switch (type) {
    case RecordType.EndOfMessage:
      if (body.length !== 0)
        return invalid(type, `End of Message with a ${body.length}-octet body`);
      return ok({ kind: "end-of-message" });
    case RecordType.NextProtocol:
    case RecordType.AeadAlgorithm:
    case RecordType.SupportedNextProtocolList: {
      if (body.length % 2 !== 0) return invalid(type, `odd body length ${body.length}`);
      const values = readU16List(body);
      if (type === RecordType.NextProtocol) return ok({ kind: "next-protocol", protocols: values });
      if (type === RecordType.AeadAlgorithm) {
        return ok({ kind: "aead-algorithm", algorithms: values });
      }
      return ok({ kind: "supported-next-protocols", protocols: values });
    }
    case RecordType.Error:
    case RecordType.Warning:
    case RecordType.Port: {
      if (body.length !== 2) return invalid(type, `body of ${body.length} octets, expected 2`);
      const value = (body[0]! << 8) | body[1]!;
      if (type === RecordType.Error) return ok({ kind: "error", code: value });
      if (type === RecordType.Warning) return ok({ kind: "warning", code: value });
      return ok({ kind: "port", port: value });
    }
    case RecordType.NewCookie:
      if (body.length === 0) return invalid(type, "empty cookie");
      return ok({ kind: "new-cookie", cookie: body });
    case RecordType.Server:
    case RecordType.NtpServerDeny:
    case RecordType.Authentication: {
      const text = decodeText(body);
      if (text === null) return invalid(type, "body is not valid UTF-8");
      if (type === RecordType.Authentication) return ok({ kind: "authentication", token: text });
      if (text.length === 0) return invalid(type, "empty server name");
      if (type === RecordType.Server) return ok({ kind: "server", name: text });
      return ok({ kind: "ntp-server-deny", name: text });
    }
    case RecordType.KeepAlive:
      // The pool draft says to ignore any body.
      return ok({ kind: "keep-alive" });
    case RecordType.SupportedAlgorithmList: {
      if (body.length % 4 !== 0)
        return invalid(type, `body length ${body.length} not a multiple of 4`);
      const words = readU16List(body);
      const algorithms: AlgorithmDescription[] = [];
      for (let i = 0; i + 1 < words.length; i += 2) {
        algorithms.push({ id: words[i]!, keyLength: words[i + 1]! });
      }
      return ok({ kind: "supported-algorithms", algorithms });
    }
    case RecordType.FixedKeyRequest: {
      if (body.length === 0 || body.length % 2 !== 0) {
        return invalid(type, `body length ${body.length} is not two equal non-empty keys`);
      }
      const half = body.length / 2;
      return ok({
        kind: "fixed-key-request",
        c2sKey: body.subarray(0, half),
        s2cKey: body.subarray(half),
      });
    }
    case RecordType.CompliantAes128GcmSivExporterContext:
      // chrony sends it empty; nothing in its body is meaningful.
      return ok({ kind: "compliant-128gcmsiv-context" });
    default:
      return { ok: true, value: { kind: "unknown", type, critical, body } };
  }
}

export type KeDecodeProgress =
  | { readonly status: "incomplete" }
  | {
      readonly status: "complete";
      /** Every record of the message; the last is End of Message. */
      readonly records: KeRecord[];
      /** Octets of the message (up to and including End of Message). */
      readonly length: number;
      /** Bytes that followed End of Message in the last chunk (a copy). */
      readonly trailing: Uint8Array;
    }
  | { readonly status: "error"; readonly error: KeDecodeError };

export interface KeDecoderOptions {
  /** Cap on the message length in octets (default 4096, as ntpd-rs). */
  maxMessageLength?: number;
}

const INCOMPLETE: KeDecodeProgress = Object.freeze({ status: "incomplete" });

/**
 * Streaming decoder for one NTS-KE message. Feed it chunks with push() as
 * they arrive; it answers "incomplete" until End of Message, then "complete"
 * (with any bytes after End of Message as `trailing`), or "error". Once it
 * has answered complete or error it keeps returning that answer and ignores
 * further bytes. Call end() when the stream closes.
 *
 * Memory is bounded by the cap: a record header announcing a body that would
 * take the message past the cap is an error at once.
 */
export class KeMessageDecoder {
  readonly maxMessageLength: number;
  private readonly header = new Uint8Array(RECORD_HEADER_LENGTH);
  private headerFill = 0;
  private typeWord = 0;
  private body: Uint8Array | null = null;
  private bodyFill = 0;
  private messageLength = 0;
  private readonly records: KeRecord[] = [];
  private final: KeDecodeProgress | null = null;

  constructor(options: KeDecoderOptions = {}) {
    const max = options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
    if (!Number.isInteger(max) || max < RECORD_HEADER_LENGTH) {
      throw new RangeError(`maxMessageLength ${max} must be an integer >= 4`);
    }
    this.maxMessageLength = max;
  }

  /** Records decoded so far (complete ones only). */
  get recordCount(): number {
    return this.records.length;
  }

  push(chunk: Uint8Array): KeDecodeProgress {
    if (this.final !== null) return this.final;
    let pos = 0;
    for (;;) {
      if (this.body === null) {
        while (this.headerFill < RECORD_HEADER_LENGTH && pos < chunk.length) {
          this.header[this.headerFill++] = chunk[pos++]!;
        }
        if (this.headerFill < RECORD_HEADER_LENGTH) return INCOMPLETE;
        this.typeWord = (this.header[0]! << 8) | this.header[1]!;
        const bodyLength = (this.header[2]! << 8) | this.header[3]!;
        const after = this.messageLength + RECORD_HEADER_LENGTH + bodyLength;
        if (after > this.maxMessageLength) {
          return this.finish({
            status: "error",
            error: {
              code: "message-too-long",
              message:
                `record type ${this.typeWord & 0x7fff} with a ${bodyLength}-octet body ` +
                `would make the message ${after} octets, over the ${this.maxMessageLength}-octet limit`,
              recordType: this.typeWord & 0x7fff,
            },
          });
        }
        this.body = new Uint8Array(bodyLength);
        this.bodyFill = 0;
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - pos);
      if (take > 0) {
        this.body.set(chunk.subarray(pos, pos + take), this.bodyFill);
        this.bodyFill += take;
        pos += take;
      }
      if (this.bodyFill < this.body.length) return INCOMPLETE;

      const body = this.body;
      this.body = null;
      this.headerFill = 0;
      this.messageLength += RECORD_HEADER_LENGTH + body.length;
      const decoded = decodeRecordBody(this.typeWord, body);
      if (!decoded.ok) return this.finish({ status: "error", error: decoded.error });
      this.records.push(decoded.value);
      if (decoded.value.kind === "end-of-message") {
        return this.finish({
          status: "complete",
          records: this.records,
          length: this.messageLength,
          trailing: chunk.slice(pos),
        });
      }
    }
  }

  /** The stream closed (or timed out): complete, or the error that ends it. */
  end(): KeDecodeProgress {
    if (this.final !== null) return this.final;
    const received = this.messageLength + this.headerFill + this.bodyFill;
    return this.finish({
      status: "error",
      error: {
        code: "missing-end-of-message",
        message: `stream ended after ${received} octets without End of Message`,
      },
    });
  }

  private finish(result: KeDecodeProgress): KeDecodeProgress {
    this.final = result;
    this.body = null;
    return result;
  }
}

/**
 * Decodes one complete message held in one buffer: all of it must be records
 * up to and including End of Message, nothing after.
 */
export function decodeKeMessage(
  bytes: Uint8Array,
  options: KeDecoderOptions = {},
): KeResult<KeRecord[], KeDecodeError> {
  const decoder = new KeMessageDecoder(options);
  decoder.push(bytes);
  const result = decoder.end();
  if (result.status === "error") return { ok: false, error: result.error };
  if (result.status !== "complete") {
    // end() never answers incomplete; this keeps the types exhaustive.
    return { ok: false, error: { code: "missing-end-of-message", message: "incomplete" } };
  }
  if (result.trailing.length > 0) {
    return {
      ok: false,
      error: {
        code: "trailing-data",
        message: `${result.trailing.length} octets after End of Message`,
      },
    };
  }
  return { ok: true, value: result.records };
}
